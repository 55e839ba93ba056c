"""Hostile pickles and JSON values for safe mode, built in code, and the agent files that carry them.

Each attack is a pickle (or a JSON value) that, before records and validated rebuilds, made NumPy
read or write memory chosen by the file, allocated without bound, or hung. ``python
tests/safe_mode_attacks.py`` writes them to ``tests/regression/corpus/`` as
``<attack-class>__<name>.<ext>`` files with a ``<name>.<ext>.expect`` sidecar naming the exception
each must raise (or ``loads``), then any ``<entry point>: <outcome>`` line for an entry point whose
outcome differs (see ``tests/test_regression_corpus.py``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import pickle
import sys
import types
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.random._pickle as numpy_random_pickle

try:
    from numpy._core import multiarray as numpy_multiarray
except ImportError:  # NumPy 1
    from numpy.core import multiarray as numpy_multiarray

CORPUS_DIR = Path(__file__).parent / "regression" / "corpus"


class Reduces:
    """Pickles as whatever ``__reduce__`` value it is given: a hand-made call with chosen state."""

    def __init__(self, *reduce_value: Any) -> None:
        self.reduce_value = reduce_value

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduce_value


class HasArrayInterface:
    """An object whose attribute dict claims to be an array at an address taken from the file."""

    def __init__(self) -> None:
        self.__array_interface__ = {"shape": (4,), "typestr": "<f8", "data": (0x1000, False), "version": 3}


def dtype_with_state(state: tuple[Any, ...], code: str = "f8") -> Reduces:
    return Reduces(np.dtype, (code, False, True), state)


def array_with_state(shape: tuple[int, ...], dtype: Any, data: Any) -> Reduces:
    return Reduces(numpy_multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, False, data))


def random_state_with(state: Any) -> Reduces:
    return Reduces(numpy_random_pickle.__randomstate_ctor, ("MT19937",), state)


def bit_generator_with(name: str, state: Any) -> Reduces:
    return Reduces(numpy_random_pickle.__bit_generator_ctor, (name,), state)


def generator_of(bit_generator: Any) -> Reduces:
    return Reduces(numpy_random_pickle.__generator_ctor, (bit_generator,))


def mt19937_state(pos: int = 624, key_length: int = 624) -> dict[str, Any]:
    return {"bit_generator": "MT19937", "state": {"key": np.arange(key_length, dtype=np.uint32), "pos": pos},
            "has_gauss": 0, "gauss": 0.0}


def nested_lists(depth: int) -> bytes:
    """A pickle of ``depth`` lists nested in each other (no recursion needed to write it)."""
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def shared_references(levels: int) -> bytes:
    """``x0 = [1]; x(n+1) = [xn, xn]``: 2**levels paths to one leaf, ``levels`` objects."""
    # EMPTY_LIST, BININT1 1, APPEND, BINPUT 0; per level: POP, EMPTY_LIST, MARK, BINGET 0 twice, APPENDS, BINPUT 0
    return b"\x80\x02]K\x01aq\x00" + b"0](h\x00h\x00eq\x00" * levels + b"."


def deep_tuple_key(depth: int) -> bytes:
    """A frozenset holding one tuple nested ``depth`` deep (hashing it recursed in C)."""
    return b"\x80\x02c__builtin__\nfrozenset\n(K\x01" + b"\x85" * depth + b"\x85l\x85R."


def shared_tuple_key(levels: int) -> bytes:
    """A frozenset holding ``t(n+1) = (tn, tn)``: ``levels`` tuples, 2**levels leaves to hash."""
    return (b"\x80\x02c__builtin__\nfrozenset\nK\x01q\x00" + b"0h\x00h\x00\x86q\x00" * levels
            + b"0(h\x00l\x85R.")


@dataclass(frozen=True)
class Attack:
    """One hostile (or odd but legitimate) value and what loading it must raise.

    :param attack_class: the family, e.g. ``dtype-state``
    :param name: this case
    :param make: builds the data value: a picklable object (pickled into the data key), or bytes
        (already a pickle)
    :param expect: the exception class name, or ``loads``
    :param expect_legacy: the same, in a legacy ``.pkl`` file when it differs
    :param overrides: ``(entry point, outcome)`` pairs for entry points whose outcome differs
        (``convert`` cannot write some loadable values without pickle)
    :param legacy_overrides: the same, in a legacy ``.pkl`` file
    """

    attack_class: str
    name: str
    make: Callable[[], Any]
    expect: str
    expect_legacy: str | None = None
    overrides: tuple[tuple[str, str], ...] = ()
    legacy_overrides: tuple[tuple[str, str], ...] = ()

    @property
    def file_stem(self) -> str:
        return f"{self.attack_class}__{self.name}"

    def payload(self) -> bytes:
        value = self.make()
        if isinstance(value, bytes):
            return value
        with _gym_box_importable():
            return pickle.dumps(value, protocol=2)


_BUILTIN_DTYPE_STATE = (3, "<", None, None, None, -1, -1, 0)

ATTACKS = [
    Attack("dtype-state", "object-flags", lambda: dtype_with_state((3, "<", None, None, None, -1, -1, 63)),
           "InvalidStoredValueError"),
    Attack("dtype-state", "custom-itemsize", lambda: dtype_with_state((3, "<", None, None, None, 1 << 40, 8, 0)),
           "InvalidStoredValueError"),
    Attack("dtype-state", "field-offsets", lambda: dtype_with_state(
        (3, "|", None, ("x",), {"x": (np.dtype("f8"), 1 << 40)}, 8, 1, 16), code="V8"), "InvalidStoredValueError"),
    Attack("dtype-state", "object-dtype", lambda: np.array([1, "two"], dtype=object), "InvalidStoredValueError"),
    Attack("array-state", "short-buffer", lambda: array_with_state((1 << 20,), np.dtype("f8"), b"\x00" * 8),
           "InvalidStoredValueError"),
    Attack("array-state", "object-list-data", lambda: array_with_state((2,), np.dtype("f8"), [1, 2]),
           "InvalidStoredValueError"),
    Attack("array-state", "ndarray-constructor", lambda: Reduces(np.ndarray, ((4,), "f8", b"\x00" * 8, 1 << 40)),
           "UnsafeObjectError"),
    Attack("array-state", "huge-rank", lambda: array_with_state((1,) * 40, np.dtype("f8"), b"\x00" * 8),
           "InvalidStoredValueError"),
    Attack("array-interface", "box-bound", lambda: Reduces(
        Box, (), {"low": HasArrayInterface(), "high": np.ones(4), "dtype": np.dtype("f8")}), "UnsafeObjectError"),
    Attack("array-interface", "box-bound-dict", lambda: Reduces(
        Box, (), {"low": {"__array_interface__": HasArrayInterface().__array_interface__}, "high": np.ones(4),
                  "dtype": np.dtype("f8")}), "InvalidStoredValueError"),
    Attack("rng-state", "randomstate-position", lambda: random_state_with(mt19937_state(pos=1 << 30)),
           "InvalidStoredValueError"),
    Attack("rng-state", "randomstate-short-key", lambda: random_state_with(mt19937_state(key_length=3)),
           "InvalidStoredValueError"),
    Attack("rng-state", "randomstate-no-state", lambda: Reduces(numpy_random_pickle.__randomstate_ctor, ("MT19937",)),
           "InvalidStoredValueError"),
    Attack("rng-state", "mt19937-generator-position", lambda: generator_of(
        bit_generator_with("MT19937", mt19937_state(pos=-5))), "InvalidStoredValueError"),
    Attack("rng-state", "philox-buffer-position", lambda: generator_of(bit_generator_with("Philox", {
        "bit_generator": "Philox", "state": {"counter": np.zeros(4, np.uint64), "key": np.zeros(2, np.uint64)},
        "buffer": np.zeros(4, np.uint64), "buffer_pos": 1 << 20, "has_uint32": 0, "uinteger": 0})),
           "InvalidStoredValueError"),
    Attack("rng-state", "pcg64-state-too-big", lambda: generator_of(bit_generator_with("PCG64", {
        "bit_generator": "PCG64", "state": {"state": 1 << 200, "inc": 1}, "has_uint32": 0, "uinteger": 0})),
           "InvalidStoredValueError"),
    Attack("rng-state", "sfc64-wrong-shape", lambda: generator_of(bit_generator_with("SFC64", {
        "bit_generator": "SFC64", "state": {"state": np.zeros(1, np.uint64)}, "has_uint32": 0, "uinteger": 0})),
           "InvalidStoredValueError"),
    Attack("allocation", "bytearray-size", lambda: Reduces(bytearray, (1 << 40,)), "InvalidStoredValueError"),
    Attack("allocation", "shared-references", lambda: shared_references(24), "loads",
           overrides=(("convert", "SerializationError"),)),
    Attack("nesting", "deep-lists", lambda: nested_lists(50_000), "InvalidStoredValueError"),
    # refused while the pickle is parsed: in a legacy file, the whole file is unreadable, for inspect too
    Attack("hash-collisions", "float-keys", lambda: {float(index) + 0.5: 0 for index in range(5000)},
           "InvalidStoredValueError", legacy_overrides=(("inspect", "InvalidStoredValueError"),)),
    Attack("hash-collisions", "deep-tuple-key", lambda: deep_tuple_key(100_000), "InvalidStoredValueError"),
    Attack("hash-collisions", "deep-tuple-in-frozenset-opcode",
           lambda: b"\x80\x04(K\x01" + b"\x85" * 100_000 + b"\x91.", "InvalidStoredValueError",
           legacy_overrides=(("inspect", "InvalidStoredValueError"),)),
    Attack("hash-collisions", "shared-tuple-key", lambda: shared_tuple_key(64), "InvalidStoredValueError"),
    Attack("hash-collisions", "huge-memo-index", lambda: b"\x80\x02]p" + b"9" * 4000 + b"\n.",
           "DeserializationError", expect_legacy="CorruptAgentFileError"),
    Attack("refused-deep", "in-a-set", lambda: Reduces(set, ([1, Reduces(print, ("x",))],)), "UnsafeObjectError"),
    Attack("refused-deep", "in-a-slice", lambda: slice(0, Reduces(print, ("x",))), "UnsafeObjectError"),
    Attack("refused-deep", "as-a-dict-key", lambda: {Reduces(print, ("x",)): 1}, "UnsafeObjectError"),
    Attack("refused-deep", "in-space-attributes", lambda: Reduces(
        Box, (), {"low": np.zeros(2), "high": np.ones(2), "np_random": Reduces(print, ("x",))}), "UnsafeObjectError"),
    Attack("odd-but-legitimate", "big-endian-fortran-array",
           lambda: np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)), "loads"),
    Attack("odd-but-legitimate", "empty-float16-array", lambda: np.zeros((0, 3), dtype=np.float16), "loads"),
    Attack("odd-but-legitimate", "random-state-with-gaussian", lambda: _random_state_with_gaussian(), "loads"),
    Attack("odd-but-legitimate", "containers", lambda: (range(3), slice(1, None, 2), frozenset({1, 2}), 1 + 2j,
                                                         bytearray(b"ab")), "loads",
           overrides=(("convert", "SerializationError"),)),  # a tuple has no JSON codec
]


class Box:
    """Pickles as ``gym.spaces.box.Box`` (the name Stable Baselines 2 files use)."""


Box.__module__ = "gym.spaces.box"


@contextlib.contextmanager
def _gym_box_importable() -> Iterator[None]:
    """Let pickle find :class:`Box` as ``gym.spaces.box.Box`` while it writes, without gym installed."""
    names = ("gym", "gym.spaces", "gym.spaces.box")
    saved = {name: sys.modules.get(name) for name in names}
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["gym.spaces.box"].Box = Box  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _random_state_with_gaussian() -> np.random.RandomState:
    random_state = np.random.RandomState(3)
    random_state.standard_normal()
    return random_state


def envelope(payload: bytes) -> dict[str, str]:
    return {":type:": "<class 'object'>", ":serialized:": base64.b64encode(payload).decode("ascii")}


def agent_zip(data: dict[str, Any] | str) -> bytes:
    """A minimal agent zip whose ``data`` member is ``data`` (JSON, or JSON text).

    :param data: the data dictionary, or its JSON text
    :return: the zip file's bytes
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # a fixed date keeps the corpus files byte-identical from one generation to the next
        archive.writestr(zipfile.ZipInfo("data", date_time=(1980, 1, 1, 0, 0, 0)),
                         data if isinstance(data, str) else json.dumps(data))
    return buffer.getvalue()


