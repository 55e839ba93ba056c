"""Variables built from stored arrays: a loaded model never runs its random initializers.

Inside :class:`StoredInitialValues`, every ``tf.Variable`` whose full name (``model/pi_fc0/w:0``)
is a key of the stored arrays starts from that array instead of its own initial value. The
mechanism is a ``tf.variable_creator_scope``, so any policy gets it without code of its own;
it only has to follow one rule to also skip the *cost* of its initializer:

    pass the initial value as a callable, with ``shape`` and ``dtype``
    (``tf.Variable(lambda: draw(...), shape=..., dtype=..., name=...)``, or :func:`lazy_variable`).

The callable then never runs when a stored array replaces it. An initializer that draws from a
generator the model keeps (and saves) wraps its draw in :class:`InitialDraw`, which says how far the
draw advances the generator, so a loaded model's generator continues as a new model's does.
A variable created from a value (``tf.Variable(array, name=...)``) still gets the stored array,
after its initializer ran. A
stored array whose shape or dtype does not fit (see
:func:`~stable_baselines_io.common.save_load.cast_for_variable`) is not used: the variable keeps
its own initial value and ``load_parameters`` reports the mismatch as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import numpy as np
import tensorflow as tf

_active: list[StoredInitialValues] = []


def lazy_variable(initializer: Callable[[], Any], shape: tuple[int, ...], name: str,
                  dtype: tf.DType = tf.float32, trainable: bool = True) -> tf.Variable:
    """A variable whose initializer runs only when no stored array replaces it.

    :param initializer: returns the initial value (array or tensor of ``shape``)
    :param shape: the variable's shape
    :param name: the variable's name, without ``:0``
    :param dtype: the variable's dtype
    :param trainable: whether gradient tapes watch it
    :return: the variable
    """
    return tf.Variable(initializer, shape=shape, dtype=dtype, name=name, trainable=trainable)


class InitialDraw:
    """A callable initial value drawn from a ``tf.random.Generator`` the model keeps: when a stored
    array replaces it, the generator is advanced as the draw would have advanced it (the skips of
    one :class:`StoredInitialValues` are added up and made at its end, in one op).

    :param draw: returns the initial value
    :param generator: the generator ``draw`` uses
    :param n_draws: how far ``draw`` advances it, in ``generator.skip`` units (one per normal drawn)
    """

    def __init__(self, draw: Callable[[], Any], generator: tf.random.Generator, n_draws: int):
        self.draw = draw
        self.generator = generator
        self.n_draws = n_draws

    def __call__(self) -> Any:
        return self.draw()


class StoredInitialValues:
    """Within ``with StoredInitialValues(arrays):``, variables named like a key of ``arrays``
    start from that array.

    >>> import numpy as np
    >>> with StoredInitialValues({"layer/w:0": np.ones(2, np.float32)}) as stored:
    ...     variable = lazy_variable(lambda: np.zeros(2, np.float32), (2,), "layer/w")
    >>> variable.numpy().tolist(), stored.used == {"layer/w:0"}
    ([1.0, 1.0], True)

    With ``as_constants``, every variable is a :class:`StoredConstant` instead, of the stored array
    or of its own initial value, and generators are not advanced (see
    :mod:`~stable_baselines_io.common.deferred_setup`: a model built so can act, not train).

    :param arrays: stored arrays by full variable name (``name:0``)
    :param as_constants: build constant tensors (not variables) from the stored arrays
    """

    def __init__(self, arrays: Mapping[str, Any], as_constants: bool = False):
        self.arrays = arrays
        self.as_constants = as_constants
        #: Names of the variables created from a stored array.
        self.used: set[str] = set()
        self._created: set[int] = set()
        self._skips: dict[int, tuple[tf.random.Generator, int]] = {}
        self._scope: Any = None

    def __enter__(self) -> StoredInitialValues:
        self._scope = tf.variable_creator_scope(self._create)
        self._scope.__enter__()
        _active.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        _active.remove(self)
        self._scope.__exit__(kind, error, traceback)
        if not self.as_constants:  # a generator over a constant state is never used to draw
            for generator, n_draws in self._skips.values():
                generator.skip(n_draws)
        self._skips.clear()

    def covers(self, variables: Iterable[tf.Variable]) -> bool:
        """Whether every one of ``variables`` was created from a stored array here.

        :param variables: the variables
        :return: True if all were
        """
        return all(id(variable) in self._created for variable in variables)

    def built_exactly(self, variables: Iterable[tf.Variable]) -> bool:
        """Whether every stored array was used and every one of ``variables`` came from one: the
        file made the model, and ``load_parameters`` has nothing left to do.

        :param variables: the model's variables
        :return: True if so
        """
        return self.used == set(self.arrays) and self.covers(variables)

    def _create(self, next_creator: Callable[..., tf.Variable], **kwargs: Any) -> tf.Variable:
        from stable_baselines_io.common.save_load import cast_for_variable

        name = kwargs.get("name")
        scope = tf.get_current_name_scope()
        key = f"{scope}/{name}:0" if scope and name else f"{name}:0"
        stored = self.arrays.get(key) if name else None
        expected = _expected_spec(kwargs) if stored is not None else None
        if stored is None or expected is None:
            if self.as_constants:
                return StoredConstant(key, _initial_value(kwargs))
            return next_creator(**kwargs)
        array, problem = cast_for_variable(stored, *expected)
        if problem is not None:
            return next_creator(**kwargs)
        initial_draw = kwargs["initial_value"]
        if isinstance(initial_draw, InitialDraw):
            _, skipped = self._skips.get(id(initial_draw.generator), (initial_draw.generator, 0))
            self._skips[id(initial_draw.generator)] = (initial_draw.generator, skipped + initial_draw.n_draws)
        if self.as_constants:
            constant = StoredConstant(key, array)
            self.used.add(key)
            self._created.add(id(constant))
            return constant
        variable = next_creator(**{**kwargs, "initial_value": array, "shape": None})
        if variable.name == key:
            self.used.add(key)
            self._created.add(id(variable))
        return variable


class StoredConstant:
    """A stored array as a constant tensor that still answers ``name`` (eager tensors have none), made
    by :class:`StoredInitialValues` with ``as_constants`` in place of a variable; TensorFlow ops take
    it as the tensor it holds.

    :param name: the variable's full name (``name:0``)
    :param array: its value
    """

    def __init__(self, name: str, array: np.ndarray):
        self.name = name
        self.value = tf.constant(array)

    @property
    def shape(self) -> tf.TensorShape:
        return self.value.shape

    @property
    def dtype(self) -> tf.DType:
        return self.value.dtype

    def numpy(self) -> np.ndarray:
        """:return: the value"""
        return self.value.numpy()

    def assign(self, value: Any) -> None:
        """Replace the value (what restoring a training state into a constant setup does).

        :param value: the new value, of the same shape
        """
        self.value = tf.constant(value, dtype=self.value.dtype)


def _initial_value(kwargs: Mapping[str, Any]) -> Any:
    initial_value = kwargs["initial_value"]
    value = initial_value() if callable(initial_value) else initial_value
    return tf.convert_to_tensor(value, dtype=kwargs.get("dtype"))


tf.register_tensor_conversion_function(StoredConstant, lambda constant, dtype=None, name=None, as_ref=False:
                                       constant.value)


def _expected_spec(kwargs: Mapping[str, Any]) -> tuple[tuple[int, ...], np.dtype] | None:
    """The shape and dtype a variable is created with, without running a callable initial value.

    :return: ``(shape, dtype)``, or None when a callable comes without ``shape`` and ``dtype``
    """
    initial_value, shape, dtype = kwargs.get("initial_value"), kwargs.get("shape"), kwargs.get("dtype")
    if callable(initial_value):
        if shape is None or dtype is None or not tf.TensorShape(shape).is_fully_defined():
            return None
        return tuple(tf.TensorShape(shape).as_list()), np.dtype(tf.as_dtype(dtype).as_numpy_dtype)
    tensor = tf.convert_to_tensor(initial_value, dtype=dtype)
    return tuple(tensor.shape.as_list()), np.dtype(tensor.dtype.as_numpy_dtype)


def active_stored_values() -> StoredInitialValues | None:
    """The innermost active :class:`StoredInitialValues`, if any (e.g. for a model to skip the
    initial copy of a network that a file supplies).

    :return: the context, or None
    """
    return _active[-1] if _active else None
