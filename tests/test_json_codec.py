"""The ``data`` member: data dictionary <-> JSON (``data_to_json`` / ``json_to_data``)."""

from __future__ import annotations

import base64
import json
import math
import pickle
import threading
from collections import OrderedDict

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    DeserializationError,
    SerializationError,
    UnsafeObjectError,
)
from stable_baselines_io.format.json_codec import CODEC_KEY, SERIALIZED_KEY, TYPE_KEY, data_to_json, json_to_data
from stable_baselines_io.schedules import ConstantSchedule, LinearSchedule, PiecewiseSchedule


def round_trip(value, **kwargs):
    return json_to_data(data_to_json({"value": value}), **kwargs)["value"]


def stored(value) -> dict:
    """The JSON object written for ``value``."""
    return json.loads(data_to_json({"value": value}))["value"]


def strict_json_loads(text: str):
    def refuse(constant: str):
        raise AssertionError(f"non-standard JSON constant {constant} in the output")

    return json.loads(text, parse_constant=refuse)


class Opaque:
    """A class with no JSON codec: written as a pickle envelope."""

    def __init__(self) -> None:
        self.name = "opaque"
        self.size = 3
        self.weights = np.arange(2)

    def __eq__(self, other: object) -> bool:
        return type(other) is Opaque and (other.name, other.size) == (self.name, self.size) \
            and np.array_equal(other.weights, self.weights)


