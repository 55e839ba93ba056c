"""Safe mode: pickles from files are rebuilt through an allow-list and never run code."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import pickletools
import sys
import types
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import cloudpickle
import gymnasium
import numpy as np
import numpy.random._pickle as numpy_random_pickle
import pytest

from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    DeserializationError,
    RefusedObjectError,
    UnsafeObjectError,
)
from stable_baselines_io.format import json_to_data, load_from_file
from stable_baselines_io.format.safe_pickle import safe_loads
from stable_baselines_io.schedules import ConstantSchedule

TRAILER_REVERSE = "ppo2__CartPole-v1__TrailerReverse.zip"
PKL_FILES = ["ppo2__CartPole-v1.pkl", "ppo2__Pendulum-v0.pkl"]


# --- payloads -------------------------------------------------------------------------------------


class OpensFile:
    """Unpickling calls ``open(path, "w")``: creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


class RunsShell:
    """Unpickling calls ``os.system("touch path")``: creates the file through a shell."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch '{self.path}'",)


class UnknownClass:
    def __init__(self) -> None:
        self.value = 1


PAYLOADS = [OpensFile, RunsShell]


def envelope(payload: bytes, type_name: str = "<class 'object'>") -> dict:
    return {":type:": type_name, ":serialized:": base64.b64encode(payload).decode("ascii")}


def write_agent_zip(path: Path, data: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data))
    return path


def close_if_file(value) -> None:
    if hasattr(value, "close"):
        value.close()


def rename_module(payload: bytes, old: str, new: str) -> bytes:
    """Rewrite the module a pickle names (protocol 2 ``GLOBAL`` text, protocol 4+ ``SHORT_BINUNICODE``)."""
    renamed = payload.replace(b"c" + old.encode() + b"\n", b"c" + new.encode() + b"\n")
    renamed = renamed.replace(bytes([0x8C, len(old)]) + old.encode(), bytes([0x8C, len(new)]) + new.encode())
    assert renamed != payload, f"{old} not found in the pickle"
    return pickletools.optimize(renamed)  # re-frames protocol 4+ pickles after a length change


def pickle_globals(payload: bytes) -> set[str]:
    names = set()
    for opcode, argument, _ in pickletools.genops(payload):
        if opcode.name in {"GLOBAL", "SHORT_BINUNICODE", "BINUNICODE", "UNICODE"} and isinstance(argument, str):
            names.add(argument.replace(" ", "."))
    return names


# --- malicious payloads -------------------------------------------------------------------------


@pytest.mark.parametrize("payload_class", PAYLOADS, ids=lambda cls: cls.__name__)
def test_malicious_data_member_is_refused_in_safe_mode(tmp_path, payload_class):
    target = tmp_path / "pwned"
    path = write_agent_zip(tmp_path / "agent.zip", {"gamma": 0.9, "learning_rate": envelope(
        pickle.dumps(payload_class(target)))})
    with pytest.raises(UnsafeObjectError, match=r"data key 'learning_rate'.*custom_objects=\{'learning_rate'.*"
                                                r"safe_mode=False.*agent\.zip.*member 'data'") as error:
        load_from_file(path)
    assert isinstance(error.value, DeserializationError) and isinstance(error.value, RuntimeError)
    assert error.value.member == "data"
    assert not target.exists()
    # the payload is real: outside safe mode it runs
    data, _ = load_from_file(path, safe_mode=False)
    close_if_file(data["learning_rate"])
    assert target.exists()


@pytest.mark.parametrize("payload_class", PAYLOADS, ids=lambda cls: cls.__name__)
def test_malicious_legacy_file_is_refused_in_safe_mode(tmp_path, payload_class):
    target = tmp_path / "pwned"
    path = tmp_path / "agent.pkl"
    path.write_bytes(pickle.dumps(({"gamma": 0.9, "policy": payload_class(target)}, [np.ones(2)]), protocol=2))
    with pytest.warns(DeprecationWarning), pytest.raises(UnsafeObjectError, match=r"data key 'policy'.*custom_objects"
                                                                                  r".*safe_mode=False.*agent\.pkl"):
        load_from_file(path)
    assert not target.exists()
    with pytest.warns(DeprecationWarning):
        data, params = load_from_file(path, safe_mode=False)
    close_if_file(data["policy"])
    assert target.exists()


def test_malicious_legacy_payload_outside_the_data_is_refused(tmp_path):
    target = tmp_path / "pwned"
    for index, content in enumerate([OpensFile(target), ({"a": 1}, [OpensFile(target)]), (OpensFile(target), None)]):
        path = tmp_path / f"agent{index}.pkl"
        path.write_bytes(pickle.dumps(content))
        with pytest.warns(DeprecationWarning), pytest.raises(CorruptAgentFileError, match=f"agent{index}.pkl"):
            load_from_file(path)
    assert not target.exists()


def test_custom_objects_replace_a_malicious_value_unread(tmp_path):
    target = tmp_path / "pwned"
    path = write_agent_zip(tmp_path / "agent.zip", {"learning_rate": envelope(pickle.dumps(OpensFile(target)))})
    for safe_mode in (True, False):
        data, _ = load_from_file(path, custom_objects={"learning_rate": 1e-3}, safe_mode=safe_mode)
        assert data == {"learning_rate": 1e-3}
    assert not target.exists()


def test_class_and_function_attributes_cannot_be_set_by_a_pickle():
    """``BUILD`` on an allowed class would patch it for the whole process."""
    hostile = [
        # ConstantSchedule.__call__ = set
        b"\x80\x02cstable_baselines_io.schedules\nConstantSchedule\n"
        b"N}X\x08\x00\x00\x00__call__c__builtin__\nset\ns\x86b.",
        # numpy.random._pickle.__randomstate_ctor.__defaults__ = ("MT19937", set)
        b"\x80\x02cnumpy.random._pickle\n__randomstate_ctor\n"
        b"N}X\x0c\x00\x00\x00__defaults__X\x07\x00\x00\x00MT19937c__builtin__\nset\n\x86s\x86b.",
    ]
    defaults = numpy_random_pickle.__randomstate_ctor.__defaults__
    for payload in hostile:
        with pytest.raises(pickle.UnpicklingError, match="sets attributes"):
            safe_loads(payload)
        with pytest.raises(DeserializationError, match="'key'"):
            json_to_data(json.dumps({"key": envelope(payload)}))
    assert ConstantSchedule(0.5)(1.0) == 0.5
    assert "__call__" in vars(ConstantSchedule) and vars(ConstantSchedule)["__call__"] is not set
    assert numpy_random_pickle.__randomstate_ctor.__defaults__ == defaults


class PersistentIdPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return "file-handle" if obj == "external" else None


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_persistent_ids_are_refused(protocol):
    buffer = io.BytesIO()
    PersistentIdPickler(buffer, protocol=protocol).dump(["external", 1])
    payload = buffer.getvalue()
    assert {"PERSID", "BINPERSID"} & {opcode.name for opcode, _, _ in pickletools.genops(payload)}
    with pytest.raises(pickle.UnpicklingError, match="persistent"):
        safe_loads(payload)
    with pytest.raises(DeserializationError, match="'handle'.*persistent"):
        json_to_data(json.dumps({"handle": envelope(payload)}))


# --- refused objects are named ------------------------------------------------------------------


def test_unknown_class_is_refused_naming_key_and_class():
    payload = pickle.dumps(UnknownClass())
    assert "UnknownClass" in pickle_globals(payload)
    with pytest.raises(UnsafeObjectError, match=rf"data key 'helper' holds a pickled {__name__}\.UnknownClass"):
        json_to_data(json.dumps({"helper": envelope(payload)}))
    assert json_to_data(json.dumps({"helper": envelope(payload)}), safe_mode=False)["helper"].value == 1


# (``lambda progress: 2.5e-4 * progress`` is read as a linear schedule: see test_schedule_records.py.)
@pytest.mark.parametrize("function", [lambda progress: 2.5e-4 * progress**2, os.getcwd], ids=["lambda", "os.getcwd"])
def test_pickled_functions_are_refused_naming_the_key(function):
    text = json.dumps({"schedule": envelope(cloudpickle.dumps(function), "<class 'function'>")})
    with pytest.raises(UnsafeObjectError,
                       match=r"data key 'schedule' holds a (pickled|reference to) .*(<lambda>|getcwd)"):
        json_to_data(text)
    assert callable(json_to_data(text, safe_mode=False)["schedule"])


def test_a_class_by_reference_from_an_unknown_module_is_refused():
    """E.g. a user's own policy class (``utils.CustomDQNPolicy``) named by a Stable Baselines 2 file."""
    payload = pickle.dumps(UnknownClass, protocol=2).replace(
        f"c{__name__}\nUnknownClass\n".encode(), b"cutils\nCustomDQNPolicy\n")
    assert "utils.CustomDQNPolicy" in pickle_globals(payload)
    with pytest.raises(UnsafeObjectError, match=r"data key 'policy' holds .*utils\.CustomDQNPolicy.*custom_objects"):
        json_to_data(json.dumps({"policy": envelope(payload, "<class 'abc.ABCMeta'>")}))


