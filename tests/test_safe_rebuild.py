"""Safe mode's two steps: inert records from the pickle, then validated rebuilds (and the JSON codecs' checks).

Hostile inputs are loaded in a subprocess with memory and time limits, so a crash fails the test
instead of killing the run; legitimate inputs, however odd, must load exactly.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from collections import OrderedDict
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import safe_mode_attacks
from safe_mode_attacks import (
    ATTACKS,
    JSON_ATTACKS,
    Reduces,
    agent_zip,
    envelope,
    expectation_path,
    legacy_file,
    write_corpus,
)

from stable_baselines_io.exceptions import (
    InvalidStoredValueError,
    LoadBudgetExceededError,
    RefusedObjectError,
    UnsafeObjectError,
)
from stable_baselines_io.format import json_to_data, load_from_file
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.records import Call, Global
from stable_baselines_io.format.safe_pickle import load_records, safe_loads
from stable_baselines_io.format.validators import (
    MAX_COLLIDABLE_KEYS,
    bit_generator_from_state,
    check_keys,
    dtype_from_pickle,
    plain_dtype,
    random_state_from,
)

REPO = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 2 << 30
TIME_LIMIT_SECONDS = 120


def run_limited(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter with at most 2 GiB of address space and a timeout."""
    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({LIMIT_BYTES}, {LIMIT_BYTES}))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=TIME_LIMIT_SECONDS, env=env, cwd=REPO)


# --- the regression corpus (loaded by test_regression_corpus.py) ----------------------------


def test_corpus_files_are_what_the_generator_writes(tmp_path):
    written = write_corpus(tmp_path)
    committed = REPO / "tests" / "regression" / "corpus"
    assert len(written) == 2 * len(ATTACKS) + len(JSON_ATTACKS)
    for path in written:
        assert (committed / path.name).read_bytes() == path.read_bytes(), path.name
        expected = expectation_path(path)
        assert (committed / expected.name).read_text() == expected.read_text(), expected.name


# --- inert records -------------------------------------------------------------------------------


def test_records_build_nothing_and_import_nothing():
    payload = pickle.dumps({"rng": np.random.RandomState(0), "call": Reduces(print, ("x",))}, protocol=2)
    records = load_records(payload)
    assert type(records) is dict
    assert type(records["call"]) is Call and records["call"].func.key == ("builtins", "print")
    assert records["call"].args == ("x",)
    assert type(records["rng"]) is Call and isinstance(records["rng"].func, Global)


@pytest.mark.parametrize("payload, match", [
    (b"\x80\x02cbuiltins\nprint\nN}X\x01\x00\x00\x00aK\x01s\x86b.", "sets attributes of builtins.print"),
    (b"\x80\x02]N}\x86b.", "sets the state of a list"),
    (b"\x80\x02X\x01\x00\x00\x00a)R.", "calls a str"),
    (b"\x80\x02]p" + b"9" * 30 + b"\n.", "memo index"),
], ids=["BUILD on a global", "BUILD on a list", "call of a string", "memo index"])
def test_malformed_or_state_setting_pickles_are_refused(payload, match):
    with pytest.raises(pickle.UnpicklingError, match=match):
        load_records(payload)


def test_shared_references_are_rebuilt_once():
    rebuilt = safe_loads(safe_mode_attacks.shared_references(90))  # 2**90 paths, 91 objects
    assert rebuilt[0] is rebuilt[1]
    assert rebuilt[0][0] is rebuilt[1][1]


def test_pickle_budget_counts_every_object():
    payload = pickle.dumps([[index] for index in range(50_000)], protocol=2)
    with pytest.raises(LoadBudgetExceededError, match=r"load budget of 1,000,000 bytes.*max_bytes"):
        safe_loads(payload, LoadBudget(1_000_000))
    assert len(safe_loads(payload)) == 50_000


def test_refused_object_inside_an_instance_attribute_is_named():
    payload = pickle.dumps(Reduces(np.dtype, ("f8", False, True), (3, "<", None, None, None, -1, -1, 0)))
    assert safe_loads(payload) == np.dtype("f8")
    nested = pickle.dumps({"outer": [({1: Reduces(os.getcwd, ())},)]}, protocol=4)
    with pytest.raises(RefusedObjectError, match=r"a pickled posix\.getcwd|a pickled os\.getcwd"):
        safe_loads(nested)
    with pytest.raises(UnsafeObjectError, match=r"data key 'nested' holds a pickled .*getcwd"):
        json_to_data(json.dumps({"nested": envelope(nested)}))


