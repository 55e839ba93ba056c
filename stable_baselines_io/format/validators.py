"""Validate plain values read from a file, then build the NumPy and gymnasium objects they describe.

Both readers of untrusted data use these functions: the safe unpickler's rebuild step
(:mod:`.rebuild`) and the JSON codecs (:mod:`.json_codec`). Each builder checks every field
first (dtype kinds, ``len(buffer) == prod(shape) * itemsize``, ranks and sizes within the load
budget, random-generator states complete and in range, space bounds of agreeing shapes) and only
then constructs the object, from values it made itself: NumPy never receives a dtype state, an
array state, a generator state or an object from the file.

>>> plain_dtype("<i8")
dtype('int64')
>>> array_from_bytes(b"\\x00\\x00\\x80?", plain_dtype("<f4"), (1,))
array([1.], dtype=float32)
>>> plain_dtype("|O")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
stable_baselines_io.exceptions.InvalidStoredValueError: expected a plain numeric or bool dtype ..., received '|O'
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.exceptions import InvalidStoredValueError
from stable_baselines_io.format.budget import LoadBudget

#: The most dimensions an array or space may have (NumPy allows 64).
MAX_RANK = 32
#: The most fields of a structured dtype (packed, plain fields only; JSON codec only).
MAX_FIELDS = 256
#: The most elements a space may describe (no array is allocated for them, but models are).
MAX_SPACE_ELEMENTS = 2**31
#: The most items (through nested tuples) of one tuple used as a dict key or set element.
MAX_KEY_NODES = 32
#: Keys whose hash a file can make collide (floats, big integers, tuples...) allowed per dict or set.
MAX_COLLIDABLE_KEYS = 1024
#: Plain kinds and their item sizes: bool, signed and unsigned integers, floats, complex.
PLAIN_ITEMSIZES: dict[str, tuple[int, ...]] = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8),
                                                "c": (8, 16)}
_DESCR = re.compile(r"([<>|=]?)([biufc])([0-9]{1,2})")
#: Fixed-width byte and unicode strings: inert, read by the JSON codec only (NumPy pickles them
#: with a custom item size, which :func:`dtype_from_pickle` refuses).
_STRING_DESCR = re.compile(r"([<>|=]?)([SU])([0-9]{1,7})")
MAX_STRING_ITEMSIZE = 2**20
#: Integers whose hash is their value (no crafted collisions below this).
_SMALL_INT = 2**61 - 1
_MT19937_KEY_LENGTH = 624
_UINT32 = 2**32
_UINT64 = 2**64
_UINT128 = 2**128


def fail(message: str) -> InvalidStoredValueError:
    """:return: the error for a stored value that fails validation (to raise)"""
    return InvalidStoredValueError(message)


def _type_name(value: Any) -> str:
    return type(value).__name__


# --- numbers ----------------------------------------------------------------------------------


def check_int(value: Any, what: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a bool) within ``[low, high]``.

    :param value: the stored value (a Python or NumPy integer)
    :param what: its name, for errors
    :param low: the smallest allowed value
    :param high: the largest allowed value
    :return: the value as an ``int``
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise fail(f"{what} must be an integer, received {_type_name(value)}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise fail(f"{what} must be in [{low}, {high}], received {number}")
    return number


def check_float(value: Any, what: str) -> float:
    """A real number (int or float, not a bool).

    :param value: the stored value
    :param what: its name, for errors
    :return: the value as a ``float``
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise fail(f"{what} must be a number, received {_type_name(value)}")
    try:
        return float(value)
    except OverflowError as error:
        raise fail(f"{what} is too large for a float") from error


# --- dtypes -----------------------------------------------------------------------------------


