"""Stable Baselines 2 conventions that tools need without TensorFlow: which algorithm a file
belongs to, and the names of the parameters that the oldest files store as a bare list.

The names and their order are those of Stable Baselines 2's ``get_parameter_list()``, which the
policies of :mod:`stable_baselines_io.common.policies` and :mod:`stable_baselines_io.dqn.policies`
reproduce.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from stable_baselines_io.format.names import (
    ACTOR_CRITIC_SCHEME,
    ALGORITHM_DATA_KEYS,
    ALGORITHMS,
    DQN_SCHEME,
    SB2_SCOPES,
    SCHEME_ALGORITHMS,
)

#: Data keys that only Stable Baselines 2's A2C wrote: its parameters are named as PPO2's.
A2C_DATA_KEYS = ALGORITHM_DATA_KEYS["a2c"]
DEFAULT_ACTOR_CRITIC_LAYERS = [64, 64]
DEFAULT_DQN_LAYERS = [64, 64]
DEFAULT_N_LSTM = 256
#: ``nature_cnn``'s convolutions ``(scope, filters, size, stride)`` and its feature count.
NATURE_CNN_LAYERS = (("c1", 32, 8, 4), ("c2", 64, 4, 2), ("c3", 64, 3, 1))
NATURE_CNN_FEATURES = 512


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
    if any(name.startswith(SB2_SCOPES[DQN_SCHEME] + "/") for name in param_names):
        return SCHEME_ALGORITHMS[DQN_SCHEME]
    for algorithm, keys in ALGORITHM_DATA_KEYS.items():
        if keys <= set(data_keys):
            return algorithm
    if any(name.startswith(SB2_SCOPES[ACTOR_CRITIC_SCHEME] + "/") for name in param_names):
        return SCHEME_ALGORITHMS[ACTOR_CRITIC_SCHEME]
    return None


Shapes = OrderedDict[str, tuple[int, ...]]


def actor_critic_parameter_shapes(policy_kwargs: Mapping[str, Any], n_inputs: int, n_outputs: int,
                                  continuous_actions: bool) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's actor-critic ``MlpPolicy``, in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``net_arch`` or ``layers``)
    :param n_inputs: the flattened observation size
    :param n_outputs: the number of discrete actions, or the size of a Box action
    :param continuous_actions: Box actions (adds ``model/pi/logstd:0``)
    :return: name -> shape
    """
    scope = SB2_SCOPES[ACTOR_CRITIC_SCHEME]
    shapes: Shapes = OrderedDict()

    def dense(layer: str, inputs: int, outputs: int) -> int:
        shapes[f"{scope}/{layer}/w:0"] = (inputs, outputs)
        shapes[f"{scope}/{layer}/b:0"] = (outputs,)
        return outputs

    net_arch = policy_kwargs.get("net_arch")
    if net_arch is None:
        layers = policy_kwargs.get("layers") or DEFAULT_ACTOR_CRITIC_LAYERS
        net_arch = [{"pi": list(layers), "vf": list(layers)}]
    latent = n_inputs
    split: Mapping[str, Sequence[int]] = {}
    for index, layer in enumerate(net_arch):
        if isinstance(layer, Mapping):
            split = layer
            break
        latent = dense(f"shared_fc{index}", latent, int(layer))
    policy_layers, value_layers = list(split.get("pi", [])), list(split.get("vf", []))
    policy_latent = value_latent = latent
    for index in range(max(len(policy_layers), len(value_layers))):
        if index < len(policy_layers):
            policy_latent = dense(f"pi_fc{index}", policy_latent, int(policy_layers[index]))
        if index < len(value_layers):
            value_latent = dense(f"vf_fc{index}", value_latent, int(value_layers[index]))
    dense("vf", value_latent, 1)
    dense("pi", policy_latent, n_outputs)
    if continuous_actions:
        shapes[f"{scope}/pi/logstd:0"] = (1, n_outputs)
    dense("q", value_latent, n_outputs)
    return shapes


def actor_critic_parameter_names(policy_kwargs: Mapping[str, Any], continuous_actions: bool) -> list[str]:
    """Parameter names of Stable Baselines 2's actor-critic ``MlpPolicy``, in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``net_arch`` or ``layers``)
    :param continuous_actions: Box actions (adds ``model/pi/logstd:0``)
    :return: the names
    """
    return list(actor_critic_parameter_shapes(policy_kwargs, 1, 1, continuous_actions))