# --- legacy files: custom_objects and load_data apply before anything is rebuilt ----------------


def test_legacy_replaced_key_is_never_rebuilt(tmp_path):
    hostile = safe_mode_attacks.random_state_with(safe_mode_attacks.mt19937_state(pos=1 << 30))
    path = tmp_path / "agent.pkl"
    path.write_bytes(pickle.dumps(({"gamma": 0.9, "rng": hostile, "policy": Reduces(print, ())},
                                   [np.ones(2, np.float32)]), protocol=2))
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidStoredValueError, match=r"data key 'rng'.*position"):
        load_from_file(path, custom_objects={"policy": None})
    with pytest.warns(DeprecationWarning), pytest.raises(UnsafeObjectError, match=r"data key 'policy'.*print"):
        load_from_file(path, custom_objects={"rng": None})
    with pytest.warns(DeprecationWarning):
        data, params = load_from_file(path, custom_objects={"rng": 1, "policy": 2})
    assert data == {"gamma": 0.9, "rng": 1, "policy": 2}
    with pytest.warns(DeprecationWarning):
        data, params = load_from_file(path, load_data=False)
    assert data is None
    np.testing.assert_array_equal(params[0], np.ones(2, np.float32))


def test_legacy_file_helper_splices_a_pickle_as_the_value(tmp_path):
    path = tmp_path / "agent.pkl"
    path.write_bytes(legacy_file(pickle.dumps(np.arange(3.0), protocol=2)))
    with pytest.warns(DeprecationWarning):
        data, _ = load_from_file(path)
    np.testing.assert_array_equal(data["value"], np.arange(3.0))
    path.write_bytes(agent_zip({"value": envelope(pickle.dumps(np.arange(3.0)))}))
    np.testing.assert_array_equal(load_from_file(path)[0]["value"], np.arange(3.0))


# --- odd but legitimate: loads exactly ------------------------------------------------------------


ODD_VALUES = {
    "big-endian Fortran array": np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
    "empty float16": np.zeros((0, 3), dtype=np.float16),
    "0-d complex": np.array(1 - 2j, dtype=np.complex64),
    "bool scalar": np.bool_(False),
    "uint64 max": np.uint64(2**64 - 1),
    "containers": (range(1, 9, 2), slice(None, 4), frozenset({"a", 2}), {1.5, 2.5}, 1 + 2j, bytearray(b"ab"), b""),
    "OrderedDict": OrderedDict([("b", np.float32(1)), ("a", [None, True])]),
    "object type": object,
}


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
@pytest.mark.parametrize("name", list(ODD_VALUES))
def test_odd_values_load_exactly(name, protocol, same):
    value = ODD_VALUES[name]
    same(safe_loads(pickle.dumps(value, protocol=protocol)), value)


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("bit_generator", [np.random.MT19937, np.random.PCG64, np.random.PCG64DXSM,
                                           np.random.Philox, np.random.SFC64])
def test_pickled_generators_load_with_their_state(bit_generator, protocol, same):
    generator = np.random.Generator(bit_generator(11))
    generator.random(3)
    loaded = safe_loads(pickle.dumps(generator, protocol=protocol))
    assert type(loaded.bit_generator) is bit_generator
    same(loaded.bit_generator.state, generator.bit_generator.state)
    np.testing.assert_array_equal(loaded.random(4), generator.random(4))


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_random_state_with_a_cached_gaussian_loads(protocol):
    random_state = safe_mode_attacks._random_state_with_gaussian()
    loaded = safe_loads(pickle.dumps(random_state, protocol=protocol))
    assert loaded.standard_normal() == random_state.standard_normal()


@pytest.mark.parametrize("protocol", [0, 2])
def test_gymnasium_spaces_pickled_by_gymnasium_load(protocol):
    spaces = gymnasium.spaces.Dict({"box": gymnasium.spaces.Box(-1.0, 1.0, (2,)),
                                    "pair": gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(3, start=1),
                                                                    gymnasium.spaces.MultiBinary([2, 2])))})
    spaces.seed(0)
    assert safe_loads(pickle.dumps(spaces, protocol=protocol)) == spaces


# --- validators, one field at a time -------------------------------------------------------------


