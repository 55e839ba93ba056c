"""Agent files in Stable Baselines 2's layouts, and NumPy reference forward passes over stored arrays.

The files are written as Stable Baselines 2 pickled them: a protocol-2 pickle of ``(data, params)``
whose ``policy`` is a class named by reference (``c<module>\\n<name>\\n``), which this module points
at any module and name (``utils.utils.CustomMlpPolicy``) without that module existing. The
reference forward passes follow Stable Baselines 2's documented computations, written here
from the names and shapes, independently of the library's policies.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np


class _PolicyPlaceholder:
    """Pickled by reference, then renamed to the class the file must name."""


_PLACEHOLDER_REFERENCE = f"c{__name__}\n{_PolicyPlaceholder.__qualname__}\n".encode()

#: Data keys Stable Baselines 2.10 wrote for each algorithm (beside policy, spaces, n_envs...).
SB2_DATA = {
    "TRPO": {"gamma": 0.99, "timesteps_per_batch": 512, "max_kl": 0.001, "cg_iters": 10, "lam": 0.98,
             "entcoeff": 0.0, "cg_damping": 0.001, "vf_stepsize": 0.0003, "vf_iters": 3, "using_gail": False},
    "PPO1": {"gamma": 0.99, "timesteps_per_actorbatch": 256, "clip_param": 0.2, "entcoeff": 0.01, "optim_epochs": 4,
             "optim_stepsize": 0.001, "optim_batchsize": 64, "lam": 0.95, "adam_epsilon": 1e-5, "schedule": "linear"},
    "ACKTR": {"gamma": 0.99, "gae_lambda": None, "nprocs": 1, "n_steps": 20, "vf_coef": 0.25, "ent_coef": 0.01,
              "vf_fisher_coef": 1.0, "max_grad_norm": 0.5, "learning_rate": 0.25, "kfac_clip": 0.001,
              "lr_schedule": "linear", "kfac_update": 1},
    "ACER": {"gamma": 0.99, "n_steps": 20, "q_coef": 0.5, "ent_coef": 0.01, "max_grad_norm": 10, "learning_rate": 7e-4,
             "lr_schedule": "linear", "rprop_alpha": 0.99, "rprop_epsilon": 1e-5, "replay_ratio": 4,
             "replay_start": 1000},
    "PPO2": {"gamma": 0.99, "n_steps": 128, "ent_coef": 0.01, "learning_rate": 2.5e-4, "vf_coef": 0.5,
             "max_grad_norm": 0.5, "lam": 0.95, "nminibatches": 4, "noptepochs": 4, "cliprange": 0.2},
    "DQN": {"gamma": 0.99, "learning_rate": 5e-4, "exploration_fraction": 0.1, "exploration_final_eps": 0.02,
            "target_network_update_freq": 500, "learning_starts": 1000, "train_freq": 1, "batch_size": 32,
            "param_noise": False},
    "DDPG": {"gamma": 0.99, "actor_lr": 1e-4, "critic_lr": 1e-3, "tau": 0.001, "batch_size": 128},
}


def write_sb2_pickle(path: Path, algorithm: str, policy: str, observation_space: gymnasium.Space,
                     action_space: gymnasium.Space, params: list[np.ndarray] | Mapping[str, np.ndarray],
                     policy_kwargs: dict[str, Any] | None = None) -> Path:
    """Write a legacy Stable Baselines 2 file.

    :param path: where to write
    :param algorithm: a key of :data:`SB2_DATA`
    :param policy: the policy class the file names, ``"module.Name"``
    :param observation_space: the observation space
    :param action_space: the action space
    :param params: a list in Stable Baselines 2's order, or name -> array
    :param policy_kwargs: stored ``policy_kwargs`` (None: the key is left out, as old files did)
    :return: ``path``
    """
    data: dict[str, Any] = {**SB2_DATA[algorithm], "verbose": 1, "policy": _PolicyPlaceholder,
                            "observation_space": observation_space, "action_space": action_space, "n_envs": 1,
                            "_vectorize_action": False}
    if policy_kwargs is not None:
        data["policy_kwargs"] = policy_kwargs
    payload = pickle.dumps((data, params if isinstance(params, list) else dict(params)), protocol=2)
    module, _, name = policy.rpartition(".")
    assert payload.count(_PLACEHOLDER_REFERENCE) == 1
    path.write_bytes(payload.replace(_PLACEHOLDER_REFERENCE, f"c{module}\n{name}\n".encode()))
    return path


def random_arrays(shapes: Mapping[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Float32 arrays of the given shapes (normal, scale 0.5; LayerNorm gammas around 1).

    :param shapes: name -> shape
    :param seed: the generator's seed
    :return: name -> array
    """
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in shapes.items():
        value = rng.normal(scale=0.5, size=shape)
        arrays[name] = (value + 1.0 if name.endswith("gamma:0") else value).astype(np.float32)
    return arrays


