"""Normalization statistics on disk: the ``vec_normalize`` member, our own statistics file, and
Stable Baselines 2's pickles (``obs_rms.pkl`` / ``ret_rms.pkl``, pickled ``VecNormalize`` objects).

TensorFlow-free and model-free: statistics are plain :class:`StoredStatistics` records. Stable
Baselines 2's pickles go through the safe unpickler's inert records: the ``RunningMeanStd`` and
``VecNormalize`` records are read field by field (their classes are never imported, their state
never handed to a ``__setstate__``), only the arrays inside are rebuilt, and every field is
validated before a record is returned.

>>> stats = StoredStatistics(obs_mean=np.zeros(2), obs_var=np.ones(2), obs_count=1e-4)
>>> arrays_to_statistics(statistics_to_arrays(stats), "agent.zip").obs_var
array([1., 1.])
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    InvalidStoredValueError,
    LoadBudgetExceededError,
    NormalizationStatisticsError,
    RefusedObjectError,
)
from stable_baselines_io.format.archive import VEC_NORMALIZE_MEMBER
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.file_targets import atomic_write, is_path, open_for_reading
from stable_baselines_io.format.params_codec import read_params, write_params
from stable_baselines_io.format.read_errors import error_text
from stable_baselines_io.format.rebuild import Rebuilder
from stable_baselines_io.format.records import Call, Global
from stable_baselines_io.format.safe_pickle import load_records
from stable_baselines_io.type_aliases import FileTarget, ParamDict

#: Stable Baselines 2's statistics files in a log folder (``VecNormalize.save_running_average``).
OBS_RMS_FILE = "obs_rms.pkl"
RET_RMS_FILE = "ret_rms.pkl"
#: The pickled whole ``VecNormalize`` (``VecNormalize.save``), as the zoo names it.
VEC_NORMALIZE_FILE = "vecnormalize.pkl"
#: The classes Stable Baselines 2 pickled; nothing else is read from these files.
RUNNING_MEAN_STD_CLASS = ("stable_baselines.common.running_mean_std", "RunningMeanStd")
VEC_NORMALIZE_CLASS = ("stable_baselines.common.vec_env.vec_normalize", "VecNormalize")
#: Stable Baselines 2's ``RunningMeanStd`` starts its count here.
INITIAL_COUNT = 1e-4
#: The settings kept beside the statistics (name -> Python type), with Stable Baselines 2's defaults.
SETTINGS: dict[str, tuple[type, Any]] = {
    "clip_obs": (float, 10.0),
    "clip_reward": (float, 10.0),
    "gamma": (float, 0.99),
    "epsilon": (float, 1e-8),
    "training": (bool, True),
    "norm_obs": (bool, True),
    "norm_reward": (bool, True),
}
_STATISTICS = ("mean", "var", "count")
#: The largest statistics file read (Stable Baselines 2's are a few hundred bytes).
MAX_STATISTICS_FILE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class StoredStatistics:
    """Validated normalization statistics and settings, as stored (Stable Baselines 2's semantics).

    :param obs_mean: running mean of the observations (float64, the observation shape)
    :param obs_var: running variance of the observations (float64, same shape, >= 0)
    :param obs_count: observations counted (float > 0)
    :param ret_mean: running mean of the discounted returns (0-d float64)
    :param ret_var: their running variance (0-d float64, >= 0)
    :param ret_count: returns counted
    :param returns: the discounted return of each environment's episode in progress (exact
        resume); None when not stored
    """

    obs_mean: np.ndarray
    obs_var: np.ndarray
    obs_count: float
    ret_mean: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((), np.float64))
    ret_var: np.ndarray = dataclasses.field(default_factory=lambda: np.ones((), np.float64))
    ret_count: float = INITIAL_COUNT
    clip_obs: float = 10.0
    clip_reward: float = 10.0
    gamma: float = 0.99
    epsilon: float = 1e-8
    training: bool = True
    norm_obs: bool = True
    norm_reward: bool = True
    returns: np.ndarray | None = None

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """:return: the shape of the observations these statistics normalize"""
        return tuple(self.obs_mean.shape)


def statistics_to_arrays(stats: StoredStatistics) -> ParamDict:
    """The arrays of the ``vec_normalize`` member (pickle-free): ``obs_rms/mean``... and one 0-d
    array per setting.

    :param stats: the statistics
    :return: name -> array
    """
    arrays: ParamDict = OrderedDict()
    for prefix in ("obs", "ret"):
        for field in _STATISTICS:
            arrays[f"{prefix}_rms/{field}"] = np.asarray(getattr(stats, f"{prefix}_{field}"), dtype=np.float64)
    for name, (kind, _) in SETTINGS.items():
        arrays[name] = np.asarray(getattr(stats, name), dtype=np.bool_ if kind is bool else np.float64)
    if stats.returns is not None:
        arrays["returns"] = np.asarray(stats.returns, dtype=np.float64)
    return arrays


def arrays_to_statistics(arrays: Mapping[str, np.ndarray], source: str, member: str | None = VEC_NORMALIZE_MEMBER,
                         observation_shape: tuple[int, ...] | None = None) -> StoredStatistics:
    """Validate the arrays of :func:`statistics_to_arrays` (every problem at once) and return them.

    :param arrays: name -> array, as read
    :param source: the file, named in errors
    :param member: the member, named in errors
    :param observation_shape: the observation space's shape the statistics must have, if known
    :return: the statistics
    :raises NormalizationStatisticsError: (a ``ValueError``) missing or unknown arrays, wrong
        dtypes or shapes, negative or non-finite values, a shape other than ``observation_shape``
    """
    expected = [f"{prefix}_rms/{field}" for prefix in ("obs", "ret") for field in _STATISTICS] + list(SETTINGS)
    problems = []
    missing = [name for name in expected if name not in arrays]
    unknown = [name for name in arrays if name not in expected and name != "returns"]
    if missing:
        problems.append(f"missing arrays {missing}")
    if unknown:
        problems.append(f"unknown arrays {unknown}")
    if problems:
        raise NormalizationStatisticsError("; ".join(problems) + f" (expected {expected}, optionally 'returns')",
                                           path=source, member=member)
    values: dict[str, Any] = {}
    for name, (kind, _) in SETTINGS.items():
        array = np.asarray(arrays[name])
        if array.shape != () or array.dtype.kind != ("b" if kind is bool else "f"):
            problems.append(f"{name!r}: expected a 0-d {'bool' if kind is bool else 'float'} array, received "
                            f"shape {array.shape} dtype {array.dtype}")
        else:
            values[name] = kind(array)
    returns = arrays.get("returns")
    if returns is not None:
        returns = np.asarray(returns)
        if returns.ndim != 1 or returns.dtype.kind != "f" or not np.all(np.isfinite(returns)):
            problems.append(f"'returns': expected a 1-d array of finite floats, received shape {returns.shape} "
                            f"dtype {returns.dtype}")
    if problems:
        raise NormalizationStatisticsError("; ".join(problems), path=source, member=member)
    stats: dict[str, Any] = {f"{prefix}_{field}": arrays[f"{prefix}_rms/{field}"]
                             for prefix in ("obs", "ret") for field in _STATISTICS}
    return check_statistics(StoredStatistics(**stats, **values, returns=None if returns is None else
                                             returns.astype(np.float64)),
                            source, member, observation_shape)


def check_statistics(stats: StoredStatistics, source: str, member: str | None = None,
                     observation_shape: tuple[int, ...] | None = None) -> StoredStatistics:
    """Check every field of statistics read from a file and return them with canonical types.

    :param stats: the statistics as read (arrays may be of any float dtype)
    :param source: the file, named in errors
    :param member: the member or file part, named in errors
    :param observation_shape: the shape the observation statistics must have, if known
    :return: the statistics, arrays as float64, counts as floats
    :raises NormalizationStatisticsError: every problem found, in one message
    """
    problems: list[str] = []
    canonical: dict[str, Any] = {}
    for prefix, shape in (("obs", None), ("ret", ())):
        mean, var = _float_array(getattr(stats, f"{prefix}_mean"), f"{prefix}_rms.mean", problems), \
            _float_array(getattr(stats, f"{prefix}_var"), f"{prefix}_rms.var", problems)
        count = _count(getattr(stats, f"{prefix}_count"), f"{prefix}_rms.count", problems)
        if mean is not None and var is not None:
            if mean.shape != var.shape:
                problems.append(f"{prefix}_rms: mean of shape {mean.shape} but var of shape {var.shape}")
            elif shape is not None and mean.shape != shape:
                problems.append(f"{prefix}_rms: expected shape {shape} (one return per step), received {mean.shape}")
            if np.any(var < 0):
                problems.append(f"{prefix}_rms.var: expected variances >= 0, received {var[var < 0][:5].tolist()}")
        canonical.update({f"{prefix}_mean": mean, f"{prefix}_var": var, f"{prefix}_count": count})
    obs_mean = canonical["obs_mean"]
    if observation_shape is not None and obs_mean is not None and obs_mean.shape != tuple(observation_shape):
        problems.append(f"obs_rms: statistics of shape {obs_mean.shape} do not match the observation space's "
                        f"shape {tuple(observation_shape)}")
    for name, (kind, _) in SETTINGS.items():
        value = getattr(stats, name)
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                problems.append(f"{name}: expected a bool, received {type(value).__name__}")
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(value)) or float(value) < 0:
            problems.append(f"{name}: expected a finite number >= 0, received {value!r}")
    if not problems and float(stats.epsilon) <= 0 and np.any(canonical["obs_var"] == 0):
        problems.append("epsilon: 0 with a zero variance would divide by zero")
    if problems:
        raise NormalizationStatisticsError("; ".join(problems), path=source, member=member)
    settings = {name: kind(getattr(stats, name)) for name, (kind, _) in SETTINGS.items()}
    return StoredStatistics(**canonical, **settings, returns=stats.returns)


def _float_array(value: Any, what: str, problems: list[str]) -> np.ndarray | None:
    if isinstance(value, (float, np.floating)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        kind = f"array of dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        problems.append(f"{what}: expected an array of floats, received {kind}")
        return None
    if not np.all(np.isfinite(value)):
        problems.append(f"{what}: expected finite values, received NaN or infinity")
        return None
    return value.astype(np.float64)


def _count(value: Any, what: str, problems: list[str]) -> float:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or float(value) <= 0:
        problems.append(f"{what}: expected a finite number > 0, received {_short(value)}")
        return 1.0
    return float(value)


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, (int, float, str, np.generic)) else type(value).__name__
    return text[:80]


# --- our own statistics file (VecNormalize.save) --------------------------------------------------


def save_statistics(stats: StoredStatistics, save_path: FileTarget) -> None:
    """Write statistics as an ``.npz`` of named arrays (no pickle); a path is written atomically.

    :param stats: the statistics
    :param save_path: a path or a binary file object (written from its position, left open)
    """
    arrays = statistics_to_arrays(stats)
    if is_path(save_path):
        with atomic_write(Path(save_path)) as stream:  # type: ignore[arg-type]
            write_params(stream, arrays)
    else:
        write_params(save_path, arrays)  # type: ignore[arg-type]


def load_statistics(load_path: FileTarget, observation_shape: tuple[int, ...] | None = None,
                    max_bytes: int | None = None) -> StoredStatistics:
    """Read statistics written by :func:`save_statistics`, or Stable Baselines 2's pickled
    ``VecNormalize`` / ``RunningMeanStd`` (an ``obs_rms.pkl`` alone: default settings).

    :param load_path: a path or a binary file object
    :param observation_shape: the shape the observation statistics must have, if known
    :param max_bytes: the most bytes reading may allocate (default: see :class:`~.budget.LoadBudget`)
    :return: the statistics
    :raises NormalizationStatisticsError: the file holds no valid statistics
    """
    with open_for_reading(load_path) as (stream, source):
        payload = _read_small(stream, source)
    budget = LoadBudget.for_file(len(payload), max_bytes, source)
    if payload[:2] == b"PK":
        try:
            arrays = read_params(io.BytesIO(payload), None, source=source, budget=budget)
        except CorruptAgentFileError as error:
            raise NormalizationStatisticsError(f"not a statistics archive: {error}", path=source) from error
        return arrays_to_statistics(arrays, source, None, observation_shape)
    record = _records(payload, budget, source)
    if _class_of(record) == RUNNING_MEAN_STD_CLASS:
        mean, var, count = _running_mean_std(record, budget, source, OBS_RMS_FILE)
        return check_statistics(StoredStatistics(mean, var, count), source, None, observation_shape)
    return _vec_normalize(record, budget, source, observation_shape)


def read_sb2_statistics(folder: str | os.PathLike[str], observation_shape: tuple[int, ...] | None = None,
                        max_bytes: int | None = None) -> StoredStatistics:
    """Read Stable Baselines 2's statistics from a folder: ``vecnormalize.pkl`` (a pickled
    ``VecNormalize``), else ``obs_rms.pkl`` and ``ret_rms.pkl`` (pickled ``RunningMeanStd``; the
    settings are then Stable Baselines 2's defaults, the rl-baselines-zoo's).

    :param folder: the folder (the zoo's ``<algo>/<Env>/``)
    :param observation_shape: the shape the observation statistics must have, if known
    :param max_bytes: the most bytes reading each file may allocate
    :return: the statistics
    :raises NormalizationStatisticsError: no statistics in the folder, or invalid ones
    """
    folder = Path(folder)
    if (folder / VEC_NORMALIZE_FILE).is_file():
        return load_statistics(folder / VEC_NORMALIZE_FILE, observation_shape, max_bytes)
    if not (folder / OBS_RMS_FILE).is_file():
        raise NormalizationStatisticsError(
            f"expected {VEC_NORMALIZE_FILE} or {OBS_RMS_FILE} (with {RET_RMS_FILE}) in the folder, found "
            f"{sorted(path.name for path in folder.iterdir()) if folder.is_dir() else 'no such folder'}",
            path=str(folder))
    observations = read_running_mean_std(folder / OBS_RMS_FILE, max_bytes)
    returns = read_running_mean_std(folder / RET_RMS_FILE, max_bytes) if (folder / RET_RMS_FILE).is_file() else (
        np.zeros((), np.float64), np.ones((), np.float64), INITIAL_COUNT)
    stats = StoredStatistics(*observations, *returns)
    return check_statistics(stats, str(folder), None, observation_shape)


def read_running_mean_std(load_path: FileTarget, max_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Read a pickled Stable Baselines 2 ``RunningMeanStd`` (``obs_rms.pkl``, ``ret_rms.pkl``).

    :param load_path: a path or a binary file object
    :param max_bytes: the most bytes reading may allocate
    :return: ``(mean, var, count)``, validated
    :raises NormalizationStatisticsError: not a ``RunningMeanStd`` pickle, or invalid values
    """
    with open_for_reading(load_path) as (stream, source):
        payload = _read_small(stream, source)
    budget = LoadBudget.for_file(len(payload), max_bytes, source)
    record = _records(payload, budget, source)
    if _class_of(record) != RUNNING_MEAN_STD_CLASS:
        raise NormalizationStatisticsError(
            f"expected a pickled {'.'.join(RUNNING_MEAN_STD_CLASS)}, received {_described(record)}", path=source)
    mean, var, count = _running_mean_std(record, budget, source, None)
    problems: list[str] = []
    checked = _float_array(mean, "mean", problems), _float_array(var, "var", problems)
    count = _count(count, "count", problems)
    if not problems and checked[0] is not None and checked[1] is not None:
        if checked[0].shape != checked[1].shape:
            problems.append(f"mean of shape {checked[0].shape} but var of shape {checked[1].shape}")
        elif np.any(checked[1] < 0):
            problems.append(f"var: expected variances >= 0, received {checked[1][checked[1] < 0][:5].tolist()}")
    if problems:
        raise NormalizationStatisticsError("; ".join(problems), path=source)
    assert checked[0] is not None and checked[1] is not None
    return checked[0], checked[1], count


def _read_small(stream: Any, source: str) -> bytes:
    payload: bytes = stream.read(MAX_STATISTICS_FILE_BYTES + 1)
    if len(payload) > MAX_STATISTICS_FILE_BYTES:
        raise NormalizationStatisticsError(
            f"a statistics file is at most {MAX_STATISTICS_FILE_BYTES:,} bytes, this one is longer", path=source)
    if not payload:
        raise NormalizationStatisticsError("the file is empty", path=source)
    return payload


def _records(payload: bytes, budget: LoadBudget, source: str) -> Any:
    try:
        return load_records(payload, budget)
    except LoadBudgetExceededError:
        raise
    except (pickle.UnpicklingError, RecursionError, InvalidStoredValueError) as error:
        raise NormalizationStatisticsError(f"not a readable statistics file: {error_text(error)}",
                                           path=source) from error


def _class_of(record: Any) -> tuple[str, str] | None:
    """The class a pickled object is an instance of: ``cls.__new__`` (``NEWOBJ``) or
    ``copyreg._reconstructor(cls, object, None)`` (protocols 0 and 1)."""
    if not isinstance(record, Call) or not record.has_state or record.kwargs:
        return None
    if isinstance(record.func, Global) and record.key == ("copyreg", "_reconstructor") and record.args \
            and isinstance(record.args[0], Global):
        return record.args[0].key
    if isinstance(record.func, Global) and record.key != ("copyreg", "_reconstructor") and record.args == ():
        return record.key
    return None


def _described(record: Any) -> str:
    if isinstance(record, Call):
        return f"a call of {record.key[0] + '.' + record.key[1] if record.key else 'a computed value'}"
    return f"a {type(record).__name__}"


def _object_state(record: Call, source: str, what: str | None) -> dict[str, Any]:
    state = record.state
    if type(state) is not dict or not all(isinstance(key, str) for key in state):
        raise NormalizationStatisticsError(f"expected the pickled object's attributes as a dict of names, received "
                                           f"{type(state).__name__}", path=source, member=what)
    return state


def _running_mean_std(record: Call, budget: LoadBudget, source: str,
                      what: str | None) -> tuple[Any, Any, Any]:
    state = _object_state(record, source, what)
    missing = [name for name in _STATISTICS if name not in state]
    if missing:
        raise NormalizationStatisticsError(f"the RunningMeanStd has no {missing} (it holds {sorted(state)[:10]})",
                                           path=source, member=what)
    rebuilder = Rebuilder(budget)
    try:
        values = [rebuilder.rebuild(state[name]) for name in _STATISTICS]
    except RefusedObjectError as error:
        raise RefusedObjectError(error.description, path=source, member=what, reference=error.reference) from error
    except (InvalidStoredValueError, ValueError, TypeError, OverflowError) as error:
        if isinstance(error, LoadBudgetExceededError):
            raise
        raise NormalizationStatisticsError(f"the RunningMeanStd's values cannot be rebuilt: {error_text(error)}",
                                           path=source, member=what) from error
    return values[0], values[1], values[2]


def _vec_normalize(record: Any, budget: LoadBudget, source: str,
                   observation_shape: tuple[int, ...] | None) -> StoredStatistics:
    if _class_of(record) != VEC_NORMALIZE_CLASS:
        raise NormalizationStatisticsError(
            f"expected a pickled {'.'.join(VEC_NORMALIZE_CLASS)} or {'.'.join(RUNNING_MEAN_STD_CLASS)}, received "
            f"{_described(record)}", path=source)
    state = _object_state(record, source, None)
    problems = [f"{name}: expected a pickled RunningMeanStd, received {_described(state.get(name))}"
                for name in ("obs_rms", "ret_rms") if _class_of(state.get(name)) != RUNNING_MEAN_STD_CLASS]
    settings: dict[str, Any] = {}
    for name, (kind, default) in SETTINGS.items():
        value = state.get(name, default)
        if type(value) is not kind and not (kind is float and type(value) is int):
            problems.append(f"{name}: expected a {kind.__name__}, received {_described(value)}")
        settings[name] = value
    if problems:
        raise NormalizationStatisticsError(
            "the pickled VecNormalize is not Stable Baselines 2's: " + "; ".join(problems), path=source)
    observations = _running_mean_std(state["obs_rms"], budget, source, "obs_rms")
    returns = _running_mean_std(state["ret_rms"], budget, source, "ret_rms")
    return check_statistics(StoredStatistics(*observations, *returns, **settings), source, None, observation_shape)


def describe_statistics(stats: StoredStatistics) -> str:
    """One line for ``sb-io inspect``.

    :param stats: the statistics
    :return: the description
    """
    normalized = [what for what, on in (("observations", stats.norm_obs), ("returns", stats.norm_reward)) if on]
    return (f"normalization: VecNormalize statistics of observations of shape {stats.observation_shape} "
            f"(count {stats.obs_count:.6g}), normalizes {' and '.join(normalized) or 'nothing'}, "
            f"clip_obs={stats.clip_obs:g}, clip_reward={stats.clip_reward:g}, epsilon={stats.epsilon:g}, "
            f"gamma={stats.gamma:g}, training={stats.training}")


__all__ = ["VEC_NORMALIZE_MEMBER", "StoredStatistics", "arrays_to_statistics", "check_statistics",
           "describe_statistics", "load_statistics", "read_running_mean_std",
           "read_sb2_statistics", "save_statistics", "statistics_to_arrays"]
