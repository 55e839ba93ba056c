"""Schedules for hyperparameters such as ``learning_rate`` or ``cliprange``.

A schedule maps the remaining training progress (1.0 at the start of ``learn``, 0.0 at the end,
as in Stable Baselines) to a value. Schedules are plain data: they are written to agent files as
JSON (type + parameters) and never pickled. No TensorFlow here.

>>> schedule = LinearSchedule(initial_value=3e-4, final_value=0.0)
>>> schedule(1.0), schedule(0.5)
(0.0003, 0.00015)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stable_baselines_io.format.registry import register_serializable


@register_serializable("schedules.ConstantSchedule")
@dataclass(frozen=True)
class ConstantSchedule:
    """The same value throughout training.

    :param value: the constant value
    """

    value: float

    def __call__(self, progress_remaining: float) -> float:
        return self.value

    def to_config(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConstantSchedule:
        return cls(**config)


@register_serializable("schedules.LinearSchedule")
@dataclass(frozen=True)
class LinearSchedule:
    """Linear interpolation from ``initial_value`` (start of training) to ``final_value``.

    :param initial_value: value when ``progress_remaining`` is 1
    :param final_value: value when ``progress_remaining`` is 0 or less
    :param end_fraction: fraction of training after which ``final_value`` is held
    """

    initial_value: float
    final_value: float = 0.0
    end_fraction: float = 1.0

    def __call__(self, progress_remaining: float) -> float:
        elapsed = 1.0 - progress_remaining
        if elapsed >= self.end_fraction:
            return self.final_value
        if self.final_value == 0.0 and self.end_fraction == 1.0:
            # the rl-zoo's linear_schedule, bit for bit: the interpolation below can differ in the last bit
            return progress_remaining * self.initial_value
        return self.initial_value + (elapsed / self.end_fraction) * (self.final_value - self.initial_value)

    def to_config(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LinearSchedule:
        return cls(**config)


@register_serializable("schedules.PiecewiseSchedule")
@dataclass(frozen=True)
class PiecewiseSchedule:
    """Piecewise-linear schedule over elapsed progress (0 at the start, 1 at the end).

    Between endpoints ``(p0, v0)`` and ``(p1, v1)`` the value is interpolated on ``[p0, p1)``.

    >>> PiecewiseSchedule(((0.0, 1.0), (0.5, 0.0)))(0.75)
    0.5

    :param endpoints: ``(progress, value)`` pairs, sorted by progress
    :param outside_value: value outside the endpoints (default: the nearest endpoint's value)
    :param remaining: the endpoints' progress is the *remaining* progress (1 at the start, 0 at
        the end), the argument Stable Baselines 2's schedules received: how SB2's
        ``PiecewiseSchedule`` and ``LinearSchedule`` objects are read
    """

    endpoints: tuple[tuple[float, float], ...]
    outside_value: float | None = field(default=None)
    remaining: bool = False

    def __post_init__(self) -> None:
        points = tuple((float(p), float(v)) for p, v in self.endpoints)
        if not points:
            raise ValueError("PiecewiseSchedule needs at least one endpoint")
        if list(points) != sorted(points):
            raise ValueError(f"PiecewiseSchedule endpoints must be sorted by progress, received {points}")
        object.__setattr__(self, "endpoints", points)

    def __call__(self, progress_remaining: float) -> float:
        progress = progress_remaining if self.remaining else 1.0 - progress_remaining
        for (left_t, left_v), (right_t, right_v) in zip(self.endpoints[:-1], self.endpoints[1:]):
            if left_t <= progress < right_t:
                alpha = (progress - left_t) / (right_t - left_t)
                return left_v + alpha * (right_v - left_v)
        if self.outside_value is not None:
            return self.outside_value
        return self.endpoints[0][1] if progress < self.endpoints[0][0] else self.endpoints[-1][1]

    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"endpoints": [list(point) for point in self.endpoints],
                                  "outside_value": self.outside_value}
        if self.remaining:  # only when set, so files of elapsed-progress schedules are unchanged
            config["remaining"] = True
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PiecewiseSchedule:
        endpoints = tuple(tuple(point) for point in config["endpoints"])
        remaining = config.get("remaining", False)
        if not isinstance(remaining, bool):
            raise ValueError(f"PiecewiseSchedule 'remaining' must be a bool, received {remaining!r}")
        return cls(endpoints=endpoints, outside_value=config["outside_value"], remaining=remaining)


Schedule = ConstantSchedule | LinearSchedule | PiecewiseSchedule | Callable[[float], float]


def get_schedule_fn(value_or_schedule: float | Schedule) -> Callable[[float], float]:
    """Turn a number into a :class:`ConstantSchedule`; make any other callable return Python floats.

    A schedule may return a NumPy scalar (``np.float64``, as Stable-Baselines3 users' schedules
    often do): its value is cast to ``float``.

    >>> get_schedule_fn(lambda progress: np.float64(progress / 2))(1.0)
    0.5

    :param value_or_schedule: a number (Python or NumPy) or a callable of the remaining progress
    :return: a callable of the remaining progress, returning a float
    """
    if isinstance(value_or_schedule, (ConstantSchedule, LinearSchedule, PiecewiseSchedule)):
        return value_or_schedule
    if callable(value_or_schedule):
        return _FloatSchedule(value_or_schedule)
    if isinstance(value_or_schedule, (int, float, np.integer, np.floating)) and not isinstance(
            value_or_schedule, (bool, np.bool_)):
        return ConstantSchedule(float(value_or_schedule))
    raise TypeError(f"expected a number or a schedule callable, received {value_or_schedule!r}")


def _double_linear_con(progress_remaining: float) -> float:
    value = 1.0 - 2.0 * (1.0 - progress_remaining)
    return 0.125 if value < 0.125 else value


def _middle_drop(progress_remaining: float) -> float:
    return 0.075 if progress_remaining < 0.75 else progress_remaining


def _double_middle_drop(progress_remaining: float) -> float:
    if progress_remaining < 0.25:
        return 0.125
    return _middle_drop(progress_remaining)


#: Stable Baselines 2's ``lr_schedule`` names (A2C, ACER, ACKTR) -> the factor applied to the
#: learning rate, as a function of the remaining progress.
#:
#: >>> LR_SCHEDULE_FACTORS["middle_drop"](0.5)
#: 0.075
LR_SCHEDULE_FACTORS: dict[str, Callable[[float], float]] = {
    "constant": lambda progress_remaining: 1.0,
    "linear": lambda progress_remaining: progress_remaining,
    "double_linear_con": _double_linear_con,
    "middle_drop": _middle_drop,
    "double_middle_drop": _double_middle_drop,
}


@dataclass(frozen=True)
class _FloatSchedule:
    """A user's schedule whose values are cast to ``float``."""

    schedule: Callable[[float], Any]

    def __call__(self, progress_remaining: float) -> float:
        value = self.schedule(progress_remaining)
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"the schedule {self.schedule!r} returned {value!r} for progress_remaining="
                            f"{progress_remaining}: expected a number") from error