def test_refused_objects_raise_instead_of_returning_a_stand_in():
    with pytest.raises(RefusedObjectError, match=r"a pickled io\.open") as error:  # pickle names it io.open
        safe_loads(pickle.dumps(OpensFile(Path("/nonexistent/never-created"))))
    assert isinstance(error.value, UnsafeObjectError)
    assert error.value.description == "a pickled io.open"


# --- the allow-list -----------------------------------------------------------------------------


ARRAY = np.arange(12, dtype=np.float32).reshape(3, 4) / 7


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("numpy_core", ["numpy.core", "numpy._core"])
def test_numpy_arrays_of_numpy_1_and_2_load(protocol, numpy_core):
    payload = pickle.dumps(ARRAY, protocol=protocol)
    if numpy_core == "numpy.core":
        for module in ("numpy._core.multiarray", "numpy._core.numeric"):
            if any(name.startswith(module) for name in pickle_globals(payload)):
                payload = rename_module(payload, module, module.replace("numpy._core", "numpy.core"))
    assert any(name.startswith(numpy_core + ".") for name in pickle_globals(payload))
    assert not any(name.startswith("numpy._core" if numpy_core == "numpy.core" else "numpy.core.")
                   for name in pickle_globals(payload))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy 2 warns when its numpy.core aliases are imported
        loaded = json_to_data(json.dumps({"array": envelope(payload)}))["array"]
    assert loaded.dtype == ARRAY.dtype
    np.testing.assert_array_equal(loaded, ARRAY)


