"""Reading pickles without running code from them (safe mode).

:func:`safe_loads` rebuilds only an allow-list of harmless classes: NumPy arrays, scalars, dtypes
and random generators (NumPy 1 and NumPy 2 module paths), builtin containers, ``gym`` /
``gymnasium`` spaces (rebuilt as gymnasium spaces) and the policy classes of Stable Baselines 2
and of this library, by name. Every other global a pickle names (a function, an unknown class,
``os.system``...) becomes a :class:`RefusedObject` that records what the pickle asked for without
calling anything. Callers then decide per data key: replace it (``custom_objects``), recover it
(a Stable Baselines 2 constant schedule), or report it by name.
"""

from __future__ import annotations

import io
import numbers
import pickle
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np

from stable_baselines_io.format import registry

if TYPE_CHECKING:
    from stable_baselines_io.schedules import ConstantSchedule

MAX_NESTING = 200
#: cloudpickle restores a function's or class's state by calling these on the new object.
_STATE_SETTERS = {"_function_setstate", "_class_setstate"}


class RefusedObject:
    """Stands in for an object whose class or function safe mode does not rebuild.

    Subclasses are made per global (see :func:`refused_class`); instances record the constructor
    arguments and state the pickle supplied, so nothing from the file is ever called.
    """

    refused_module: str = ""
    refused_name: str = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> RefusedObject:
        instance = super().__new__(cls)
        instance.__dict__["_refused_args"] = args
        instance.__dict__["_refused_state"] = None
        instance.__dict__["_refused_items"] = []
        if cls.refused_name in _STATE_SETTERS and args and isinstance(args[0], RefusedObject) and len(args) > 1:
            args[0].__dict__["_refused_state"] = args[1]
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_refused_state"] = state

    def __call__(self, *args: Any, **kwargs: Any) -> RefusedObject:
        return refused_class(self.refused_module, f"{self.refused_name}()")(*args)

    def append(self, item: Any) -> None:
        self.__dict__["_refused_items"].append(item)

    def extend(self, items: Any) -> None:
        self.__dict__["_refused_items"].extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__["_refused_items"].append((key, value))

    @property
    def refused_global(self) -> str:
        """``module.name`` of what the pickle asked for."""
        return f"{self.refused_module}.{self.refused_name}"

    def __repr__(self) -> str:
        return f"<refused {self.refused_global}>"


_refused_classes: dict[tuple[str, str], type[RefusedObject]] = {}


def refused_class(module: str, name: str) -> type[RefusedObject]:
    """The stand-in class for the global ``module.name`` (one class per global).

    :param module: module named by the pickle
    :param name: attribute named by the pickle
    :return: a subclass of :class:`RefusedObject`
    """
    key = (module, name)
    if key not in _refused_classes:
        _refused_classes[key] = type(
            "Refused_" + name.replace(".", "_"), (RefusedObject,), {"refused_module": module, "refused_name": name}
        )
    return _refused_classes[key]


class _SpaceStandIn(RefusedObject):
    """A pickled gym/gymnasium space, rebuilt as a gymnasium space after unpickling."""


def _space_class(module: str, name: str) -> type[RefusedObject]:
    key = ("space", module, name)
    if key not in _refused_classes:  # type: ignore[comparison-overlap]
        _refused_classes[key] = type(  # type: ignore[index]
            "Space_" + name, (_SpaceStandIn,), {"refused_module": module, "refused_name": name}
        )
    return _refused_classes[key]  # type: ignore[index]


def _numpy_global(module: str, name: str) -> Any:
    """``numpy.core.*`` (NumPy 1 pickles) and ``numpy._core.*`` (NumPy 2) name the same objects."""
    import importlib

    # the NumPy 2 path first: NumPy 2 warns when its numpy.core aliases are imported
    for candidate in (module.replace("numpy.core", "numpy._core"), module.replace("numpy._core", "numpy.core")):
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"{module}.{name} is not available in this NumPy")


