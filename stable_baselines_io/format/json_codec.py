"""The ``data`` member: the data dictionary <-> JSON, pickle-free for every standard value.

Plain JSON values (``None``, bools, ints, finite floats, strings, lists, dicts with string keys)
are written as they are. Other standard values are written as an object with a ``":type:"``
(``str(type(value))``) and a ``":codec:"`` naming the encoding, plus the value's first-level
fields as JSON (see ``docs/file-format.md``). Only values with no codec fall back to cloudpickle
in ``":serialized:"`` (base64), with their first-level attributes beside it for people to read.

Loading rebuilds codec values directly; ``":serialized:"`` values are rebuilt through the safe
unpickler unless ``safe_mode=False``.

>>> data = {"gamma": 0.99, "low": np.zeros(2, dtype=np.float32), "shape": (2,)}
>>> json_to_data(data_to_json(data))["shape"]
(2,)
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import cloudpickle
import gymnasium
import numpy as np

from stable_baselines_io.exceptions import (
    CorruptAgentFileError,
    DeserializationError,
    InvalidStoredValueError,
    LoadBudgetExceededError,
    RefusedObjectError,
    SerializationError,
    UnknownPolicyClassError,
    UnsafeObjectError,
)
from stable_baselines_io.format import registry, validators
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.rebuild import MAX_NESTING
from stable_baselines_io.format.safe_pickle import safe_loads
from stable_baselines_io.type_aliases import DataDict

TYPE_KEY = ":type:"
CODEC_KEY = ":codec:"
SERIALIZED_KEY = ":serialized:"

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_JSON_NUMBER_KINDS = {"b", "i", "u"}
_JSON_FLOAT_DTYPES = {np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)}
#: How many bytes of objects ``json.loads`` may make per byte of JSON text, charged up front.
_JSON_EXPANSION = 4
#: The most values one data key may expand to when written: JSON has no shared references, so a
#: value whose containers share parts is written once per path (``x = [x0, x0]`` nested 30 times
#: would write 2**30 leaves).
MAX_ENCODED_VALUES = 1 << 22


# --- public API -------------------------------------------------------------------------------


def data_to_json(data: DataDict, allow_pickle: bool = True) -> str:
    """Serialize the data dictionary to a JSON string.

    :param data: attribute name -> value (string keys)
    :param allow_pickle: let values without a JSON codec fall back to cloudpickle; if False they
        raise instead (the training state is always pickle-free)
    :return: the JSON text (strict JSON: no NaN or Infinity literals)
    :raises SerializationError: when a key is not a string or a value cannot be written
    """
    if not isinstance(data, dict):
        raise SerializationError(f"the data dictionary must be a dict, received {type(data).__name__}")
    encoded = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise SerializationError(f"data keys must be strings, received {key!r}")
        try:
            _check_expanded_size(value)
            encoded[key] = encode_value(value)
        except SerializationError as error:
            raise SerializationError(f"cannot write data key {key!r}: {error}") from error
        if not allow_pickle and _needs_pickle(encoded[key]):
            raise SerializationError(
                f"{key!r} holds a {type(value).__name__} with no JSON codec, and pickle is not allowed here: "
                "store plain values, NumPy values or a class registered with register_serializable"
            )
    return json.dumps(encoded, indent=4, allow_nan=False)


def _check_expanded_size(value: Any) -> None:
    """Refuse a value that JSON would expand beyond :data:`MAX_ENCODED_VALUES`, or that contains itself.

    :param value: one data value
    :raises SerializationError: it does
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def expanded(item: Any) -> int:
        if isinstance(item, dict):
            children: Any = [part for pair in item.items() for part in pair]
        elif isinstance(item, (list, tuple, set, frozenset, deque)):
            children = item
        else:
            return 1
        identity = id(item)
        if identity in sizes:
            return sizes[identity]
        if identity in in_progress:
            raise SerializationError(f"a {type(item).__name__} contains itself: JSON cannot hold a cycle")
        in_progress.add(identity)
        total = 1 + sum(expanded(child) for child in children)
        in_progress.discard(identity)
        if total > MAX_ENCODED_VALUES:
            raise SerializationError(
                f"the value expands to more than {MAX_ENCODED_VALUES:,} values when written (its containers share "
                "parts, which JSON writes once per path)"
            )
        sizes[identity] = total
        return total

    try:
        expanded(value)
    except RecursionError as error:
        raise SerializationError("the value is nested too deeply to be written") from error