class CreatesFile:
    """Unpickling an instance opens (creates) a file: stands in for a malicious payload."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


STANDARD_VALUES = {
    "float16 array": np.array([[0.5, -1.25], [65504.0, 6e-8]], dtype=np.float16),
    "float32 array": np.linspace(-1, 1, 7, dtype=np.float32) / 3,
    "float64 array": np.array([1 / 3, -2.5e-300, 1.7976931348623157e308]),
    "int8 array": np.array([-128, 0, 127], dtype=np.int8),
    "int64 array": np.array([-(2**63), 2**63 - 1], dtype=np.int64),
    "uint64 array": np.array([0, 2**64 - 1], dtype=np.uint64),
    "uint8 array": np.arange(256, dtype=np.uint8).reshape(16, 16),
    "bool array": np.array([True, False, True]),
    "0-d float array": np.array(3.25),
    "0-d int array": np.array(7, dtype=np.int32),
    "empty array": np.zeros((0, 3), dtype=np.float32),
    "empty 3-d array": np.zeros((2, 0, 3), dtype=np.int16),
    "non-contiguous array": np.arange(24.0).reshape(4, 6)[::2, ::3],
    "Fortran-ordered array": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "big-endian float array": np.arange(5, dtype=">f4") / 7,
    "big-endian int array": np.array([1, -2, 3**30], dtype=">i8"),
    "complex array": np.array([1 + 2j, -0.5j], dtype=np.complex64),
    "string array": np.array(["ab", "c"]),
    "structured array": np.zeros(2, dtype=[("a", "<i4"), ("b", ">f8")]),
    "non-finite float array": np.array([np.nan, np.inf, -np.inf, 1.0]),
    "non-finite float16 array": np.array([np.nan, -np.inf], dtype=np.float16),
    "numpy float32": np.float32(1.5),
    "numpy float64": np.float64(-0.1),
    "numpy float16 nan": np.float16(np.nan),
    "numpy int64": np.int64(-3),
    "numpy uint64": np.uint64(2**64 - 1),
    "numpy bool": np.bool_(True),
    "numpy complex": np.complex128(1 - 1j),
    "dtype": np.dtype(np.float32),
    "big-endian dtype": np.dtype(">i2"),
    "structured dtype": np.dtype([("x", "<f4"), ("y", "u1")]),
    "tuple": (1, "two", (3.0, None)),
    "empty tuple": (),
    "set": {1, 2, 3},
    "frozenset": frozenset({"a", "b"}),
    "bytes": b"\x00\xff binary",
    "complex": complex(1.5, -2),
    "complex nan": complex(math.nan, math.inf),
    "dict with int keys": {1: "a", 2: "b"},
    "dict with tuple keys": {(1, 2): "pair", None: "none"},
    "dict with colon keys": {":type:": "not an envelope", ":serialized:": 1, "plain": 2},
    "OrderedDict": OrderedDict([("b", 1), ("a", 2)]),
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "-0.0": -0.0,
    "big int": 2**100,
    "nested list": [[1, [2.5, "x"]], {"k": [None, True]}],
}


@pytest.mark.parametrize("value", STANDARD_VALUES.values(), ids=STANDARD_VALUES.keys())
def test_standard_values_round_trip(value, same):
    same(round_trip(value), value)


def test_whole_dictionary_round_trips_in_order(same):
    same(json_to_data(data_to_json(STANDARD_VALUES)), STANDARD_VALUES)


SPACES = {
    "Box": gym.spaces.Box(low=-1.0, high=2.0, shape=(2, 3), dtype=np.float32),
    "Box float64 with per-element bounds": gym.spaces.Box(low=np.array([-np.inf, 0.0]), high=np.array([np.inf, 1.0]),
                                                          dtype=np.float64),
    "Box uint8": gym.spaces.Box(low=0, high=255, shape=(4, 4, 3), dtype=np.uint8),
    "Discrete": gym.spaces.Discrete(5),
    "Discrete(start)": gym.spaces.Discrete(3, start=-1),
    "MultiDiscrete": gym.spaces.MultiDiscrete([3, 4]),
    "MultiDiscrete(start)": gym.spaces.MultiDiscrete(np.array([[2, 3], [4, 5]]), start=np.array([[1, 0], [0, -2]])),
    "MultiBinary": gym.spaces.MultiBinary(4),
    "MultiBinary 2-d": gym.spaces.MultiBinary([2, 3]),
    "Tuple": gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Box(0, 1, (1,)))),
    "Dict": gym.spaces.Dict({"position": gym.spaces.Box(-1, 1, (2,)), "mode": gym.spaces.Discrete(3)}),
    "nested Dict": gym.spaces.Dict({"inner": gym.spaces.Tuple((gym.spaces.MultiBinary(2),))}),
}


@pytest.mark.parametrize("space", SPACES.values(), ids=SPACES.keys())
def test_gymnasium_spaces_round_trip(space):
    loaded = round_trip(space)
    assert type(loaded) is type(space)
    assert loaded == space
    assert loaded.dtype == space.dtype
    assert loaded.shape == space.shape


def test_box_bounds_are_exact():
    space = gym.spaces.Box(low=np.array([-4.8, -3.4028235e38], dtype=np.float32),
                           high=np.array([4.8, 3.4028235e38], dtype=np.float32))
    loaded = round_trip(space)
    assert loaded.low.dtype == np.float32
    np.testing.assert_array_equal(loaded.low, space.low)
    np.testing.assert_array_equal(loaded.high, space.high)


def test_random_state_round_trips_with_its_state():
    random_state = np.random.RandomState(42)
    random_state.standard_normal()  # leaves a cached Gaussian in the state
    loaded = round_trip(random_state)
    assert type(loaded) is np.random.RandomState
    expected_state, loaded_state = random_state.get_state(), loaded.get_state()
    assert expected_state[0] == loaded_state[0]
    np.testing.assert_array_equal(expected_state[1], loaded_state[1])
    assert expected_state[2:] == loaded_state[2:]
    assert loaded.standard_normal() == random_state.standard_normal()
    np.testing.assert_array_equal(loaded.randint(0, 1000, 10), random_state.randint(0, 1000, 10))


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                                           np.random.Philox, np.random.SFC64])
def test_generator_round_trips_with_its_state(bit_generator, same):
    generator = np.random.Generator(bit_generator(7))
    generator.random(3)
    loaded = round_trip(generator)
    assert type(loaded) is np.random.Generator
    assert type(loaded.bit_generator) is bit_generator
    same(loaded.bit_generator.state, generator.bit_generator.state)
    np.testing.assert_array_equal(loaded.random(5), generator.random(5))


@pytest.mark.parametrize("schedule", [ConstantSchedule(3e-4), LinearSchedule(1e-3, 1e-5, end_fraction=0.5),
                                      PiecewiseSchedule(((0.0, 1.0), (0.5, 0.1)), outside_value=0.01),
                                      PiecewiseSchedule(((0.0, 1.0),))], ids=repr)
def test_schedules_round_trip(schedule):
    loaded = round_trip(schedule)
    assert type(loaded) is type(schedule)
    assert loaded == schedule
    for progress in (1.0, 0.7, 0.25, 0.0):
        assert loaded(progress) == schedule(progress)


def test_registered_class_round_trips_as_a_reference():
    assert round_trip(LinearSchedule) is LinearSchedule
    assert stored(LinearSchedule) == {TYPE_KEY: "<class 'type'>", CODEC_KEY: "registered_class",
                                      "name": "schedules.LinearSchedule"}


def test_schedule_is_stored_as_readable_config_not_pickle():
    entry = stored(LinearSchedule(1e-3, 0.0))
    assert SERIALIZED_KEY not in entry
    assert entry[CODEC_KEY] == "registered"
    assert entry["name"] == "schedules.LinearSchedule"
    assert entry["config"] == {"initial_value": 1e-3, "final_value": 0.0, "end_fraction": 1.0}


def test_output_is_strict_json():
    text = data_to_json({**STANDARD_VALUES, **SPACES, "rng": np.random.default_rng(0)})
    loaded = strict_json_loads(text)
    assert isinstance(loaded, dict)
    assert "NaN" not in text.replace('"NaN"', "")
    assert "Infinity" not in text.replace('"Infinity"', "").replace('"-Infinity"', "")


def test_plain_values_are_written_as_plain_json():
    data = {"gamma": 0.99, "n_steps": 128, "verbose": True, "name": "ppo", "none": None,
            "net_arch": [64, 64], "policy_kwargs": {"layers": [32]}}
    assert strict_json_loads(data_to_json(data)) == data


def test_envelopes_name_the_type_and_codec_and_are_readable():
    box = stored(gym.spaces.Box(low=-1.0, high=np.array([1.0, np.inf], dtype=np.float32), dtype=np.float32))
    assert box[TYPE_KEY] == "<class 'gymnasium.spaces.box.Box'>"
    assert box[CODEC_KEY] == "gymnasium.space"
    assert box["space"] == "Box"
    assert box["shape"] == [2]
    assert box["dtype"] == "<f4"
    assert box["low"]["values"] == [-1.0, -1.0]
    assert box["high"]["values"] == [1.0, "Infinity"]

    discrete = stored(gym.spaces.Discrete(4, start=1))
    assert discrete[TYPE_KEY] == "<class 'gymnasium.spaces.discrete.Discrete'>"
    assert (discrete["space"], discrete["n"], discrete["start"]) == ("Discrete", 4, 1)

    array = stored(np.array([[1, 2], [3, 4]], dtype=np.int16))
    assert array[TYPE_KEY] == "<class 'numpy.ndarray'>"
    assert (array[CODEC_KEY], array["dtype"], array["shape"], array["values"]) == (
        "numpy.ndarray", "<i2", [2, 2], [[1, 2], [3, 4]])

    assert stored(math.nan) == {TYPE_KEY: "<class 'float'>", CODEC_KEY: "float", "value": "NaN"}
    assert stored((1, 2))["items"] == [1, 2]
    assert stored(np.float32(0.5))["values"] == 0.5


def test_value_without_codec_is_pickled_with_its_attributes_beside_it():
    entry = stored(Opaque())
    assert entry[TYPE_KEY] == str(Opaque)
    assert CODEC_KEY not in entry
    base64.b64decode(entry[SERIALIZED_KEY], validate=True)
    assert entry["name"] == "opaque"
    assert entry["size"] == 3
    assert entry["weights"] == str(np.arange(2))


def test_value_without_codec_loads_only_outside_safe_mode():
    text = data_to_json({"thing": Opaque(), "gamma": 0.9})
    assert json_to_data(text, safe_mode=False) == {"thing": Opaque(), "gamma": 0.9}
    with pytest.raises(UnsafeObjectError, match=r"data key 'thing'.*custom_objects=\{'thing'.*safe_mode=False"):
        json_to_data(text)


def test_custom_objects_replace_a_key_without_decoding_it(tmp_path):
    target = tmp_path / "created-by-unpickling"
    text = json.dumps({
        "unknown_codec": {TYPE_KEY: "<class 'x'>", CODEC_KEY: "from-the-future"},
        "bad_base64": {TYPE_KEY: "<class 'x'>", SERIALIZED_KEY: "not base64 !"},
        "payload": {TYPE_KEY: "<class 'x'>",
                    SERIALIZED_KEY: base64.b64encode(pickle.dumps(CreatesFile(target))).decode("ascii")},
        "gamma": 0.5,
    })
    replacements = {"unknown_codec": 1, "bad_base64": 2, "payload": 3}
    # decoding even outside safe mode would fail or run the payload: custom_objects skips all of it
    assert json_to_data(text, custom_objects=replacements, safe_mode=False) == {**replacements, "gamma": 0.5}
    assert not target.exists()
    # each stored value is really one that cannot be decoded
    for key in replacements:
        others = {other: value for other, value in replacements.items() if other != key}
        with pytest.raises((DeserializationError, CorruptAgentFileError), match=repr(key)):
            json_to_data(text, custom_objects=others)
    assert not target.exists()
    opened = json_to_data(text, custom_objects={"unknown_codec": 1, "bad_base64": 2}, safe_mode=False)["payload"]
    opened.close()
    assert target.exists()


def test_unknown_codec_names_the_key_and_codec():
    text = json.dumps({"gamma": 0.9, "future": {TYPE_KEY: "<class 'x'>", CODEC_KEY: "quaternion"}})
    with pytest.raises(DeserializationError, match=r"'future'.*'quaternion'.*custom_objects") as error:
        json_to_data(text, source="agent.zip")
    assert error.value.path == "agent.zip"
    assert error.value.member == "data"
    assert "agent.zip" in str(error.value)


@pytest.mark.parametrize("entry", [
    {CODEC_KEY: "numpy.ndarray", "dtype": "|u1", "shape": [1], "values": [300]},
    {CODEC_KEY: "numpy.ndarray", "dtype": "<f4", "shape": [3], "values": [1.0]},
    {CODEC_KEY: "numpy.ndarray", "dtype": "not a dtype", "shape": [1], "values": [1]},
    {CODEC_KEY: "numpy.ndarray", "dtype": "<f8", "shape": [2], "bytes": "AAAA"},
    {CODEC_KEY: "numpy.ndarray", "dtype": "<f8"},
    {CODEC_KEY: "gymnasium.space", "space": "Box", "dtype": "<f4", "shape": [10**7, 10**7], "low": 0.0, "high": 1.0},
    {CODEC_KEY: "gymnasium.space", "space": "Tuple", "spaces": [1, 2]},
    {CODEC_KEY: "gymnasium.space", "space": "Hexagon"},
    {CODEC_KEY: "registered", "name": "nobody.Registered", "config": {}},
    {CODEC_KEY: "float", "value": "a lot"},
    {CODEC_KEY: "bytes", "base64": "!!"},
    {CODEC_KEY: "numpy.Generator", "state": {"bit_generator": "Mersenne"}},
], ids=["int overflow", "shape mismatch", "bad dtype", "short bytes", "no values", "huge Box", "Tuple of ints",
        "unknown space", "unregistered class", "bad float", "bad bytes", "unknown bit generator"])
def test_damaged_codec_values_raise_deserialization_error_naming_the_key(entry):
    text = json.dumps({"fine": 1, "damaged": {TYPE_KEY: "<class 'x'>", **entry}})
    with pytest.raises(DeserializationError, match=r"data key 'damaged'.*file 'agent.zip', member 'data'"):
        json_to_data(text, source="agent.zip")


def test_deeply_nested_json_raises_a_library_error():
    with pytest.raises(CorruptAgentFileError, match="invalid JSON"):
        json_to_data('{"deep": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DeserializationError, match="'deep' is nested too deeply"):
        json_to_data('{"deep": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}")


@pytest.mark.parametrize("text", ["[1, 2]", '"data"', "null", "{", "{'single': 1}", b"\xff\xfe\x00"],
                         ids=["array", "string", "null", "truncated", "not JSON", "not UTF-8"])
def test_not_a_json_object_is_corrupt(text):
    with pytest.raises(CorruptAgentFileError, match="member 'data'"):
        json_to_data(text)


def test_json_to_data_accepts_bytes():
    assert json_to_data(data_to_json({"a": (1, 2)}).encode("utf-8")) == {"a": (1, 2)}


def test_data_that_cannot_be_written_raises_serialization_error():
    with pytest.raises(SerializationError, match="strings"):
        data_to_json({1: "a"})
    with pytest.raises(SerializationError, match="dict"):
        data_to_json([("a", 1)])
    with pytest.raises(SerializationError, match="'generator'"):
        data_to_json({"generator": (i for i in range(3))})
    with pytest.raises(SerializationError, match="'lock'.*cannot be pickled"):
        data_to_json({"lock": threading.Lock()})


# --- property-based round trip -------------------------------------------------------------------

ARRAY_DTYPES = [np.float16, np.float32, np.float64, np.dtype(">f8"), np.int8, np.int32, np.int64, np.dtype(">i4"),
                np.uint8, np.uint64, np.bool_]
arrays = st.sampled_from(ARRAY_DTYPES).flatmap(
    lambda dtype: hnp.arrays(dtype=dtype, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | arrays
    | st.frozensets(st.integers() | st.text(max_size=3), max_size=4)
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values)
def test_property_nested_data_round_trips(same, value):
    data = {"value": value}
    text = data_to_json(data)
    strict_json_loads(text)
    same(json_to_data(text), data)


def test_shared_parts_are_written_once_per_path_up_to_a_limit():
    shared = [1, 2]
    assert json_to_data(data_to_json({"pair": [shared, shared]}))["pair"] == [[1, 2], [1, 2]]
    level: list = [1]
    for _ in range(30):  # 30 objects, 2**30 paths
        level = [level, level]
    with pytest.raises(SerializationError, match=r"cannot write data key 'graph'.*expands to more than 4,194,304"):
        data_to_json({"graph": level})


def test_a_value_that_contains_itself_is_refused():
    looped: list = [1]
    looped.append({"back": looped})
    with pytest.raises(SerializationError, match="cannot write data key 'loop': a list contains itself"):
        data_to_json({"loop": looped})
