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
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.exceptions import ParameterMismatchError
from stable_baselines_io.format.names import (
    ACTOR_CRITIC_SCHEME,
    ALGORITHM_DATA_KEYS,
    ALGORITHMS,
    DQN_SCHEME,
    SB2_SCOPES,
    SCHEME_ALGORITHMS,
)
from stable_baselines_io.type_aliases import LoadedParams

#: Data keys that only Stable Baselines 2's A2C wrote: its parameters are named as PPO2's.
A2C_DATA_KEYS = ALGORITHM_DATA_KEYS["a2c"]
DEFAULT_ACTOR_CRITIC_LAYERS = [64, 64]
DEFAULT_DQN_LAYERS = [64, 64]
#: The copies of the online Q-network that SB2's DQN built with ``param_noise=True``, in creation order
#: (``deepq/<copy>/model/...``, between the online and the target network in its parameter list).
DQN_PARAM_NOISE_SCOPES = ("perturbed_model", "adaptive_model")
#: Stable Baselines 2's ``nature_cnn``: ``(scope, filters, filter size, stride)`` of each VALID
#: convolution (NHWC), then a dense layer ``fc1`` of :data:`NATURE_CNN_FEATURES` units.
NATURE_CNN_CONVOLUTIONS = (("c1", 32, 8, 4), ("c2", 64, 4, 2), ("c3", 64, 3, 1))
NATURE_CNN_FEATURES = 512
#: The smallest image the nature CNN accepts (used where only parameter names matter).
NATURE_CNN_MIN_IMAGE = (36, 36, 1)
DEFAULT_N_LSTM = 256


def detect_algorithm(metadata: Mapping[str, Any], param_names: Sequence[str],
                     data_keys: Sequence[str] = ()) -> str | None:
    """The algorithm of a file: from its metadata, else from its data keys and parameter names.

    Stable Baselines 2 files are reported as the class that loads them (:func:`sb2_algorithm`):
    TRPO and PPO1 files as ``"ppo"``, ACER and ACKTR files as ``"a2c"``. Without telling data keys,
    ``deepq/...`` parameters are DQN's and ``model/...`` ones PPO's.

    :param metadata: the file's ``metadata`` member (empty for Stable Baselines 2 files)
    :param param_names: the parameter names
    :param data_keys: the keys of the file's data dictionary, when known
    :return: ``"ppo"``, ``"dqn"``, ``"a2c"`` or None when unknown
    """
    stored = str(metadata.get("algorithm", "")).lower()
    if stored in ALGORITHMS:
        return stored
    sb2 = sb2_algorithm(data_keys)
    if sb2 is not None and sb2.loaded_by is not None:
        return sb2.loaded_by.lower()
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
    :param n_outputs: the width of the ``pi`` layer (see :func:`actor_critic_action_outputs`)
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
        layers = policy_kwargs.get("layers")
        layers = DEFAULT_ACTOR_CRITIC_LAYERS if layers is None else layers
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
    _add_actor_critic_heads(shapes, scope, policy_latent, value_latent, n_outputs, continuous_actions)
    return shapes


def _add_actor_critic_heads(shapes: Shapes, scope: str, policy_latent: int, value_latent: int, n_outputs: int,
                            continuous_actions: bool) -> None:
    """Add the heads every actor-critic policy of Stable Baselines 2 ends with, in its order:
    ``vf``, ``pi``, ``pi/logstd`` (Box actions), ``q``.

    :param shapes: the shapes so far, extended in place
    :param scope: the policy's variable scope (``"model"``)
    :param policy_latent: the width of the policy latent
    :param value_latent: the width of the value latent
    :param n_outputs: the width of the ``pi`` layer
    :param continuous_actions: Box actions (adds ``pi/logstd``)
    """
    for layer, inputs, outputs in (("vf", value_latent, 1), ("pi", policy_latent, n_outputs)):
        shapes[f"{scope}/{layer}/w:0"] = (inputs, outputs)
        shapes[f"{scope}/{layer}/b:0"] = (outputs,)
    if continuous_actions:
        shapes[f"{scope}/pi/logstd:0"] = (1, n_outputs)
    shapes[f"{scope}/q/w:0"] = (value_latent, n_outputs)
    shapes[f"{scope}/q/b:0"] = (n_outputs,)