def _random_state_ctor(*args: Any) -> np.random.RandomState:
    """NumPy < 1.17 pickled RandomState as ``numpy.random.__RandomState_ctor()`` then setstate."""
    return np.random.RandomState()


_NUMPY_ALLOWED: set[tuple[str, str]] = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random.mtrand", "RandomState"),
    ("numpy.random._mt19937", "MT19937"),
    ("numpy.random._pcg64", "PCG64"),
    ("numpy.random._pcg64", "PCG64DXSM"),
    ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"),
    ("numpy.random._generator", "Generator"),
}

_BUILTINS_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("builtins", "range"): range,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "tuple"): tuple,
    ("builtins", "object"): object,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("collections", "OrderedDict"): OrderedDict,
    ("copyreg", "_reconstructor"): None,  # resolved below, after the unpickler restricts its inputs
    ("_codecs", "encode"): None,
}

#: Stable Baselines 2 policy classes and the registered names of the classes that replace them.
SB2_POLICY_NAMES: dict[tuple[str, str], str] = {
    ("stable_baselines.common.policies", "MlpPolicy"): "actor_critic.MlpPolicy",
    ("stable_baselines.deepq.policies", "MlpPolicy"): "dqn.MlpPolicy",
    ("stable_baselines.deepq.policies", "LnMlpPolicy"): "dqn.LnMlpPolicy",
}

#: TensorFlow activation functions that Stable Baselines 2 users pass as ``act_fun`` in
#: ``policy_kwargs``; a pickle naming one is read as the activation's name.
TENSORFLOW_ACTIVATIONS = {"relu", "tanh", "sigmoid", "elu", "selu", "softplus", "softsign", "relu6", "swish",
                          "leaky_relu", "identity"}

_SPACE_MODULES = ("gym.spaces", "gymnasium.spaces")
_SPACE_NAMES = {"Box", "Discrete", "MultiDiscrete", "MultiBinary", "Tuple", "Dict"}