def recurrent_parameter_shapes(policy_kwargs: Mapping[str, Any], n_inputs: int, n_outputs: int,
                               continuous_actions: bool, layer_norm: bool = False,
                               image_shape: Sequence[int] | None = None) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's ``LstmPolicy`` family, in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``n_lstm``, ``layers`` or ``net_arch``)
    :param n_inputs: the flattened observation size (MLP features)
    :param n_outputs: the number of discrete actions, or the size of a Box action
    :param continuous_actions: Box actions (adds ``model/pi/logstd:0``)
    :param layer_norm: layer-normalized LSTM (``MlpLnLstmPolicy``, ``CnnLnLstmPolicy``)
    :param image_shape: ``(height, width, channels)`` for the CNN policies (``nature_cnn`` features)
    :return: name -> shape
    """
    scope = SB2_SCOPES[ACTOR_CRITIC_SCHEME]
    n_lstm = int(policy_kwargs.get("n_lstm", DEFAULT_N_LSTM))
    shapes: Shapes = OrderedDict()

    def dense(layer: str, inputs: int, outputs: int) -> int:
        shapes[f"{scope}/{layer}/w:0"] = (inputs, outputs)
        shapes[f"{scope}/{layer}/b:0"] = (outputs,)
        return outputs

    def lstm(inputs: int) -> int:
        shapes[f"{scope}/lstm1/wx:0"] = (inputs, 4 * n_lstm)
        shapes[f"{scope}/lstm1/wh:0"] = (n_lstm, 4 * n_lstm)
        shapes[f"{scope}/lstm1/b:0"] = (4 * n_lstm,)
        if layer_norm:
            for name, size in (("gx", 4 * n_lstm), ("bx", 4 * n_lstm), ("gh", 4 * n_lstm), ("bh", 4 * n_lstm),
                               ("gc", n_lstm), ("bc", n_lstm)):
                shapes[f"{scope}/lstm1/{name}:0"] = (size,)
        return n_lstm

    net_arch = policy_kwargs.get("net_arch")
    split: Mapping[str, Sequence[int]] = {}
    if image_shape is not None:
        height, width, channels = (int(size) for size in image_shape)
        for layer, filters, size, stride in NATURE_CNN_LAYERS:
            shapes[f"{scope}/{layer}/w:0"] = (size, size, channels, filters)
            shapes[f"{scope}/{layer}/b:0"] = (1, filters, 1, 1)
            height, width, channels = (height - size) // stride + 1, (width - size) // stride + 1, filters
        latent = lstm(dense("fc1", max(height, 0) * max(width, 0) * channels, NATURE_CNN_FEATURES))
    elif net_arch is None:
        latent = n_inputs
        for index, size in enumerate(policy_kwargs.get("layers") or DEFAULT_ACTOR_CRITIC_LAYERS):
            latent = dense(f"pi_fc{index}", latent, int(size))
        latent = lstm(latent)
    else:
        latent = n_inputs
        for index, layer in enumerate(net_arch):
            if isinstance(layer, Mapping):
                split = layer
            elif layer == "lstm":
                latent = lstm(latent)
            else:
                latent = dense(f"shared_fc{index}", latent, int(layer))
    policy_latent = value_latent = latent
    for index, size in enumerate(split.get("pi", [])):
        policy_latent = dense(f"pi_fc{index}", policy_latent, int(size))
    for index, size in enumerate(split.get("vf", [])):
        value_latent = dense(f"vf_fc{index}", value_latent, int(size))
    dense("vf", value_latent, 1)
    dense("pi", policy_latent, n_outputs)
    if continuous_actions:
        shapes[f"{scope}/pi/logstd:0"] = (1, n_outputs)
    dense("q", value_latent, n_outputs)
    return shapes


def dqn_parameter_shapes(policy_kwargs: Mapping[str, Any], n_inputs: int, n_actions: int,
                         layer_norm_default: bool = False) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy``, in its
    order: the exploration rate, then the online and target networks.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param n_inputs: the flattened observation size
    :param n_actions: the number of discrete actions
    :param layer_norm_default: True for ``LnMlpPolicy``
    :return: name -> shape
    """
    layers = [int(size) for size in policy_kwargs.get("layers") or DEFAULT_DQN_LAYERS]
    dueling = bool(policy_kwargs.get("dueling", True))
    layer_norm = bool(policy_kwargs.get("layer_norm", layer_norm_default))
    scope = SB2_SCOPES[DQN_SCHEME]
    shapes: Shapes = OrderedDict([(f"{scope}/eps:0", ())])
    for network in (f"{scope}/model", f"{scope}/target_q_func/model"):
        for stream, n_outputs in (("action_value", n_actions), ("state_value", 1))[: 2 if dueling else 1]:
            inputs = n_inputs
            for index, size in enumerate(layers):
                suffix = f"_{index}" if index else ""
                shapes[f"{network}/{stream}/fully_connected{suffix}/weights:0"] = (inputs, size)
                shapes[f"{network}/{stream}/fully_connected{suffix}/biases:0"] = (size,)
                if layer_norm:
                    shapes[f"{network}/{stream}/LayerNorm{suffix}/beta:0"] = (size,)
                    shapes[f"{network}/{stream}/LayerNorm{suffix}/gamma:0"] = (size,)
                inputs = size
            shapes[f"{network}/{stream}/fully_connected_{len(layers)}/weights:0"] = (inputs, n_outputs)
            shapes[f"{network}/{stream}/fully_connected_{len(layers)}/biases:0"] = (n_outputs,)
    return shapes


def dqn_parameter_names(policy_kwargs: Mapping[str, Any], layer_norm_default: bool = False) -> list[str]:
    """Parameter names of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy``, in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param layer_norm_default: True for ``LnMlpPolicy``
    :return: the names
    """
    return list(dqn_parameter_shapes(policy_kwargs, 1, 1, layer_norm_default))