def actor_critic_action_outputs(action_space: Any) -> tuple[int, bool] | None:
    """The width of Stable Baselines 2's ``pi`` (and ``q``) layer for an action space.

    Discrete(n): n logits; MultiDiscrete(nvec): ``sum(nvec)`` logits, one block per dimension;
    MultiBinary(n): n log-odds; Box: one Gaussian mean per element, plus ``pi/logstd``.

    >>> actor_critic_action_outputs(gymnasium.spaces.MultiDiscrete([3, 2]))
    (5, False)

    :param action_space: the stored action space
    :return: ``(n_outputs, continuous_actions)``, or None for a space the policies do not support
    """
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return int(action_space.n), False
    if isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        return int(np.asarray(action_space.nvec).sum()), False
    if isinstance(action_space, (gymnasium.spaces.MultiBinary, gymnasium.spaces.Box)):
        return int(np.prod(action_space.shape or ())), isinstance(action_space, gymnasium.spaces.Box)
    return None


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
        shapes.update(nature_cnn_parameter_shapes(scope, image_shape))
        latent = lstm(NATURE_CNN_FEATURES)
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
    _add_actor_critic_heads(shapes, scope, policy_latent, value_latent, n_outputs, continuous_actions)
    return shapes


def dqn_parameter_shapes(policy_kwargs: Mapping[str, Any], n_inputs: int, n_actions: int,
                         layer_norm_default: bool = False, image_shape: Sequence[int] | None = None,
                         param_noise: bool = False) -> Shapes:
    """Parameter names and shapes of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy`` (or
    ``CnnPolicy`` / ``LnCnnPolicy``), in its order: the exploration rate, the online network, with
    ``param_noise`` its perturbed and adaptive copies (:data:`DQN_PARAM_NOISE_SCOPES`), then the target
    network.

    With a CNN, the ``action_value`` stream is the nature CNN and a linear head, and the
    ``state_value`` stream applies the hidden ``layers`` to the CNN's features, as in Stable
    Baselines 2.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param n_inputs: the flattened observation size
    :param n_actions: the number of discrete actions
    :param layer_norm_default: True for ``LnMlpPolicy`` and ``LnCnnPolicy``
    :param image_shape: for CNN policies, the observation shape
    :param param_noise: the file's ``param_noise`` data key
    :return: name -> shape
    """
    stored_layers = policy_kwargs.get("layers")
    layers = [int(size) for size in (DEFAULT_DQN_LAYERS if stored_layers is None else stored_layers)]
    dueling = bool(policy_kwargs.get("dueling", True))
    layer_norm = bool(policy_kwargs.get("layer_norm", layer_norm_default))
    scope = SB2_SCOPES[DQN_SCHEME]
    shapes: Shapes = OrderedDict([(f"{scope}/eps:0", ())])
    copies = [f"{scope}/{copy}/model" for copy in DQN_PARAM_NOISE_SCOPES] if param_noise else []
    for network in (f"{scope}/model", *copies, f"{scope}/target_q_func/model"):
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
                        cnn: bool = False, param_noise: bool = False) -> list[str]:
    """Parameter names of Stable Baselines 2's DQN ``MlpPolicy`` / ``LnMlpPolicy`` (or ``CnnPolicy`` /
    ``LnCnnPolicy``), in its order.

    :param policy_kwargs: the stored ``policy_kwargs`` (``layers``, ``dueling``, ``layer_norm``)
    :param layer_norm_default: True for ``LnMlpPolicy`` and ``LnCnnPolicy``
    :param cnn: the policy is a CNN policy
    :param param_noise: the file's ``param_noise`` data key
    :return: the names
    """
    return list(dqn_parameter_shapes(policy_kwargs, 1, 1, layer_norm_default, NATURE_CNN_MIN_IMAGE if cnn else None,
                                     param_noise))


