"""Schedules in the wild, read in safe mode without running their code: the zoo's
``linear_schedule`` closures, SB2's ``constfn`` and lambdas of the same shapes, and SB2's
``stable_baselines.common.schedules`` objects. The pickles are assembled here opcode by opcode as
cloudpickle wrote them under Python 3.6/3.7 (15-field code objects) and 3.8 (16 fields), and by
the installed cloudpickle (this Python's layout)."""

from __future__ import annotations

import base64
import io
import json
import pickle
from typing import Any

import cloudpickle
import numpy as np
import pytest

from stable_baselines_io.exceptions import UnsafeObjectError
from stable_baselines_io.format import json_to_data
from stable_baselines_io.format.code_records import code_record_from_args, schedule_shape
from stable_baselines_io.schedules import ConstantSchedule, LinearSchedule, PiecewiseSchedule

ZOO_DOC = ("\n        Progress will decrease from 1 (beginning) to 0\n        :param progress: (float)\n"
           "        :return: (float)\n        ")
# CPython 3.6-3.10 wordcode.
LOAD_FAST, LOAD_DEREF, LOAD_CONST, BINARY_MULTIPLY, BINARY_POWER, RETURN_VALUE = 124, 136, 100, 20, 19, 83
ZOO_BYTECODE = bytes([LOAD_FAST, 0, LOAD_DEREF, 0, BINARY_MULTIPLY, 0, RETURN_VALUE, 0])
PROGRESS = np.linspace(1.0, 0.0, 11)


class Raw(bytes):
    """An already assembled pickle fragment."""


def _plain(value: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=3)  # bytes as BINBYTES, as cloudpickle wrote them
    pickler.fast = True  # no memo: fragments are concatenated
    pickler.dump(value)
    return buffer.getvalue()[2:-1]


def _fragment(value: Any) -> bytes:
    if isinstance(value, dict) and any(isinstance(item, Raw) for item in value.values()):
        return b"}(" + b"".join(_fragment(key) + _fragment(item) for key, item in value.items()) + b"u"
    return value if isinstance(value, Raw) else _plain(value)


def _global(module: str, name: str) -> Raw:
    return Raw(b"c" + f"{module}\n{name}\n".encode())


def _call(func: Raw, *args: Any) -> Raw:
    return Raw(func + b"(" + b"".join(_fragment(arg) for arg in args) + b"tR")


def _code(python: str, argcount: int, bytecode: bytes, consts: tuple, names: tuple, varnames: tuple,
          freevars: tuple, nlocals: int = 1) -> Raw:
    """``_builtin_type("CodeType")(...)`` with the fields of the CPython version that wrote it."""
    positional = (argcount, 0) if python == "3.6" else (argcount, 0, 0)  # 3.8 adds posonlyargcount
    fields = (*positional, nlocals, 2, 19, bytecode, consts, names, varnames, "/home/zoo/utils/utils.py", "func",
              73, b"\x00\x05", freevars, ())
    return _call(_call(_global("cloudpickle.cloudpickle", "_builtin_type"), "CodeType"), *fields)


def cloudpickled_function(python: str, bytecode: bytes, closure: list[Any], consts: tuple = (ZOO_DOC,),
                          names: tuple = (), freevars: tuple = ("initial_value",), argcount: int = 1,
                          qualname: str = "linear_schedule.<locals>.func", module: str = "utils.utils") -> bytes:
    """A closure as Python 3.6/3.7 (or 3.8) cloudpickle wrote it:
    ``_fill_function(_make_skel_func(code, ...), state)``."""
    code = _code(python, argcount, bytecode, consts, names, ("progress",), freevars)
    skeleton = _call(_global("cloudpickle.cloudpickle", "_make_skel_func"), code, len(closure),
                     {"__package__": "utils", "__name__": module})
    state = {"globals": {}, "defaults": None, "dict": {}, "closure_values": closure, "module": module,
             "name": "func", "doc": None, "_cloudpickle_submodules": [], "qualname": qualname, "kwdefaults": None}
    return b"\x80\x03" + _call(_global("cloudpickle.cloudpickle", "_fill_function"), skeleton, state) + b"."


def _load(payload: bytes) -> Any:
    envelope = {":type:": "<class 'function'>", ":serialized:": base64.b64encode(payload).decode("ascii")}
    return json_to_data(json.dumps({"learning_rate": envelope}))["learning_rate"]


def _values(schedule: Any) -> list[float]:
    return [schedule(float(progress)) for progress in PROGRESS]