@pytest.mark.parametrize("numpy_core", ["numpy.core", "numpy._core"])
def test_numpy_scalars_and_dtypes_load(numpy_core):
    value = (np.float32(1.5), np.int64(-2), np.dtype(">f8"), np.bool_(True))
    payload = pickle.dumps(value, protocol=2)
    if numpy_core == "numpy.core":
        payload = rename_module(payload, "numpy._core.multiarray", "numpy.core.multiarray")
    loaded = safe_loads(payload)
    assert loaded == value
    assert [type(item) for item in loaded] == [type(item) for item in value]


@pytest.mark.parametrize("protocol", [2, 4])
def test_random_state_loads_with_its_state(protocol):
    random_state = np.random.RandomState(123)
    random_state.standard_normal()
    loaded = safe_loads(pickle.dumps(random_state, protocol=protocol))
    assert type(loaded) is np.random.RandomState
    assert loaded.randint(0, 10**6, 5).tolist() == random_state.randint(0, 10**6, 5).tolist()


def test_random_state_of_numpy_before_1_17_loads():
    """Old NumPy pickled ``numpy.random.__RandomState_ctor()`` followed by the state."""
    random_state = np.random.RandomState(7)
    payload = pickle.dumps(random_state, protocol=2)
    old = payload.replace(b"cnumpy.random._pickle\n__randomstate_ctor\n", b"cnumpy.random\n__RandomState_ctor\n")
    assert old != payload
    loaded = safe_loads(old)
    assert type(loaded) is np.random.RandomState
    assert loaded.random_sample() == random_state.random_sample()


def old_gym_class(module: str, name: str) -> type:
    cls = type(name, (), {})
    cls.__module__ = module
    cls.__qualname__ = name
    return cls


