"""Stable Baselines 2 conventions that tools need without TensorFlow: which algorithm a file
belongs to, and the names of the parameters that the oldest files store as a bare list.

The names and their order are those of Stable Baselines 2's ``get_parameter_list()``, which the
policies of :mod:`stable_baselines_io.common.policies` and :mod:`stable_baselines_io.dqn.policies`
reproduce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ALGORITHMS = ("ppo", "dqn", "a2c")
#: Data keys that only Stable Baselines 2's A2C wrote: its parameters are named as PPO2's.
A2C_DATA_KEYS = frozenset({"alpha", "lr_schedule"})
DEFAULT_ACTOR_CRITIC_LAYERS = [64, 64]
DEFAULT_DQN_LAYERS = [64, 64]


def detect_algorithm(metadata: Mapping[str, Any], param_names: Sequence[str],
                     data_keys: Sequence[str] = ()) -> str | None:
    """The algorithm of a file: from its metadata, else from its parameter names and data keys.

    Files of Stable Baselines 2's other actor-critic algorithms (ACER, ACKTR, TRPO) share PPO2's
    policy names and are reported as ``"ppo"``: PPO can play them (``load_parameters``). A2C
    files are told apart by their data keys (:data:`A2C_DATA_KEYS`).

    :param metadata: the file's ``metadata`` member (empty for Stable Baselines 2 files)
    :param param_names: the parameter names
    :param data_keys: the keys of the file's data dictionary, when known
    :return: ``"ppo"``, ``"dqn"``, ``"a2c"`` or None when unknown
    """
    stored = str(metadata.get("algorithm", "")).lower()
    if stored in ALGORITHMS:
        return stored
    if any(name.startswith("deepq/") for name in param_names):
        return "dqn"
    if A2C_DATA_KEYS <= set(data_keys):
        return "a2c"
    if any(name.startswith("model/") for name in param_names):
        return "ppo"
    return None


def actor_critic_parameter_names(policy_kwargs: Mapping[str, Any], continuous_actions: bool) -> list[str]:
    """Parameter names of Stable Baselines 2's actor-critic ``MlpPolicy``, in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``net_arch`` or ``layers``)
    :param continuous_actions: Box actions (adds ``model/pi/logstd:0``)
    :return: the names
    """
    net_arch = policy_kwargs.get("net_arch")
    if net_arch is None:
        layers = policy_kwargs.get("layers") or DEFAULT_ACTOR_CRITIC_LAYERS
        net_arch = [{"pi": list(layers), "vf": list(layers)}]
    names = []
    split: Mapping[str, Sequence[int]] = {}
    for index, layer in enumerate(net_arch):
        if isinstance(layer, Mapping):
            split = layer
            break
        names += _dense("model", f"shared_fc{index}")
    policy_layers, value_layers = list(split.get("pi", [])), list(split.get("vf", []))
    for index in range(max(len(policy_layers), len(value_layers))):
        if index < len(policy_layers):
            names += _dense("model", f"pi_fc{index}")
        if index < len(value_layers):
            names += _dense("model", f"vf_fc{index}")
    names += _dense("model", "vf") + _dense("model", "pi")
    if continuous_actions:
        names.append("model/pi/logstd:0")
    return names + _dense("model", "q")


def dqn_parameter_names(policy_kwargs: Mapping[str, Any], layer_norm_default: bool = False) -> list[str]:
    """Parameter names of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy``, in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param layer_norm_default: True for ``LnMlpPolicy``
    :return: the names
    """
    layers = list(policy_kwargs.get("layers") or DEFAULT_DQN_LAYERS)
    dueling = bool(policy_kwargs.get("dueling", True))
    layer_norm = bool(policy_kwargs.get("layer_norm", layer_norm_default))
    names = ["deepq/eps:0"]
    for network in ("deepq/model", "deepq/target_q_func/model"):
        for stream in ("action_value", "state_value") if dueling else ("action_value",):
            for index in range(len(layers)):
                suffix = f"_{index}" if index else ""
                names += [f"{network}/{stream}/fully_connected{suffix}/weights:0",
                          f"{network}/{stream}/fully_connected{suffix}/biases:0"]
                if layer_norm:
                    names += [f"{network}/{stream}/LayerNorm{suffix}/beta:0",
                              f"{network}/{stream}/LayerNorm{suffix}/gamma:0"]
            names += [f"{network}/{stream}/fully_connected_{len(layers)}/weights:0",
                      f"{network}/{stream}/fully_connected_{len(layers)}/biases:0"]
    return names


def _dense(scope: str, layer: str) -> list[str]:
    return [f"{scope}/{layer}/w:0", f"{scope}/{layer}/b:0"]