@dataclass(frozen=True)
class SB2Algorithm:
    """One Stable Baselines 2 algorithm: how its files are recognised and which class here loads them.

    :param name: Stable Baselines 2's class name (``"TRPO"``)
    :param data_keys: data keys that every file of the algorithm holds, and no other's all of them
    :param loaded_by: the class of this library that loads its files (``"PPO"``, ``"A2C"``, ``"DQN"``),
        or None when its files are not supported
    :param copy_scopes: scopes of the copies of the acting policy its parameters may hold after it,
        in Stable Baselines 2's order (TRPO's and PPO1's old policy, ``oldpi/model/...``)
    :param reason: for an unsupported algorithm, why
    """

    name: str
    data_keys: frozenset[str]
    loaded_by: str | None
    copy_scopes: tuple[str, ...] = ()
    reason: str = ""


#: Every Stable Baselines 2 algorithm, in the order they are recognised (HER wraps the others).
SB2_ALGORITHMS: tuple[SB2Algorithm, ...] = (
    SB2Algorithm("HER", frozenset({"n_sampled_goal", "goal_selection_strategy"}), None,
                 reason="HER wraps an off-policy model (DDPG, SAC, TD3, DQN) over goal-conditioned Dict "
                        "observations, which this library does not have"),
    SB2Algorithm("GAIL", frozenset({"timesteps_per_batch", "max_kl", "using_gail", "hidden_size_adversary"}), None,
                 reason="GAIL's files add a discriminator network and an expert dataset to TRPO's"),
    SB2Algorithm("PPO2", frozenset({"cliprange", "nminibatches", "noptepochs"}), "PPO"),
    SB2Algorithm("A2C", A2C_DATA_KEYS, "A2C"),
    SB2Algorithm("ACER", frozenset({"q_coef", "replay_ratio", "rprop_alpha"}), "A2C"),
    SB2Algorithm("ACKTR", frozenset({"vf_fisher_coef", "kfac_clip"}), "A2C"),
    SB2Algorithm("TRPO", frozenset({"timesteps_per_batch", "max_kl", "cg_iters"}), "PPO", copy_scopes=("oldpi",)),
    SB2Algorithm("PPO1", frozenset({"timesteps_per_actorbatch", "clip_param", "optim_epochs"}), "PPO",
                 copy_scopes=("oldpi",)),
    SB2Algorithm("DQN", frozenset({"exploration_fraction", "target_network_update_freq"}), "DQN"),
    SB2Algorithm("DDPG", frozenset({"actor_lr", "critic_lr"}), None,
                 reason="this library has no DDPG (actor and critic networks, Box actions)"),
    SB2Algorithm("TD3", frozenset({"policy_delay", "target_policy_noise"}), None,
                 reason="this library has no TD3 (twin critics, Box actions)"),
    SB2Algorithm("SAC", frozenset({"target_entropy", "gradient_steps"}), None,
                 reason="this library has no SAC (squashed Gaussian actor, twin critics)"),
)


def sb2_algorithm(data: Mapping[str, Any] | Sequence[str]) -> SB2Algorithm | None:
    """The Stable Baselines 2 algorithm that wrote a file, from its data keys.

    >>> sb2_algorithm(["gamma", "timesteps_per_batch", "max_kl", "cg_iters", "lam"]).loaded_by
    'PPO'

    :param data: the file's data dictionary, or its keys
    :return: the algorithm, or None when the keys are no Stable Baselines 2 algorithm's
    """
    keys = set(data)
    if isinstance(data, Mapping) and data.get("using_gail") is True and {"timesteps_per_batch", "max_kl"} <= keys:
        return SB2_ALGORITHMS[1]
    for algorithm in SB2_ALGORITHMS:
        if algorithm.data_keys <= keys:
            return algorithm
    return None