@pytest.mark.parametrize("python", ["3.6", "3.8"])
def test_zoo_linear_schedule_is_read_as_a_linear_schedule(python: str) -> None:
    schedule = _load(cloudpickled_function(python, ZOO_BYTECODE, [2.5e-4]))
    assert schedule == LinearSchedule(initial_value=2.5e-4, final_value=0.0)
    assert _values(schedule) == [float(progress) * 2.5e-4 for progress in PROGRESS]


def test_operands_in_either_order_and_a_lambda_with_a_constant() -> None:
    swapped = bytes([LOAD_DEREF, 0, LOAD_FAST, 0, BINARY_MULTIPLY, 0, RETURN_VALUE, 0])
    assert _load(cloudpickled_function("3.6", swapped, [0.1])) == LinearSchedule(0.1)
    # lambda f: f * 2.5e-4 (OpenAI baselines style): the number is a constant, no closure.
    lambda_code = bytes([LOAD_FAST, 0, LOAD_CONST, 1, BINARY_MULTIPLY, 0, RETURN_VALUE, 0])
    schedule = _load(cloudpickled_function("3.6", lambda_code, [], consts=(None, 2.5e-4), freevars=(),
                                           qualname="<lambda>"))
    assert schedule == LinearSchedule(2.5e-4)


def test_constant_closure_of_any_name_is_a_constant_schedule() -> None:
    constant = bytes([LOAD_DEREF, 0, RETURN_VALUE, 0])
    schedule = _load(cloudpickled_function("3.8", constant, [np.float64(3e-4).item()], consts=(None,),
                                           freevars=("val",), qualname="constfn.<locals>.func", module="my.utils"))
    assert schedule == ConstantSchedule(3e-4)


def _zoo_linear_schedule(initial_value: float) -> Any:
    def func(progress: float) -> float:
        """Progress will decrease from 1 (beginning) to 0."""
        return progress * initial_value

    return func


def test_schedules_written_by_this_pythons_cloudpickle() -> None:
    assert _load(cloudpickle.dumps(lambda f: f * 2.5e-4)) == LinearSchedule(2.5e-4)
    assert _load(cloudpickle.dumps(lambda _: 0.2)) == ConstantSchedule(0.2)
    function = _zoo_linear_schedule(7e-4)
    schedule = _load(cloudpickle.dumps(function, protocol=4))
    assert schedule == LinearSchedule(7e-4)
    assert _values(schedule) == [function(float(progress)) for progress in PROGRESS]


@pytest.mark.parametrize("initial_value", [2.5e-4, 7e-4, 3e-4, 0.1, 0.2, 1e-3])
def test_a_zoo_linear_schedule_gives_its_closures_values_bit_for_bit(initial_value: float) -> None:
    function = _zoo_linear_schedule(initial_value)
    progress = np.linspace(0.0, 1.0, 4097).tolist()
    assert [LinearSchedule(initial_value)(value) for value in progress] == [function(value) for value in progress]
    # what an interpolation from initial_value to 0 computes is not always the closure's last bit
    assert any(initial_value - (1.0 - value) * initial_value != function(value) for value in progress)


