"""The legacy format: one cloudpickle stream of the tuple ``(data, params)``.

Read for compatibility with old Stable Baselines files (through the safe unpickler unless the
caller opts out), written only on request.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from typing import IO, Any

import cloudpickle
import numpy as np

from stable_baselines_io.exceptions import CorruptAgentFileError, DeserializationError
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.json_codec import unsafe_object_error
from stable_baselines_io.format.read_errors import error_text
from stable_baselines_io.format.safe_pickle import find_refused, safe_load
from stable_baselines_io.type_aliases import DataDict, LoadedParams

_UNPICKLING_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                      ImportError, MemoryError, RecursionError, struct.error)


def write_legacy(stream: IO[bytes], data: DataDict | None, params: LoadedParams) -> None:
    """Write ``(data, params)`` as one cloudpickle stream.

    :param stream: binary stream open for writing
    :param data: the data dictionary
    :param params: the parameters
    """
    cloudpickle.dump((data, params), stream)


def read_legacy(
    stream: IO[bytes],
    source: str,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
    load_data: bool = True,
    budget: LoadBudget | None = None,
) -> tuple[DataDict | None, LoadedParams]:
    """Read a legacy cloudpickle agent file.

    :param stream: binary stream positioned at the start of the pickle
    :param source: the file, named in errors
    :param custom_objects: values that replace stored data keys
    :param safe_mode: see :func:`~stable_baselines_io.format.json_codec.json_to_data`
    :param load_data: return the data dictionary (False returns None for it and does not check
        its objects, so parameters load from a file whose data safe mode would refuse)
    :param budget: the load's budget, charged with the pickle's bytes
    :return: ``(data, params)``; ``params`` is a list for the oldest files
    """
    # In memory, a length the pickle declares (BINBYTES, BINUNICODE...) can never make a read
    # allocate more than the file holds, as a read from a file object would.
    payload = io.BytesIO(stream.read())
    if budget is not None:
        budget.charge(len(payload.getbuffer()), "reading the legacy pickle")
    try:
        loaded = safe_load(payload) if safe_mode else cloudpickle.load(payload)
    except _UNPICKLING_ERRORS as error:
        raise CorruptAgentFileError(f"neither a zip archive nor a readable pickle: {error_text(error)}",
                                    path=source) from error
    except Exception as error:
        raise DeserializationError(f"unpickling the legacy file failed: {error_text(error)}", path=source) from error
    if not (isinstance(loaded, tuple) and len(loaded) == 2):
        raise CorruptAgentFileError(
            f"a legacy agent file holds a (data, params) pair; this one holds {type(loaded).__name__}", path=source
        )
    data, params = loaded
    if data is not None and not isinstance(data, dict):
        raise CorruptAgentFileError(f"the data dictionary is a {type(data).__name__}", path=source, member="data")
    if not load_data:
        data = None
    if data is not None:
        data = _apply_custom_objects(data, custom_objects or {}, source)
    return data, _check_params(params, source)


def _apply_custom_objects(data: DataDict, custom_objects: dict[str, Any], source: str) -> DataDict:
    result = {}
    for key, value in data.items():
        if key in custom_objects:
            result[key] = custom_objects[key]
            continue
        refused = find_refused(value)
        if refused is not None:
            raise unsafe_object_error(key, refused, source, member="data")
        result[key] = value
    return result


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
