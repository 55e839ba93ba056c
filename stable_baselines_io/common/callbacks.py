"""The points of the training loop where callbacks are called.

The on-policy and off-policy bases run ``learn`` and call a :class:`TrainingHooks` at each point,
so an algorithm never calls a callback itself. The points are those of Stable Baselines 2's
``BaseCallback`` (``_on_training_start``, ``_on_rollout_start``, ``_on_step``,
``_on_rollout_end``, ``_on_training_end``) plus :meth:`TrainingHooks.on_iteration_end`, the one
point where the function callbacks ``callback(locals(), globals())`` of this library are called:

- on-policy: once per update, after the rollout has been trained on;
- off-policy: once per environment step, after the step has been stored and trained on.

A callback class is a :class:`TrainingHooks` subclass; ``learn`` turns a function into one with
:func:`as_hooks`.
"""

from __future__ import annotations

from typing import Any

from stable_baselines_io.type_aliases import Callback


class TrainingHooks:
    """Does nothing at every point of the loop; subclasses override the points they need.

    Every method receives the loop's local variables (``self`` is the model). A method that
    returns ``False`` stops training.
    """

    def on_training_start(self, local_vars: dict[str, Any]) -> None:
        """Before the first step of ``learn``.

        :param local_vars: the loop's local variables
        """

    def on_rollout_start(self, local_vars: dict[str, Any]) -> None:
        """Before an on-policy rollout is collected.

        :param local_vars: the loop's local variables
        """

    def on_step(self, local_vars: dict[str, Any]) -> bool:
        """After every environment step (in a rollout, before training).

        :param local_vars: the loop's local variables
        :return: False to stop training
        """
        return True

    def on_rollout_end(self, local_vars: dict[str, Any]) -> None:
        """After an on-policy rollout is collected, before it is trained on.

        :param local_vars: the loop's local variables
        """

    def on_iteration_end(self, local_vars: dict[str, Any], global_vars: dict[str, Any]) -> bool:
        """After an update (on-policy) or a stored and trained-on step (off-policy): a run stopped
        here and resumed from a saved file continues as one that never stopped.

        :param local_vars: the loop's local variables
        :param global_vars: the loop module's globals
        :return: False to stop training
        """
        return True

    def on_training_end(self, local_vars: dict[str, Any]) -> None:
        """When ``learn`` returns.

        :param local_vars: the loop's local variables
        """


class FunctionCallback(TrainingHooks):
    """A Stable Baselines 2 function callback, called as ``callback(locals(), globals())`` at the
    end of each iteration.

    :param callback: the function
    """

    def __init__(self, callback: Callback):
        self.callback = callback

    def on_iteration_end(self, local_vars: dict[str, Any], global_vars: dict[str, Any]) -> bool:
        return self.callback(local_vars, global_vars) is not False


def as_hooks(callback: Callback | TrainingHooks | None) -> TrainingHooks:
    """The hooks ``learn`` calls for its ``callback`` argument.

    :param callback: None, a function ``callback(locals(), globals())`` or hooks
    :return: the hooks
    """
    if callback is None:
        return TrainingHooks()
    if isinstance(callback, TrainingHooks):
        return callback
    if not callable(callback):
        raise TypeError(f"callback must be a function callback(locals, globals) or TrainingHooks, received "
                        f"{callback!r}")
    return FunctionCallback(callback)