@pytest.mark.parametrize("bytecode, closure, consts, names, what", [
    (bytes([LOAD_FAST, 0, LOAD_DEREF, 0, BINARY_POWER, 0, RETURN_VALUE, 0]), [0.5], (None,), (), "power"),
    (ZOO_BYTECODE, ["0.001"], (None,), (), "string in the closure"),
    (ZOO_BYTECODE, [True], (None,), (), "bool in the closure"),
    (ZOO_BYTECODE, [0.1], (None,), ("math",), "uses a global"),
    (ZOO_BYTECODE + bytes([RETURN_VALUE, 0]), [0.1], (None,), (), "extra instruction"),
    (bytes([LOAD_FAST, 0, LOAD_CONST, 0, BINARY_MULTIPLY, 0, RETURN_VALUE, 0]), [], (None,), (), "None constant"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_other_closures_keep_the_clear_error(bytecode: bytes, closure: list[Any], consts: tuple, names: tuple,
                                            what: str) -> None:
    payload = cloudpickled_function("3.6", bytecode, closure, consts=consts, names=names,
                                    freevars=("initial_value",) * len(closure))
    with pytest.raises(UnsafeObjectError, match=r"data key 'learning_rate' holds a pickled function "
                                                r"'linear_schedule.<locals>.func' \(module utils.utils\)"):
        _load(payload)


def test_code_records_of_other_layouts_are_not_read() -> None:
    assert code_record_from_args((1, 2, 3)) is None
    assert code_record_from_args(tuple(range(15))) is None  # no bytecode field
    code = code_record_from_args((2, 0, 2, 2, 19, ZOO_BYTECODE, (None,), (), ("a", "b"), "f.py", "f", 1, b"",
                                  ("v",), ()))
    assert code is not None and schedule_shape(code, [0.1]) is None  # two arguments


# --- stable_baselines.common.schedules objects ----------------------------------------------------

SCHEDULES = "stable_baselines.common.schedules"


def sb2_schedule_object(name: str, state: dict[str, Any]) -> Raw:
    """``cls.__new__(cls)`` then ``BUILD`` with the attributes, as pickle writes a plain object."""
    new_object = Raw(_global(SCHEDULES, name) + b")\x81")  # NEWOBJ with no arguments
    return Raw(new_object + _fragment(state) + b"b")


def _sb2_linear(timesteps: float, final_p: float, initial_p: float, t: float) -> float:
    return initial_p + min(t / timesteps, 1.0) * (final_p - initial_p)


@pytest.mark.parametrize("timesteps", [1.0, 0.4, 2.0])
@pytest.mark.parametrize("bound_method", [False, True], ids=["object", "bound value method"])
def test_sb2_linear_schedule_objects_follow_their_value_of_the_progress(timesteps: float,
                                                                        bound_method: bool) -> None:
    state = {"schedule_timesteps": timesteps, "final_p": 1e-4, "initial_p": 1e-3}
    payload = sb2_schedule_object("LinearSchedule", state)
    if bound_method:
        payload = _call(_call(_global("cloudpickle.cloudpickle", "_builtin_type"), "MethodType"),
                        _global(SCHEDULES, "LinearSchedule.value"), payload)
    schedule = _load(b"\x80\x03" + payload + b".")
    assert isinstance(schedule, PiecewiseSchedule)
    np.testing.assert_allclose(_values(schedule), [_sb2_linear(timesteps, 1e-4, 1e-3, t) for t in PROGRESS],
                               rtol=1e-9)


def test_sb2_piecewise_and_constant_schedule_objects() -> None:
    endpoints = [(0.0, 1e-3), (0.5, 5e-4), (0.9, 1e-4)]
    state = {"_interpolation": _global(SCHEDULES, "linear_interpolation"), "_outside_value": 2e-5,
             "_endpoints": endpoints}
    schedule = _load(b"\x80\x03" + sb2_schedule_object("PiecewiseSchedule", state) + b".")

    def sb2_value(t: float) -> float:
        for (left_t, left), (right_t, right) in zip(endpoints[:-1], endpoints[1:], strict=False):
            if left_t <= t < right_t:
                return left + (t - left_t) / (right_t - left_t) * (right - left)
        return 2e-5

    np.testing.assert_allclose(_values(schedule), [sb2_value(t) for t in PROGRESS], rtol=1e-9)
    constant = sb2_schedule_object("ConstantSchedule", {"_v": 0.2})
    assert _load(b"\x80\x03" + constant + b".") == ConstantSchedule(0.2)


def test_sb2_schedule_objects_with_foreign_parts_are_refused() -> None:
    state = {"_interpolation": _global("my.module", "interpolate"), "_outside_value": None,
             "_endpoints": [(0.0, 1.0), (1.0, 0.0)]}
    with pytest.raises(UnsafeObjectError, match="interpolation is not SB2's linear_interpolation"):
        _load(b"\x80\x03" + sb2_schedule_object("PiecewiseSchedule", state) + b".")
    with pytest.raises(UnsafeObjectError, match="schedule_timesteps=0.0: expected a positive number"):
        _load(b"\x80\x03" + sb2_schedule_object("LinearSchedule", {"schedule_timesteps": 0.0, "final_p": 0.1,
                                                                     "initial_p": 1.0}) + b".")
    with pytest.raises(UnsafeObjectError, match="holding str where a number was expected"):
        _load(b"\x80\x03" + sb2_schedule_object("ConstantSchedule", {"_v": "0.2"}) + b".")
    other_method = _call(_call(_global("cloudpickle.cloudpickle", "_builtin_type"), "MethodType"),
                         _global(SCHEDULES, "LinearSchedule.__init__"),
                         sb2_schedule_object("LinearSchedule", {"schedule_timesteps": 1.0, "final_p": 0.1,
                                                                "initial_p": 1.0}))
    with pytest.raises(UnsafeObjectError, match=r"bound method stable_baselines.common.schedules.LinearSchedule."
                                                r"__init__"):
        _load(b"\x80\x03" + other_method + b".")
