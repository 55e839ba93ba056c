"""Names under which classes are written to agent files instead of being pickled.

A registered *class* (a policy class) is stored as its name. An *instance* of a registered class
(a schedule) is stored as its name plus ``to_config()``, and rebuilt with ``from_config()``.
Loading resolves names only through this registry, so a file can never make the loader import
an arbitrary module.

The library's own classes are listed here by import path and imported on first use, so that this
module (and the whole format layer) never imports TensorFlow or the model classes.

>>> @register_serializable("my_project.Warmup")
... class Warmup:
...     def __init__(self, steps): self.steps = steps
...     def __call__(self, progress_remaining): return 1.0
...     def to_config(self): return {"steps": self.steps}
...     @classmethod
...     def from_config(cls, config): return cls(**config)
>>> registered_name(Warmup(10))
'my_project.Warmup'
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from stable_baselines_io.format import names

ClassType = TypeVar("ClassType", bound=type)


_name_to_class: dict[str, type] = {}
_class_to_name: dict[type, str] = {}
_imports_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar("imports_deferred", default=False)


@dataclass(frozen=True)
class ClassReference:
    """A registered class named by a file, not imported (see :func:`deferred_imports`).

    Written back to files exactly as the class itself would be.

    :param name: the registered name
    """

    name: str

    def resolve(self) -> type:
        """Import and return the class.

        :return: the class
        """
        with _imports_allowed():
            cls = resolve_registered(self.name)
        if not isinstance(cls, type):
            raise LookupError(f"no class is registered under the name {self.name!r}")
        return cls


@contextlib.contextmanager
def deferred_imports() -> Iterator[None]:
    """Within this block, the library's own classes that are not imported yet resolve to
    :class:`ClassReference`\\ s instead of being imported: tools such as ``inspect`` and
    ``convert`` read and rewrite files without importing TensorFlow.

    :return: a context manager
    """
    token = _imports_deferred.set(True)
    try:
        yield
    finally:
        _imports_deferred.reset(token)


@contextlib.contextmanager
def _imports_allowed() -> Iterator[None]:
    token = _imports_deferred.set(False)
    try:
        yield
    finally:
        _imports_deferred.reset(token)


def register_serializable(name: str | None = None) -> Callable[[ClassType], ClassType]:
    """Class decorator: write this class (or its instances) to agent files by name, without pickle.

    Instances are stored as ``to_config()`` (a dict of JSON-able values) and rebuilt with the
    classmethod ``from_config(config)``; a class without them can still be stored as a class
    reference (as a policy class is).

    :param name: the name written to files; default ``"<module>.<qualname>"``. Keep it stable.
    :return: the decorator, which returns the class unchanged
    """

    def decorate(cls: ClassType) -> ClassType:
        chosen = name or f"{cls.__module__}.{cls.__qualname__}"
        existing = _name_to_class.get(chosen)
        if existing is not None and existing is not cls and _qualified(existing) != _qualified(cls):
            raise ValueError(f"the serializable name {chosen!r} is already registered for {_qualified(existing)}")
        _name_to_class[chosen] = cls
        _class_to_name[cls] = chosen
        return cls

    return decorate


def registered_name(obj: Any) -> str | None:
    """The registered name of a class, or of an instance's class; ``None`` when not registered.

    :param obj: a class or an instance
    :return: the name, or ``None``
    """
    if isinstance(obj, ClassReference):
        return obj.name
    cls = obj if isinstance(obj, type) else type(obj)
    return _class_to_name.get(cls)


def resolve_registered(name: str) -> type | ClassReference | None:
    """The class registered under ``name`` (importing the library's own module if needed).

    :param name: a registered name read from a file
    :return: the class (a :class:`ClassReference` inside :func:`deferred_imports` when its
        module is not imported yet), or ``None`` when nothing is registered under that name
    """
    builtin = names.by_registered_name(name)
    if name not in _name_to_class and builtin is not None:
        if _imports_deferred.get():
            return ClassReference(name)
        cls = getattr(importlib.import_module(builtin.module), builtin.qualname)
        _name_to_class.setdefault(name, cls)
        _class_to_name.setdefault(cls, name)
    return _name_to_class.get(name)


def is_builtin_name(name: str) -> bool:
    """Whether ``name`` is one of the library's own registered names.

    :param name: a registered name
    :return: True for the library's own classes
    """
    return names.by_registered_name(name) is not None


def class_at(module: str, qualname: str) -> type | ClassReference | None:
    """The registered class that lives at ``module.qualname`` (the library's own or a user's).

    This is how a pickle's reference to a class is resolved: only registered classes are found,
    and nothing is imported that is not the library's own.

    :param module: the module a pickle names
    :param qualname: the class a pickle names
    :return: the class (a :class:`ClassReference` inside :func:`deferred_imports`), or None
    """
    builtin = names.by_import_path(module, qualname)
    if builtin is not None:
        return resolve_registered(builtin.registered_name)
    for cls in list(_class_to_name):
        if cls.__module__ == module and cls.__qualname__ == qualname:
            return cls
    return None


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
