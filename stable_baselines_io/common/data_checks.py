"""Check the values a file gives the model layer before anything is built from them.

``load`` calls :func:`check_loaded_agent` after reading the file and before creating any variable or
environment: every hyperparameter the file sets is type- and range-checked, ``policy_kwargs``
must describe a network of sane size, the stored parameters must have the names and shapes that
network will have (computed without building it), and the training state's replay buffer
description must be plain and in range. Bounds are generous for real agents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.common.cnn import nature_cnn_input_shape
from stable_baselines_io.common.preprocessing import flat_dim
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    CorruptAgentFileError,
    InvalidStoredValueError,
    UnsupportedSpaceError,
)
from stable_baselines_io.format import names, registry
from stable_baselines_io.format.validators import MAX_RANK, bit_generator_from_state
from stable_baselines_io.interop import (
    Shapes,
    actor_critic_action_outputs,
    actor_critic_parameter_shapes,
    dqn_parameter_shapes,
    recurrent_parameter_shapes,
)
from stable_baselines_io.schedules import LR_SCHEDULE_FACTORS
from stable_baselines_io.type_aliases import DataDict, LoadedParams

#: The widest hidden layer a file may ask for.
MAX_LAYER_WIDTH = 65536
#: The most hidden layers (shared, policy or value) a file may ask for.
MAX_DEPTH = 64
#: The most environment copies a file may ask for.
MAX_ENVS = 4096
#: The most parameters a network built from a file without stored weights may have (1 GiB float32).
MAX_BUILT_PARAMETERS = 2**28

_INT = 2**62
#: ``key: (low, high)`` for the integer hyperparameters a file may set (None: no bound).
INT_RANGES: dict[str, tuple[int, int]] = {
    "n_envs": (1, MAX_ENVS),
    "verbose": (0, 10),
    "seed": (0, 2**32 - 1),
    "n_steps": (1, 2**24),
    "nminibatches": (1, 2**24),
    "noptepochs": (1, 2**16),
    "buffer_size": (1, 2**31),
    "learning_starts": (0, _INT),
    "train_freq": (1, _INT),
    "batch_size": (1, 2**24),
    "target_network_update_freq": (1, _INT),
    "prioritized_replay_beta_iters": (1, _INT),
    "n_cpu_tf_sess": (1, 4096),
    "num_timesteps": (0, _INT),
    "_total_timesteps": (0, _INT),
    "_n_updates": (0, _INT),
    "num_episodes": (0, _INT),
}
#: ``key: (low, high)`` for the real hyperparameters a file may set.
FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "gamma": (0.0, 1.0),
    "lam": (0.0, 1.0),
    "vf_coef": (0.0, math.inf),
    "ent_coef": (-math.inf, math.inf),
    "max_grad_norm": (0.0, math.inf),
    "exploration_fraction": (0.0, 1.0),
    "exploration_final_eps": (0.0, 1.0),
    "exploration_initial_eps": (0.0, 1.0),
    "prioritized_replay_alpha": (0.0, math.inf),
    "prioritized_replay_beta0": (0.0, math.inf),
    "prioritized_replay_eps": (0.0, math.inf),
    "alpha": (0.0, 1.0),
    "momentum": (0.0, 1.0),
    "epsilon": (0.0, math.inf),
}
#: Keys holding one of a few names.
CHOICES: dict[str, tuple[str, ...]] = {"lr_schedule": tuple(LR_SCHEDULE_FACTORS)}
#: Keys holding a number or a schedule (any callable of the remaining progress).
SCHEDULE_KEYS = ("learning_rate", "cliprange", "cliprange_vf")
#: Keys holding a bool.
BOOL_KEYS = ("double_q", "param_noise", "prioritized_replay", "_vectorize_action")
#: Keys of the training state that must hold one of these types (None allowed where listed below).
TYPES: dict[str, tuple[type, ...]] = {
    "rng": (np.random.Generator,),
    "shuffle_rng": (np.random.Generator,),
    "_last_obs": (np.ndarray, dict, tuple),
    "_episode_starts": (np.ndarray,),
    "_policy_states": (np.ndarray,),
    "_ep_info_list": (list,),
    "_episode_return_list": (list,),
    "_env_episode_stats": (dict,),
    "_space_random_states": (dict,),
    "_replay_buffer_metadata": (dict,),
}
#: Keys that may be None beside their type.
OPTIONAL_KEYS = frozenset({"seed", "cliprange_vf", "prioritized_replay_beta_iters", "ent_coef", "max_grad_norm",
                           "n_cpu_tf_sess", "_last_obs", "_episode_starts", "_policy_states", "_env_episode_stats",
                           "_replay_buffer_metadata"})


def check_loaded_agent(data: DataDict, params: LoadedParams, training_state: DataDict | None = None,
                       source: str | None = None) -> None:
    """Check a file's data dictionary, parameters and training state before a model is built from them.

    :param data: the data dictionary as read (after ``custom_objects`` and overrides)
    :param params: the stored parameters (a mapping, a list, or None)
    :param training_state: the training state, when read
    :param source: the file, named in errors
    :raises CorruptAgentFileError: a value of the wrong type or out of range (naming the key)
    :raises AlgorithmMismatchError: the stored parameters do not have the names or shapes of the
        network the file describes
    """
    for key, value in data.items():
        check_value(key, value, source)
    check_policy_kwargs(data.get("policy_kwargs"), source)
    for key, value in (training_state or {}).items():
        check_value(key, value, source, member="training_state")
    check_replay_buffer_description((training_state or {}).get("_replay_buffer_metadata"), source)
    check_space_random_states((training_state or {}).get("_space_random_states"), source)
    expected = expected_parameter_shapes(data, source)
    if expected is not None:
        check_parameter_shapes(expected, params, source)


def check_value(key: str, value: Any, source: str | None = None, member: str = "data") -> None:
    """Check one stored hyperparameter against its declared type and range (unknown keys pass).

    :param key: the data key
    :param value: its value
    :param source: the file, named in errors
    :param member: the archive member, named in errors
    :raises CorruptAgentFileError: the value has the wrong type or is out of range
    """
    if value is None and key in OPTIONAL_KEYS:
        return
    if key in INT_RANGES:
        low, high = INT_RANGES[key]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or not low <= int(value) <= high:
            raise _bad(key, f"an integer in [{low}, {high}]", value, source, member)
    elif key in FLOAT_RANGES:
        low_float, high_float = FLOAT_RANGES[key]
        if not _is_number(value) or not low_float <= float(value) <= high_float:
            raise _bad(key, f"a number in [{low_float}, {high_float}]", value, source, member)
    elif key in SCHEDULE_KEYS:
        if not callable(value) and not (_is_number(value) and math.isfinite(float(value))):
            raise _bad(key, "a finite number or a schedule", value, source, member)
    elif key in BOOL_KEYS:
        if not isinstance(value, (bool, np.bool_)):
            raise _bad(key, "a bool", value, source, member)
    elif key in CHOICES:
        if not isinstance(value, str) or value not in CHOICES[key]:
            raise _bad(key, f"one of {list(CHOICES[key])}", value, source, member)
    elif key in ("observation_space", "action_space") and not isinstance(value, gymnasium.Space):
        raise _bad(key, "a gymnasium space", value, source, member)
    elif key in TYPES and not isinstance(value, TYPES[key]):
        raise _bad(key, " or ".join(cls.__name__ for cls in TYPES[key]), value, source, member)


def check_policy_kwargs(policy_kwargs: Any, source: str | None = None) -> None:
    """Check ``policy_kwargs``: a dict of string keys; ``net_arch`` / ``layers`` of sane sizes
    (``net_arch`` may place one ``'lstm'``); ``n_lstm`` a sane size; ``act_fun`` a name or a
    function; ``dueling`` / ``layer_norm`` bools.

    :param policy_kwargs: the stored value
    :param source: the file, named in errors
    :raises CorruptAgentFileError: naming the entry at fault
    """
    if policy_kwargs is None:
        return
    if not isinstance(policy_kwargs, dict) or not all(isinstance(key, str) for key in policy_kwargs):
        raise _bad("policy_kwargs", "a dict with string keys", policy_kwargs, source)
    if "layers" in policy_kwargs and policy_kwargs["layers"] is not None:
        _check_layer_sizes(policy_kwargs["layers"], "policy_kwargs['layers']", source)
    net_arch = policy_kwargs.get("net_arch")
    if net_arch is not None:
        if not isinstance(net_arch, list) or len(net_arch) > MAX_DEPTH + 1:
            raise _bad("policy_kwargs['net_arch']", f"a list of at most {MAX_DEPTH} layer sizes and one dict",
                       net_arch, source)
        for index, layer in enumerate(net_arch):
            where = f"policy_kwargs['net_arch'][{index}]"
            if layer == "lstm":
                continue
            if isinstance(layer, dict):
                if index != len(net_arch) - 1 or set(layer) - {"pi", "vf"}:
                    raise _bad(where, "the last entry, a dict of 'pi' and 'vf' layer sizes", layer, source)
                for branch, sizes in layer.items():
                    _check_layer_sizes(sizes, f"{where}[{branch!r}]", source)
            else:
                _check_layer_size(layer, where, source)
        if sum(1 for layer in net_arch if layer == "lstm") > 1:
            raise _bad("policy_kwargs['net_arch']", "a list with at most one 'lstm'", net_arch, source)
    if "n_lstm" in policy_kwargs:
        _check_layer_size(policy_kwargs["n_lstm"], "policy_kwargs['n_lstm']", source)
    act_fun = policy_kwargs.get("act_fun")
    if act_fun is not None and not isinstance(act_fun, str) and not callable(act_fun):
        raise _bad("policy_kwargs['act_fun']", "an activation name or function", act_fun, source)
    for flag in ("dueling", "layer_norm"):
        if flag in policy_kwargs and not isinstance(policy_kwargs[flag], (bool, np.bool_)):
            raise _bad(f"policy_kwargs[{flag!r}]", "a bool", policy_kwargs[flag], source)


def expected_parameter_shapes(data: DataDict, source: str | None = None) -> Shapes | None:
    """The parameter names and shapes the file's policy will have, computed without building it.

    :param data: the checked data dictionary
    :param source: the file, named in errors
    :return: name -> shape, or None for a policy this library does not describe (a user's own)
    """
    policy = data.get("policy")
    entry = names.by_registered_name(registry.registered_name(policy) or "") if isinstance(policy, type) else None
    if entry is None or entry.parameter_scheme is None:
        return None
    observation_space, action_space = data.get("observation_space"), data.get("action_space")
    if not isinstance(observation_space, gymnasium.Space) or not isinstance(action_space, gymnasium.Space):
        return None
    try:
        n_inputs = flat_dim(observation_space)
        image_shape = nature_cnn_input_shape(observation_space) if entry.cnn else None
    except UnsupportedSpaceError:
        return None  # the policy reports it when it is built
    policy_kwargs = data.get("policy_kwargs") or {}
    if entry.parameter_scheme == names.DQN_SCHEME:
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            return None
        return dqn_parameter_shapes(policy_kwargs, n_inputs, int(action_space.n), entry.layer_norm_default,
                                    image_shape, param_noise=data.get("param_noise") is True)
    outputs = actor_critic_action_outputs(action_space)
    if outputs is None:
        return None  # the policy reports it when it is built
    if entry.parameter_scheme == names.RECURRENT_SCHEME:
        return recurrent_parameter_shapes(policy_kwargs, n_inputs, *outputs, entry.layer_norm_default, image_shape)
    return actor_critic_parameter_shapes(policy_kwargs, n_inputs, *outputs, image_shape)


def check_parameter_shapes(expected: Shapes, params: LoadedParams, source: str | None = None) -> None:
    """Compare the stored parameters with the network the file describes, every problem at once.

    :param expected: name -> shape of the network to build
    :param params: the stored parameters (a mapping, a list in the network's order, or None)
    :param source: the file, named in errors
    :raises AlgorithmMismatchError: missing, unexpected or differently shaped parameters
    :raises CorruptAgentFileError: no parameters are stored and the network would be too large
    """
    if params is None:
        total = sum(math.prod(shape) for shape in expected.values())
        if total > MAX_BUILT_PARAMETERS:
            raise CorruptAgentFileError(
                f"policy_kwargs and the spaces describe a network of {total:,} parameters, more than the "
                f"{MAX_BUILT_PARAMETERS:,} a file without weights may ask for", path=source, member="data")
        return
    stored = params if isinstance(params, Mapping) else dict(zip(expected, params))
    problems = []
    if not isinstance(params, Mapping) and len(params) != len(expected):
        problems.append(f"{len(params)} parameters stored as a list, the network has {len(expected)}")
    missing = [name for name in expected if name not in stored]
    unexpected = [name for name in stored if name not in expected]
    if missing:
        problems.append(f"missing parameters {missing}")
    if unexpected:
        problems.append(f"unexpected parameters {unexpected}")
    for name, shape in expected.items():
        array = stored.get(name)
        if array is not None and tuple(np.shape(array)) != shape:
            problems.append(f"{name!r}: the network has shape {shape}, the file {tuple(np.shape(array))}")
    if problems:
        raise AlgorithmMismatchError(
            f"the file{'' if source is None else f' {source!r}'} does not hold the network its policy, spaces and "
            f"policy_kwargs describe (checked before building it): " + "; ".join(problems))


def check_space_random_states(states: Any, source: str | None = None) -> None:
    """Check the stored states of the spaces' samplers completely (they are set on NumPy bit
    generators, which do not range-check every field themselves).

    :param states: ``{"observation_space" | "action_space": bit generator state}``, or None
    :param source: the file, named in errors
    :raises CorruptAgentFileError: an unknown space or an invalid state
    """
    for name, state in (states or {}).items():
        if name not in ("observation_space", "action_space"):
            raise _bad("_space_random_states", "states of 'observation_space' and 'action_space'", name, source,
                       "training_state")
        try:
            bit_generator_from_state(state)
        except InvalidStoredValueError as error:
            raise CorruptAgentFileError(f"data key '_space_random_states' holds an invalid state for {name}: {error}",
                                        path=source, member="training_state") from error


def check_replay_buffer_description(description: Any, source: str | None = None) -> None:
    """Check the stored description of a replay buffer (``_replay_buffer_metadata``) as plain data.

    :param description: the stored value (None when the model had no buffer)
    :param source: the file, named in errors
    :raises CorruptAgentFileError: a field of the wrong type or out of range
    """
    if description is None:
        return
    key = "_replay_buffer_metadata"
    if not isinstance(description, dict):
        raise _bad(key, "a dict", description, source, "training_state")
    check_value("buffer_size", description.get("buffer_size"), source, "training_state")
    buffer_size = int(description["buffer_size"])
    for field in ("pos", "size"):
        value = description.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= buffer_size:
            raise _bad(f"{key}[{field!r}]", f"an integer in [0, {buffer_size}]", value, source, "training_state")
    for field in ("observation_shape", "action_shape"):
        shape = description.get(field)
        if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(
                isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= 2**31 for size in shape):
            raise _bad(f"{key}[{field!r}]", f"a list of at most {MAX_RANK} sizes", shape, source, "training_state")
    for field in ("observation_dtype", "action_dtype"):
        dtype = description.get(field)
        if not isinstance(dtype, str) or dtype not in _PLAIN_DTYPE_NAMES:
            raise _bad(f"{key}[{field!r}]", "a plain numeric dtype name", dtype, source, "training_state")


_PLAIN_DTYPE_NAMES = frozenset(np.dtype(code).name for code in
                               ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"))


def _check_layer_sizes(sizes: Any, where: str, source: str | None) -> None:
    if not isinstance(sizes, (list, tuple)) or len(sizes) > MAX_DEPTH:
        raise _bad(where, f"a list of at most {MAX_DEPTH} layer sizes", sizes, source)
    for index, size in enumerate(sizes):
        _check_layer_size(size, f"{where}[{index}]", source)


def _check_layer_size(size: Any, where: str, source: str | None) -> None:
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) \
            or not 1 <= int(size) <= MAX_LAYER_WIDTH:
        raise _bad(where, f"a layer size in [1, {MAX_LAYER_WIDTH}]", size, source)


def _is_number(value: Any) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def _bad(key: str, expected: str, value: Any, source: str | None, member: str = "data") -> CorruptAgentFileError:
    received = repr(value) if isinstance(value, (int, float, str, bool, type(None))) else type(value).__name__
    if len(received) > 80:
        received = received[:77] + "..."
    where = repr(key) if key.isidentifier() else key
    return CorruptAgentFileError(f"data key {where} must be {expected}, received {received}", path=source,
                                 member=member)
