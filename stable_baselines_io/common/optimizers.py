"""Adam and RMSProp with named slot variables, so optimizer state can be saved by name and
restored exactly.

Slots are named as TensorFlow 1's optimizers named them: ``<var>/Adam:0`` and ``<var>/Adam_1:0``
(first and second moments of ``tf.train.AdamOptimizer``), ``<var>/RMSProp:0`` and
``<var>/RMSProp_1:0`` (mean square and momentum of ``tf.train.RMSPropOptimizer``). The step counter
is ``<name>/iterations:0``. The learning rate is a variable, so schedules change it without
retracing ``tf.function``\\ s.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar

import tensorflow as tf


class SlotOptimizer(tf.Module):
    """An optimizer with a step counter, a learning-rate variable and named slots per variable.

    Subclasses declare their slots in ``slots`` (suffix, initial value) and implement
    ``apply_gradients``. :meth:`state_specs` names and shapes the state without creating it, so a
    model can check a file's optimizer state before (or without ever) building the optimizer.

    :param variables: the variables to optimize (slots are created for each, in this order)
    :param learning_rate: initial learning rate (set ``optimizer.learning_rate`` to change it)
    :param name: prefix of the optimizer's own variables
    """

    #: ``(suffix, initial value)`` of each slot, in :meth:`state_variables` order.
    slots: ClassVar[tuple[tuple[str, float], ...]] = ()

    def __init__(self, variables: Sequence[tf.Variable], learning_rate: float, name: str):
        super().__init__(name=name)
        self.learning_rate = tf.Variable(learning_rate, dtype=tf.float32, trainable=False, name=f"{name}/learning_rate")
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name=f"{name}/iterations")
        self._variables = list(variables)
        self._slot_lists = [
            [_slot(variable, suffix, fill) for variable in self._variables] for suffix, fill in self.slots
        ]

    @classmethod
    def state_specs(cls, variables: Sequence[tf.Variable], name: str | None = None) -> OrderedDict[str, tf.TensorSpec]:
        """The names, shapes and dtypes of :meth:`state_variables`, without creating them.

        :param variables: the variables the optimizer would optimize
        :param name: the optimizer's name (default: the class name)
        :return: ordered mapping variable name -> spec
        """
        name = cls.__name__ if name is None else name
        specs = OrderedDict([(f"{name}/iterations:0", tf.TensorSpec((), tf.int64)),
                             (f"{name}/learning_rate:0", tf.TensorSpec((), tf.float32))])
        for suffix, _ in cls.slots:
            for variable in variables:
                specs[f"{_base_name(variable)}/{suffix}:0"] = tf.TensorSpec(variable.shape, variable.dtype)
        return specs

    def state_variables(self) -> list[tf.Variable]:
        """Every variable holding optimizer state: step counter, learning rate, then the slots.

        :return: the variables
        """
        return [self.iterations, self.learning_rate, *(slot for slots in self._slot_lists for slot in slots)]


class Adam(SlotOptimizer):
    """The Adam optimizer (Kingma & Ba, 2015) over explicit ``tf.Variable``\\ s.

    :param variables: the variables to optimize (slots are created for each, in this order)
    :param learning_rate: initial learning rate (set ``optimizer.learning_rate`` to change it)
    :param beta_1: decay of the first-moment estimate
    :param beta_2: decay of the second-moment estimate
    :param epsilon: added to the denominator for numerical stability
    :param name: prefix of the optimizer's own variables
    """

    slots: ClassVar[tuple[tuple[str, float], ...]] = (("Adam", 0.0), ("Adam_1", 0.0))

    def __init__(
        self,
        variables: Sequence[tf.Variable],
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        name: str = "Adam",
    ):
        super().__init__(variables, learning_rate, name)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._first_moments, self._second_moments = self._slot_lists

    def apply_gradients(self, gradients: Sequence[tf.Tensor]) -> None:
        """One Adam step; ``gradients[i]`` belongs to ``variables[i]`` of the constructor.

        :param gradients: one gradient per variable
        """
        self.iterations.assign_add(1)
        step = tf.cast(self.iterations, tf.float32)
        correction = tf.sqrt(1.0 - tf.pow(self.beta_2, step)) / (1.0 - tf.pow(self.beta_1, step))
        step_size = self.learning_rate * correction
        for variable, gradient, first, second in zip(
            self._variables, gradients, self._first_moments, self._second_moments
        ):
            first.assign(self.beta_1 * first + (1.0 - self.beta_1) * gradient)
            second.assign(self.beta_2 * second + (1.0 - self.beta_2) * tf.square(gradient))
            variable.assign_sub(step_size * first / (tf.sqrt(second) + self.epsilon))


class RMSProp(SlotOptimizer):
    """RMSProp as TensorFlow 1's ``tf.train.RMSPropOptimizer`` (uncentered), which Stable
    Baselines 2's A2C used::

        mean_square = decay * mean_square + (1 - decay) * gradient ** 2      (starts at ones)
        momentum    = momentum_decay * momentum + learning_rate * gradient / sqrt(mean_square + epsilon)
        variable   -= momentum

    Unlike Keras' RMSprop, the mean square starts at one (the first steps are small, not of size
    ``learning_rate / sqrt(1 - decay)``) and ``epsilon`` is added inside the square root.

    :param variables: the variables to optimize (slots are created for each, in this order)
    :param learning_rate: initial learning rate (set ``optimizer.learning_rate`` to change it)
    :param decay: discount of the mean square (Stable Baselines 2's ``alpha``)
    :param momentum: momentum decay (0: no momentum)
    :param epsilon: added to the mean square inside the square root
    :param name: prefix of the optimizer's own variables
    """

    #: The mean square starts at one, as in TensorFlow 1.
    slots: ClassVar[tuple[tuple[str, float], ...]] = (("RMSProp", 1.0), ("RMSProp_1", 0.0))

    def __init__(
        self,
        variables: Sequence[tf.Variable],
        learning_rate: float = 1e-3,
        decay: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-10,
        name: str = "RMSProp",
    ):
        super().__init__(variables, learning_rate, name)
        self.decay = decay
        self.momentum = momentum
        self.epsilon = epsilon
        self._mean_squares, self._momenta = self._slot_lists

    def apply_gradients(self, gradients: Sequence[tf.Tensor]) -> None:
        """One RMSProp step; ``gradients[i]`` belongs to ``variables[i]`` of the constructor.

        :param gradients: one gradient per variable
        """
        self.iterations.assign_add(1)
        for variable, gradient, mean_square, momentum in zip(
            self._variables, gradients, self._mean_squares, self._momenta
        ):
            mean_square.assign(self.decay * mean_square + (1.0 - self.decay) * tf.square(gradient))
            momentum.assign(self.momentum * momentum
                            + self.learning_rate * gradient / tf.sqrt(mean_square + self.epsilon))
            variable.assign_sub(momentum)


def apply_clipped_gradients(optimizer: Adam | RMSProp, gradients: Sequence[tf.Tensor],
                            max_grad_norm: float | None) -> None:
    """Clip the gradients' global norm to ``max_grad_norm`` (None: no clipping), then take one step.

    :param optimizer: the optimizer
    :param gradients: one gradient per variable of the optimizer
    :param max_grad_norm: the largest global norm
    """
    if max_grad_norm is not None:
        gradients, _ = tf.clip_by_global_norm(gradients, max_grad_norm)
    optimizer.apply_gradients(gradients)


def _base_name(variable: tf.Variable) -> str:
    return variable.name[:-2] if variable.name.endswith(":0") else variable.name


def _slot(variable: tf.Variable, suffix: str, fill: float) -> tf.Variable:
    return tf.Variable(lambda: tf.fill(variable.shape, tf.constant(fill, variable.dtype)), shape=variable.shape,
                       dtype=variable.dtype, trainable=False, name=f"{_base_name(variable)}/{suffix}")