def _needs_pickle(encoded: Any) -> bool:
    if isinstance(encoded, dict):
        return SERIALIZED_KEY in encoded or any(_needs_pickle(item) for item in encoded.values())
    if isinstance(encoded, list):
        return any(_needs_pickle(item) for item in encoded)
    return False


def json_to_data(
    json_string: str | bytes,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
    source: str | None = None,
    member: str = "data",
    budget: LoadBudget | None = None,
    allow_pickle: bool = True,
) -> DataDict:
    """Rebuild the data dictionary from :func:`data_to_json` output, or a Stable Baselines file's.

    Nothing is built before it is validated (see :mod:`.validators`); what is built is charged
    to ``budget``.

    :param json_string: the JSON text
    :param custom_objects: values that replace stored keys; the stored value is never decoded
    :param safe_mode: refuse to unpickle anything that could run code (pickled functions,
        classes not on the allow-list); False unpickles with cloudpickle (trusted files only)
    :param source: the file, named in error messages
    :param member: the archive member the JSON comes from, named in error messages
    :param budget: the load budget (default: one for the size of ``json_string``)
    :param allow_pickle: False refuses every pickle envelope unread (the training state)
    :return: attribute name -> value
    :raises CorruptAgentFileError: the text is not a JSON object
    :raises UnsafeObjectError: a key needs code execution and ``safe_mode`` is on, or holds a
        pickle where ``allow_pickle`` is False
    :raises DeserializationError: a stored object cannot be rebuilt
    :raises LoadBudgetExceededError: rebuilding would exceed the load budget
    """
    if budget is None:
        budget = LoadBudget.for_file(len(json_string), source=source)
    budget.charge(_JSON_EXPANSION * len(json_string), "parsing the JSON text", member)
    try:
        stored = json.loads(json_string)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise CorruptAgentFileError(f"invalid JSON: {error}", path=source, member=member) from error
    if not isinstance(stored, dict):
        raise CorruptAgentFileError(
            f"expected a JSON object, received a JSON {type(stored).__name__}", path=source, member=member
        )
    custom_objects = custom_objects or {}
    data: DataDict = {}
    for key, value in stored.items():
        if key in custom_objects:
            data[key] = custom_objects[key]
            continue
        data[key] = decode_value(value, safe_mode=safe_mode, key=key, source=source, member=member, budget=budget,
                                 allow_pickle=allow_pickle)
    return data


