"""TensorFlow helpers shared by the policies and the algorithms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf


class CompiledFunction:
    """A ``tf.function`` with a fixed input signature, traced on the first call and then called
    through its concrete function.

    Skipping the per-call signature matching of ``tf.function`` halves the call overhead, which
    dominates with small networks called once per environment step.

    Python values the function reads (e.g. a loss coefficient) become constants of the graph
    when it is traced, on the first call.

    :param python_function: the function to compile
    :param input_signature: one ``tf.TensorSpec`` per positional argument
    """

    def __init__(self, python_function: Callable[..., Any], input_signature: Sequence[tf.TensorSpec]):
        self.input_signature = tuple(input_signature)
        # AutoGraph rewrites Python control flow over tensors; these functions have none, and
        # skipping the rewrite makes the first call (tracing, e.g. right after load) much cheaper.
        self.function = tf.function(python_function, input_signature=self.input_signature, autograph=False)
        self._concrete_function: Any = None

    def __call__(self, *args: Any) -> Any:
        if self._concrete_function is None:
            self._concrete_function = self.function.get_concrete_function()
        return self._concrete_function(
            *[tf.convert_to_tensor(arg, spec.dtype) for arg, spec in zip(args, self.input_signature)]
        )