def plain_dtype(descr: Any) -> np.dtype:
    """The dtype a descriptor names, if it is a plain numeric or bool one.

    Accepted: ``"<f4"``-style strings (byte order, kind among ``b i u f c``, a real item size),
    fixed-width strings (``"|S5"``, ``"<U3"``: inert bytes), and a list of ``[name, descriptor]``
    pairs (a packed structured dtype of such fields). No objects, no subarrays, no offsets, no
    flags, no padding.

    :param descr: the descriptor read from the file
    :return: the dtype
    """
    if isinstance(descr, str):
        string = _STRING_DESCR.fullmatch(descr)
        if string is not None and 0 < int(string.group(3)) <= MAX_STRING_ITEMSIZE:
            return np.dtype(descr)
        return _scalar_dtype(descr)
    if isinstance(descr, list) and 0 < len(descr) <= MAX_FIELDS:
        fields = []
        for field in descr:
            if not (isinstance(field, (list, tuple)) and len(field) == 2 and isinstance(field[0], str)
                    and 0 < len(field[0]) <= 256):
                raise fail(f"a structured dtype field must be a [name, dtype] pair, received {_type_name(field)}")
            fields.append((field[0], _scalar_dtype(field[1])))
        if len({name for name, _ in fields}) != len(fields):
            raise fail("a structured dtype repeats a field name")
        return np.dtype(fields)
    raise fail(f"expected a plain numeric or bool dtype such as '<f4', received {_short(descr)}")


def _scalar_dtype(descr: Any) -> np.dtype:
    match = _DESCR.fullmatch(descr) if isinstance(descr, str) else None
    if match is None or int(match.group(3)) not in PLAIN_ITEMSIZES[match.group(2)]:
        raise fail(f"expected a plain numeric or bool dtype such as '<f4', received {_short(descr)}")
    byteorder, kind, size = match.group(1), match.group(2), int(match.group(3))
    return np.dtype(f"{byteorder if byteorder in ('<', '>') and size > 1 else '='}{kind}{size}")


def dtype_from_pickle(code: Any, align: Any, state: Any) -> np.dtype:
    """The dtype NumPy pickles as ``numpy.dtype(code, align, copy)`` followed by ``state``.

    Only a builtin numeric or bool dtype is accepted: ``state`` must be NumPy's version 3 (or 4,
    without metadata) tuple ``(version, byteorder, None, None, None, -1, -1, 0)``. The dtype is
    made from ``code`` and the byte order: the state is never handed to NumPy.

    :param code: the type code (``"f8"``)
    :param align: the ``align`` argument (must be False)
    :param state: the pickled state, or None when the pickle set none
    :return: the dtype
    """
    if align not in (False, 0):
        raise fail("a pickled dtype must not ask for aligned fields")
    dtype = _scalar_dtype(code)
    if state is None:
        return dtype
    if not isinstance(state, tuple) or len(state) not in (8, 9):
        raise fail(f"a pickled dtype state must be a tuple of 8 or 9 items, received {_short(state)}")
    version, byteorder, subarray, names, fields, elsize, alignment, flags = state[:8]
    metadata = state[8] if len(state) == 9 else None
    if (version, len(state)) not in ((3, 8), (4, 9), (4, 8)) or byteorder not in ("<", ">", "|", "=") \
            or (subarray, names, fields, metadata) != (None, None, None, None) or elsize != -1 or alignment != -1 \
            or flags != 0 or isinstance(flags, bool):
        raise fail("a pickled dtype must be a builtin numeric or bool type (no fields, subarray, custom size, "
                   f"alignment, flags or metadata), received the state {_short(state)}")
    return _scalar_dtype(f"{byteorder}{code}") if byteorder in ("<", ">") else dtype


# --- arrays -----------------------------------------------------------------------------------


def check_shape(shape: Any, what: str = "shape") -> tuple[int, ...]:
    """A shape: a sequence of at most :data:`MAX_RANK` non-negative integers.

    :param shape: the stored shape (tuple or list; an int means one dimension)
    :param what: its name, for errors
    :return: the shape as a tuple
    """
    if type(shape) is tuple and len(shape) <= MAX_RANK and all(type(size) is int and 0 <= size <= 2**62
                                                               for size in shape):
        return shape
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or len(shape) > MAX_RANK:
        raise fail(f"{what} must be a list of at most {MAX_RANK} sizes, received {_short(shape)}")
    return tuple(check_int(size, f"{what} entry", 0, 2**62) for size in shape)


def _element_count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def charge_array(dtype: np.dtype, shape: tuple[int, ...], budget: LoadBudget | None, what: str) -> int:
    """Count an array of ``shape`` and ``dtype`` against the budget before it is allocated.

    :param dtype: the validated dtype
    :param shape: the validated shape
    :param budget: the load budget (None: not counted)
    :param what: what the array is, for errors
    :return: its size in bytes
    """
    n_bytes = _element_count(shape) * dtype.itemsize
    if budget is not None:
        budget.charge(n_bytes, what)
    return n_bytes


