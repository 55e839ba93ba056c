"""Inert records: what the safe unpickler builds instead of objects.

A pickle that names a global gets a :class:`Global`; one that calls or instantiates something
gets a :class:`Call` holding the arguments, the state a ``BUILD`` set and the items appended to
it. Records only hold values; nothing in this module calls, imports or builds anything. The
rebuild step (:mod:`.rebuild`) turns records into objects after validating them.
"""

from __future__ import annotations

import _compat_pickle
from typing import Any

#: NumPy 1 pickles name ``numpy.core``, NumPy 2 ``numpy._core``.
_NUMPY_MODULES = {"numpy.core.multiarray": "numpy._core.multiarray", "numpy.core.numeric": "numpy._core.numeric"}


class Global:
    """A module attribute named by a pickle (``GLOBAL`` / ``STACK_GLOBAL``), not imported.

    :param module: the module the pickle names
    :param name: the attribute the pickle names
    """

    __slots__ = ("module", "name", "key")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name
        #: ``(module, name)`` with Python 2 and NumPy 1 names mapped to today's (as pickle does).
        self.key: tuple[str, str] = _compat_pickle.NAME_MAPPING.get((module, name)) or (
            _NUMPY_MODULES.get(_compat_pickle.IMPORT_MAPPING.get(module, module),
                               _compat_pickle.IMPORT_MAPPING.get(module, module)), name)

    @property
    def qualified(self) -> str:
        """:return: ``module.name`` as the pickle spelled it"""
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<pickled reference to {self.qualified}>"


_NO_STATE = object()


class Call:
    """A call the pickle asked for (``REDUCE``, ``NEWOBJ``, ``OBJ``, ``INST``), not made.

    ``BUILD`` sets :attr:`state` once; ``APPEND(S)`` / ``ADDITEMS`` add to :attr:`items` and
    ``SETITEM(S)`` to :attr:`entries`, as they would on the object the call returns.

    :param func: what is called: a :class:`Global`, or another call's result
    :param args: the positional arguments
    :param kwargs: the keyword arguments (``NEWOBJ_EX``)
    """

    __slots__ = ("func", "args", "kwargs", "state", "items", "entries")

    def __init__(self, func: Global | Call, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None):
        self.func = func
        self.args = args
        self.kwargs = kwargs or {}
        self.state: Any = _NO_STATE
        self.items: list[Any] = []
        self.entries: list[tuple[Any, Any]] = []

    @property
    def has_state(self) -> bool:
        """:return: whether a ``BUILD`` set the state"""
        return self.state is not _NO_STATE

    @property
    def key(self) -> tuple[str, str] | None:
        """:return: the called global's ``(module, name)``, or None when a call's result is called"""
        return self.func.key if isinstance(self.func, Global) else None

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: list[Any]) -> None:
        self.items.extend(items)

    def add(self, item: Any) -> None:
        self.items.append(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.entries.append((key, value))

    def __repr__(self) -> str:
        return f"<pickled call of {self.func!r}>"


RECORD_TYPES = (Global, Call)