def old_gym_spaces(underscored: bool) -> tuple[dict, dict]:
    """``gym.spaces`` objects as gym 0.x held them, and the gymnasium spaces they stand for."""
    classes = {name: old_gym_class(f"gym.spaces.{module}", name) for module, name in [
        ("box", "Box"), ("discrete", "Discrete"), ("multi_discrete", "MultiDiscrete"),
        ("multi_binary", "MultiBinary"), ("tuple", "Tuple"), ("dict", "Dict")]}
    shape_key, random_key = ("_shape", "_np_random") if underscored else ("shape", "np_random")

    def space(name: str, **attributes):
        instance = classes[name]()
        instance.__dict__.update(attributes)
        instance.__dict__.setdefault(random_key, np.random.RandomState(0))
        return instance

    low, high = np.array([-4.8, -np.inf], dtype=np.float32), np.array([4.8, np.inf], dtype=np.float32)
    box = space("Box", dtype=np.dtype("float32"), **{shape_key: (2,)}, low=low, high=high,
                bounded_below=np.isfinite(low), bounded_above=np.isfinite(high))
    discrete = space("Discrete", n=3, dtype=np.dtype("int64"), **{shape_key: ()})
    old = {
        "box": box,
        "discrete": discrete,
        "multi_discrete": space("MultiDiscrete", nvec=np.array([2, 5]), dtype=np.dtype("int64"), **{shape_key: (2,)}),
        "multi_binary": space("MultiBinary", n=4, dtype=np.dtype("int8"), **{shape_key: (4,)}),
        "tuple": space("Tuple", spaces=(discrete, box), dtype=None, **{shape_key: None}),
        "dict": space("Dict", spaces=OrderedDict([("velocity", box), ("gear", discrete)]), dtype=None,
                      **{shape_key: None}),
    }
    expected_box = gymnasium.spaces.Box(low, high, dtype=np.float32)
    expected = {
        "box": expected_box,
        "discrete": gymnasium.spaces.Discrete(3),
        "multi_discrete": gymnasium.spaces.MultiDiscrete([2, 5]),
        "multi_binary": gymnasium.spaces.MultiBinary(4),
        "tuple": gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(3), expected_box)),
        "dict": gymnasium.spaces.Dict({"velocity": expected_box, "gear": gymnasium.spaces.Discrete(3)}),
    }
    return old, expected


def dumps_as_gym(monkeypatch: pytest.MonkeyPatch, value, protocol: int) -> bytes:
    """Pickle ``value`` with stand-in ``gym`` modules in place, so the pickle names ``gym.spaces.*``."""
    with monkeypatch.context() as patch:
        for module_name in ("gym", "gym.spaces"):
            patch.setitem(sys.modules, module_name, types.ModuleType(module_name))
        for module_name in ("box", "discrete", "multi_discrete", "multi_binary", "tuple", "dict"):
            patch.setitem(sys.modules, f"gym.spaces.{module_name}", types.ModuleType(f"gym.spaces.{module_name}"))
        for cls in _old_gym_classes(value):
            setattr(sys.modules[cls.__module__], cls.__name__, cls)
        payload = pickle.dumps(value, protocol=protocol)
    assert "gym" not in sys.modules
    return payload