class SafeUnpickler(pickle._Unpickler):
    """An unpickler that never imports or calls anything outside the allow-list.

    It extends the pure-Python unpickler, whose opcode table can be changed: ``BUILD`` on a class
    or a function would set attributes on it (``ConstantSchedule.__call__ = ...``) for the whole
    process, so it is refused; ``BUILD`` on instances restores their state as usual.

    :param file: the pickle stream
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def load_build(self) -> None:
        target = self.stack[-2]  # type: ignore[attr-defined]  # the pure-Python unpickler's stack
        if isinstance(target, (type, types.FunctionType, types.BuiltinFunctionType)):
            raise pickle.UnpicklingError(f"the pickle sets attributes of {target!r}, which safe mode refuses")
        super().load_build()  # type: ignore[misc]

    dispatch[pickle.BUILD[0]] = load_build  # type: ignore[assignment]

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_ALLOWED:
            return _numpy_global(module, name)
        if (module, name) == ("numpy.random", "__RandomState_ctor"):
            return _random_state_ctor
        if (module, name) in _BUILTINS_ALLOWED:
            allowed = _BUILTINS_ALLOWED[(module, name)]
            if allowed is None:
                import codecs
                import copyreg

                return copyreg._reconstructor if module == "copyreg" else codecs.encode  # type: ignore[attr-defined]
            return allowed
        if module.startswith(_SPACE_MODULES) and name in _SPACE_NAMES:
            return _space_class(module, name)
        if module.split(".")[0] == "tensorflow" and name in TENSORFLOW_ACTIVATIONS:
            return name
        if (module, name) in SB2_POLICY_NAMES:
            policy = registry.resolve_registered(SB2_POLICY_NAMES[(module, name)])
            if policy is not None:
                return policy
        library_class = _registered_class_at(module, name)
        if library_class is not None:
            return library_class
        return refused_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported in safe mode")


def _registered_class_at(module: str, name: str) -> type | registry.ClassReference | None:
    """A class registered for serialization that lives at ``module.name`` (this library's or the user's)."""
    for registered_name, import_path in registry._BUILTIN_IMPORT_PATHS.items():
        if import_path == f"{module}:{name}":
            return registry.resolve_registered(registered_name)
    for cls in list(registry._class_to_name):
        if cls.__module__ == module and cls.__qualname__ == name:
            return cls
    return None


def safe_loads(payload: bytes) -> Any:
    """Unpickle ``payload`` with :class:`SafeUnpickler`, then rebuild the spaces and schedules it holds.

    :param payload: pickle bytes
    :return: the object; anything refused stays a :class:`RefusedObject`
    """
    return safe_load(io.BytesIO(payload))


def safe_load(stream: io.BufferedIOBase | io.BytesIO | Any) -> Any:
    """Like :func:`safe_loads`, from a binary stream.

    :param stream: the pickle stream
    :return: the object; anything refused stays a :class:`RefusedObject`
    """
    return rebuild_known_objects(SafeUnpickler(stream).load())


def rebuild_known_objects(value: Any, depth: int = 0) -> Any:
    """Replace stand-ins that can be rebuilt without running code: spaces and constant schedules.

    :param value: an unpickled object graph
    :param depth: current nesting (deeper graphs are refused)
    :return: the graph with those stand-ins replaced
    """
    if depth > MAX_NESTING:
        raise pickle.UnpicklingError("the pickle is nested too deeply")
    rebuild: Callable[[Any], Any] = lambda item: rebuild_known_objects(item, depth + 1)  # noqa: E731
    if isinstance(value, _SpaceStandIn):
        return _rebuild_space(value, rebuild)
    if isinstance(value, RefusedObject):
        schedule = recover_constant_schedule(value)
        return value if schedule is None else schedule
    if type(value) is dict:
        return {key: rebuild(item) for key, item in value.items()}
    if type(value) is OrderedDict:
        return OrderedDict((key, rebuild(item)) for key, item in value.items())
    if type(value) is list:
        return [rebuild(item) for item in value]
    if type(value) is tuple:
        return tuple(rebuild(item) for item in value)
    return value


def find_refused(value: Any, depth: int = 0) -> RefusedObject | type[RefusedObject] | None:
    """The first :class:`RefusedObject` inside a rebuilt object graph, if any.

    :param value: the object graph
    :param depth: current nesting
    :return: a refused stand-in (an instance, or the stand-in class itself when the pickle named a
        function or class without calling it), or None when everything was rebuilt
    """
    if isinstance(value, RefusedObject) or (isinstance(value, type) and issubclass(value, RefusedObject)):
        return value
    if depth > MAX_NESTING:
        return None
    if isinstance(value, dict):
        children: Any = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = value
    else:
        return None
    for child in children:
        found = find_refused(child, depth + 1)
        if found is not None:
            return found
    return None


def describe_refused(refused: RefusedObject | type[RefusedObject]) -> str:
    """A human description of a refused object, naming the function's qualified name when known.

    :param refused: the stand-in, or a stand-in class (a function or class pickled by reference)
    :return: e.g. ``"a pickled function 'linear_schedule.<locals>.func' (module utils)"``
    """
    if isinstance(refused, type):
        return f"a reference to {refused.refused_module}.{refused.refused_name}"
    function = _function_description(refused)
    if function is not None:
        qualname, module = function
        return f"a pickled function {qualname!r} (module {module})"
    return f"a pickled {refused.refused_global}"


def _rebuild_space(stand_in: _SpaceStandIn, rebuild: Callable[[Any], Any]) -> Any:
    state = stand_in.__dict__["_refused_state"]
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = {**(state[0] or {}), **state[1]}
    if not isinstance(state, dict):
        return stand_in
    state = {key.lstrip("_") if key in {"_shape", "_np_random"} else key: value for key, value in state.items()}
    name = stand_in.refused_name
    try:
        if name == "Box":
            dtype = np.dtype(state.get("dtype", np.float32))
            low, high = np.asarray(state["low"]), np.asarray(state["high"])
            return gymnasium.spaces.Box(low=low.astype(dtype), high=high.astype(dtype), dtype=dtype)
        if name == "Discrete":
            return gymnasium.spaces.Discrete(int(state["n"]), start=int(state.get("start", 0)))
        if name == "MultiDiscrete":
            nvec = np.asarray(state["nvec"])
            start = state.get("start")
            return gymnasium.spaces.MultiDiscrete(nvec, dtype=state.get("dtype", np.int64), start=start)
        if name == "MultiBinary":
            n = state["n"]
            return gymnasium.spaces.MultiBinary(int(n) if isinstance(n, numbers.Integral) else list(n))
        if name == "Tuple":
            return gymnasium.spaces.Tuple(tuple(rebuild(space) for space in state["spaces"]))
        if name == "Dict":
            spaces = state["spaces"]
            items = spaces.__dict__["_refused_items"] if isinstance(spaces, RefusedObject) else list(spaces.items())
            return gymnasium.spaces.Dict(OrderedDict((key, rebuild(space)) for key, space in items))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise pickle.UnpicklingError(f"cannot rebuild the pickled {stand_in.refused_global}: {error}") from error
    return stand_in


def _function_description(refused: RefusedObject) -> tuple[str, str] | None:
    """(qualname, module) of a cloudpickled function stand-in, read from its recorded state."""
    state = _function_state(refused)
    if state is None:
        return None
    return str(state.get("qualname") or state.get("__qualname__") or "?"), str(
        state.get("module") or state.get("__module__") or "?"
    )


def _function_state(refused: RefusedObject) -> dict[str, Any] | None:
    """The attribute dict cloudpickle stored for a function, for both of its historical layouts."""
    if refused.refused_name == "_fill_function":
        states = [arg for arg in refused.__dict__["_refused_args"] if isinstance(arg, dict) and "qualname" in arg]
        return states[0] if states else None
    if refused.refused_name in {"_make_function", "_make_skel_func"}:
        state = refused.__dict__["_refused_state"]
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            slots = dict(state[1])
            closure = slots.get("__closure__")
            if isinstance(closure, tuple):
                slots["closure_values"] = [_cell_value(cell) for cell in closure]
            return slots
    return None


def _cell_value(cell: Any) -> Any:
    if isinstance(cell, RefusedObject) and cell.refused_name == "_make_cell":
        args = cell.__dict__["_refused_args"]
        return args[0] if args else None
    return cell


def recover_constant_schedule(refused: RefusedObject) -> ConstantSchedule | None:
    """Read a Stable Baselines 2 constant schedule from its pickle, without running it.

    Stable Baselines 2 wraps a constant learning rate or clip range in ``constfn(value)``, a
    closure that returns ``value``. Its pickle records the qualified name, the module and the
    closure's value: when the module is Stable Baselines' own and the closure holds one number,
    the schedule is that number. Stable Baselines 2's ``ConstantSchedule`` objects likewise.

    :param refused: a refused stand-in
    :return: the schedule, or None when ``refused`` is not one of these
    """
    from stable_baselines_io.schedules import ConstantSchedule  # the schedules module imports this layer

    if refused.refused_global == "stable_baselines.common.schedules.ConstantSchedule":
        state = refused.__dict__["_refused_state"]
        if isinstance(state, dict) and isinstance(state.get("_v"), numbers.Real):
            return ConstantSchedule(float(state["_v"]))
        return None
    state = _function_state(refused)
    if state is None:
        return None
    qualname = state.get("qualname") or state.get("__qualname__")
    module = str(state.get("module") or state.get("__module__") or "")
    closure = state.get("closure_values")
    if (
        qualname == "constfn.<locals>.func"
        and module.startswith("stable_baselines.")
        and isinstance(closure, list)
        and len(closure) == 1
        and isinstance(closure[0], numbers.Real)
        and not isinstance(closure[0], bool)
    ):
        return ConstantSchedule(float(closure[0]))
    return None