def acting_policy_params(params: LoadedParams, acting_count: int, algorithm: SB2Algorithm | None,
                         acting_names: Sequence[str] = ()) -> LoadedParams:
    """The acting policy's parameters, without the copies of it that some algorithms' files hold.

    TRPO and PPO1 files hold the acting policy (``model/...``) and then their old policy
    (``oldpi/model/...``, the same names under ``oldpi/``), as a mapping or, in the oldest files,
    as a list twice as long in that order. The copies are needed only during an update and are
    dropped. A list is split only when the file's data says it is such an algorithm's; otherwise a
    list of another length is returned as it is (and reported by the caller's check).

    :param params: the stored parameters (a mapping, a list, or None)
    :param acting_count: how many parameters the acting policy has
    :param algorithm: the Stable Baselines 2 algorithm that wrote the file (:func:`sb2_algorithm`), if known
    :param acting_names: the acting policy's parameter names (to name them in errors)
    :return: the acting policy's parameters
    :raises ParameterMismatchError: the copies do not have the acting policy's names and shapes, or
        the list has the length of such a layout in a file of another algorithm
    """
    if params is None:
        return None
    if isinstance(params, Mapping):
        return _without_named_copies(params)
    copies = len(algorithm.copy_scopes) if algorithm is not None else 0
    if len(params) == acting_count or acting_count == 0 or len(params) % acting_count:
        return params
    times = len(params) // acting_count
    layout = (f"Stable Baselines 2's TRPO and PPO1 files list the acting policy's {acting_count} arrays"
              f"{' ' + str(list(acting_names)) if acting_names else ''}, then their old policy's "
              f"{acting_count} ('oldpi/...', same shapes)")
    if times != 1 + copies or copies == 0:
        what = "no data to tell its algorithm" if algorithm is None and times == 2 else \
            f"data of Stable Baselines 2's {algorithm.name if algorithm else 'unknown algorithm'}"
        raise ParameterMismatchError(
            f"received {len(params)} parameters as a list, the policy has {acting_count}: {layout}, but this "
            f"list comes with {what}, whose files hold {acting_count * (1 + copies)}. The list is not split by "
            "guess: pass a mapping name -> array")
    acting = list(params[:acting_count])
    for copy in range(1, times):
        block = params[copy * acting_count: (copy + 1) * acting_count]
        wrong = [index for index, (left, right) in enumerate(zip(acting, block)) if np.shape(left) != np.shape(right)]
        if wrong:
            raise ParameterMismatchError(
                f"received {len(params)} parameters as a list: {layout}; the copy's arrays at {wrong} differ in "
                f"shape from the acting policy's ({[np.shape(acting[index]) for index in wrong]} -> "
                f"{[np.shape(block[index]) for index in wrong]})")
    return acting


def _without_named_copies(params: Mapping[str, Any]) -> LoadedParams:
    scopes = {scope for algorithm in SB2_ALGORITHMS for scope in algorithm.copy_scopes}
    copies = {name: value for name, value in params.items() if name.split("/", 1)[0] in scopes}
    if not copies:
        return params if isinstance(params, OrderedDict) else OrderedDict(params)
    acting = OrderedDict((name, value) for name, value in params.items() if name not in copies)
    problems = []
    for name, value in copies.items():
        original = name.split("/", 1)[1]
        if original not in acting:
            problems.append(f"{name!r} copies no acting parameter {original!r}")
        elif np.shape(acting[original]) != np.shape(value):
            problems.append(f"{name!r} has shape {np.shape(value)}, {original!r} {np.shape(acting[original])}")
    if problems:
        raise ParameterMismatchError(
            "the old policy ('oldpi/...') that Stable Baselines 2's TRPO and PPO1 files hold must repeat the acting "
            "policy's names and shapes under 'oldpi/': " + "; ".join(problems))
    return acting
