"""The points of the training loop where callbacks are called.

The on-policy and off-policy bases run ``learn`` and call a :class:`TrainingHooks` at each point,
so an algorithm never calls a callback itself. The points are those of Stable Baselines 2's
``BaseCallback`` (``_on_training_start``, ``_on_rollout_start``, ``_on_step``,
``_on_rollout_end``, ``_on_training_end``) plus :meth:`TrainingHooks.on_iteration_end`, the one
point where the function callbacks ``callback(locals(), globals())`` of this library are called:

- on-policy: once per update, after the rollout has been trained on;
- off-policy: once per environment step, after the step has been stored and trained on.

Users write Stable Baselines 2's callback classes (:class:`BaseCallback` and its subclasses,
overriding ``_on_step`` and the other ``_on_*`` methods); ``learn`` turns a function, a callback
or a list of them into one :class:`TrainingHooks` with :func:`as_hooks`.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stable_baselines_io.exceptions import UnsupportedFeatureError
from stable_baselines_io.format.url_targets import (
    is_url,
    join_target,
    list_folder,
    make_folder,
    remove_target,
    write_bytes,
)
from stable_baselines_io.type_aliases import Callback, StorageOptions

if TYPE_CHECKING:
    import gymnasium

    from stable_baselines_io.common.base_class import BaseRLModel
    from stable_baselines_io.common.tensorboard import TensorBoardWriter
    from stable_baselines_io.common.vec_env import VecEnv


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


def as_hooks(callback: Callback | TrainingHooks | list[Callback | TrainingHooks] | None) -> TrainingHooks:
    """The hooks ``learn`` calls for its ``callback`` argument.

    :param callback: None, a function ``callback(locals(), globals())``, hooks (e.g. a
        :class:`BaseCallback`), or a list of these (run in order, as a :class:`CallbackList`)
    :return: the hooks
    """
    if callback is None:
        return TrainingHooks()
    if isinstance(callback, TrainingHooks):
        return callback
    if isinstance(callback, (list, tuple)):
        return CallbackList(list(callback))
    if not callable(callback):
        raise TypeError(f"callback must be a function callback(locals, globals), a BaseCallback or a list of "
                        f"them, received {callback!r}")
    return FunctionCallback(callback)


class BaseCallback(TrainingHooks):
    """Stable Baselines 2's callback base: override :meth:`_on_step` (and, if needed,
    :meth:`_init_callback`, :meth:`_on_training_start`, :meth:`_on_rollout_start`,
    :meth:`_on_rollout_end`, :meth:`_on_training_end`).

    Attributes, set as in Stable Baselines 2: ``model``, ``training_env``, ``n_calls`` (calls of
    :meth:`on_step`, one per environment step of the vectorized env), ``num_timesteps`` (the
    model's), ``locals`` / ``globals`` (of the training loop), ``logger`` (the model's
    TensorBoard writer, None without ``tensorboard_log``) and ``parent`` (the
    :class:`EvalCallback` of a ``callback_on_new_best``).

    :param verbose: 0 silent, 1 messages
    """

    def __init__(self, verbose: int = 0):
        self.verbose = verbose
        self.model: BaseRLModel | None = None
        self.training_env: VecEnv | None = None
        self.n_calls = 0
        self.num_timesteps = 0
        self.locals: dict[str, Any] = {}
        self.globals: dict[str, Any] = {}
        self.logger: TensorBoardWriter | None = None
        self.parent: BaseCallback | None = None

    def init_callback(self, model: BaseRLModel) -> None:
        """Attach the callback to ``model`` (``learn`` does it at the start of training).

        :param model: the model being trained
        """
        self.model = model
        self.training_env = model.get_env()
        self.logger = getattr(model, "_tensorboard_writer", None)
        self._init_callback()

    def _init_callback(self) -> None:
        """After :meth:`init_callback` has set ``model`` and ``training_env``."""

    def _update(self, local_vars: dict[str, Any]) -> None:
        model = local_vars["self"]
        if self.model is not model:
            self.init_callback(model)
        self.logger = getattr(model, "_tensorboard_writer", None)
        self.locals = local_vars
        self.num_timesteps = model.num_timesteps

    def on_training_start(self, local_vars: dict[str, Any]) -> None:
        self._update(local_vars)
        self._on_training_start()

    def _on_training_start(self) -> None:
        """Before the first step of ``learn``."""

    def on_rollout_start(self, local_vars: dict[str, Any]) -> None:
        self._update(local_vars)
        self._on_rollout_start()

    def _on_rollout_start(self) -> None:
        """Before an on-policy rollout is collected."""

    def on_step(self, local_vars: dict[str, Any]) -> bool:
        self._update(local_vars)
        self.n_calls += 1
        return self._on_step() is not False

    def _on_step(self) -> bool:
        """After every environment step.

        :return: False to stop training
        """
        return True

    def on_rollout_end(self, local_vars: dict[str, Any]) -> None:
        self._update(local_vars)
        self._on_rollout_end()

    def _on_rollout_end(self) -> None:
        """After an on-policy rollout is collected, before it is trained on."""

    def on_iteration_end(self, local_vars: dict[str, Any], global_vars: dict[str, Any]) -> bool:
        self._update(local_vars)
        self.globals = global_vars
        return self._on_iteration_end() is not False

    def _on_iteration_end(self) -> bool:
        """At the end of an iteration, where a saved model resumes exactly (see
        :meth:`TrainingHooks.on_iteration_end`).

        :return: False to stop training
        """
        return True

    def on_training_end(self, local_vars: dict[str, Any]) -> None:
        self._update(local_vars)
        self._on_training_end()

    def _on_training_end(self) -> None:
        """When ``learn`` returns."""


class CallbackList(BaseCallback):
    """Several callbacks run in order; training stops as soon as one of them returns False.

    :param callbacks: callbacks, hooks or ``callback(locals, globals)`` functions
    """

    def __init__(self, callbacks: list[Callback | TrainingHooks]):
        super().__init__()
        self.callbacks = [as_hooks(callback) for callback in callbacks]

    def on_training_start(self, local_vars: dict[str, Any]) -> None:
        super().on_training_start(local_vars)
        for callback in self.callbacks:
            callback.on_training_start(local_vars)

    def on_rollout_start(self, local_vars: dict[str, Any]) -> None:
        super().on_rollout_start(local_vars)
        for callback in self.callbacks:
            callback.on_rollout_start(local_vars)

    def on_step(self, local_vars: dict[str, Any]) -> bool:
        super().on_step(local_vars)
        return all([callback.on_step(local_vars) for callback in self.callbacks])

    def on_rollout_end(self, local_vars: dict[str, Any]) -> None:
        super().on_rollout_end(local_vars)
        for callback in self.callbacks:
            callback.on_rollout_end(local_vars)

    def on_iteration_end(self, local_vars: dict[str, Any], global_vars: dict[str, Any]) -> bool:
        super().on_iteration_end(local_vars, global_vars)
        return all([callback.on_iteration_end(local_vars, global_vars) for callback in self.callbacks])

    def on_training_end(self, local_vars: dict[str, Any]) -> None:
        super().on_training_end(local_vars)
        for callback in self.callbacks:
            callback.on_training_end(local_vars)


class CheckpointCallback(BaseCallback):
    """Save the model every ``save_freq`` calls as ``<save_path>/<name_prefix>_<num_timesteps>_steps.zip``.

    Beyond Stable Baselines 2 and 3, each checkpoint is complete and atomic: it is written by
    ``save`` (a temporary file renamed into place, so a crash never leaves half a checkpoint; on
    an object store such as ``s3://bucket/run/``, an object that appears only once whole),
    it holds the training state (optimizer, counters, generators, schedule horizon, last
    observations; see ``docs/training-state.md``) and, with ``save_replay_buffer=True``, the
    replay buffer of an off-policy model. It is taken at the end of the iteration in which the
    ``save_freq``-th call falls (the same step for DQN; the end of the update for PPO and A2C,
    since a partial rollout cannot be resumed), so loading the latest checkpoint with
    ``load(path, env=env, force_reset=False)`` and calling ``learn(remaining,
    reset_num_timesteps=False)`` ends exactly like the run that was not interrupted.

    :param save_freq: calls of ``on_step`` (steps of the vectorized env) between checkpoints
    :param save_path: the folder of the checkpoints (created), or an fsspec URL prefix
        (``s3://bucket/run``, ``memory://run``...)
    :param name_prefix: the start of the checkpoints' names
    :param verbose: 1 prints each checkpoint's path
    :param save_replay_buffer: put an off-policy model's replay buffer in the checkpoint
    :param keep_last: keep only the last ``keep_last`` checkpoints of this prefix (None: all)
    :param storage_options: options for the fsspec backend of a URL ``save_path`` (see docs/scaling.md)
    :param save_env_state: also write the environments' state beside each checkpoint
        (:meth:`env_state_path`; the training env must provide ``save_env_state``, as
        :class:`~stable_baselines_io.distributed.ray_vec_env.RayVecEnv` does), so a job killed
        anywhere resumes exactly with ``env.load_env_state(...)`` before ``load``. It is written
        before the checkpoint, so the latest checkpoint always has its environment state.
    """

    #: The end of an environment-state file's name: ``<checkpoint name without .zip><ENV_STATE_SUFFIX>``.
    ENV_STATE_SUFFIX = "_env_state.zip"

    def __init__(self, save_freq: int, save_path: str | os.PathLike[str], name_prefix: str = "rl_model",
                 verbose: int = 0, save_replay_buffer: bool = False, keep_last: int | None = None,
                 storage_options: StorageOptions | None = None, save_env_state: bool = False):
        super().__init__(verbose)
        if save_freq < 1:
            raise ValueError(f"save_freq must be at least 1, received {save_freq}")
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be None or at least 1, received {keep_last}")
        self.save_freq = save_freq
        #: A local folder (``Path``) or a URL (``str``).
        self.save_path: str | Path = join_target(save_path, "")
        self.name_prefix = name_prefix
        self.save_replay_buffer = save_replay_buffer
        self.keep_last = keep_last
        self.storage_options = storage_options
        self.save_env_state = save_env_state
        self._due = False

    def _init_callback(self) -> None:
        make_folder(self.save_path, self.storage_options)
        if self.save_env_state and not hasattr(self.training_env, "save_env_state"):
            raise UnsupportedFeatureError(
                f"CheckpointCallback(save_env_state=True) needs an environment that can save its state, such as a "
                f"RayVecEnv; the training environment is a {type(self.training_env).__name__}"
            )

    @classmethod
    def env_state_path(cls, checkpoint: str | os.PathLike[str]) -> str | Path:
        """The environment-state file written beside a checkpoint (with ``save_env_state=True``).

        :param checkpoint: the checkpoint's path or URL (``..._steps.zip``)
        :return: its environment-state file (a ``Path``, or a URL for a URL checkpoint)
        """
        state = os.fspath(checkpoint).removesuffix(".zip") + cls.ENV_STATE_SUFFIX
        return state if is_url(state) else Path(state)

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            self._due = True
        return True

    def _on_iteration_end(self) -> bool:
        if self._due:
            self._due = False
            self._save_checkpoint()
        return True

    def checkpoints(self) -> list[Any]:
        """This callback's checkpoints in ``save_path``, oldest first.

        :return: the paths (``Path``), or the URLs (``str``) for a URL ``save_path``
        """
        pattern = re.compile(rf"{re.escape(self.name_prefix)}_(\d+)_steps\.zip")
        found = [(int(match.group(1)), name) for name in list_folder(self.save_path, self.storage_options)
                 if (match := pattern.fullmatch(name))]
        return [join_target(self.save_path, name) for _, name in sorted(found)]

    def _save_checkpoint(self) -> None:
        assert self.model is not None
        path = join_target(self.save_path, f"{self.name_prefix}_{self.num_timesteps}_steps.zip")
        if self.save_env_state:
            self.training_env.save_env_state(self.env_state_path(path),  # type: ignore[union-attr]
                                             storage_options=self.storage_options)
        self.model.save(path, include_replay_buffer=self.save_replay_buffer, storage_options=self.storage_options)
        if self.verbose >= 1:
            print(f"Saving model checkpoint to {path}")
        if self.keep_last is not None:
            for old in self.checkpoints()[:-self.keep_last]:
                remove_target(old, self.storage_options)
                if self.save_env_state:
                    remove_target(self.env_state_path(old), self.storage_options)


class EventCallback(BaseCallback):
    """Runs ``callback`` when an event happens (:meth:`_on_event`), as Stable Baselines 2's
    ``EventCallback``; the child's ``parent`` is this callback.

    :param callback: the callback run on the event (None: nothing)
    :param verbose: 0 silent, 1 messages
    """

    def __init__(self, callback: BaseCallback | None = None, verbose: int = 0):
        super().__init__(verbose)
        self.callback = callback
        if callback is not None:
            callback.parent = self

    def _init_callback(self) -> None:
        if self.callback is not None and self.model is not None:
            self.callback.init_callback(self.model)

    def _on_event(self) -> bool:
        """Run the child callback's ``on_step``.

        :return: False to stop training
        """
        if self.callback is None:
            return True
        return self.callback.on_step(self.locals)


class EvalCallback(EventCallback):
    """Evaluate the agent every ``eval_freq`` calls on ``eval_env`` (with
    :func:`~stable_baselines_io.common.evaluation.evaluate_policy`), as Stable Baselines 2.

    With ``log_path``, every evaluation is appended to ``<log_path>/evaluations.npz`` (arrays
    ``timesteps``, ``results`` — each evaluation's episode returns — and ``ep_lengths``). With
    ``best_model_save_path``, a new best mean reward saves the model to
    ``<best_model_save_path>/best_model.zip``: a complete agent file (weights, hyperparameters,
    spaces, training state), all that ``load`` needs to act. A new best also runs
    ``callback_on_new_best`` (e.g. :class:`StopTrainingOnRewardThreshold`).

    :param eval_env: a gymnasium env, an env id or a VecEnv
    :param callback_on_new_best: run after each new best mean reward
    :param n_eval_episodes: episodes per evaluation
    :param eval_freq: calls of ``on_step`` between evaluations
    :param log_path: folder of ``evaluations.npz`` (None: not written); a folder or an fsspec URL
    :param best_model_save_path: folder of ``best_model.zip`` (None: not saved); a folder or an fsspec URL
    :param deterministic: greedy actions
    :param render: render the evaluation episodes
    :param verbose: 1 prints each evaluation
    :param storage_options: options for the fsspec backend of URL folders (see docs/scaling.md)
    """

    def __init__(self, eval_env: gymnasium.Env | VecEnv | str, callback_on_new_best: BaseCallback | None = None,
                 n_eval_episodes: int = 5, eval_freq: int = 10000, log_path: str | os.PathLike[str] | None = None,
                 best_model_save_path: str | os.PathLike[str] | None = None, deterministic: bool = True,
                 render: bool = False, verbose: int = 1, storage_options: StorageOptions | None = None):
        super().__init__(callback_on_new_best, verbose=verbose)
        self.eval_env = eval_env
        self.n_eval_episodes = n_eval_episodes
        self.eval_freq = eval_freq
        self.log_folder = None if log_path is None else join_target(log_path, "")
        self.log_path = None if log_path is None else join_target(log_path, "evaluations.npz")
        self.best_model_save_path = None if best_model_save_path is None else join_target(best_model_save_path, "")
        self.storage_options = storage_options
        self.deterministic = deterministic
        self.render = render
        self.best_mean_reward = -np.inf
        self.last_mean_reward = -np.inf
        self.evaluations_timesteps: list[int] = []
        self.evaluations_results: list[list[float]] = []
        self.evaluations_length: list[list[int]] = []

    def _init_callback(self) -> None:
        super()._init_callback()
        for folder in (self.best_model_save_path, self.log_folder):
            if folder is not None:
                make_folder(folder, self.storage_options)

    def _on_step(self) -> bool:
        if self.eval_freq <= 0 or self.n_calls % self.eval_freq != 0:
            return True
        from stable_baselines_io.common.evaluation import evaluate_policy

        assert self.model is not None
        episode_rewards, episode_lengths = evaluate_policy(
            self.model, self.eval_env, n_eval_episodes=self.n_eval_episodes, deterministic=self.deterministic,
            render=self.render, return_episode_rewards=True,
        )
        self.evaluations_timesteps.append(self.num_timesteps)
        self.evaluations_results.append(list(episode_rewards))  # type: ignore[arg-type]
        self.evaluations_length.append(list(episode_lengths))  # type: ignore[arg-type]
        if self.log_path is not None:
            evaluations = io.BytesIO()
            np.savez(evaluations, timesteps=np.array(self.evaluations_timesteps),
                     results=np.array(self.evaluations_results), ep_lengths=np.array(self.evaluations_length))
            write_bytes(self.log_path, evaluations.getvalue(), self.storage_options)
        mean_reward, std_reward = float(np.mean(episode_rewards)), float(np.std(episode_rewards))
        self.last_mean_reward = mean_reward
        if self.verbose >= 1:
            print(f"Eval num_timesteps={self.num_timesteps}, episode_reward={mean_reward:.2f} +/- {std_reward:.2f}")
            print(f"Episode length: {np.mean(episode_lengths):.2f} +/- {np.std(episode_lengths):.2f}")
        if self.logger is not None:
            self.logger.record_scalars({"eval/mean_reward": mean_reward}, self.num_timesteps)
        if mean_reward > self.best_mean_reward:
            if self.verbose >= 1:
                print("New best mean reward!")
            self.best_mean_reward = mean_reward
            if self.best_model_save_path is not None:
                self.model.save(join_target(self.best_model_save_path, "best_model.zip"),
                                storage_options=self.storage_options)
            return self._on_event()
        return True


class StopTrainingOnRewardThreshold(BaseCallback):
    """Stop training once the mean reward of an evaluation reaches ``reward_threshold``; the
    ``callback_on_new_best`` of an :class:`EvalCallback`, as in Stable Baselines 2.

    :param reward_threshold: the mean episode return that ends training
    :param verbose: 1 prints a message when training stops
    """

    def __init__(self, reward_threshold: float, verbose: int = 0):
        super().__init__(verbose)
        self.reward_threshold = reward_threshold

    def _on_step(self) -> bool:
        if not isinstance(self.parent, EvalCallback):
            raise TypeError("StopTrainingOnRewardThreshold must be the callback_on_new_best of an EvalCallback, "
                            f"its parent is {self.parent!r}")
        keep_training = bool(self.parent.best_mean_reward < self.reward_threshold)
        if self.verbose >= 1 and not keep_training:
            print(f"Stopping training because the mean reward {self.parent.best_mean_reward:.2f} "
                  f"is above the threshold {self.reward_threshold}")
        return keep_training


class EveryNTimesteps(EventCallback):
    """Run ``callback`` each time ``n_steps`` more timesteps have passed, as Stable Baselines 2.

    :param n_steps: timesteps between two runs
    :param callback: the callback run
    """

    def __init__(self, n_steps: int, callback: BaseCallback):
        super().__init__(callback)
        self.n_steps = n_steps
        self.last_time_trigger = 0

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last_time_trigger >= self.n_steps:
            self.last_time_trigger = self.num_timesteps
            return self._on_event()
        return True