# --- encoding ---------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """One value -> its JSON-able form (plain JSON, a codec object, or a pickle envelope).

    :param value: any value
    :return: a JSON-able object
    """
    value_type = type(value)
    if value is None or value_type in (bool, str):
        return value
    if value_type is int:
        return value
    if value_type is float:
        return value if math.isfinite(value) else _envelope(value, "float", value=_finite_or_name(value))
    if value_type is list:
        return [encode_value(item) for item in value]
    if value_type is dict and all(isinstance(key, str) and not key.startswith(":") for key in value):
        return {key: encode_value(item) for key, item in value.items()}
    for codec in _CODECS:
        if codec.matches(value):
            return _envelope(value, codec.name, **codec.encode(value))
    return _pickle_envelope(value)


def _envelope(original: Any, codec_name: str, **fields: Any) -> dict[str, Any]:
    type_name = "<class 'type'>" if isinstance(original, registry.ClassReference) else str(type(original))
    return {TYPE_KEY: type_name, CODEC_KEY: codec_name, **fields}


def _pickle_envelope(value: Any) -> dict[str, Any]:
    try:
        serialized = base64.b64encode(cloudpickle.dumps(value)).decode("ascii")
    except Exception as error:
        raise SerializationError(f"{type(value).__name__} has no JSON codec and cannot be pickled: {error}") from error
    envelope: dict[str, Any] = {TYPE_KEY: str(type(value)), SERIALIZED_KEY: serialized}
    attributes = value if isinstance(value, dict) else getattr(value, "__dict__", {})
    for name, attribute in dict(attributes).items():
        if isinstance(name, str) and not name.startswith(":"):
            envelope[name] = attribute if _is_plain_json(attribute) else str(attribute)
    return envelope


def _is_plain_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _finite_or_name(number: float) -> float | str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def _array_fields(array: np.ndarray) -> dict[str, Any]:
    dtype = array.dtype
    fields: dict[str, Any] = {"dtype": np.lib.format.dtype_to_descr(dtype), "shape": list(array.shape)}
    if dtype.kind in _JSON_NUMBER_KINDS or dtype.newbyteorder("=") in _JSON_FLOAT_DTYPES:
        values = array.tolist()
        fields["values"] = _map_floats(values, _finite_or_name) if dtype.kind == "f" else values
    elif dtype.hasobject:
        raise SerializationError("arrays of Python objects have no JSON codec")
    else:
        fields["bytes"] = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
    return fields


def _map_floats(values: Any, function: Callable[[Any], Any]) -> Any:
    if isinstance(values, list):
        return [_map_floats(item, function) for item in values]
    return function(values)


class _Codec:
    """How one kind of value is written and read back."""

    def __init__(
        self,
        name: str,
        matches: Callable[[Any], bool],
        encode: Callable[[Any], dict[str, Any]],
        decode: Callable[[dict[str, Any], _Decoder], Any],
    ):
        self.name = name
        self.matches = matches
        self.encode = encode
        self.decode = decode


def _items(values: Any) -> list[Any]:
    return [encode_value(item) for item in values]


def _space_fields(space: gymnasium.Space) -> dict[str, Any]:
    if isinstance(space, gymnasium.spaces.Box):
        return {"low": encode_value(space.low), "high": encode_value(space.high), "shape": list(space.shape),
                "dtype": np.lib.format.dtype_to_descr(space.dtype)}
    if isinstance(space, gymnasium.spaces.Discrete):
        return {"n": int(space.n), "start": int(space.start)}
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return {"nvec": encode_value(space.nvec), "start": encode_value(space.start),
                "dtype": np.lib.format.dtype_to_descr(space.dtype)}
    if isinstance(space, gymnasium.spaces.MultiBinary):
        return {"n": space.n if isinstance(space.n, int) else [int(size) for size in space.n]}
    if isinstance(space, gymnasium.spaces.Tuple):
        return {"spaces": _items(space.spaces)}
    if isinstance(space, gymnasium.spaces.Dict):
        return {"spaces": [[encode_value(key), encode_value(item)] for key, item in space.spaces.items()]}
    raise AssertionError(f"no space codec for {type(space).__name__}")


_SPACE_TYPES = (
    gymnasium.spaces.Box,
    gymnasium.spaces.Discrete,
    gymnasium.spaces.MultiDiscrete,
    gymnasium.spaces.MultiBinary,
    gymnasium.spaces.Tuple,
    gymnasium.spaces.Dict,
)


def _decode_space(fields: dict[str, Any], decode: _Decoder) -> gymnasium.Space:
    kind = fields["space"]
    if kind == "Box":
        return validators.box_from(decode(fields["low"]), decode(fields["high"]),
                                   validators.plain_dtype(fields["dtype"]), fields["shape"])
    if kind == "Discrete":
        return validators.discrete_from(fields["n"], fields.get("start", 0))
    if kind == "MultiDiscrete":
        return validators.multi_discrete_from(decode(fields["nvec"]), decode(fields["start"]),
                                              validators.plain_dtype(fields["dtype"]))
    if kind == "MultiBinary":
        return validators.multi_binary_from(fields["n"])
    if kind == "Tuple":
        return validators.tuple_space_from([decode(item) for item in fields["spaces"]])
    if kind == "Dict":
        return validators.dict_space_from((decode(key), decode(item)) for key, item in fields["spaces"])
    raise ValueError(f"unknown space kind {kind!r}")


def _decode_array(fields: dict[str, Any], decode: _Decoder) -> np.ndarray:
    dtype = validators.plain_dtype(fields["dtype"])
    if "bytes" in fields:
        raw = base64.b64decode(fields["bytes"], validate=True)
        return validators.array_from_bytes(raw, dtype, fields["shape"], budget=decode.budget)
    values = fields["values"]
    if dtype.kind == "f":
        values = _map_floats(values, lambda item: _NON_FINITE.get(item, item) if isinstance(item, str) else item)
    return validators.array_from_values(values, dtype, fields["shape"], decode.budget)


def _decode_scalar(fields: dict[str, Any], decode: _Decoder) -> np.generic:
    scalar: np.generic = _decode_array({**fields, "shape": []}, decode)[()]  # type: ignore[assignment]
    return scalar


def _is_plain(dtype: np.dtype) -> bool:
    """Whether the codecs write ``dtype`` (the ones :func:`~.validators.plain_dtype` reads back)."""
    try:
        return validators.plain_dtype(np.lib.format.dtype_to_descr(dtype)) == dtype
    except (InvalidStoredValueError, ValueError, TypeError):
        return False


def _random_state_fields(state: np.random.RandomState) -> dict[str, Any]:
    name, keys, position, has_gauss, cached_gaussian = state.get_state(legacy=True)
    return {"bit_generator": name, "keys": encode_value(keys), "pos": int(position), "has_gauss": int(has_gauss),
            "cached_gaussian": _finite_or_name(float(cached_gaussian))}


def _decode_random_state(fields: dict[str, Any], decode: _Decoder) -> np.random.RandomState:
    if fields["bit_generator"] != "MT19937":
        raise validators.fail(f"a RandomState uses MT19937, received {fields['bit_generator']!r}")
    cached = fields["cached_gaussian"]
    return validators.random_state_from(decode(fields["keys"]), fields["pos"], fields["has_gauss"],
                                        _NON_FINITE.get(cached, cached) if isinstance(cached, str) else cached)


_BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.MT19937, np.random.PCG64, np.random.PCG64DXSM,
                                                  np.random.Philox, np.random.SFC64)}


def _generator_fields(generator: np.random.Generator) -> dict[str, Any]:
    return {"state": encode_value(generator.bit_generator.state)}


def _decode_generator(fields: dict[str, Any], decode: _Decoder) -> np.random.Generator:
    return validators.generator_from_state(decode(fields["state"]))


def _registered_fields(instance: Any) -> dict[str, Any]:
    return {"name": registry.registered_name(instance), "config": encode_value(instance.to_config())}


def _decode_registered(fields: dict[str, Any], decode: _Decoder) -> Any:
    cls = _resolve(fields["name"])
    return cls.from_config(decode(fields["config"]))


def _decode_registered_class(fields: dict[str, Any], decode: _Decoder) -> type | registry.ClassReference:
    return _resolve(fields["name"])


def _resolve(name: str) -> Any:
    cls = registry.resolve_registered(name)
    if cls is None:
        raise LookupError(
            f"no class is registered under the name {name!r}: import the module that defines it "
            "(decorated with @register_serializable) before loading"
        )
    return cls


def _is_registered_instance(value: Any) -> bool:
    return not isinstance(value, (type, registry.ClassReference)) and registry.registered_name(value) is not None \
        and hasattr(value, "to_config")


_CODECS: list[_Codec] = [
    _Codec("float", lambda value: False, lambda value: {},
           lambda fields, decode: float(_NON_FINITE.get(fields["value"], fields["value"]))),
    _Codec("tuple", lambda value: type(value) is tuple, lambda value: {"items": _items(value)},
           lambda fields, decode: tuple(decode(item) for item in fields["items"])),
    _Codec("set", lambda value: type(value) is set, lambda value: {"items": _items(value)},
           lambda fields, decode: set(decode.keys(fields["items"], "a set"))),
    _Codec("frozenset", lambda value: type(value) is frozenset, lambda value: {"items": _items(value)},
           lambda fields, decode: frozenset(decode.keys(fields["items"], "a frozenset"))),
    _Codec("dict", lambda value: type(value) is dict,
           lambda value: {"items": [[encode_value(key), encode_value(item)] for key, item in value.items()]},
           lambda fields, decode: dict(decode.pairs(fields["items"]))),
    _Codec("OrderedDict", lambda value: type(value) is OrderedDict,
           lambda value: {"items": [[encode_value(key), encode_value(item)] for key, item in value.items()]},
           lambda fields, decode: OrderedDict(decode.pairs(fields["items"]))),
    _Codec("bytes", lambda value: type(value) is bytes,
           lambda value: {"base64": base64.b64encode(value).decode("ascii")},
           lambda fields, decode: base64.b64decode(fields["base64"], validate=True)),
    _Codec("complex", lambda value: type(value) is complex,
           lambda value: {"real": _finite_or_name(value.real), "imag": _finite_or_name(value.imag)},
           lambda fields, decode: complex(_NON_FINITE.get(fields["real"], fields["real"]),
                                          _NON_FINITE.get(fields["imag"], fields["imag"]))),
    _Codec("numpy.ndarray", lambda value: type(value) is np.ndarray and _is_plain(value.dtype),
           _array_fields, _decode_array),
    _Codec("numpy.scalar", lambda value: isinstance(value, np.generic) and _is_plain(value.dtype),
           lambda value: {key: item for key, item in _array_fields(np.asarray(value)).items() if key != "shape"},
           _decode_scalar),
    _Codec("numpy.dtype", lambda value: isinstance(value, np.dtype) and _is_plain(value),
           lambda value: {"dtype": np.lib.format.dtype_to_descr(value)},
           lambda fields, decode: validators.plain_dtype(fields["dtype"])),
    _Codec("numpy.RandomState", lambda value: type(value) is np.random.RandomState
           and isinstance(value._bit_generator, np.random.MT19937), _random_state_fields, _decode_random_state),
    _Codec("numpy.Generator", lambda value: type(value) is np.random.Generator
           and type(value.bit_generator) in _BIT_GENERATORS.values(), _generator_fields, _decode_generator),
    _Codec("gymnasium.space", lambda value: type(value) in _SPACE_TYPES,
           lambda value: {"space": type(value).__name__, **_space_fields(value)}, _decode_space),
    _Codec("registered", _is_registered_instance, _registered_fields, _decode_registered),
    _Codec("registered_class", lambda value: isinstance(value, (type, registry.ClassReference))
           and registry.registered_name(value) is not None,
           lambda value: {"name": registry.registered_name(value)}, _decode_registered_class),
]
_CODECS_BY_NAME = {codec.name: codec for codec in _CODECS}


# --- decoding ---------------------------------------------------------------------------------


def decode_value(stored: Any, safe_mode: bool = True, key: str = "?", source: str | None = None,
                 member: str = "data", budget: LoadBudget | None = None, allow_pickle: bool = True) -> Any:
    """One stored JSON value -> the Python value.

    :param stored: the JSON-decoded value
    :param safe_mode: see :func:`json_to_data`
    :param key: the data key, named in errors
    :param source: the file, named in errors
    :param member: the archive member, named in errors
    :param budget: the load budget (None: not counted)
    :param allow_pickle: see :func:`json_to_data`
    :return: the value
    """
    return _Decoder(safe_mode, allow_pickle, key, source, member, budget)(stored)


class _Decoder:
    """Decodes the values of one data key, counting nesting and charging the budget."""

    def __init__(self, safe_mode: bool, allow_pickle: bool, key: str, source: str | None, member: str,
                 budget: LoadBudget | None):
        self.safe_mode = safe_mode
        self.allow_pickle = allow_pickle
        self.key = key
        self.source = source
        self.member = member
        self.budget = budget
        self.depth = 0

    def __call__(self, stored: Any) -> Any:
        if not isinstance(stored, (list, dict)):
            return stored
        if self.depth >= MAX_NESTING:
            raise DeserializationError(f"data key {self.key!r} is nested too deeply (more than {MAX_NESTING} levels)",
                                       path=self.source, member=self.member)
        if self.budget is not None:
            self.budget.charge_objects(len(stored) + 1, f"data key {self.key!r}", self.member)
        self.depth += 1
        try:
            return self._decode_container(stored)
        finally:
            self.depth -= 1

    def keys(self, stored: Any, what: str) -> list[Any]:
        """Decode the keys of a dict or the items of a set, refusing keys whose hashes could collide.

        :param stored: the stored keys
        :param what: the container, for errors
        :return: the keys
        """
        keys = [self(item) for item in stored]
        validators.check_keys(keys, what)
        return keys

    def pairs(self, stored: Any) -> list[tuple[Any, Any]]:
        """Decode ``[key, value]`` pairs.

        :param stored: the stored pairs
        :return: the pairs
        """
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in stored):
            raise validators.fail("a dict is stored as a list of [key, value] pairs")
        return list(zip(self.keys([key for key, _ in stored], "a dict"), (self(value) for _, value in stored)))

    def _decode_container(self, stored: list[Any] | dict[str, Any]) -> Any:
        if isinstance(stored, list):
            return [self(item) for item in stored]
        if SERIALIZED_KEY in stored:
            if not self.allow_pickle:
                raise UnsafeObjectError(f"data key {self.key!r} holds a pickle, and this member is never unpickled",
                                        path=self.source, member=self.member)
            return _unpickle(stored, self.safe_mode, self.key, self.source, self.member, self.budget)
        if CODEC_KEY not in stored:
            return {name: self(item) for name, item in stored.items()}
        codec = _CODECS_BY_NAME.get(stored[CODEC_KEY])
        if codec is None:
            raise DeserializationError(
                f"data key {self.key!r} uses the codec {stored[CODEC_KEY]!r}, unknown to this version of "
                "stable-baselines-io: upgrade it, or pass custom_objects={" + repr(self.key) + ": ...}",
                path=self.source, member=self.member,
            )
        try:
            return codec.decode(stored, self)
        except (DeserializationError, CorruptAgentFileError) as error:
            if type(error) is not InvalidStoredValueError or error.member is not None:
                raise
            reason: Exception = error
        except (KeyError, TypeError, ValueError, LookupError, binascii.Error, AttributeError, OverflowError) as error:
            reason = error
        raise InvalidStoredValueError(
            f"cannot rebuild data key {self.key!r} ({stored.get(TYPE_KEY)}, codec {codec.name!r}): {reason}; "
            f"pass custom_objects={{{self.key!r}: ...}} to replace it",
            path=self.source, member=self.member,
        ) from reason


def _unpickle(stored: dict[str, Any], safe_mode: bool, key: str, source: str | None, member: str,
              budget: LoadBudget | None) -> Any:
    try:
        payload = base64.b64decode(stored[SERIALIZED_KEY], validate=True)
    except (binascii.Error, TypeError, ValueError) as error:
        raise CorruptAgentFileError(f"data key {key!r}: ':serialized:' is not valid base64", path=source,
                                    member=member) from error
    if not safe_mode:
        try:
            return cloudpickle.loads(payload)
        except Exception as error:
            raise DeserializationError(
                f"could not deserialize data key {key!r} ({stored.get(TYPE_KEY)}): {error!r}. "
                f"Consider using custom_objects={{{key!r}: ...}} to replace this object",
                path=source, member=member,
            ) from error
    try:
        return safe_loads(payload, budget)
    except RefusedObjectError as error:
        raise unsafe_object_error(key, error.description, source, member=member, reference=error.reference) \
            from error
    except LoadBudgetExceededError:
        raise
    except InvalidStoredValueError as error:
        raise InvalidStoredValueError(f"cannot rebuild data key {key!r}: {error}; pass custom_objects="
                                      f"{{{key!r}: ...}} to replace it", path=source, member=member) from error
    except Exception as error:  # any error from a damaged or hostile pickle (LookupError, OverflowError...)
        raise DeserializationError(
            f"could not deserialize data key {key!r} ({stored.get(TYPE_KEY)}): {error!r}. "
            f"Consider using custom_objects={{{key!r}: ...}} to replace this object",
            path=source, member=member,
        ) from error


def unsafe_object_error(key: str, refused: str, source: str | None, member: str,
                        reference: str | None = None) -> UnsafeObjectError:
    """The error for a data key that safe mode will not rebuild, with the two ways forward.

    :param key: the data key
    :param refused: what the pickle asked for (:attr:`~.RefusedObjectError.description`)
    :param source: the file
    :param member: the archive member
    :param reference: the qualified name the pickle refers to (:attr:`~.RefusedObjectError.reference`),
        if any: for the ``policy`` key the error is an :class:`~.UnknownPolicyClassError` carrying it
    :return: the exception (to raise)
    """
    example = "a policy class of this library, e.g. MlpPolicy; or policy=MlpPolicy to load()" if key == "policy" \
        else "e.g. a float for a learning rate"
    message = (f"data key {key!r} holds {refused}, which safe mode does not rebuild because "
               f"unpickling it could run code from the file. Pass custom_objects={{{key!r}: <value>}} to replace it "
               f"({example}), or safe_mode=False if you trust the file and have its code installed")
    if key == "policy" and reference is not None:
        return UnknownPolicyClassError(message, stored_class=reference, path=source, member=member)
    return UnsafeObjectError(message, path=source, member=member)
