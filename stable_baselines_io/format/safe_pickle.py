"""Reading pickles without running code from them (safe mode), in two steps that never mix.

1. :func:`load_records` parses the pickle into plain values and inert records
   (:mod:`.records`): every global the pickle names becomes a :class:`~.records.Global`, every
   call a :class:`~.records.Call`; nothing is imported, called or given state. Limits: the
   pickle's size and opcode count are charged to the load budget, memo indexes are bounded, dict
   keys and set elements must be of types whose hashes a file cannot make collide in bulk, and
   ``BUILD`` is accepted only on a call record, once.
2. :mod:`.rebuild` turns records into objects after validating them (see :mod:`.validators`):
   NumPy arrays, scalars, dtypes and random generators, builtin containers, ``gym`` /
   ``gymnasium`` spaces (rebuilt as gymnasium spaces), registered classes (policies, schedules)
   and Stable Baselines 2 constant schedules. Anything else raises
   :class:`~stable_baselines_io.exceptions.RefusedObjectError` naming what the pickle asked for.

>>> import pickle, numpy as np
>>> safe_loads(pickle.dumps({"low": np.zeros(2, dtype=np.float32)}))["low"]
array([0., 0.], dtype=float32)
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import IO, Any

from stable_baselines_io.exceptions import InvalidStoredValueError, LoadBudgetExceededError
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.rebuild import Rebuilder
from stable_baselines_io.format.records import RECORD_TYPES, Call, Global
from stable_baselines_io.format.validators import check_keys

#: Opcodes between two charges of the objects they made to the load budget.
_CHARGE_EVERY = 4096
#: The largest memo index (``PUT``); pickles number their memo entries from 0.
_MAX_MEMO_INDEX = 2**32
#: cloudpickle restores a function's or class's state by calling these on the new object.
_STATE_SETTERS = frozenset({"_function_setstate", "_class_setstate"})
#: The longest module or attribute name a pickle may use.
_MAX_NAME_LENGTH = 1024


def _check_hashed(keys: list[Any], what: str, already: int = 0) -> int:
    """:func:`~.validators.check_keys`, where records (hashed by identity) are always accepted."""
    return check_keys([key for key in keys if not isinstance(key, RECORD_TYPES)], what, already)


class SafeUnpickler(pickle._Unpickler):
    """An unpickler that builds only plain values and inert records (see the module docstring).

    It extends the pure-Python unpickler, whose opcode table can be changed.

    :param file: the pickle stream
    :param budget: the load budget charged with the opcodes read
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: io.BytesIO, budget: LoadBudget | None = None):
        super().__init__(file)
        self._file = file
        self._budget = budget
        #: Collidable keys per dict or set filled in batches (SETITEMS, ADDITEMS), by id.
        self._collidable: dict[int, int] = {}

    def load(self) -> Any:
        # The whole pickle is in memory, so frames (protocol 4+) are only markers in the stream:
        # reading it directly spares the unframer's Python call on every read.
        self.read, self.readinto, self.readline = self._file.read, self._file.readinto, self._file.readline
        self.metastack: list[list[Any]] = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        dispatch, budget = self.dispatch, self._budget
        until_charge = _CHARGE_EVERY
        try:
            while True:
                key = self.read(1)
                if not key:
                    raise EOFError("the pickle ends before its STOP opcode")
                until_charge -= 1
                if not until_charge:
                    until_charge = _CHARGE_EVERY
                    if budget is not None:
                        budget.charge_objects(_CHARGE_EVERY, "the objects a pickle makes")
                dispatch[key[0]](self)  # type: ignore[arg-type]  # typeshed types the table for Unpickler
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value

    def _pop_mark(self) -> list[Any]:
        items: list[Any] = self.pop_mark()  # type: ignore[attr-defined]  # the pure-Python unpickler's
        return items

    def find_class(self, module: str, name: str) -> Global:
        if not (isinstance(module, str) and isinstance(name, str)) or max(len(module), len(name)) > _MAX_NAME_LENGTH:
            raise pickle.UnpicklingError("a pickled global must be named by a module and an attribute of sane length")
        return Global(module, name)

    def load_frame(self) -> None:
        (frame_size,) = struct.unpack("<Q", self.read(8))
        if frame_size > len(self._file.getbuffer()) - self._file.tell():
            raise pickle.UnpicklingError(f"a frame of {frame_size} bytes is longer than the rest of the pickle")

    def load_bytearray8(self) -> None:
        """``BYTEARRAY8``: the pure-Python unpickler allocates the declared length before reading."""
        (size,) = struct.unpack("<Q", self.read(8))
        if size > len(self._file.getbuffer()) - self._file.tell():
            raise pickle.UnpicklingError(f"a bytearray of {size} bytes is longer than the rest of the pickle")
        self.append(bytearray(self.read(size)))

    def load_put(self) -> None:
        """``PUT``: the only memo opcode whose index is text, hence unbounded (huge integers collide)."""
        line = self.readline()[:-1]
        if len(line) > 10 or not line.isdigit() or int(line) >= _MAX_MEMO_INDEX:
            raise pickle.UnpicklingError(f"memo index {line[:20]!r} out of range")
        self.memo[int(line)] = self.stack[-1]  # type: ignore[attr-defined]

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported in safe mode")

    # --- calls become records ---------------------------------------------------------------

    def load_reduce(self) -> None:
        args = self.stack.pop()
        call = _call(self.stack[-1], args)
        if call.key is not None and call.key[1] in _STATE_SETTERS and len(args) == 2 and isinstance(args[0], Call) \
                and not args[0].has_state:
            args[0].state = args[1]  # recorded like BUILD, so refusals can name the function
        self.stack[-1] = call

    def load_newobj(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = _call(self.stack[-1], args)

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        if type(kwargs) is not dict:
            raise pickle.UnpicklingError("NEWOBJ_EX keyword arguments must be a dict")
        self.stack[-1] = _call(self.stack[-1], args, kwargs)

    def load_obj(self) -> None:
        args = self._pop_mark()
        if not args:
            raise pickle.UnpicklingError("OBJ without a class")
        self.append(_call(args[0], tuple(args[1:])))

    def load_inst(self) -> None:
        module = self.readline()[:-1].decode("ascii")
        name = self.readline()[:-1].decode("ascii")
        self.append(_call(self.find_class(module, name), tuple(self._pop_mark())))

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, Global):
            raise pickle.UnpicklingError(f"the pickle sets attributes of {target.qualified}, which safe mode refuses")
        if not isinstance(target, Call) or target.has_state:
            raise pickle.UnpicklingError(f"the pickle sets the state of a {type(target).__name__}, which safe mode "
                                         "refuses (BUILD applies only once, to an object the pickle made)")
        target.state = state

    # --- hashed containers: keys checked before they are hashed -----------------------------

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._set_items(self.stack[-1], [key, value])

    def load_setitems(self) -> None:
        items = self._pop_mark()
        self._set_items(self.stack[-1], items)

    def _set_items(self, target: Any, items: list[Any]) -> None:
        keys = items[::2]
        if type(target) is dict:
            self._count_keys(target, keys, "a pickled dict")
        elif not isinstance(target, Call):
            raise pickle.UnpicklingError(f"SETITEMS on a {type(target).__name__}")
        for index in range(0, len(items) - 1, 2):
            target[items[index]] = items[index + 1]

    def _count_keys(self, target: dict[Any, Any] | set[Any], keys: list[Any], what: str) -> None:
        self._collidable[id(target)] = _check_hashed(keys, what, self._collidable.get(id(target), 0))

    def load_dict(self) -> None:
        items = self._pop_mark()
        _check_hashed(items[::2], "a pickled dict")
        self.append({items[index]: items[index + 1] for index in range(0, len(items) - 1, 2)})

    def load_additems(self) -> None:
        items = self._pop_mark()
        target = self.stack[-1]
        if type(target) is set:
            self._count_keys(target, items, "a pickled set")
            target.update(items)
        elif isinstance(target, Call):
            target.items.extend(items)
        else:
            raise pickle.UnpicklingError(f"ADDITEMS on a {type(target).__name__}")

    def load_frozenset(self) -> None:
        items = self._pop_mark()
        _check_hashed(items, "a pickled frozenset")
        self.append(frozenset(items))

    def load_appends(self) -> None:
        items = self._pop_mark()
        target = self.stack[-1]
        if not isinstance(target, (list, Call)):
            raise pickle.UnpicklingError(f"APPENDS on a {type(target).__name__}")
        target.extend(items)

    def load_append(self) -> None:
        item = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, (list, Call)):
            raise pickle.UnpicklingError(f"APPEND on a {type(target).__name__}")
        target.append(item)

    for _opcode, _method in [(pickle.REDUCE, load_reduce), (pickle.NEWOBJ, load_newobj),
                             (pickle.NEWOBJ_EX, load_newobj_ex), (pickle.OBJ, load_obj), (pickle.INST, load_inst),
                             (pickle.BUILD, load_build), (pickle.SETITEM, load_setitem),
                             (pickle.SETITEMS, load_setitems), (pickle.DICT, load_dict),
                             (pickle.ADDITEMS, load_additems), (pickle.FROZENSET, load_frozenset),
                             (pickle.APPENDS, load_appends), (pickle.APPEND, load_append), (pickle.PUT, load_put),
                             (pickle.FRAME, load_frame),
                             (pickle.BYTEARRAY8, load_bytearray8)]:
        dispatch[_opcode[0]] = _method  # type: ignore[assignment]
    del _opcode, _method


