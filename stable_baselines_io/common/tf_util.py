"""TensorFlow helpers shared by the policies and the algorithms."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

#: Calls of a prediction function that run eagerly before it is traced: the first ``predict``
#: after ``load`` then costs about a millisecond instead of a trace (tens of milliseconds, about
#: as much as this many eager calls of a small policy).
PREDICT_EAGER_CALLS = 64


class CompiledFunction:
    """A ``tf.function`` with a fixed input signature, traced on the first call and then called
    through its concrete function.

    Skipping the per-call signature matching of ``tf.function`` halves the call overhead, which
    dominates with small networks called once per environment step.

    Python values the function reads (e.g. a loss coefficient) become constants of the graph
    when it is traced, on the first call.

    With ``eager_calls``, the first calls run the Python function eagerly (the same kernels,
    without the trace): only for functions outside training, which stays traced from its first
    step so that a resumed run computes exactly as an uninterrupted one.

    :param python_function: the function to compile
    :param input_signature: one ``tf.TensorSpec`` per positional argument
    :param eager_calls: how many calls run eagerly before the function is traced
    :param autograph: let AutoGraph rewrite Python control flow over tensors (a ``for`` over
        ``tf.range``); without it (the default) the first trace, e.g. right after ``load``, is much cheaper
    """

    def __init__(self, python_function: Callable[..., Any], input_signature: Sequence[tf.TensorSpec],
                 eager_calls: int = 0, autograph: bool = False):
        self.python_function = python_function
        self.eager_calls_left = eager_calls
        self.autograph = autograph
        self.input_signature = tuple(input_signature)
        self._function: Any = None
        self._concrete_function: Any = None
        self._call_traced: Callable[[list[tf.Tensor]], Any] = lambda tensors: None

    @property
    def function(self) -> Any:
        """The ``tf.function``, made on first use (making one costs about a millisecond, which every
        policy construction, hence every ``load``, would pay for functions it may never call)."""
        if self._function is None:
            self._function = tf.function(self.python_function, input_signature=self.input_signature,
                                         autograph=self.autograph)
        return self._function

    def __call__(self, *args: Any) -> Any:
        tensors = [tf.convert_to_tensor(arg, spec.dtype) for arg, spec in zip(args, self.input_signature)]
        if self.eager_calls_left > 0:
            self.eager_calls_left -= 1
            return self.python_function(*tensors)
        if self._concrete_function is None:
            self._concrete_function = self.function.get_concrete_function()
            self._call_traced = _flat_caller(self._concrete_function)
        return self._call_traced(tensors)


def _flat_caller(concrete_function: Any) -> Callable[[list[tf.Tensor]], Any]:
    """Call a concrete function of flat tensor inputs as its ``__call__`` does after binding the
    arguments to its signature (``_call_flat(tensors, captured_inputs)``), which skips the binding:
    a third of the call's cost for a small network. Falls back to ``__call__`` on a TensorFlow whose
    private method has another signature.

    :param concrete_function: a ``ConcreteFunction`` whose inputs are the tensors, in order
    :return: ``call(tensors) -> outputs``
    """
    call_flat: Callable[..., Any] | None = getattr(concrete_function, "_call_flat", None)
    try:
        parameters = list(inspect.signature(call_flat).parameters) if call_flat is not None else []
    except (TypeError, ValueError):
        parameters = []
    if call_flat is None or parameters != ["tensor_inputs", "captured_inputs"]:
        return lambda tensors: concrete_function(*tensors)
    flat_call = call_flat
    return lambda tensors: flat_call(tensors, concrete_function.captured_inputs)


#: ``tf.random.Generator``'s default algorithm (Philox) and the size of its state in int64 words.
_PHILOX = 1
_PHILOX_STATE_WORDS = 3


def generator_from_seed(seed: int) -> tf.random.Generator:
    """``tf.random.Generator.from_seed(seed)`` with the same state, computed in NumPy: ``from_seed``
    runs six eager TensorFlow ops to split the seed, a noticeable part of a small agent's ``load``.

    >>> generator_from_seed(7).state.numpy().tolist() == tf.random.Generator.from_seed(7).state.numpy().tolist()
    True

    :param seed: a Python or NumPy integer (any size; cut into 64-bit words as ``from_seed`` does)
    :return: a Philox generator
    """
    remaining = int(seed)
    words = []
    for _ in range(_PHILOX_STATE_WORDS):
        words.append(remaining & 0xFFFFFFFFFFFFFFFF)
        remaining >>= 64
    state = np.array(words, dtype=np.uint64).view(np.int64)
    return tf.random.Generator.from_state(state, alg=_PHILOX)


def configure_tf_threads(n_threads: int | None, warn: bool = True) -> bool:
    """Use ``n_threads`` for TensorFlow's intra-op and inter-op thread pools (Stable Baselines'
    ``n_cpu_tf_sess``).

    TensorFlow 2 has one runtime per process, whose thread pools are fixed when it initializes (at
    its first operation): after that the setting cannot change, and this returns False (with a
    warning if ``warn``) and leaves the pools as they are.

    :param n_threads: threads per pool; None (or 0) leaves TensorFlow's choice (one per core)
    :param warn: warn when the pools can no longer be changed
    :return: whether TensorFlow now uses ``n_threads`` (True for None)
    """
    if not n_threads:
        return True
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 0:
        raise ValueError(f"n_cpu_tf_sess must be a positive number of threads or None, received {n_threads!r}")
    threading = tf.config.threading
    if (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()) == (
            n_threads, n_threads):
        return True
    try:
        threading.set_intra_op_parallelism_threads(n_threads)
        threading.set_inter_op_parallelism_threads(n_threads)
    except RuntimeError:
        if warn:
            warnings.warn(
                f"n_cpu_tf_sess={n_threads} is not applied: TensorFlow has already initialized its thread pools in "
                f"this process (intra-op {threading.get_intra_op_parallelism_threads()}, inter-op "
                f"{threading.get_inter_op_parallelism_threads()}; 0 means one thread per core). Create the first "
                "model with it, or call tf.config.threading before TensorFlow runs anything",
                UserWarning, stacklevel=3,
            )
        return False
    return True


def tf_global_seed() -> int | None:
    """TensorFlow's global seed (``tf.random.set_seed``), or None when none was set.

    :return: the seed
    """
    from tensorflow.python.eager import context

    return context.global_seed()  # type: ignore[no-any-return]