@pytest.mark.parametrize("descr", ["|O", "<M8[ns]", "|V8", "<f16", "<i3", "F4", [["x", "|O"]],
                                   [["x", "<f4"], ["x", "<f4"]], "<U0", 3, None])
def test_plain_dtype_refuses_everything_but_plain_kinds(descr):
    with pytest.raises(InvalidStoredValueError, match="dtype"):
        plain_dtype(descr)


@pytest.mark.parametrize("descr, expected", [
    ("<f4", np.float32), (">i2", ">i2"), ("|b1", bool), ("<c16", np.complex128), ("|S3", "S3"),
    ([["x", "<f4"], ["y", "|u1"]], [("x", "<f4"), ("y", "u1")]),
])
def test_plain_dtype_reads_what_the_codecs_write(descr, expected):
    assert plain_dtype(descr) == np.dtype(expected)


@pytest.mark.parametrize("state", [
    (3, "<", None, None, None, -1, -1, 63),
    (3, "<", None, None, None, 16, 8, 0),
    (3, "<", None, ("x",), None, -1, -1, 0),
    (3, "<", (np.dtype("f8"), (2,)), None, None, -1, -1, 0),
    (4, "<", None, None, None, -1, -1, 0, {"meta": 1}),
    (3, "?", None, None, None, -1, -1, 0),
    (3, "<", None, None, None, -1, -1, True),
    "not a tuple",
], ids=["flags", "itemsize", "names", "subarray", "metadata", "byte order", "bool flags", "not a tuple"])
def test_pickled_dtype_state_must_be_a_builtin_type(state):
    with pytest.raises(InvalidStoredValueError, match="pickled dtype"):
        dtype_from_pickle("f8", False, state)


@pytest.mark.parametrize("key, pos, has_gauss, gauss, match", [
    (np.zeros(623, np.uint32), 0, 0, 0.0, "shape"),
    (np.zeros(624, np.float64), 0, 0, 0.0, "integer array"),
    (np.full(624, 2**40, np.int64), 0, 0, 0.0, "uint32 range"),
    (np.zeros(624, np.uint32), 625, 0, 0.0, "position"),
    (np.zeros(624, np.uint32), -1, 0, 0.0, "position"),
    (np.zeros(624, np.uint32), 0, 2, 0.0, "has_gauss"),
    (np.zeros(624, np.uint32), 0, 1, "0.5", "cached Gaussian"),
    ([0] * 624, 0, 0, 0.0, "integer array"),
])
def test_random_state_is_checked_completely(key, pos, has_gauss, gauss, match):
    with pytest.raises(InvalidStoredValueError, match=match):
        random_state_from(key, pos, has_gauss, gauss)


def test_random_state_at_the_edges_of_its_ranges_loads():
    key = np.arange(624, dtype=np.uint32)
    for pos in (0, 624):
        expected = np.random.RandomState()
        expected.set_state(("MT19937", key, pos, 1, -0.25))
        loaded = random_state_from(key, pos, 1, -0.25)
        assert loaded.standard_normal() == expected.standard_normal() == -0.25
        np.testing.assert_array_equal(loaded.randint(0, 100, 5), expected.randint(0, 100, 5))