def legacy_file(payload: bytes) -> bytes:
    """A legacy ``(data, params)`` pickle whose data key ``value`` is the pickle ``payload``."""
    head = pickle.dumps(({"value": 0}, None), protocol=2)
    marker = pickle.dumps(0, protocol=2)[2:-1]  # the opcodes of the value 0 (BININT1 0)
    assert head.count(marker) == 1
    return head.replace(marker, payload[2:-1] if payload.startswith(b"\x80") else payload[:-1])


def write_corpus(directory: Path = CORPUS_DIR) -> list[Path]:
    """Write every attack as a zip (a pickle envelope in ``data``) and a legacy ``.pkl`` file.

    :param directory: where to write
    :return: the files written
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for attack in ATTACKS:
        payload = attack.payload()
        for stem, content, expect, overrides in (
            (f"{attack.file_stem}-in-zip.zip", agent_zip({"value": envelope(payload)}), attack.expect,
             attack.overrides),
            (f"{attack.file_stem}-in-pkl.pkl", legacy_file(payload), attack.expect_legacy or attack.expect,
             attack.overrides + attack.legacy_overrides),
        ):
            written.append(_write_case(directory, stem, content, expect, overrides))
    for json_attack in JSON_ATTACKS:
        value = json_attack.make()
        text = '{"value": ' + value + "}" if isinstance(value, str) else json.dumps({"value": value})
        written.append(_write_case(directory, f"{json_attack.file_stem}.zip", agent_zip(text), json_attack.expect,
                                   json_attack.overrides))
    return written


def expectation_path(path: Path) -> Path:
    """The ``.expect`` file beside a corpus file (``<name>.<ext>.expect``)."""
    return path.with_name(path.name + ".expect")


#: What a value that cannot be rebuilt raises: ``sb-io inspect`` describes such a value (it is for
#: damaged files too) instead of failing.
VALUE_ERRORS = {"InvalidStoredValueError", "UnsafeObjectError", "DeserializationError"}


def _write_case(directory: Path, file_name: str, content: bytes, expect: str,
                overrides: tuple[tuple[str, str], ...] = ()) -> Path:
    path = directory / file_name
    path.write_bytes(content)
    lines = [expect, *(["inspect: loads"] if expect in VALUE_ERRORS else []),
             *(f"{entry_point}: {outcome}" for entry_point, outcome in overrides)]
    expectation_path(path).write_text("\n".join(lines) + "\n")
    return path


def _array(dtype: Any, shape: list[int], **fields: Any) -> dict[str, Any]:
    return {":type:": "<class 'numpy.ndarray'>", ":codec:": "numpy.ndarray", "dtype": dtype, "shape": shape, **fields}


def _space(**fields: Any) -> dict[str, Any]:
    return {":type:": "<class 'gymnasium.spaces.box.Box'>", ":codec:": "gymnasium.space", **fields}


def _nested_json(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


#: Values written straight into the JSON ``data`` member (no pickle involved); a string is raw JSON text.
JSON_ATTACKS = [
    Attack("json-array", "declared-shape-beyond-budget", lambda: _array("<f8", [1 << 20, 1 << 20], values=[]),
           "LoadBudgetExceededError"),
    Attack("json-array", "object-dtype", lambda: _array("|O", [1], values=[1]), "InvalidStoredValueError"),
    Attack("json-array", "structured-with-object", lambda: _array([["x", "|O"]], [1], bytes="AAAAAAAAAAA="),
           "InvalidStoredValueError"),
    Attack("json-array", "bytes-shorter-than-shape", lambda: _array("<f8", [1000], bytes="AAAAAAAAAAA="),
           "InvalidStoredValueError"),
    Attack("json-space", "box-broadcast-to-huge-shape", lambda: _space(
        space="Box", dtype="<f4", shape=[1 << 16, 1 << 16], low=0.0, high=1.0), "InvalidStoredValueError"),
    Attack("json-space", "multibinary-huge", lambda: _space(space="MultiBinary", n=[1 << 30, 1 << 30]),
           "InvalidStoredValueError"),
    Attack("json-rng", "randomstate-position", lambda: {
        ":type:": "<class 'numpy.random.mtrand.RandomState'>", ":codec:": "numpy.RandomState",
        "bit_generator": "MT19937", "keys": _array("<u4", [624], values=list(range(624))), "pos": 1 << 40,
        "has_gauss": 0, "cached_gaussian": 0.0}, "InvalidStoredValueError"),
    Attack("json-rng", "pcg64-negative-increment", lambda: {
        ":type:": "<class 'numpy.random._generator.Generator'>", ":codec:": "numpy.Generator",
        "state": {"bit_generator": "PCG64", "state": {"state": 1, "inc": -1}, "has_uint32": 0, "uinteger": 0}},
           "InvalidStoredValueError"),
    Attack("json-keys", "set-of-colliding-floats", lambda: {
        ":type:": "<class 'set'>", ":codec:": "set", "items": [index + 0.5 for index in range(5000)]},
           "InvalidStoredValueError"),
    Attack("json-nesting", "deeper-than-the-parser", lambda: _nested_json(100_000), "CorruptAgentFileError"),
    Attack("json-nesting", "deeper-than-the-decoder", lambda: _nested_json(500), "DeserializationError"),
]


if __name__ == "__main__":
    import safe_mode_attacks  # this module under its own name, which the pickled test classes carry

    for written_path in safe_mode_attacks.write_corpus():
        print(written_path)
