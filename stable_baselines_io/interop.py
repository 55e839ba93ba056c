"""Stable Baselines 2 conventions that tools need without TensorFlow: which algorithm a file
belongs to, and the names of the parameters that the oldest files store as a bare list.

The names and their order are those of Stable Baselines 2's ``get_parameter_list()``, which the
policies of :mod:`stable_baselines_io.common.policies` and :mod:`stable_baselines_io.dqn.policies`
reproduce.
"""

from __future__ import annotations

import math
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
#: Stable Baselines 2's ``nature_cnn``: ``(scope, filters, filter size, stride)`` of each VALID
#: convolution (NHWC), then a dense layer ``fc1`` of :data:`NATURE_CNN_FEATURES` units.
NATURE_CNN_CONVOLUTIONS = (("c1", 32, 8, 4), ("c2", 64, 4, 2), ("c3", 64, 3, 1))
NATURE_CNN_FEATURES = 512
#: The smallest image the nature CNN accepts (used where only parameter names matter).
NATURE_CNN_MIN_IMAGE = (36, 36, 1)


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


def nature_cnn_output_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """The ``(height, width, channels)`` the last convolution of the nature CNN makes of an image.

    >>> nature_cnn_output_shape((84, 84, 4))
    (7, 7, 64)

    :param image_shape: ``(height, width, channels)`` of one observation
    :return: the shape of the last convolution's output
    :raises ValueError: the image is not 3-D or is smaller than :data:`NATURE_CNN_MIN_IMAGE`
    """
    if len(image_shape) != 3:
        raise ValueError(
            f"the nature CNN needs images of shape (height, width, channels), received {tuple(image_shape)}"
        )
    height, width, channels = (int(size) for size in image_shape)
    for _, filters, filter_size, stride in NATURE_CNN_CONVOLUTIONS:
        height, width, channels = (height - filter_size) // stride + 1, (width - filter_size) // stride + 1, filters
        if height < 1 or width < 1:
            raise ValueError(
                f"images of shape {tuple(image_shape)} are too small for the nature CNN: expected at least "
                f"{NATURE_CNN_MIN_IMAGE[0]}x{NATURE_CNN_MIN_IMAGE[1]} pixels"
            )
    return height, width, channels


def nature_cnn_parameter_shapes(scope: str, image_shape: Sequence[int]) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's ``nature_cnn`` under ``scope``, in its order.

    Convolution biases are stored as ``(1, filters, 1, 1)``, as Stable Baselines 2's ``conv`` created
    them (it reshapes them to ``(1, 1, 1, filters)`` to add them to NHWC outputs).

    >>> list(nature_cnn_parameter_shapes("model", (84, 84, 4)).items())[:2]
    [('model/c1/w:0', (8, 8, 4, 32)), ('model/c1/b:0', (1, 32, 1, 1))]

    :param scope: the enclosing variable scope, e.g. ``"model"``
    :param image_shape: ``(height, width, channels)`` of one observation
    :return: name -> shape
    """
    shapes: Shapes = OrderedDict()
    channels = int(image_shape[-1])
    for layer, filters, filter_size, _ in NATURE_CNN_CONVOLUTIONS:
        shapes[f"{scope}/{layer}/w:0"] = (filter_size, filter_size, channels, filters)
        shapes[f"{scope}/{layer}/b:0"] = (1, filters, 1, 1)
        channels = filters
    shapes[f"{scope}/fc1/w:0"] = (math.prod(nature_cnn_output_shape(image_shape)), NATURE_CNN_FEATURES)
    shapes[f"{scope}/fc1/b:0"] = (NATURE_CNN_FEATURES,)
    return shapes


def actor_critic_parameter_shapes(policy_kwargs: Mapping[str, Any], n_inputs: int, n_outputs: int,
                                  continuous_actions: bool, image_shape: Sequence[int] | None = None) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's actor-critic ``MlpPolicy`` (or ``CnnPolicy``),
    in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``net_arch`` or ``layers``; unused by ``CnnPolicy``)
    :param n_inputs: the flattened observation size
    :param n_outputs: the number of discrete actions, or the size of a Box action
    :param continuous_actions: Box actions (adds ``model/pi/logstd:0``)
    :param image_shape: for ``CnnPolicy``, the observation shape: the nature CNN replaces the MLP layers
    :return: name -> shape
    """
    scope = SB2_SCOPES[ACTOR_CRITIC_SCHEME]
    shapes: Shapes = OrderedDict()

    def dense(layer: str, inputs: int, outputs: int) -> int:
        shapes[f"{scope}/{layer}/w:0"] = (inputs, outputs)
        shapes[f"{scope}/{layer}/b:0"] = (outputs,)
        return outputs

    net_arch: Sequence[Any] | None = policy_kwargs.get("net_arch")
    if image_shape is not None:
        shapes.update(nature_cnn_parameter_shapes(scope, image_shape))
        n_inputs, net_arch = NATURE_CNN_FEATURES, []
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


