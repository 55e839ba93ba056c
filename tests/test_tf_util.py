"""``CompiledFunction``: eager first calls, then the traced function called without argument binding."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from stable_baselines_io.common.tf_util import CompiledFunction, _flat_caller

SPEC = [tf.TensorSpec((None, 3), tf.float32), tf.TensorSpec((None,), tf.int64)]


def affine(observations: tf.Tensor, actions: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.reduce_sum(observations * 2.0, axis=1), actions + 1


def test_eager_then_traced_calls_give_the_same_structured_results() -> None:
    function = CompiledFunction(affine, SPEC, eager_calls=2)
    observations = np.arange(6, dtype=np.float32).reshape(2, 3)
    results = [function(observations, np.array([4, 5])) for _ in range(4)]
    assert function._function is not None and function.eager_calls_left == 0
    for values, actions in results:
        assert values.numpy().tolist() == [6.0, 24.0] and actions.numpy().tolist() == [5, 6]


def test_no_tf_function_is_made_before_the_first_traced_call() -> None:
    function = CompiledFunction(affine, SPEC, eager_calls=1)
    function(np.zeros((1, 3), np.float32), np.zeros(1, np.int64))
    assert function._function is None


class PublicCallOnly:
    """A concrete function whose private ``_call_flat`` is missing or takes other arguments."""

    def __init__(self, call_flat: Any = None):
        if call_flat is not None:
            self._call_flat = call_flat
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *tensors: Any) -> str:
        self.calls.append(tensors)
        return "public"


def test_the_flat_call_falls_back_to_the_public_call() -> None:
    missing = PublicCallOnly()
    assert _flat_caller(missing)([1, 2]) == "public" and missing.calls == [(1, 2)]
    other_signature = PublicCallOnly(lambda tensors, captured, cancellation_manager: "private")
    assert _flat_caller(other_signature)([3]) == "public" and other_signature.calls == [(3,)]
