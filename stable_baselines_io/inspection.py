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
from collections.abc import Iterable
from typing import Any

import numpy as np

from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    InvalidStoredValueError,
    LoadBudgetExceededError,
    RefusedObjectError,
    UnsupportedFormatVersionError,
)
from stable_baselines_io.format.archive import read_archive
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.files import ZIP_SIGNATURES, stored_format_version
from stable_baselines_io.format.json_codec import SERIALIZED_KEY, TYPE_KEY, decode_value
from stable_baselines_io.format.legacy import legacy_records, rebuild_params
from stable_baselines_io.format.read_errors import reported_as_corrupt
from stable_baselines_io.format.rebuild import Rebuilder
from stable_baselines_io.format.registry import deferred_imports
from stable_baselines_io.format.safe_pickle import safe_loads
from stable_baselines_io.format.url_targets import open_target_for_reading
from stable_baselines_io.interop import detect_algorithm
from stable_baselines_io.type_aliases import FileTarget, StorageOptions

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
    contents = read_archive(stream, source, budget=budget)
    with contextlib.suppress(UnsupportedFormatVersionError):  # a newer file is still described
        stored_format_version(contents.metadata, source)
    stream.seek(0)
    with zipfile.ZipFile(stream) as archive:
        members = ", ".join(f"{info.filename} ({info.file_size:,} B)" for info in archive.infolist())
    lines = [f"file: {source}", "format: zip archive (Stable Baselines zip format)", f"members: {members}"]
    lines += _metadata_lines(contents.metadata)
    needs_pickle: list[str] = []
    stored: dict[str, Any] = {}
    if contents.data_json is None:
        lines.append("data: none saved")
    else:
        stored = json.loads(contents.data_json)
        lines.append(f"data: {len(stored)} keys")
        for key, value in stored.items():
            lines += _stored_value_lines(key, value, source, needs_pickle, budget)
    lines.append(f"keys that need pickle: {', '.join(needs_pickle) if needs_pickle else 'none'}")
    names = list(contents.params or {})
    lines += _parameter_lines(contents.params.items() if contents.params else [])
    lines.append(f"algorithm: {detect_algorithm(contents.metadata, names, list(stored)) or 'unknown'}")
    return "\n".join(lines)


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
    if type(data) is dict:
        lines.append(f"data: {len(data)} keys")
        for key, value in data.items():
            try:
                lines.append(f"  {key} = {_short(rebuilder.rebuild(value))}")
            except RefusedObjectError as error:
                needs_pickle.append(key)
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
    return "\n".join(lines)


def _metadata_lines(metadata: dict[str, Any]) -> list[str]:
    if not metadata:
        return ["metadata: none (written by Stable Baselines 2.x or another writer; read as format version 1)"]
    return ["metadata:"] + [f"  {key}: {value}" for key, value in metadata.items()]


def _stored_value_lines(key: str, value: Any, source: str, needs_pickle: list[str],
                        budget: LoadBudget) -> list[str]:
    if isinstance(value, dict) and SERIALIZED_KEY in value:
        needs_pickle.append(key)
        try:
            payload = base64.b64decode(value[SERIALIZED_KEY], validate=True)
        except (binascii.Error, ValueError):
            return [f"  {key} = pickled {value.get(TYPE_KEY)} [invalid base64]"]
        verdict = _safe_mode_verdict(payload, budget)
        return [f"  {key} = pickled {value.get(TYPE_KEY)}, {len(payload):,} B [needs pickle] -> {verdict}",
                f"      pickle names: {', '.join(pickle_globals(payload))}"]
    try:
        decoded = decode_value(value, safe_mode=True, key=key, source=source, budget=budget)
    except LoadBudgetExceededError:
        raise
    except Exception as error:  # report, don't stop: inspect is for damaged files too
        return [f"  {key} = <cannot decode: {error}>"]
    return [f"  {key} = {_short(decoded)}"]


def _safe_mode_verdict(payload: bytes, budget: LoadBudget) -> str:
    try:
        value = safe_loads(payload, budget)
    except LoadBudgetExceededError:
        raise
    except RefusedObjectError as error:
        return f"refused in safe mode ({error.description}): use custom_objects or safe_mode=False"
    except Exception as error:  # a damaged pickle is reported, not raised
        return f"unreadable ({error!r})"
    return f"safe mode rebuilds it: {_short(value)}"


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

