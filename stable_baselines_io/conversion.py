"""``convert``: re-save a legacy or Stable Baselines 2 file in the current, pickle-free format.

Runs without TensorFlow. The file is read in safe mode (nothing from it is executed): spaces,
policy classes and constant schedules are rebuilt and written back as JSON. Parameters stored as
a bare list get their Stable Baselines 2 names.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import gymnasium

from stable_baselines_io.architecture import (
    UnknownPolicyClass,
    read_agent_file_naming_unknown_policy,
    replace_unknown_policy,
)
from stable_baselines_io.exceptions import PolicyInferenceError, SerializationError
from stable_baselines_io.format.file_targets import describe_target
from stable_baselines_io.format.files import AgentFile, save_to_file
from stable_baselines_io.format.names import ACTOR_CRITIC_SCHEME, DQN_SCHEME, RECURRENT_SCHEME, by_registered_name
from stable_baselines_io.format.normalization import (
    VEC_NORMALIZE_MEMBER,
    StoredStatistics,
    load_statistics,
    read_sb2_statistics,
    statistics_to_arrays,
)
from stable_baselines_io.format.registry import ClassReference, deferred_imports, registered_name
from stable_baselines_io.interop import (
    acting_policy_params,
    actor_critic_parameter_names,
    detect_algorithm,
    dqn_parameter_names,
    recurrent_parameter_shapes,
    sb2_algorithm,
)
from stable_baselines_io.type_aliases import DataDict, FileTarget, LoadedParams, ParamDict, StorageOptions


def convert_file(
    source: FileTarget,
    destination: FileTarget,
    custom_objects: dict[str, Any] | None = None,
    max_bytes: int | None = None,
    vecnormalize: str | os.PathLike[str] | None = None,
    storage_options: StorageOptions | None = None,
) -> list[str]:
    """Read ``source`` in safe mode and write it to ``destination`` as a pickle-free zip file.

    :param source: a legacy cloudpickle or zip agent file
    :param destination: where to write (``.zip`` appended to a path without extension)
    :param custom_objects: values for keys that safe mode cannot rebuild (e.g. a learning rate)
    :param max_bytes: the most bytes reading ``source`` may decompress and allocate (default
        ``max(64 MiB, 1100 * file size)``)
    :param vecnormalize: Stable Baselines 2's normalization statistics to fold into the agent file
        (its ``vec_normalize`` member): a folder with ``obs_rms.pkl`` / ``ret_rms.pkl`` or
        ``vecnormalize.pkl``, or one statistics file; read in safe mode and checked against the
        agent's observation space
    :param storage_options: options for the fsspec backend of URLs (source and destination)
    :return: the data keys written
    :raises SerializationError: a value would still need pickle (pass ``custom_objects`` for it)
    """
    with deferred_imports():
        agent_file = read_agent_file_naming_unknown_policy(source, custom_objects, safe_mode=True, max_bytes=max_bytes,
                                                           storage_options=storage_options)
        data = agent_file.data or {}
        _rebuild_unknown_policy(agent_file, describe_target(source))
        params = _named_params(agent_file.params, data)
        algorithm = detect_algorithm(agent_file.metadata, list(params or {}), list(data))
        metadata = {"converted_from": os.path.basename(describe_target(source)),
                    "converted_from_format": agent_file.file_format}
        if algorithm is not None:
            metadata["algorithm"] = algorithm.upper()
        state_arrays = {}
        if vecnormalize is not None:
            space = data.get("observation_space")
            shape = tuple(space.shape) if isinstance(space, gymnasium.spaces.Space) and space.shape is not None \
                else None
            state_arrays[VEC_NORMALIZE_MEMBER] = statistics_to_arrays(_read_statistics(vecnormalize, shape, max_bytes))
        try:
            save_to_file(destination, data=data, params=params, metadata=metadata, allow_pickle=False,
                         state_arrays=state_arrays, storage_options=storage_options)
        except SerializationError as error:
            raise SerializationError(f"cannot convert {describe_target(source)!r} to a pickle-free file: {error}") \
                from error
    return sorted(data)


def _rebuild_unknown_policy(agent_file: AgentFile, source: str) -> None:
    """Replace a policy class safe mode did not import by the library policy its arrays match, as ``load`` does."""
    data = agent_file.data or {}
    if not isinstance(data.get("policy"), UnknownPolicyClass):
        return
    algorithm = sb2_algorithm(data)
    if algorithm is None or algorithm.loaded_by is None:
        raise PolicyInferenceError(
            f"the policy class {data['policy'].qualified} is not this library's (safe mode does not import it), and "
            "the file is not of a Stable Baselines 2 algorithm this library plays: pass "
            "custom_objects={'policy': ...} naming an equivalent policy class", stored_class=data["policy"].qualified,
            path=source)
    scheme = DQN_SCHEME if algorithm.loaded_by == "DQN" else ACTOR_CRITIC_SCHEME
    replace_unknown_policy(agent_file, scheme, algorithm, None, source, stacklevel=3,  # the caller of convert_file
                           remedy=f"To choose the policy yourself, load the file with {algorithm.loaded_by}.load(path, "
                                  "policy=..., policy_kwargs=...) and save it")


def _read_statistics(location: str | os.PathLike[str], shape: tuple[int, ...] | None,
                     max_bytes: int | None) -> StoredStatistics:
    if os.path.isdir(location):
        return read_sb2_statistics(location, shape, max_bytes)
    return load_statistics(location, shape, max_bytes)


def _named_params(params: LoadedParams, data: DataDict) -> ParamDict | None:
    """The acting policy's parameters by name (a TRPO file's old policy is left out)."""
    if params is None:
        return None
    if isinstance(params, dict):
        return acting_policy_params(params, len(params), None)  # type: ignore[return-value]
    names = list_parameter_names(data, None)
    acting = acting_policy_params(params, len(names), sb2_algorithm(data), names)
    arrays = acting if isinstance(acting, list) else []  # a list stays a list
    list_parameter_names(data, len(arrays))
    return OrderedDict(zip(names, arrays))


def list_parameter_names(data: DataDict, count: int | None) -> list[str]:
    """Stable Baselines 2 names for parameters stored as a list, from the file's policy.

    :param data: the file's data dictionary (``policy``, ``policy_kwargs``, ``action_space``)
    :param count: how many parameters the list holds (None: not checked)
    :return: the names, in list order
    :raises SerializationError: the policy is unknown or the count does not match
    """
    policy = data.get("policy")
    policy_name = registered_name(policy) if isinstance(policy, (type, ClassReference)) else None
    policy_kwargs = data.get("policy_kwargs") or {}
    builtin = None if policy_name is None else by_registered_name(policy_name)
    scheme = None if builtin is None else builtin.parameter_scheme
    if builtin is not None and scheme == ACTOR_CRITIC_SCHEME:
        continuous = isinstance(data.get("action_space"), gymnasium.spaces.Box)
        names = actor_critic_parameter_names(policy_kwargs, continuous, cnn=builtin.cnn)
    elif builtin is not None and scheme == RECURRENT_SCHEME:
        space = data.get("observation_space")
        image_shape = space.shape if builtin.cnn and isinstance(space, gymnasium.spaces.Box) else None
        names = list(recurrent_parameter_shapes(policy_kwargs, 1, 1, isinstance(data.get("action_space"),
                                                                             gymnasium.spaces.Box),
                                                builtin.layer_norm_default, image_shape))
    elif builtin is not None and scheme == DQN_SCHEME:
        names = dqn_parameter_names(policy_kwargs, layer_norm_default=builtin.layer_norm_default, cnn=builtin.cnn,
                                    param_noise=data.get("param_noise") is True)
    else:
        raise SerializationError(
            f"the parameters are a bare list and the policy {policy!r} is not one whose parameter names are "
            "known: pass custom_objects={'policy': ...} naming an equivalent policy class"
        )
    if count is not None and len(names) != count:
        raise SerializationError(
            f"the list holds {count} parameters but policy {policy_name} with policy_kwargs {policy_kwargs} has "
            f"{len(names)}: {names}"
        )
    return names