def array_from_bytes(buffer: Any, dtype: np.dtype, shape: Any, fortran_order: bool = False,
                     budget: LoadBudget | None = None) -> np.ndarray:
    """An array of ``dtype`` and ``shape`` holding a copy of ``buffer``.

    :param buffer: the raw data (``bytes`` or ``bytearray`` only)
    :param dtype: a dtype from :func:`plain_dtype` or :func:`dtype_from_pickle`
    :param shape: the stored shape
    :param fortran_order: the data is in Fortran order
    :param budget: the load budget
    :return: a new, writeable, C-contiguous (or Fortran) array
    """
    if type(buffer) not in (bytes, bytearray):
        raise fail(f"array data must be bytes, received {_type_name(buffer)}")
    checked_shape = check_shape(shape)
    expected = charge_array(dtype, checked_shape, budget, "an array")
    if len(buffer) != expected:
        raise fail(f"an array of shape {checked_shape} and dtype {dtype} needs {expected} bytes of data, "
                   f"received {len(buffer)}")
    # a copy made by NumPy from bytes only: owned, writeable, aligned
    return np.frombuffer(buffer, dtype=dtype).reshape(checked_shape, order="F" if fortran_order else "C").copy(
        order="F" if fortran_order else "C")


def array_from_values(values: Any, dtype: np.dtype, shape: Any, budget: LoadBudget | None = None) -> np.ndarray:
    """An array of ``dtype`` and ``shape`` from nested lists of numbers (the JSON codec's form).

    :param values: nested lists of Python numbers, exactly ``shape``
    :param dtype: a dtype from :func:`plain_dtype`, not structured
    :param shape: the stored shape
    :param budget: the load budget
    :return: the array
    """
    checked_shape = check_shape(shape)
    if dtype.names is not None:
        raise fail("a structured array is stored as bytes, not values")
    charge_array(dtype, checked_shape, budget, "an array")
    flat = list(_flatten(values, checked_shape))
    for value in flat:
        if isinstance(value, bool) and dtype.kind != "b" or not isinstance(value, (int, float)):
            raise fail(f"array values must be numbers, received {_type_name(value)}")
    try:
        array = np.array(flat, dtype=dtype)
    except OverflowError as error:
        raise fail(f"a value does not fit the dtype {dtype}: {error}") from error
    return array.reshape(checked_shape)


def _flatten(values: Any, shape: tuple[int, ...]) -> Iterable[Any]:
    if not shape:
        yield values
        return
    if not isinstance(values, list) or len(values) != shape[0]:
        raise fail(f"array values do not have the stored shape: expected {shape[0]} items, "
                   f"received {len(values) if isinstance(values, list) else _type_name(values)}")
    for item in values:
        yield from _flatten(item, shape[1:])


def scalar_from_bytes(dtype: np.dtype, buffer: Any) -> np.generic:
    """The NumPy scalar NumPy pickles as ``scalar(dtype, bytes)``.

    :param dtype: a validated dtype
    :param buffer: its bytes (exactly one item)
    :return: the scalar
    """
    scalar: np.generic = array_from_bytes(buffer, dtype, ())[()]  # type: ignore[assignment]
    return scalar


# --- random generators ------------------------------------------------------------------------