@pytest.mark.parametrize("state, match", [
    ({"bit_generator": "PCG64", "state": {"state": 2**128, "inc": 1}, "has_uint32": 0, "uinteger": 0}, "PCG64 state"),
    ({"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "has_uint32": 3, "uinteger": 0}, "has_uint32"),
    ({"bit_generator": "PCG64DXSM", "state": {"state": 1, "inc": 1}, "has_uint32": 0, "uinteger": 2**32},
     "uinteger"),
    ({"bit_generator": "Philox", "state": {"counter": np.zeros(4, np.uint64), "key": np.zeros(3, np.uint64)},
      "buffer": np.zeros(4, np.uint64), "buffer_pos": 0, "has_uint32": 0, "uinteger": 0}, "Philox key"),
    ({"bit_generator": "Philox", "state": {"counter": np.zeros(4, np.uint64), "key": np.zeros(2, np.uint64)},
      "buffer": np.zeros(4, np.uint64), "buffer_pos": 5, "has_uint32": 0, "uinteger": 0}, "buffer position"),
    ({"bit_generator": "SFC64", "state": {"state": np.zeros(4, np.int8) - 1}, "has_uint32": 0, "uinteger": 0},
     "uint64 range"),
    ({"bit_generator": "MT19937", "state": {"key": np.zeros(624, np.uint32), "pos": 900}}, "position"),
    ({"bit_generator": "Xoshiro"}, "unknown bit generator"),
])
def test_bit_generator_states_are_checked_completely(state, match):
    with pytest.raises(InvalidStoredValueError, match=match):
        bit_generator_from_state(state)


def test_keys_whose_hashes_a_file_could_collide_are_bounded():
    check_keys(["a"] * 10_000 + list(range(10_000)) + [None, True, b"x"], "a dict")
    check_keys([index + 0.5 for index in range(MAX_COLLIDABLE_KEYS)], "a dict")
    with pytest.raises(InvalidStoredValueError, match="more than 1024 keys"):
        check_keys([index + 0.5 for index in range(MAX_COLLIDABLE_KEYS + 1)], "a dict")
    with pytest.raises(InvalidStoredValueError, match="more than 1024 keys"):
        check_keys([2**61 * index for index in range(1, MAX_COLLIDABLE_KEYS + 2)], "a set")
    with pytest.raises(InvalidStoredValueError, match="unhashable"):
        check_keys([[1]], "a set")


# --- JSON codecs use the same validators ----------------------------------------------------------


def array_entry(**fields):
    return {":type:": "<class 'numpy.ndarray'>", ":codec:": "numpy.ndarray", **fields}


def test_json_arrays_are_charged_before_they_are_allocated():
    text = json.dumps({"big": array_entry(dtype="<f8", shape=[4096, 4096], bytes="")})
    with pytest.raises(LoadBudgetExceededError, match=r"134,217,728.*max_bytes") as error:
        json_to_data(text, budget=LoadBudget(64 << 20, source="agent.zip"))
    assert "agent.zip" in str(error.value)
    small = json.dumps({"small": array_entry(dtype="<f4", shape=[2], values=[1.5, "NaN"])})
    np.testing.assert_array_equal(json_to_data(small)["small"], np.array([1.5, np.nan], np.float32))


@pytest.mark.parametrize("entry, match", [
    (array_entry(dtype="<f4", shape=[2, 2], values=[1.0, 2.0, 3.0, 4.0]), "expected 2 items"),
    (array_entry(dtype="<f4", shape=[1], values=[True]), "must be numbers"),
    (array_entry(dtype="<f4", shape=[1] * 40, values=[1.0]), "at most 32"),
    (array_entry(dtype="<f4", shape=[-1], values=[]), r"\[0, "),
    ({":type:": "x", ":codec:": "gymnasium.space", "space": "Box", "dtype": "<f4", "shape": [3],
      "low": array_entry(dtype="<f4", shape=[2], values=[0, 0]), "high": 1.0}, "low must be a numeric array of"),
    ({":type:": "x", ":codec:": "gymnasium.space", "space": "Box", "dtype": "<f4", "shape": [2],
      "low": {"__array_interface__": {"data": [4096, False], "shape": [2], "typestr": "<f4"}}, "high": 1.0},
     "low must be an array"),
    ({":type:": "x", ":codec:": "numpy.Generator", "state": {"bit_generator": "MT19937", "state": {
        "key": array_entry(dtype="<u4", shape=[624], values=[0] * 624), "pos": 625}}}, "position"),
    ({":type:": "x", ":codec:": "dict", "items": [[[1, 2], 3]]}, "unhashable"),
], ids=["shape disagrees", "bool in floats", "rank", "negative size", "Box shapes disagree", "array interface",
        "generator position", "list as a key"])
def test_json_values_are_validated_naming_the_key(entry, match):
    with pytest.raises(InvalidStoredValueError, match=rf"data key 'value'.*{match}"):
        json_to_data(json.dumps({"value": entry}))


def test_json_budget_defaults_to_the_text_size():
    text = json.dumps({"values": list(range(1000))})
    budget = LoadBudget(1 << 20)
    assert json_to_data(text, budget=budget)["values"] == list(range(1000))
    assert budget.used > len(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert json_to_data(text) == {"values": list(range(1000))}


def test_pickled_envelope_in_json_is_charged_to_the_same_budget():
    payload = base64.b64encode(pickle.dumps(np.zeros(1 << 16))).decode("ascii")
    text = json.dumps({"array": {":type:": "x", ":serialized:": payload}})
    with pytest.raises(LoadBudgetExceededError):
        json_to_data(text, budget=LoadBudget(600_000))