def dense_shapes(scope: str, n_inputs: int, n_outputs: int) -> dict[str, tuple[int, ...]]:
    """``{scope}/w:0`` and ``{scope}/b:0`` of an actor-critic dense layer."""
    return {f"{scope}/w:0": (n_inputs, n_outputs), f"{scope}/b:0": (n_outputs,)}


def actor_critic_action_output(params: Mapping[str, np.ndarray], observations: np.ndarray,
                               activation: Any = np.tanh) -> np.ndarray:
    """Stable Baselines 2's ``MlpPolicy`` policy head: shared layers, then the ``pi_fc`` layers, then ``pi``.

    :param params: name -> array (``model/...``)
    :param observations: float observations, one per row
    :param activation: the hidden activation
    :return: the logits, or the Gaussian mean
    """
    features = observations.astype(np.float64)
    for kind in ("shared_fc", "pi_fc"):
        index = 0
        while f"model/{kind}{index}/w:0" in params:
            features = activation(features @ params[f"model/{kind}{index}/w:0"] + params[f"model/{kind}{index}/b:0"])
            index += 1
    return features @ params["model/pi/w:0"] + params["model/pi/b:0"]


def dqn_q_values(params: Mapping[str, np.ndarray], observations: np.ndarray, activation: Any = None,
                 scope: str = "deepq/model") -> np.ndarray:
    """Stable Baselines 2's DQN ``MlpPolicy`` Q-values: ``fully_connected`` layers, each optionally
    layer-normalised (epsilon 1e-12) before its activation, a linear head, and with a ``state_value``
    stream ``Q = V + A - mean(A)``.

    :param params: name -> array (``deepq/...``)
    :param observations: float observations, one per row
    :param activation: the hidden activation (default ReLU)
    :param scope: the network's scope
    :return: Q-values, one row per observation
    """
    activation = activation or (lambda values: np.maximum(values, 0.0))

    def stream(name: str) -> np.ndarray:
        features = observations.astype(np.float64)
        index = 0
        while f"{scope}/{name}/fully_connected_{index + 1}/weights:0" in params:
            suffix = f"_{index}" if index else ""
            layer = f"{scope}/{name}/fully_connected{suffix}"
            features = features @ params[f"{layer}/weights:0"] + params[f"{layer}/biases:0"]
            norm = f"{scope}/{name}/LayerNorm{suffix}"
            if f"{norm}/beta:0" in params:
                mean = features.mean(axis=1, keepdims=True)
                variance = features.var(axis=1, keepdims=True)
                features = (features - mean) / np.sqrt(variance + 1e-12) * params[f"{norm}/gamma:0"] \
                    + params[f"{norm}/beta:0"]
            features = activation(features)
            index += 1
        head = f"{scope}/{name}/fully_connected_{index}"
        return features @ params[f"{head}/weights:0"] + params[f"{head}/biases:0"]

    advantages = stream("action_value")
    if f"{scope}/state_value/fully_connected/weights:0" not in params:
        return advantages
    return stream("state_value") + advantages - advantages.mean(axis=1, keepdims=True)
