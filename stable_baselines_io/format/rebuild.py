"""Turn the safe unpickler's inert records into objects, after validating them.

Each allowed call has one rebuilder here, which reads the record's arguments and state as plain
values and hands them to a builder of :mod:`.validators`; every other call or reference raises
:class:`~stable_baselines_io.exceptions.RefusedObjectError`. Shared references are rebuilt once
(a graph of repeated references costs its size, not the number of paths through it), nesting is
bounded, and every container and array is charged to the load budget.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.exceptions import RefusedObjectError
from stable_baselines_io.format import names, registry
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.code_records import CodeRecord, code_record_from_args, schedule_shape
from stable_baselines_io.format.records import Call, Global
from stable_baselines_io.format.validators import (
    array_from_bytes,
    bit_generator_from_state,
    box_from,
    check_float,
    check_int,
    check_keys,
    check_random_state,
    dict_space_from,
    discrete_from,
    dtype_from_pickle,
    fail,
    multi_binary_from,
    multi_discrete_from,
    random_state_from,
    random_state_parts,
    scalar_from_bytes,
    tuple_space_from,
)

#: The deepest nesting of containers and records rebuilt.
MAX_NESTING = 100

#: TensorFlow activation functions that Stable Baselines 2 users pass as ``act_fun`` in
#: ``policy_kwargs``; a pickle naming one is read as the activation's name.
TENSORFLOW_ACTIVATIONS = frozenset({"relu", "tanh", "sigmoid", "elu", "selu", "softplus", "softsign", "relu6",
                                    "swish", "leaky_relu", "identity"})
_SPACE_MODULES = ("gym.spaces", "gymnasium.spaces")
_SPACE_NAMES = frozenset({"Box", "Discrete", "MultiDiscrete", "MultiBinary", "Tuple", "Dict"})
#: cloudpickle's function makers: a pickle calling them holds a function (refused, but described).
_FUNCTION_MAKERS = frozenset({"_fill_function", "_make_function", "_make_skel_func"})
#: SB2's ``stable_baselines.common.schedules`` classes, by the registered name of their equivalent.
_SB2_SCHEDULE_OBJECTS = frozenset({"schedules.ConstantSchedule", "schedules.LinearSchedule",
                                   "schedules.PiecewiseSchedule"})
_SB2_LINEAR_INTERPOLATION = ("stable_baselines.common.schedules", "linear_interpolation")
_BIT_GENERATOR_CLASSES = {("numpy.random._mt19937", "MT19937"): "MT19937", ("numpy.random._pcg64", "PCG64"): "PCG64",
                          ("numpy.random._pcg64", "PCG64DXSM"): "PCG64DXSM",
                          ("numpy.random._philox", "Philox"): "Philox", ("numpy.random._sfc64", "SFC64"): "SFC64"}
_SEED_SEQUENCE = ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence")
_NOT_DONE = object()
_PLAIN = frozenset({str, int, float, bool, type(None), bytes, complex})
#: Calls whose result takes appended items (``APPENDS``, ``ADDITEMS``) or entries (``SETITEMS``).
_TAKE_ITEMS = frozenset({("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"), ("builtins", "tuple")})
_TAKE_ENTRIES = frozenset({("builtins", "dict"), ("collections", "OrderedDict")})
#: Builtin types a pickle may name as values (e.g. ``policy=object``); calling them is handled apart.
_TYPE_REFERENCES: dict[tuple[str, str], type] = {
    **{("builtins", cls.__name__): cls for cls in (object, set, frozenset, list, dict, tuple, complex, slice, range,
                                                     bytearray, bytes, str, int, float, bool)},
    ("collections", "OrderedDict"): OrderedDict,
}


class Rebuilder:
    """Rebuilds records into objects; one per load, so references shared between keys stay shared.

    :param budget: the load budget charged with what is rebuilt
    """

    def __init__(self, budget: LoadBudget | None = None):
        self.budget = budget
        self._done: dict[int, Any] = {}
        self._in_progress: set[int] = set()
        self._calls: dict[tuple[str, str], Callable[[Call, int], Any]] = {
            ("builtins", "set"): self._set,
            ("builtins", "frozenset"): self._set,
            ("builtins", "list"): self._list,
            ("builtins", "tuple"): self._list,
            ("builtins", "dict"): self._dict,
            ("collections", "OrderedDict"): self._dict,
            ("builtins", "complex"): self._complex,
            ("builtins", "slice"): self._slice,
            ("builtins", "range"): self._range,
            ("builtins", "bytearray"): self._bytearray,
            ("builtins", "bytes"): self._bytes,
            ("_codecs", "encode"): self._encode,
            ("copyreg", "_reconstructor"): self._reconstructor,
            ("numpy._core.multiarray", "_reconstruct"): self._ndarray,
            ("numpy._core.multiarray", "scalar"): self._scalar,
            ("numpy._core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy", "dtype"): self._dtype,
            ("numpy.random._pickle", "__randomstate_ctor"): self._random_state,
            ("numpy.random", "__RandomState_ctor"): self._random_state,
            ("numpy.random.mtrand", "RandomState"): self._random_state,
            ("numpy.random._pickle", "__bit_generator_ctor"): self._bit_generator,
            ("numpy.random._pickle", "__generator_ctor"): self._generator,
        }

    def rebuild(self, value: Any, depth: int = 0) -> Any:
        """The object ``value`` describes.

        :param value: plain values and records from :func:`~.safe_pickle.load_records`
        :param depth: the current nesting
        :return: the object
        :raises RefusedObjectError: something safe mode does not rebuild
        :raises InvalidStoredValueError: a described object fails validation
        """
        value_type = type(value)
        if value_type in _PLAIN:
            return value
        identity = id(value)
        done = self._done.get(identity, _NOT_DONE)
        if done is not _NOT_DONE:
            return done
        if depth > MAX_NESTING:
            raise fail(f"the pickle is nested more than {MAX_NESTING} levels deep")
        if value_type is list:
            rebuilt_list: list[Any] = []
            self._done[identity] = rebuilt_list
            self._charge(len(value))
            rebuilt_list.extend(self.rebuild(item, depth + 1) for item in value)
            return rebuilt_list
        if value_type is dict:
            rebuilt_dict: dict[Any, Any] = {}
            self._done[identity] = rebuilt_dict
            rebuilt_dict.update(self._pairs(value.items(), depth, "a dict"))
            return rebuilt_dict
        if value_type is tuple:  # a cycle through a tuple passes through a list, dict or call
            self._charge(len(value))
            result = tuple([self.rebuild(item, depth + 1) for item in value])
        else:
            if identity in self._in_progress:
                raise fail("the pickle holds a reference cycle through an object, which safe mode does not rebuild")
            self._in_progress.add(identity)
            try:
                result = self._rebuild_immutable(value, depth)
            finally:
                self._in_progress.discard(identity)
        self._done[identity] = result
        return result

    def _rebuild_immutable(self, value: Any, depth: int) -> Any:
        if type(value) is Call:
            return self._call(value, depth)
        if type(value) in (set, frozenset):
            return type(value)(self._items(value, depth, "a set"))
        if type(value) is bytearray:
            return bytearray(value)
        if type(value) is Global:
            return self._reference(value)
        raise fail(f"the pickle holds a {type(value).__name__}, which safe mode does not rebuild")

    # --- helpers ------------------------------------------------------------------------------

    def _charge(self, count: int) -> None:
        if self.budget is not None:
            self.budget.charge_objects(count + 1, "the objects a pickle makes")

    def _items(self, items: Any, depth: int, what: str) -> list[Any]:
        items = list(items)
        self._charge(len(items))
        rebuilt = [self.rebuild(item, depth + 1) for item in items]
        check_keys(rebuilt, what)
        return rebuilt

    def _pairs(self, pairs: Any, depth: int, what: str) -> list[tuple[Any, Any]]:
        pairs = list(pairs)
        keys = self._items((key for key, _ in pairs), depth, what)
        return [(key, self.rebuild(value, depth + 1)) for key, (_, value) in zip(keys, pairs)]

    def _state(self, call: Call, depth: int) -> Any:
        return self.rebuild(call.state, depth + 1) if call.has_state else None

    # --- references and calls -----------------------------------------------------------------

    def _reference(self, reference: Global) -> Any:
        module, name = reference.key
        if reference.key in _TYPE_REFERENCES:
            return _TYPE_REFERENCES[reference.key]
        if module.split(".")[0] == "tensorflow" and name in TENSORFLOW_ACTIVATIONS:
            return name
        builtin = names.by_sb2_pickle_name(module, name)
        cls = registry.resolve_registered(builtin.registered_name) if builtin is not None \
            else registry.class_at(module, name)
        if cls is None:
            raise RefusedObjectError(f"a reference to {reference.qualified}", reference=reference.qualified)
        return cls

    def _call(self, call: Call, depth: int) -> Any:
        key = call.key
        if key is None and _builtin_type_name(call.func) == "MethodType":
            return self._sb2_schedule_method(call, depth)
        if key is None:
            raise RefusedObjectError(describe(call))
        handler = self._calls.get(key)
        if handler is not None:
            if call.items or call.entries:
                self._refuse_extras(call, allow_items=key in _TAKE_ITEMS, allow_entries=key in _TAKE_ENTRIES)
            return handler(call, depth)
        module, name = key
        if module.startswith(_SPACE_MODULES) and name in _SPACE_NAMES:
            return self._space(name, call, depth)
        builtin = names.by_sb2_pickle_name(module, name)
        if builtin is not None and builtin.registered_name in _SB2_SCHEDULE_OBJECTS:
            return self._sb2_schedule_object(builtin.registered_name, call, depth)
        if name in _FUNCTION_MAKERS:
            schedule = self._schedule_closure(call, depth)
            if schedule is not None:
                return schedule
        if builtin is None:
            registered = registry.class_at(module, name)
            if registered is not None:
                return self._registered_instance(registered, call, depth)
        raise RefusedObjectError(describe(call))

    @staticmethod
    def _refuse_extras(call: Call, allow_items: bool = False, allow_entries: bool = False) -> None:
        if (call.items and not allow_items) or (call.entries and not allow_entries):
            raise fail(f"the pickle adds items to {call.func!r}, which holds none")

    # --- builtins -----------------------------------------------------------------------------

    def _set(self, call: Call, depth: int) -> set[Any] | frozenset[Any]:
        items = [*self._iterable_argument(call, depth), *call.items]
        rebuilt = self._items(items, depth, "a pickled set")
        return set(rebuilt) if call.key == ("builtins", "set") else frozenset(rebuilt)

    def _list(self, call: Call, depth: int) -> list[Any] | tuple[Any, ...]:
        items = [*self._iterable_argument(call, depth), *call.items]
        self._charge(len(items))
        rebuilt = [self.rebuild(item, depth + 1) for item in items]
        return rebuilt if call.key == ("builtins", "list") else tuple(rebuilt)

    def _dict(self, call: Call, depth: int) -> dict[Any, Any]:
        pairs: list[tuple[Any, Any]] = []
        if call.args:
            (source,) = self._arguments(call, 1)
            if type(source) is dict:
                pairs += list(source.items())
            elif type(source) in (list, tuple) and all(type(pair) in (list, tuple) and len(pair) == 2
                                                       for pair in source):
                pairs += [tuple(pair) for pair in source]
            else:
                raise fail("a pickled dict must be built from a dict or a list of pairs")
        rebuilt = self._pairs([*pairs, *call.entries], depth, "a pickled dict")
        return OrderedDict(rebuilt) if call.key == ("collections", "OrderedDict") else dict(rebuilt)

    def _iterable_argument(self, call: Call, depth: int) -> list[Any]:
        if not call.args:
            return []
        (items,) = self._arguments(call, 1)
        if type(items) not in (list, tuple, set, frozenset):
            raise fail(f"{call.func!r} must be called with a list, received a {type(items).__name__}")
        return list(items)

    @staticmethod
    def _arguments(call: Call, count: int, at_least: int | None = None) -> tuple[Any, ...]:
        low = count if at_least is None else at_least
        if not low <= len(call.args) <= count or call.kwargs:
            raise fail(f"{call.func!r} takes {low} to {count} arguments, the pickle passes {len(call.args)}")
        return call.args

    def _complex(self, call: Call, depth: int) -> complex:
        real, imag = (self.rebuild(part, depth + 1) for part in self._arguments(call, 2))
        return complex(check_float(real, "a complex real part"), check_float(imag, "a complex imaginary part"))

    def _slice(self, call: Call, depth: int) -> slice:
        parts = [self.rebuild(part, depth + 1) for part in self._arguments(call, 3, at_least=1)]
        return slice(*(None if part is None else check_int(part, "a slice bound") for part in parts))

    def _range(self, call: Call, depth: int) -> range:
        parts = [self.rebuild(part, depth + 1) for part in self._arguments(call, 3, at_least=1)]
        return range(*(check_int(part, "a range bound", -(2**63), 2**63) for part in parts))

    def _bytearray(self, call: Call, depth: int) -> bytearray:
        parts = [self.rebuild(part, depth + 1) for part in self._arguments(call, 2, at_least=0)]
        if not parts:
            return bytearray()
        if type(parts[0]) is bytes and len(parts) == 1:
            return bytearray(parts[0])
        if type(parts[0]) is str and len(parts) == 2 and parts[1] in ("latin-1", "latin1"):
            return bytearray(parts[0].encode("latin-1"))
        raise fail("bytearray() is rebuilt only from bytes (a size would allocate without bound)")

    def _bytes(self, call: Call, depth: int) -> bytes:
        """``bytes()`` (how protocol 2 writes ``b""``) or ``bytes(b"...")``; never ``bytes(size)``."""
        parts = [self.rebuild(part, depth + 1) for part in self._arguments(call, 1, at_least=0)]
        if parts and type(parts[0]) is not bytes:
            raise fail("bytes() is rebuilt only from bytes (a size would allocate without bound)")
        return parts[0] if parts else b""

    def _encode(self, call: Call, depth: int) -> bytes:
        text, encoding = (self.rebuild(part, depth + 1) for part in self._arguments(call, 2))
        if type(text) is not str or encoding not in ("latin1", "latin-1"):
            raise fail("_codecs.encode is rebuilt only for latin-1 text")
        return text.encode("latin-1")

    def _reconstructor(self, call: Call, depth: int) -> Any:
        cls, base, base_state = self._arguments(call, 3)
        if not isinstance(cls, Global) or not isinstance(base, Global) or base.key != ("builtins", "object") \
                or base_state is not None:
            raise RefusedObjectError(describe(call))
        instance = Call(cls, ())
        instance.state, instance.items, instance.entries = call.state, call.items, call.entries
        return self._call(instance, depth)

    # --- NumPy --------------------------------------------------------------------------------

    def _dtype(self, call: Call, depth: int) -> np.dtype:
        code, align = [*self._arguments(call, 3, at_least=1), False][:2]
        return dtype_from_pickle(code, align, self._state(call, depth))

    def _rebuilt_dtype(self, value: Any, depth: int) -> np.dtype:
        dtype = self.rebuild(value, depth + 1)
        if not isinstance(dtype, np.dtype):
            raise fail(f"expected a pickled dtype, received a {type(dtype).__name__}")
        return dtype

    def _ndarray(self, call: Call, depth: int) -> np.ndarray:
        cls = call.args[0] if len(call.args) == 3 and not call.kwargs else None
        if type(cls) is not Global or cls.key != ("numpy", "ndarray") or not call.has_state:
            raise fail("a pickled array must be a plain numpy.ndarray with its state")
        state = call.state
        if type(state) is not tuple or len(state) not in (4, 5):
            raise fail("a pickled array state must be (version, shape, dtype, is_fortran, data)")
        shape, dtype, fortran_order, data = state[-4:]
        if type(fortran_order) not in (bool, int):
            raise fail("a pickled array's is_fortran flag must be a bool")
        return array_from_bytes(self.rebuild(data, depth + 1), self._rebuilt_dtype(dtype, depth), shape,
                                bool(fortran_order), self.budget)

    def _scalar(self, call: Call, depth: int) -> np.generic:
        dtype, data = self._arguments(call, 2)
        return scalar_from_bytes(self._rebuilt_dtype(dtype, depth), self.rebuild(data, depth + 1))

    def _frombuffer(self, call: Call, depth: int) -> np.ndarray:
        buffer, dtype, shape, order = self._arguments(call, 4)
        if order not in ("C", "F"):
            raise fail(f"array order must be 'C' or 'F', received {order!r}")
        return array_from_bytes(self.rebuild(buffer, depth + 1), self._rebuilt_dtype(dtype, depth),
                                self.rebuild(shape, depth + 1), order == "F", self.budget)

    def _bit_generator_name(self, value: Any, depth: int) -> str:
        """The name of the bit generator a constructor argument stands for (name, class or instance)."""
        if isinstance(value, str):
            return value
        if isinstance(value, Global) and value.key in _BIT_GENERATOR_CLASSES:
            return _BIT_GENERATOR_CLASSES[value.key]
        if isinstance(value, Call) and value.key == ("numpy.random._pickle", "__bit_generator_ctor"):
            return type(self.rebuild(value, depth + 1)).__name__
        raise fail("a pickled random generator must name its bit generator")

    def _random_state(self, call: Call, depth: int) -> np.random.RandomState:
        return random_state_from(*self._random_state_parts(call, depth))

    def _random_state_parts(self, call: Call, depth: int) -> tuple[Any, Any, Any, Any]:
        args = self._arguments(call, 2, at_least=0)
        if args and self._bit_generator_name(args[0], depth) != "MT19937":
            raise fail("a pickled RandomState must use the MT19937 bit generator")
        if len(args) == 2 and not (isinstance(args[1], Global)
                                   and args[1].key == ("numpy.random._pickle", "__bit_generator_ctor")):
            raise RefusedObjectError(describe(call))
        state = self._state(call, depth)
        if isinstance(state, dict):
            return random_state_parts(state)
        if isinstance(state, tuple) and len(state) == 5 and state[0] == "MT19937":
            return state[1], state[2], state[3], state[4]
        raise fail("a pickled RandomState needs its MT19937 state")

    def _discarded(self, value: Any, depth: int) -> None:
        """Validate a value that is dropped (a space's random generator) without building it."""
        if isinstance(value, Call) and self._calls.get(value.key) == self._random_state:  # type: ignore[arg-type]
            check_random_state(*self._random_state_parts(value, depth))
        else:
            self.rebuild(value, depth + 1)

    def _bit_generator(self, call: Call, depth: int) -> np.random.BitGenerator:
        (kind,) = self._arguments(call, 1)
        name = self._bit_generator_name(kind, depth)
        state = call.state
        if type(state) is tuple and len(state) == 2:
            state, seed_sequence = state
            self._check_seed_sequence(seed_sequence, depth)
        return bit_generator_from_state(self.rebuild(state, depth + 1), expected_name=name)

    def _check_seed_sequence(self, seed_sequence: Any, depth: int) -> None:
        """Validate a generator's seed sequence as plain data; it only matters for spawning, and a new
        generator gets its own."""
        if seed_sequence is None:
            return
        if not isinstance(seed_sequence, Call) or seed_sequence.key != _SEED_SEQUENCE:
            raise RefusedObjectError(describe(seed_sequence) if isinstance(seed_sequence, Call)
                                     else f"a {type(seed_sequence).__name__} as a seed sequence")
        self.rebuild(seed_sequence.args[1:], depth + 1)
        self._state(seed_sequence, depth)

    def _generator(self, call: Call, depth: int) -> np.random.Generator:
        args = self._arguments(call, 2, at_least=1)
        if isinstance(args[0], Call):
            bit_generator = self.rebuild(args[0], depth + 1)
            if not isinstance(bit_generator, np.random.BitGenerator):
                raise fail("a pickled Generator must hold a bit generator")
            return np.random.Generator(bit_generator)
        name = self._bit_generator_name(args[0], depth)
        return np.random.Generator(bit_generator_from_state(self._state(call, depth), expected_name=name))

    # --- spaces, schedules, registered classes ------------------------------------------------

    def _space(self, name: str, call: Call, depth: int) -> gymnasium.Space:
        self._refuse_extras(call)
        state = call.state if call.has_state else None
        if type(state) is tuple and len(state) == 2 and type(state[1]) is dict:
            state = {**(state[0] if type(state[0]) is dict else {}), **state[1]}
        if type(state) is not dict or not all(isinstance(key, str) for key in state):
            raise fail(f"a pickled {name} space needs its attributes")
        state = {key[1:] if key in {"_shape", "_np_random"} else key: value for key, value in state.items()}
        self._discarded(state.pop("np_random", None), depth)  # dropped: seed the space to sample from it
        state = {key: self.rebuild(value, depth + 1) for key, value in state.items()}
        dtype = state.get("dtype")
        if name == "Box":
            dtype = np.dtype(np.float32) if dtype is None else dtype
            if not isinstance(dtype, np.dtype):
                raise fail("a Box dtype must be a pickled dtype")
            return box_from(state.get("low"), state.get("high"), dtype, state.get("shape"))
        if name == "Discrete":
            return discrete_from(state.get("n"), state.get("start", 0))
        if name == "MultiDiscrete":
            return multi_discrete_from(state.get("nvec"), state.get("start"),
                                       dtype if isinstance(dtype, np.dtype) else None)
        if name == "MultiBinary":
            return multi_binary_from(state.get("n"))
        if name == "Tuple":
            return tuple_space_from(state.get("spaces"))
        spaces = state.get("spaces")
        if not isinstance(spaces, dict):
            raise fail("a Dict space must hold a dict of spaces")
        return dict_space_from(spaces.items())

    def _sb2_schedule_object(self, registered_name: str, call: Call, depth: int) -> Any:
        """A ``stable_baselines.common.schedules`` object, read from its attributes.

        SB2's schedules are functions of their argument ``t``; the learning rate or clip range
        callables of PPO2 and A2C received the remaining progress, so ``t`` is read as the
        remaining progress and the schedule becomes the library's equivalent over it:

        - ``ConstantSchedule(value)``: ``{"_v": value}``;
        - ``LinearSchedule(schedule_timesteps, final_p, initial_p)``: ``initial_p`` at ``t = 0``
          to ``final_p`` at ``t = schedule_timesteps``, then ``final_p``;
        - ``PiecewiseSchedule(endpoints, outside_value=...)`` with SB2's ``linear_interpolation``.
        """
        self._refuse_extras(call)
        raw_state = call.state if call.has_state and type(call.state) is dict else None
        if raw_state is None or call.args:
            raise RefusedObjectError(describe(call))
        # The interpolation is a reference to SB2's function: checked by name, never rebuilt.
        interpolation = raw_state.get("_interpolation")
        state = self.rebuild({key: value for key, value in raw_state.items() if key != "_interpolation"}, depth + 1)
        if registered_name == "schedules.ConstantSchedule":
            return _library_schedule(registered_name, {"value": _number(state.get("_v"), call)})
        if registered_name == "schedules.LinearSchedule":
            total = _number(state.get("schedule_timesteps"), call)
            initial, final = _number(state.get("initial_p"), call), _number(state.get("final_p"), call)
            if total <= 0:
                raise RefusedObjectError(f"{describe(call)} with schedule_timesteps={total}: expected a positive "
                                         "number")
            return _library_schedule("schedules.PiecewiseSchedule", {
                "endpoints": [[0.0, initial], [total, final]], "outside_value": None, "remaining": True})
        if not isinstance(interpolation, Global) or interpolation.key != _SB2_LINEAR_INTERPOLATION:
            raise RefusedObjectError(f"{describe(call)} whose interpolation is not SB2's linear_interpolation")
        endpoints = state.get("_endpoints")
        if not isinstance(endpoints, (list, tuple)) or not endpoints or \
                not all(isinstance(point, (list, tuple)) and len(point) == 2 for point in endpoints):
            raise RefusedObjectError(f"{describe(call)} without (t, value) endpoints")
        outside = state.get("_outside_value")
        points = [[_number(t, call), _number(value, call)] for t, value in endpoints]
        if points != sorted(points):
            raise RefusedObjectError(f"{describe(call)} whose endpoints are not sorted")
        return _library_schedule("schedules.PiecewiseSchedule", {
            "endpoints": points, "outside_value": None if outside is None else _number(outside, call),
            "remaining": True})

    def _sb2_schedule_method(self, call: Call, depth: int) -> Any:
        """``schedule.value`` of an SB2 schedule object (a bound method), passed as a schedule callable."""
        args = call.args
        method = args[0] if len(args) == 2 else None
        if not isinstance(method, Global) or not isinstance(args[1], Call) or args[1].key is None:
            raise RefusedObjectError("a pickled bound method")
        class_name, _, attribute = method.key[1].partition(".")
        builtin = names.by_sb2_pickle_name(method.key[0], class_name)
        if attribute != "value" or builtin is None or builtin.registered_name not in _SB2_SCHEDULE_OBJECTS \
                or args[1].key != (method.key[0], class_name):
            raise RefusedObjectError(f"a pickled bound method {method.qualified}")
        return self._sb2_schedule_object(builtin.registered_name, args[1], depth)

    def _schedule_closure(self, call: Call, depth: int) -> Any:
        """Read a schedule closure from its pickle, without running it.

        The function is recognised by what its code does, whatever its name or module
        (:func:`.code_records.schedule_shape`): a constant, as SB2's ``constfn(value)``, or
        ``progress * value``, as the zoo's ``linear_schedule``. Anything else is None (refused).
        """
        state = _function_state(call)
        if state is None:
            return None
        closure = state.get("closure_values")
        closure = [] if closure is None else closure
        if not isinstance(closure, list):
            return None
        closure = [self.rebuild(value, depth + 1) if isinstance(value, Call)
                   and value.key == ("numpy._core.multiarray", "scalar") else value for value in closure]
        code = _code_record(call)
        shape = None if code is None else schedule_shape(code, closure)
        if shape is None:
            return None
        kind, value = shape
        if kind == "constant":
            return _library_schedule("schedules.ConstantSchedule", {"value": value})
        return _library_schedule("schedules.LinearSchedule", {"initial_value": value, "final_value": 0.0,
                                                               "end_fraction": 1.0})

    def _registered_instance(self, cls: type | registry.ClassReference, call: Call, depth: int) -> Any:
        """An instance of a registered class (a schedule), rebuilt with its ``from_config``."""
        self._refuse_extras(call)
        if isinstance(cls, registry.ClassReference):
            cls = cls.resolve()
        state = self._state(call, depth)
        if call.args or not isinstance(state, dict) or not hasattr(cls, "from_config"):
            raise RefusedObjectError(describe(call))
        return cls.from_config(state)


def _library_schedule(registered_name: str, config: dict[str, Any]) -> Any:
    schedule_class = registry.resolve_registered(registered_name)
    if isinstance(schedule_class, registry.ClassReference):
        schedule_class = schedule_class.resolve()
    assert schedule_class is not None, "the library's schedules are always registered"
    return schedule_class.from_config(config)  # type: ignore[attr-defined]


def _number(value: Any, call: Call) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise RefusedObjectError(f"{describe(call)} holding {type(value).__name__} where a number was expected")
    return float(value)


def _builtin_type_name(func: Any) -> str | None:
    """``"CodeType"`` for cloudpickle's ``_builtin_type("CodeType")`` record, else None."""
    if isinstance(func, Call) and func.key is not None and func.key[1] == "_builtin_type" \
            and func.key[0].startswith("cloudpickle") and len(func.args) == 1 and isinstance(func.args[0], str):
        return func.args[0]
    return None


def _code_record(call: Call) -> CodeRecord | None:
    """The code record of a pickled function (``_fill_function(_make_skel_func(code, ...))``,
    ``_make_skel_func(code, ...)`` or ``_make_function(code, ...)``)."""
    inner = call.args[0] if call.args else None
    if call.key is not None and call.key[1] == "_fill_function" and isinstance(inner, Call):
        inner = inner.args[0] if inner.key is not None and inner.key[1] == "_make_skel_func" and inner.args else None
    if not isinstance(inner, Call) or _builtin_type_name(inner.func) != "CodeType":
        return None
    return code_record_from_args(inner.args)


def describe(call: Call | Global) -> str:
    """What a refused record asked for, naming a function's qualified name when the pickle holds it.

    :param call: a call or reference record
    :return: e.g. ``"a pickled function 'linear_schedule.<locals>.func' (module utils)"``
    """
    if isinstance(call, Global):
        return f"a reference to {call.qualified}"
    if isinstance(call.func, Call):
        return describe(call.func)
    state = _function_state(call)
    if state is not None:
        qualname = state.get("qualname") or state.get("__qualname__") or "?"
        module = state.get("module") or state.get("__module__") or "?"
        return f"a pickled function {_text(qualname)!r} (module {_text(module)})"
    return f"a pickled {call.func.qualified}"


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _function_state(call: Call) -> dict[str, Any] | None:
    """The attribute dict cloudpickle stored for a function, for both of its historical layouts."""
    key = call.key
    if key is None:
        return None
    if key[1] == "_fill_function":
        states = [arg for arg in call.args if type(arg) is dict and "qualname" in arg]
        return states[0] if states else None
    if key[1] in {"_make_function", "_make_skel_func"}:
        state = call.state
        if type(state) is tuple and len(state) == 2 and type(state[1]) is dict:
            slots = dict(state[1])
            closure = slots.get("__closure__")
            if type(closure) is tuple:
                slots["closure_values"] = [_cell_value(cell) for cell in closure]
            return slots
    return None


def _cell_value(cell: Any) -> Any:
    if isinstance(cell, Call) and cell.key is not None and cell.key[1] == "_make_cell":
        return cell.args[0] if cell.args else None
    return cell