def _call(func: Any, args: Any, kwargs: dict[str, Any] | None = None) -> Call:
    if not isinstance(func, RECORD_TYPES):
        raise pickle.UnpicklingError(f"the pickle calls a {type(func).__name__}, which is not callable")
    if type(args) is not tuple:
        raise pickle.UnpicklingError("call arguments must be a tuple")
    if kwargs is not None:
        _check_hashed(list(kwargs), "keyword arguments")
    return Call(func, args, kwargs)


def load_records(payload: bytes, budget: LoadBudget | None = None) -> Any:
    """Parse a pickle into plain values and inert records, building nothing else.

    :param payload: the pickle bytes
    :param budget: the load budget (default: one for ``len(payload)`` bytes)
    :return: the records
    :raises pickle.UnpicklingError: the pickle is malformed or uses what safe mode refuses
    :raises LoadBudgetExceededError: the pickle makes more than the budget allows
    :raises InvalidStoredValueError: a dict or set has too many keys whose hashes could collide
    """
    budget = LoadBudget.for_file(len(payload)) if budget is None else budget
    budget.charge(len(payload), "a pickle")
    try:
        return SafeUnpickler(io.BytesIO(payload), budget).load()
    except (LoadBudgetExceededError, InvalidStoredValueError):
        raise
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, UnicodeDecodeError,
            OverflowError, struct.error) as error:
        raise pickle.UnpicklingError(f"the pickle is malformed: {error!r}") from error


def safe_loads(payload: bytes, budget: LoadBudget | None = None) -> Any:
    """Unpickle ``payload`` in safe mode: parse it into records, then validate and rebuild them.

    :param payload: pickle bytes
    :param budget: the load budget (default: one for ``len(payload)`` bytes)
    :return: the object
    :raises RefusedObjectError: the pickle asks for an object safe mode does not rebuild
    :raises InvalidStoredValueError: a described object fails validation
    :raises pickle.UnpicklingError: the pickle is malformed or nested too deeply
    """
    budget = LoadBudget.for_file(len(payload)) if budget is None else budget
    return Rebuilder(budget).rebuild(load_records(payload, budget))


def safe_load(stream: IO[bytes], budget: LoadBudget | None = None) -> Any:
    """Like :func:`safe_loads`, from a binary stream (read to its end).

    :param stream: the pickle stream
    :param budget: the load budget (default: one for the pickle's size)
    :return: the object
    """
    return safe_loads(stream.read(), budget)
