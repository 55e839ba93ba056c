"""The legacy format: one cloudpickle stream of the tuple ``(data, params)``.

Read for compatibility with old Stable Baselines files (through the safe unpickler unless the
caller opts out), written only on request.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from typing import IO, Any, NamedTuple

import cloudpickle
import numpy as np

from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    DeserializationError,
    InvalidStoredValueError,
    LoadBudgetExceededError,
    RefusedObjectError,
)
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.json_codec import unsafe_object_error
from stable_baselines_io.format.read_errors import error_text
from stable_baselines_io.format.rebuild import Rebuilder
from stable_baselines_io.format.records import Call
from stable_baselines_io.format.safe_pickle import load_records
from stable_baselines_io.type_aliases import DataDict, LoadedParams

_UNPICKLING_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                      ImportError, MemoryError, RecursionError, struct.error)
#: What a validated rebuild may still raise from a builder (a gymnasium space refusing its bounds).
_REBUILD_ERRORS = (InvalidStoredValueError, ValueError, TypeError, OverflowError)


def write_legacy(stream: IO[bytes], data: DataDict | None, params: LoadedParams) -> None:
    """Write ``(data, params)`` as one cloudpickle stream.

    :param stream: binary stream open for writing
    :param data: the data dictionary
    :param params: the parameters
    """
    cloudpickle.dump((data, params), stream)


class LegacyContents(NamedTuple):
    """What a legacy file holds, as :func:`read_legacy_contents` reads it."""

    #: the data dictionary, or None (not asked for, or not stored)
    data: DataDict | None
    #: a mapping or a list of arrays, or None
    params: LoadedParams
    #: the data dictionary's keys, read even when the data is not rebuilt
    data_keys: tuple[str, ...]


def read_legacy_contents(
    stream: IO[bytes],
    source: str,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
    load_data: bool = True,
    budget: LoadBudget | None = None,
) -> LegacyContents:
    """Read a legacy cloudpickle agent file.

    In safe mode the pickle is parsed into inert records first; the parameters and then each data
    key are validated and rebuilt one by one, so a key replaced by ``custom_objects`` (or every
    key, with ``load_data=False``) is never rebuilt.

    :param stream: binary stream positioned at the start of the pickle
    :param source: the file, named in errors
    :param custom_objects: values that replace stored data keys
    :param safe_mode: see :func:`~stable_baselines_io.format.json_codec.json_to_data`
    :param load_data: return the data dictionary (False returns None for it and does not rebuild
        its objects, so parameters load from a file whose data safe mode would refuse)
    :param budget: the load budget (default: one for the pickle's size)
    :return: the data, the parameters (a list for the oldest files) and the data keys
    """
    payload = stream.read()
    budget = LoadBudget.for_file(len(payload), source=source) if budget is None else budget
    if not safe_mode:
        budget.charge(len(payload), "reading the legacy pickle")
        try:
            # In memory, a length the pickle declares (BINBYTES, BINUNICODE...) can never make a read
            # allocate more than the file holds, as a read from a file object would.
            loaded = cloudpickle.load(io.BytesIO(payload))
        except _UNPICKLING_ERRORS as error:
            raise CorruptAgentFileError(f"neither a zip archive nor a readable pickle: {error_text(error)}",
                                        path=source) from error
        except Exception as error:
            raise DeserializationError(f"unpickling the legacy file failed: {error_text(error)}",
                                       path=source) from error
        data, params = _split(loaded, source)
        if data is not None and not isinstance(data, dict):
            raise CorruptAgentFileError(f"the data dictionary is a {type(data).__name__}", path=source, member="data")
        replaced = custom_objects or {}
        keys = tuple(str(key) for key in data) if data is not None else ()
        data = {key: replaced.get(key, value) for key, value in data.items()} if load_data and data is not None \
            else None
        return LegacyContents(data, _check_params(params, source), keys)
    data_records, params_records = _split(legacy_records(payload, budget, source), source)
    if data_records is not None and type(data_records) is not dict:
        raise CorruptAgentFileError(f"the data dictionary is a {_kind(data_records)}", path=source, member="data")
    rebuilder = Rebuilder(budget)
    params = rebuild_params(rebuilder, params_records, source)
    keys = tuple(key for key in data_records if isinstance(key, str)) if data_records is not None else ()
    if not load_data or data_records is None:
        return LegacyContents(None, params, keys)
    return LegacyContents(_rebuild_data(rebuilder, data_records, custom_objects or {}, source), params, keys)


def legacy_records(payload: bytes, budget: LoadBudget, source: str) -> Any:
    """Parse a legacy file's pickle into inert records (nothing is rebuilt).

    :param payload: the whole file
    :param budget: the load budget
    :param source: the file, named in errors
    :return: plain values and records (see :func:`~.safe_pickle.load_records`)
    :raises CorruptAgentFileError: it is not a readable pickle
    :raises InvalidStoredValueError: the pickle breaks a limit of the safe unpickler
    """
    try:
        return load_records(payload, budget)
    except (pickle.UnpicklingError, RecursionError) as error:
        raise CorruptAgentFileError(f"neither a zip archive nor a readable pickle: {error_text(error)}",
                                    path=source) from error
    except InvalidStoredValueError as error:
        raise InvalidStoredValueError(str(error), path=source) from error


def _split(loaded: Any, source: str) -> tuple[Any, Any]:
    if not (type(loaded) is tuple and len(loaded) == 2):
        raise CorruptAgentFileError(
            f"a legacy agent file holds a (data, params) pair; this one holds {_kind(loaded)}", path=source
        )
    return loaded


def _kind(value: Any) -> str:
    return f"a call of {value.func!r}" if isinstance(value, Call) else type(value).__name__


def _rebuild_data(rebuilder: Rebuilder, records: dict[Any, Any], custom_objects: dict[str, Any],
                  source: str) -> DataDict:
    data: DataDict = {}
    for key, value in records.items():
        if not isinstance(key, str):
            raise CorruptAgentFileError(f"data keys must be strings, received a {_kind(key)}", path=source,
                                        member="data")
        if key in custom_objects:
            data[key] = custom_objects[key]
            continue
        try:
            data[key] = rebuilder.rebuild(value)
        except RefusedObjectError as error:
            raise unsafe_object_error(key, error.description, source, member="data",
                                      reference=error.reference) from error
        except LoadBudgetExceededError:
            raise
        except _REBUILD_ERRORS as error:
            raise InvalidStoredValueError(f"cannot rebuild data key {key!r}: {error}; pass "
                                          f"custom_objects={{{key!r}: ...}} to replace it", path=source,
                                          member="data") from error
    return data


def rebuild_params(rebuilder: Rebuilder, records: Any, source: str) -> LoadedParams:
    """Validate and rebuild the parameters of a legacy file from their records.

    :param rebuilder: the load's rebuilder
    :param records: the parameters as parsed by :func:`~.safe_pickle.load_records`
    :param source: the file, named in errors
    :return: a mapping or a list of arrays, or None
    :raises CorruptAgentFileError: they are not a list or mapping of NumPy arrays
    """
    if records is None:
        return None
    try:
        params = rebuilder.rebuild(records)
    except LoadBudgetExceededError:
        raise
    except (RefusedObjectError, *_REBUILD_ERRORS) as error:
        raise CorruptAgentFileError(f"the parameters are not a list or mapping of NumPy arrays: {error}",
                                    path=source, member="params") from error
    return _check_params(params, source)


def _check_params(params: Any, source: str) -> LoadedParams:
    if params is None:
        return None
    values = params.values() if isinstance(params, dict) else params
    if not isinstance(params, (dict, list, tuple)) or not all(
        isinstance(value, (np.ndarray, np.generic)) for value in values
    ):
        raise CorruptAgentFileError("the parameters are not a list or mapping of NumPy arrays", path=source,
                                    member="params")
    if isinstance(params, dict):
        return OrderedDict((name, np.asarray(value)) for name, value in params.items())
    return [np.asarray(value) for value in params]