def _uint_array(value: Any, dtype: str, length: int, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != (length,) or value.dtype.kind not in "iu":
        raise fail(f"{what} must be an integer array of shape ({length},), received "
                   f"{getattr(value, 'shape', _type_name(value))}")
    limit = _UINT32 if dtype == "uint32" else _UINT64
    if length and (int(value.min()) < 0 or int(value.max()) >= limit):
        raise fail(f"{what} holds values outside the {dtype} range")
    return np.array(value, dtype=dtype)


def _mt19937_state(state: Any) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise fail(f"an MT19937 state must be a dict, received {_type_name(state)}")
    key = _uint_array(state.get("key"), "uint32", _MT19937_KEY_LENGTH, "the MT19937 key")
    return {"key": key, "pos": check_int(state.get("pos"), "the MT19937 position", 0, _MT19937_KEY_LENGTH)}


def check_random_state(key: Any, pos: Any, has_gauss: Any, cached_gaussian: Any) -> tuple[Any, ...]:
    """Check a legacy ``RandomState`` state completely.

    :param key: 624 integers in the uint32 range
    :param pos: the position in the key, in ``[0, 624]``
    :param has_gauss: 0 or 1
    :param cached_gaussian: a float
    :return: the state for ``RandomState.set_state``, made of new objects
    """
    checked = _mt19937_state({"key": key, "pos": pos})
    return ("MT19937", checked["key"], checked["pos"], check_int(has_gauss, "has_gauss", 0, 1),
            check_float(cached_gaussian, "the cached Gaussian"))


def random_state_from(key: Any, pos: Any, has_gauss: Any, cached_gaussian: Any) -> np.random.RandomState:
    """A legacy ``RandomState`` from its checked state (see :func:`check_random_state`).

    :param key: 624 integers in the uint32 range
    :param pos: the position in the key, in ``[0, 624]``
    :param has_gauss: 0 or 1
    :param cached_gaussian: a float
    :return: the generator
    """
    state = check_random_state(key, pos, has_gauss, cached_gaussian)
    random_state = np.random.RandomState(0)  # any seed: set_state replaces it, and seeding from the OS is slow
    random_state.set_state(state)
    return random_state


def random_state_parts(state: Any) -> tuple[Any, Any, Any, Any]:
    """The parts of the dict a ``RandomState`` pickle holds (``get_state(legacy=False)``).

    :param state: ``{"bit_generator": "MT19937", "state": {"key", "pos"}, "has_gauss", "gauss"}``
    :return: ``(key, pos, has_gauss, gauss)``, unchecked
    """
    if not isinstance(state, dict) or state.get("bit_generator") != "MT19937" or not isinstance(
            state.get("state"), dict):
        raise fail("a RandomState state must be a dict with bit_generator 'MT19937' and its 'state'")
    inner = state["state"]
    return inner.get("key"), inner.get("pos"), state.get("has_gauss"), state.get("gauss")


def _buffered_fields(state: dict[str, Any]) -> dict[str, int]:
    return {"has_uint32": check_int(state.get("has_uint32"), "has_uint32", 0, 1),
            "uinteger": check_int(state.get("uinteger"), "uinteger", 0, _UINT32 - 1)}


def _pcg64_state(state: dict[str, Any]) -> dict[str, Any]:
    inner = state.get("state")
    if not isinstance(inner, dict):
        raise fail("a PCG64 state needs its 'state' dict")
    return {"state": {"state": check_int(inner.get("state"), "the PCG64 state", 0, _UINT128 - 1),
                      "inc": check_int(inner.get("inc"), "the PCG64 increment", 0, _UINT128 - 1)},
            **_buffered_fields(state)}


def _philox_state(state: dict[str, Any]) -> dict[str, Any]:
    inner = state.get("state")
    if not isinstance(inner, dict):
        raise fail("a Philox state needs its 'state' dict")
    return {"state": {"counter": _uint_array(inner.get("counter"), "uint64", 4, "the Philox counter"),
                      "key": _uint_array(inner.get("key"), "uint64", 2, "the Philox key")},
            "buffer": _uint_array(state.get("buffer"), "uint64", 4, "the Philox buffer"),
            "buffer_pos": check_int(state.get("buffer_pos"), "the Philox buffer position", 0, 4),
            **_buffered_fields(state)}


def _sfc64_state(state: dict[str, Any]) -> dict[str, Any]:
    inner = state.get("state")
    if not isinstance(inner, dict):
        raise fail("an SFC64 state needs its 'state' dict")
    return {"state": {"state": _uint_array(inner.get("state"), "uint64", 4, "the SFC64 state")},
            **_buffered_fields(state)}


_BIT_GENERATORS: dict[str, tuple[type[np.random.BitGenerator], Any]] = {
    "MT19937": (np.random.MT19937, lambda state: {"state": _mt19937_state(state.get("state"))}),
    "PCG64": (np.random.PCG64, _pcg64_state),
    "PCG64DXSM": (np.random.PCG64DXSM, _pcg64_state),
    "Philox": (np.random.Philox, _philox_state),
    "SFC64": (np.random.SFC64, _sfc64_state),
}
BIT_GENERATOR_NAMES = tuple(_BIT_GENERATORS)


def bit_generator_from_state(state: Any, expected_name: str | None = None) -> np.random.BitGenerator:
    """A bit generator from its checked ``state`` dict (``bit_generator.state``).

    :param state: the stored state, naming its bit generator
    :param expected_name: the bit generator the pickle constructed, when it named one
    :return: a new bit generator in that state
    """
    if not isinstance(state, dict):
        raise fail(f"a bit generator state must be a dict, received {_type_name(state)}")
    name = state.get("bit_generator")
    if name not in _BIT_GENERATORS or (expected_name is not None and name != expected_name):
        raise fail(f"unknown bit generator {_short(name)}: expected one of {', '.join(BIT_GENERATOR_NAMES)}"
                   + ("" if expected_name is None else f" (the pickle made a {expected_name})"))
    cls, check = _BIT_GENERATORS[name]
    bit_generator = cls(0)  # any seed: the state replaces it, and seeding from the OS is slow
    bit_generator.state = {"bit_generator": name, **check(state)}
    return bit_generator


def generator_from_state(state: Any) -> np.random.Generator:
    """A ``Generator`` from its bit generator's checked state.

    :param state: the bit generator's state dict
    :return: the generator
    """
    return np.random.Generator(bit_generator_from_state(state))


# --- keys of dicts and sets -------------------------------------------------------------------


def check_keys(keys: Sequence[Any], what: str, already: int = 0) -> int:
    """Refuse dict keys or set elements whose hashes a file could make collide in bulk.

    Strings and bytes (hashed with a random seed), integers below 2**61 (distinct hashes), bools
    and None are accepted in any number; other hashable keys (floats, big integers, tuples...) at
    most :data:`MAX_COLLIDABLE_KEYS` per container, which bounds the cost of crafted collisions.

    :param keys: the keys about to be hashed
    :param what: the container, for errors
    :param already: collidable keys the container holds already (keys added in batches)
    :return: the container's collidable keys, ``already`` included
    """
    collidable = already
    for key in keys:
        if _is_seeded_key(key):
            continue
        collidable += 1
        if collidable > MAX_COLLIDABLE_KEYS:
            raise fail(f"{what} has more than {MAX_COLLIDABLE_KEYS} keys that are not strings or small integers")
        if type(key) is tuple:
            _check_tuple_key(key, what)
        try:
            hash(key)
        except TypeError as error:
            raise fail(f"{what} has an unhashable key of type {_type_name(key)}") from error
    return collidable


def _check_tuple_key(key: tuple[Any, ...], what: str) -> None:
    """Hashing a tuple hashes everything inside it, recursively and uncached: a deep or widely
    shared tuple would overflow the C stack or take exponential time. Its tree must be small."""
    pending: list[Any] = [key]
    nodes = 0
    while pending:
        item = pending.pop()
        nodes += 1
        if nodes > MAX_KEY_NODES:
            raise fail(f"{what} has a tuple key of more than {MAX_KEY_NODES} items, counted through nested tuples")
        if type(item) is tuple:
            pending.extend(item)


def _is_seeded_key(key: Any) -> bool:
    return key is None or type(key) in (str, bytes, bool) or (type(key) is int and -_SMALL_INT < key < _SMALL_INT)


# --- spaces -----------------------------------------------------------------------------------


def _space_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    if _element_count(shape) > MAX_SPACE_ELEMENTS:
        raise fail(f"a space of shape {shape} has more than {MAX_SPACE_ELEMENTS} elements")
    return shape


def box_from(low: Any, high: Any, dtype: np.dtype, shape: Any = None) -> gymnasium.spaces.Box:
    """A ``Box`` from validated bounds: arrays of one shape (or scalars broadcast to ``shape``).

    :param low: lower bounds (an array, or a number when ``shape`` is given)
    :param high: upper bounds (same)
    :param dtype: a validated dtype
    :param shape: the stored shape, which the bounds must agree with
    :return: the space
    """
    checked_shape = None if shape is None else _space_shape(check_shape(shape, "the Box shape"))
    bounds = []
    for name, bound in (("low", low), ("high", high)):
        if isinstance(bound, np.ndarray):
            if bound.dtype.kind not in "biuf" or (checked_shape is not None and bound.shape != checked_shape):
                raise fail(f"the Box {name} must be a numeric array of shape {checked_shape}, received "
                           f"{bound.dtype} {bound.shape}")
            _space_shape(bound.shape)
        elif checked_shape is None or isinstance(bound, bool) or not isinstance(bound, (int, float, np.number)):
            raise fail(f"the Box {name} must be an array (or a number with a shape), received {_type_name(bound)}")
        bounds.append(bound)
    if dtype.names is not None or dtype.kind not in "biuf":
        raise fail(f"a Box dtype must be numeric, received {dtype}")
    low_array, high_array = (np.asarray(bound) for bound in bounds)
    if checked_shape is None and low_array.shape != high_array.shape:
        raise fail(f"the Box bounds differ in shape: {low_array.shape} and {high_array.shape}")
    final_shape = checked_shape if checked_shape is not None else low_array.shape
    with np.errstate(all="ignore"):
        return gymnasium.spaces.Box(low=_cast_bound(low_array, dtype), high=_cast_bound(high_array, dtype),
                                    shape=final_shape, dtype=dtype)


def _cast_bound(bound: np.ndarray, dtype: np.dtype) -> Any:
    return bound.astype(dtype) if bound.ndim else bound.astype(dtype)[()]


def discrete_from(n: Any, start: Any = 0) -> gymnasium.spaces.Discrete:
    """A ``Discrete`` from checked integers.

    :param n: the number of actions, at least 1
    :param start: the first action
    :return: the space
    """
    return gymnasium.spaces.Discrete(check_int(n, "Discrete n", 1, 2**63 - 1),
                                     start=check_int(start, "Discrete start", -(2**62), 2**62))


def multi_discrete_from(nvec: Any, start: Any = None, dtype: np.dtype | None = None) -> gymnasium.spaces.MultiDiscrete:
    """A ``MultiDiscrete`` from a checked integer array (and an optional start of the same shape).

    :param nvec: positive counts
    :param start: first values, or None
    :param dtype: a validated integer dtype, or None (int64)
    :return: the space
    """
    if not isinstance(nvec, np.ndarray) or nvec.dtype.kind not in "iu" or nvec.size == 0:
        raise fail(f"MultiDiscrete nvec must be a non-empty integer array, received {_type_name(nvec)}")
    _space_shape(nvec.shape)
    if int(nvec.min()) < 1:
        raise fail("MultiDiscrete nvec entries must be at least 1")
    if start is not None and (not isinstance(start, np.ndarray) or start.shape != nvec.shape
                              or start.dtype.kind not in "iu"):
        raise fail(f"MultiDiscrete start must be an integer array of shape {nvec.shape}")
    if dtype is not None and dtype.kind not in "iu":
        raise fail(f"a MultiDiscrete dtype must be an integer type, received {dtype}")
    return gymnasium.spaces.MultiDiscrete(nvec, start=start, dtype=np.int64 if dtype is None else dtype)


def multi_binary_from(n: Any) -> gymnasium.spaces.MultiBinary:
    """A ``MultiBinary`` of ``n`` (an int, or a shape) elements.

    :param n: the size or shape
    :return: the space
    """
    if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
        return gymnasium.spaces.MultiBinary(_space_shape((check_int(n, "MultiBinary n", 1),))[0])
    shape = _space_shape(check_shape(list(n) if isinstance(n, (tuple, np.ndarray)) else n, "MultiBinary n"))
    return gymnasium.spaces.MultiBinary(list(shape))


def tuple_space_from(spaces: Any) -> gymnasium.spaces.Tuple:
    """A ``Tuple`` space of already rebuilt spaces.

    :param spaces: a list or tuple of spaces
    :return: the space
    """
    if not isinstance(spaces, (list, tuple)) or not all(isinstance(space, gymnasium.Space) for space in spaces):
        raise fail("a Tuple space must hold a list of spaces")
    return gymnasium.spaces.Tuple(tuple(spaces))


def dict_space_from(items: Iterable[tuple[Any, Any]]) -> gymnasium.spaces.Dict:
    """A ``Dict`` space from (string key, space) pairs.

    :param items: the pairs, in order
    :return: the space
    """
    spaces: OrderedDict[str, gymnasium.Space] = OrderedDict()
    for key, space in items:
        if not isinstance(key, str) or not isinstance(space, gymnasium.Space):
            raise fail("a Dict space must map string keys to spaces")
        spaces[key] = space
    return gymnasium.spaces.Dict(spaces)


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, int, float, type(None))) else _type_name(value)
    return text if len(text) <= 60 else text[:57] + "..."
