"""``inspect``: what an agent file holds, told without TensorFlow and without running its pickles.

Values with a JSON codec are decoded (the library's classes are named, not imported). A pickled
value is described by its declared type and the globals its pickle names, read opcode by
opcode with :mod:`pickletools`; its verdict (rebuilt by safe mode or refused) comes from the
allow-list reader, which never imports or calls anything the file names outside that list.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import pickletools
import reprlib
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from stable_baselines_io.architecture import (
    SCHEME_POLICY_PATHS,
    UnknownPolicyClass,
    action_outputs,
    declared_architecture,
    infer_stored_policy,
    matches_arrays,
    shapes_of,
)
from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    InvalidStoredValueError,
    LoadBudgetExceededError,
    NormalizationStatisticsError,
    ParameterMismatchError,
    PolicyInferenceError,
    RefusedObjectError,
    UnsupportedFormatVersionError,
)
from stable_baselines_io.format import names
from stable_baselines_io.format.archive import ARRAYS_MEMBER, read_archive
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.files import ZIP_SIGNATURES, stored_format_version
from stable_baselines_io.format.json_codec import SERIALIZED_KEY, TYPE_KEY, decode_value
from stable_baselines_io.format.legacy import legacy_records, rebuild_params
from stable_baselines_io.format.names import ACTOR_CRITIC_SCHEME, DQN_SCHEME, SB2_SCOPES
from stable_baselines_io.format.normalization import VEC_NORMALIZE_MEMBER, arrays_to_statistics, describe_statistics
from stable_baselines_io.format.read_errors import reported_as_corrupt
from stable_baselines_io.format.rebuild import Rebuilder
from stable_baselines_io.format.registry import ClassReference, deferred_imports, registered_name
from stable_baselines_io.format.safe_pickle import safe_loads
from stable_baselines_io.format.url_targets import open_target_for_reading
from stable_baselines_io.interop import SB2Algorithm, acting_policy_params, detect_algorithm, sb2_algorithm
from stable_baselines_io.type_aliases import FileTarget, LoadedParams, StorageOptions

MAX_VALUE_CHARS = 120
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxother = _SHORT_REPR.maxstring = MAX_VALUE_CHARS


def pickle_globals(payload: bytes) -> list[str]:
    """The ``module.name`` globals a pickle refers to, found without unpickling it.

    :param payload: pickle bytes
    :return: the globals, in order of first appearance
    """
    found: list[str] = []
    pushed: list[str | None] = []
    memo: dict[int, str | None] = {}
    try:
        for opcode, argument, _ in pickletools.genops(payload):
            name = opcode.name
            if name in {"GLOBAL", "INST"}:
                found.append(str(argument).replace(" ", "."))
            elif name == "STACK_GLOBAL" and len(pushed) >= 2 and None not in pushed[-2:]:
                found.append(f"{pushed[-2]}.{pushed[-1]}")
            if "UNICODE" in name or name in {"STRING", "BINSTRING", "SHORT_BINSTRING"}:
                pushed.append(str(argument))
            elif name in {"GET", "BINGET", "LONG_BINGET"}:
                pushed.append(memo.get(int(argument)))  # type: ignore[arg-type]
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in {"PUT", "BINPUT", "LONG_BINPUT"}:
                memo[int(argument)] = pushed[-1] if pushed else None  # type: ignore[arg-type]
            elif name not in {"FRAME", "PROTO"}:
                pushed.append(None)
    except Exception as error:  # pickletools raises bare ValueErrors and others on damaged data
        found.append(f"<unreadable pickle: {error}>")
    return list(dict.fromkeys(found))


def inspect_file(load_path: FileTarget, max_bytes: int | None = None,
                 storage_options: StorageOptions | None = None) -> str:
    """A human-readable report of an agent file: format, metadata, data keys, parameters.

    :param load_path: a path, an fsspec URL or a binary file object
    :param max_bytes: the most bytes reading the file may decompress and allocate (default
        ``max(64 MiB, 1100 * file size)``)
    :param storage_options: options for the fsspec backend of a URL
    :return: the report
    :raises CorruptAgentFileError: the file cannot be read (whatever its bytes)
    """
    with deferred_imports(), open_target_for_reading(load_path, storage_options) as (stream, source):
        budget = LoadBudget.for_file(stream.seek(0, io.SEEK_END), max_bytes, source)
        stream.seek(0)
        with reported_as_corrupt(source):
            signature = stream.read(4)
            stream.seek(0)
            if not signature:
                raise CorruptAgentFileError("the file is empty", path=source)
            if signature in ZIP_SIGNATURES:
                return _inspect_zip(stream, source, budget)
            return _inspect_legacy(stream, source, budget)


def _inspect_zip(stream: Any, source: str, budget: LoadBudget) -> str:
    contents = read_archive(stream, source, budget=budget, extra_members={VEC_NORMALIZE_MEMBER: ARRAYS_MEMBER})
    with contextlib.suppress(UnsupportedFormatVersionError):  # a newer file is still described
        stored_format_version(contents.metadata, source)
    stream.seek(0)
    with zipfile.ZipFile(stream) as archive:
        members = ", ".join(f"{info.filename} ({info.file_size:,} B)" for info in archive.infolist())
    lines = [f"file: {source}", "format: zip archive (Stable Baselines zip format)", f"members: {members}"]
    lines += _metadata_lines(contents.metadata)
    needs_pickle: list[str] = []
    stored: dict[str, Any] = {}
    values: dict[str, Any] = {}
    if contents.data_json is None:
        lines.append("data: none saved")
    else:
        stored = json.loads(contents.data_json)
        lines.append(f"data: {len(stored)} keys")
        for key, value in stored.items():
            lines += _stored_value_lines(key, value, source, needs_pickle, budget, values)
    lines.append(f"keys that need pickle: {', '.join(needs_pickle) if needs_pickle else 'none'}")
    names = list(contents.params or {})
    lines += _parameter_lines(contents.params.items() if contents.params else [])
    lines += policy_lines(values, contents.params, contents.metadata)
    lines.append(f"algorithm: {detect_algorithm(contents.metadata, names, list(stored)) or 'unknown'}")
    lines.append(_normalization_line(contents.array_members.get(VEC_NORMALIZE_MEMBER), source))
    return "\n".join(lines)


def _normalization_line(arrays: dict[str, np.ndarray] | None, source: str) -> str:
    if arrays is None:
        return "normalization: none stored (observations are used as given)"
    try:
        return describe_statistics(arrays_to_statistics(arrays, source))
    except NormalizationStatisticsError as error:
        return f"normalization: invalid statistics ({error})"


def _inspect_legacy(stream: Any, source: str, budget: LoadBudget) -> str:
    lines = [f"file: {source}", "format: legacy cloudpickle (one pickle of (data, params); deprecated)",
             "metadata: none (legacy files have none)"]
    payload = stream.read()
    lines.append(f"pickle globals: {', '.join(pickle_globals(payload))}")
    loaded = legacy_records(payload, budget, source)
    if not (type(loaded) is tuple and len(loaded) == 2):
        raise CorruptAgentFileError(f"not an agent file: a legacy agent file holds a (data, params) pair; this "
                                    f"pickle holds a {type(loaded).__name__}", path=source)
    rebuilder = Rebuilder(budget)
    data, params = loaded[0], rebuild_params(rebuilder, loaded[1], source)
    needs_pickle = []
    values: dict[str, Any] = {}
    if type(data) is dict:
        lines.append(f"data: {len(data)} keys")
        for key, value in data.items():
            try:
                values[key] = rebuilder.rebuild(value)
                lines.append(f"  {key} = {_short(values[key])}")
            except RefusedObjectError as error:
                needs_pickle.append(key)
                if error.reference is not None:
                    values[key] = UnknownPolicyClass(error.reference)
                lines.append(f"  {key} = {error.description} [refused in safe mode]")
            except InvalidStoredValueError as error:
                lines.append(f"  {key} = <cannot rebuild: {error}>")
    lines.append("keys refused in safe mode (a legacy file is all pickle): "
                 f"{', '.join(needs_pickle) if needs_pickle else 'none'}")
    if isinstance(params, dict):
        items: Iterable[tuple[str, Any]] = params.items()
    else:
        items = ((f"[{index}]", value) for index, value in enumerate(params or []))
        lines.append("parameters are a list: names come from the algorithm's parameter order")
    lines += _parameter_lines(items)
    lines += policy_lines(values, params, {})
    return "\n".join(lines)


def _metadata_lines(metadata: dict[str, Any]) -> list[str]:
    if not metadata:
        return ["metadata: none (written by Stable Baselines 2.x or another writer; read as format version 1)"]
    return ["metadata:"] + [f"  {key}: {value}" for key, value in metadata.items()]


def _stored_value_lines(key: str, value: Any, source: str, needs_pickle: list[str],
                        budget: LoadBudget, values: dict[str, Any]) -> list[str]:
    if isinstance(value, dict) and SERIALIZED_KEY in value:
        needs_pickle.append(key)
        try:
            payload = base64.b64decode(value[SERIALIZED_KEY], validate=True)
        except (binascii.Error, ValueError):
            return [f"  {key} = pickled {value.get(TYPE_KEY)} [invalid base64]"]
        verdict = _safe_mode_verdict(payload, budget, key, values)
        return [f"  {key} = pickled {value.get(TYPE_KEY)}, {len(payload):,} B [needs pickle] -> {verdict}",
                f"      pickle names: {', '.join(pickle_globals(payload))}"]
    try:
        decoded = decode_value(value, safe_mode=True, key=key, source=source, budget=budget)
    except LoadBudgetExceededError:
        raise
    except Exception as error:  # report, don't stop: inspect is for damaged files too
        return [f"  {key} = <cannot decode: {error}>"]
    values[key] = decoded
    return [f"  {key} = {_short(decoded)}"]


def _safe_mode_verdict(payload: bytes, budget: LoadBudget, key: str, values: dict[str, Any]) -> str:
    try:
        value = safe_loads(payload, budget)
    except LoadBudgetExceededError:
        raise
    except RefusedObjectError as error:
        if error.reference is not None:
            values[key] = UnknownPolicyClass(error.reference)
        return f"refused in safe mode ({error.description}): use custom_objects or safe_mode=False"
    except Exception as error:  # a damaged pickle is reported, not raised
        return f"unreadable ({error!r})"
    values[key] = value
    return f"safe mode rebuilds it: {_short(value)}"


def policy_lines(values: Mapping[str, Any], params: LoadedParams, metadata: Mapping[str, Any]) -> list[str]:
    """What ``load`` makes of a file's policy: the stored class, the library class used, and the
    architecture read from the arrays (:mod:`stable_baselines_io.architecture`), without TensorFlow.

    :param values: the data values that could be rebuilt (a refused class as an :class:`UnknownPolicyClass`)
    :param params: the stored parameters
    :param metadata: the file's metadata
    :return: report lines
    """
    policy = values.get("policy")
    if policy is None:
        return []
    algorithm = None if metadata.get("algorithm") else sb2_algorithm(values)
    loader = "" if algorithm is None else (f"loaded by {algorithm.loaded_by}.load" if algorithm.loaded_by
                                           else f"not supported: {algorithm.reason}")
    lines = [] if algorithm is None else [f"Stable Baselines 2 algorithm: {algorithm.name} ({loader})"]
    if not isinstance(policy, UnknownPolicyClass):
        return lines + _library_policy_lines(policy, values, params, algorithm)
    stored = f"{policy.qualified}, not this library's (never imported)"
    scheme = _scheme_of(algorithm, metadata, params)
    if scheme is None:
        return [*lines, f"policy: {stored} -> no library policy (the algorithm is unknown)"]
    try:
        inferred, acting = infer_stored_policy(scheme, params, algorithm, values)
    except (PolicyInferenceError, ParameterMismatchError) as error:
        return [*lines, f"policy: {stored} -> cannot tell the library policy: {error}"]
    assumed = f" (assumed, not recorded: {inferred.assumed})" if inferred.assumed else ""
    return [*lines, f"policy: {stored} -> load() rebuilds {SCHEME_POLICY_PATHS[scheme]}",
            f"architecture (inferred from the arrays): policy_kwargs={inferred.policy_kwargs}{assumed}",
            *_old_policy_lines(params, acting)]


def _library_policy_lines(policy: Any, values: Mapping[str, Any], params: LoadedParams,
                          algorithm: SB2Algorithm | None) -> list[str]:
    registered = registered_name(policy) if isinstance(policy, (type, ClassReference)) else None
    entry = names.by_registered_name(registered or "")
    if entry is None:
        return [f"policy: {_short(policy)} -> no library policy"]
    lines = [f"policy: {registered} -> {entry.import_path.replace(':', '.')}"]
    outputs = action_outputs(values.get("action_space"))  # type: ignore[arg-type]
    if entry.parameter_scheme not in SCHEME_POLICY_PATHS or outputs is None or params is None:
        return lines
    architecture = declared_architecture(entry.parameter_scheme, values.get("policy_kwargs"),
                                         entry.layer_norm_default)
    acting: LoadedParams = params
    for count in (len(params), len(params) // 2):
        with contextlib.suppress(ParameterMismatchError):
            candidate = acting_policy_params(params, count, algorithm)
            stored = shapes_of(candidate)  # type: ignore[arg-type]
            if matches_arrays(entry.parameter_scheme, architecture, stored, *outputs):
                acting = candidate
                break
    else:
        return [*lines, f"architecture (from policy_kwargs): {architecture}, which the stored arrays do NOT match"]
    return [*lines, f"architecture (from policy_kwargs, matching the arrays): {architecture}",
            *_old_policy_lines(params, acting)]


def _old_policy_lines(params: LoadedParams, acting: LoadedParams) -> list[str]:
    dropped = len(params or ()) - len(acting or ())
    if not dropped:
        return []
    return [f"old policy: {dropped} arrays ('oldpi/...', after the acting policy in Stable Baselines 2's order), "
            "not loaded: only an update used them"]


def _scheme_of(algorithm: SB2Algorithm | None, metadata: Mapping[str, Any], params: LoadedParams) -> str | None:
    loader = (algorithm.loaded_by if algorithm is not None else str(metadata.get("algorithm") or "")) or ""
    if loader.upper() in ("PPO", "A2C"):
        return ACTOR_CRITIC_SCHEME
    if loader.upper() == "DQN":
        return DQN_SCHEME
    stored_names = list(params) if isinstance(params, Mapping) else []
    for scheme, scope in SB2_SCOPES.items():
        if any(name.startswith(scope + "/") for name in stored_names):
            return scheme
    return None


def _parameter_lines(items: Iterable[tuple[str, Any]]) -> list[str]:
    rows = [(name, np.asarray(value)) for name, value in items]
    total_values = sum(array.size for _, array in rows)
    total_bytes = sum(array.nbytes for _, array in rows)
    lines = [f"parameters: {len(rows)} arrays, {total_values:,} values, {total_bytes:,} B"]
    width = max((len(name) for name, _ in rows), default=0)
    lines += [f"  {name:<{width}}  {tuple(array.shape)!s:<14} {array.dtype}" for name, array in rows]
    return lines


def _short(value: Any) -> str:
    # reprlib bounds the depth and items it writes: a value with shared parts is never expanded
    text = f"<class {value.name!r} (not imported)>" if type(value).__name__ == "ClassReference" \
        else _SHORT_REPR.repr(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."