def _old_gym_classes(value) -> set[type]:
    found = set()
    if type(value).__module__.startswith("gym.spaces."):
        found.add(type(value))
        value = vars(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found |= _old_gym_classes(item)
    return found


@pytest.mark.parametrize("underscored", [False, True], ids=["gym<0.21", "gym>=0.21"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_old_gym_spaces_load_as_gymnasium_spaces(monkeypatch, protocol, underscored):
    old, expected = old_gym_spaces(underscored)
    payload = dumps_as_gym(monkeypatch, old, protocol)
    assert {"gym.spaces.box", "gym.spaces.dict", "gym.spaces.multi_discrete"} <= {
        name.rsplit(".", 1)[0] if protocol == 2 else name for name in pickle_globals(payload)}
    loaded = safe_loads(payload)
    assert loaded.keys() == expected.keys()
    for key, space in expected.items():
        assert type(loaded[key]) is type(space), key
        assert loaded[key] == space, key
        assert loaded[key].dtype == space.dtype, key
    # one data key each, as Stable Baselines 2 wrote them in the data member
    text = json.dumps({key: envelope(dumps_as_gym(monkeypatch, value, protocol)) for key, value in old.items()})
    assert json_to_data(text) == expected


def test_old_gym_spaces_in_a_legacy_file(tmp_path, monkeypatch):
    old, expected = old_gym_spaces(underscored=False)
    path = tmp_path / "agent.pkl"
    path.write_bytes(dumps_as_gym(monkeypatch, (old, [np.ones(2, dtype=np.float32)]), protocol=2))
    with pytest.warns(DeprecationWarning):
        data, params = load_from_file(path)
    assert data == expected
    np.testing.assert_array_equal(params[0], np.ones(2, dtype=np.float32))
    assert "gym" not in sys.modules


# --- Stable Baselines 2 constant schedules ------------------------------------------------------


def sb2_style_constfn(module: str, *values) -> bytes:
    """A closure cloudpickled by value, as Stable Baselines 2's ``constfn`` was, named as if from ``module``."""

    def constfn(*closure):
        if len(closure) == 1:
            (value,) = closure

            def func(_):
                return value
        else:
            first, second = closure

            def func(_):
                return first + second
        return func

    function = constfn(*values)
    function.__module__ = module
    function.__qualname__ = "constfn.<locals>.func"
    return cloudpickle.dumps(function)


def test_sb2_constfn_in_fixture_files_is_recovered(sb2_fixture_dir):
    data, _ = load_from_file(sb2_fixture_dir / TRAILER_REVERSE)
    assert data["learning_rate"] == ConstantSchedule(0.00025)
    assert data["cliprange"] == ConstantSchedule(0.2)
    for name in PKL_FILES:
        with pytest.warns(DeprecationWarning):
            data, _ = load_from_file(sb2_fixture_dir / name)
        assert data["learning_rate"] == ConstantSchedule(0.0003)
        assert data["cliprange"] == ConstantSchedule(0.2)


def test_sb2_constfn_written_by_current_cloudpickle_is_recovered():
    text = json.dumps({"learning_rate": envelope(sb2_style_constfn("stable_baselines.ppo2.ppo2", 2.5e-4))})
    assert json_to_data(text) == {"learning_rate": ConstantSchedule(2.5e-4)}


@pytest.mark.parametrize("module", ["my_project.schedules", "stable_baselines_evil"])
def test_constant_closures_are_recognised_by_their_code_whatever_their_module(module):
    text = json.dumps({"learning_rate": envelope(sb2_style_constfn(module, 2.5e-4))})
    assert json_to_data(text) == {"learning_rate": ConstantSchedule(2.5e-4)}


@pytest.mark.parametrize("module, values", [
    ("stable_baselines.ppo2.ppo2", (1e-3, 1e-4)),
    ("stable_baselines.ppo2.ppo2", ("0.001",)),
    ("stable_baselines.ppo2.ppo2", (True,)),
], ids=["two closure values", "string value", "bool value"])
def test_closures_that_are_not_sb2_constfn_are_not_recovered(module, values):
    text = json.dumps({"learning_rate": envelope(sb2_style_constfn(module, *values))})
    with pytest.raises(UnsafeObjectError, match=r"data key 'learning_rate' holds a pickled function "
                                                r"'constfn.<locals>.func'"):
        json_to_data(text)


def test_sb2_fixture_whose_constfn_code_returns_something_else_is_not_recovered(sb2_fixture_dir, tmp_path):
    """The code decides, not the name: ``return val`` (LOAD_DEREF 0) patched into ``return None``
    (LOAD_CONST 0) under the same name and module is refused; the module renamed alone is not."""
    with zipfile.ZipFile(sb2_fixture_dir / TRAILER_REVERSE) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    payload = base64.b64decode(data["learning_rate"][":serialized:"])
    renamed = payload.replace(b"stable_baselines.ppo2.ppo2", b"unstable_baseline.ppo2.ppo2"[:26])
    assert json_to_data(json.dumps({"lr": envelope(renamed)})) == {"lr": ConstantSchedule(0.00025)}
    patched = payload.replace(b"C\x04\x88\x00S\x00", b"C\x04d\x00S\x00")
    assert len(patched) == len(payload) and patched != payload
    data["learning_rate"][":serialized:"] = base64.b64encode(patched).decode("ascii")
    path = tmp_path / "renamed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, json.dumps(data) if name == "data" else content)
    with pytest.raises(UnsafeObjectError, match=r"'learning_rate'.*constfn.<locals>.func.*stable_baselines.ppo2"):
        load_from_file(path)