def actor_critic_parameter_names(policy_kwargs: Mapping[str, Any], continuous_actions: bool,
                                 cnn: bool = False) -> list[str]:
    """Parameter names of Stable Baselines 2's actor-critic ``MlpPolicy`` (or ``CnnPolicy``), in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``net_arch`` or ``layers``)
    :param continuous_actions: Box actions (adds ``model/pi/logstd:0``)
    :param cnn: the policy is a ``CnnPolicy``
    :return: the names
    """
    image_shape = NATURE_CNN_MIN_IMAGE if cnn else None
    return list(actor_critic_parameter_shapes(policy_kwargs, 1, 1, continuous_actions, image_shape))


def dqn_parameter_shapes(policy_kwargs: Mapping[str, Any], n_inputs: int, n_actions: int,
                         layer_norm_default: bool = False, image_shape: Sequence[int] | None = None) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy`` (or
    ``CnnPolicy`` / ``LnCnnPolicy``), in its order: the exploration rate, then the online and target
    networks.

    With a CNN, the ``action_value`` stream is the nature CNN and a linear head, and the
    ``state_value`` stream applies the hidden ``layers`` to the CNN's features, as in Stable
    Baselines 2.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param n_inputs: the flattened observation size
    :param n_actions: the number of discrete actions
    :param layer_norm_default: True for ``LnMlpPolicy`` and ``LnCnnPolicy``
    :param image_shape: for CNN policies, the observation shape
    :return: name -> shape
    """
    layers = [int(size) for size in policy_kwargs.get("layers") or DEFAULT_DQN_LAYERS]
    dueling = bool(policy_kwargs.get("dueling", True))
    layer_norm = bool(policy_kwargs.get("layer_norm", layer_norm_default))
    scope = SB2_SCOPES[DQN_SCHEME]
    shapes: Shapes = OrderedDict([(f"{scope}/eps:0", ())])
    for network in (f"{scope}/model", f"{scope}/target_q_func/model"):
        for stream, n_outputs in (("action_value", n_actions), ("state_value", 1))[: 2 if dueling else 1]:
            inputs, stream_layers = n_inputs, layers
            if image_shape is not None:
                inputs = NATURE_CNN_FEATURES
                if stream == "action_value":
                    shapes.update(nature_cnn_parameter_shapes(f"{network}/{stream}", image_shape))
                    stream_layers = []
            for index, size in enumerate(stream_layers):
                suffix = f"_{index}" if index else ""
                shapes[f"{network}/{stream}/fully_connected{suffix}/weights:0"] = (inputs, size)
                shapes[f"{network}/{stream}/fully_connected{suffix}/biases:0"] = (size,)
                if layer_norm:
                    shapes[f"{network}/{stream}/LayerNorm{suffix}/beta:0"] = (size,)
                    shapes[f"{network}/{stream}/LayerNorm{suffix}/gamma:0"] = (size,)
                inputs = size
            head = f"{network}/{stream}/fully_connected" + (f"_{len(stream_layers)}" if stream_layers else "")
            shapes[f"{head}/weights:0"] = (inputs, n_outputs)
            shapes[f"{head}/biases:0"] = (n_outputs,)
    return shapes


def dqn_parameter_names(policy_kwargs: Mapping[str, Any], layer_norm_default: bool = False,
                        cnn: bool = False) -> list[str]:
    """Parameter names of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy`` (or ``CnnPolicy`` /
    ``LnCnnPolicy``), in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param layer_norm_default: True for ``LnMlpPolicy`` and ``LnCnnPolicy``
    :param cnn: the policy is a CNN policy
    :return: the names
    """
    return list(dqn_parameter_shapes(policy_kwargs, 1, 1, layer_norm_default, NATURE_CNN_MIN_IMAGE if cnn else None))
