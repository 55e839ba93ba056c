"""Advantage Actor-Critic (Mnih et al. 2016, synchronous): Stable Baselines 2's ``A2C`` in TensorFlow 2.

One update: the base collects ``n_steps`` steps in each of the ``n_envs`` environments; A2C takes
the n-step returns (bootstrapped from the value of the last observation) and one RMSProp step on
the policy gradient loss, the value loss and an entropy bonus over the whole rollout.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from stable_baselines_io.common.on_policy import ActorCriticRLModel, Rollout, compute_gae, recurrent_specs
from stable_baselines_io.common.optimizers import RMSProp
from stable_baselines_io.common.tf_util import CompiledFunction
from stable_baselines_io.interop import A2C_DATA_KEYS
from stable_baselines_io.schedules import LR_SCHEDULE_FACTORS, Schedule
from stable_baselines_io.type_aliases import EnvSpec


class A2C(ActorCriticRLModel):
    """Advantage Actor-Critic with the names and defaults of Stable Baselines 2's ``A2C``.

    >>> model = A2C("MlpPolicy", "CartPole-v1", seed=0).learn(total_timesteps=50)
    >>> model.num_timesteps
    50

    :param policy: the policy class, or ``"MlpPolicy"`` or ``"CnnPolicy"``
    :param env: a gymnasium env, an env id, a vectorized env, or None (predict-only model)
    :param gamma: discount factor
    :param n_steps: steps per environment per update (the rollout is ``n_steps * n_envs``)
    :param vf_coef: value loss coefficient of the loss
    :param ent_coef: entropy coefficient of the loss
    :param max_grad_norm: maximum global norm of the gradient (None: no clipping)
    :param learning_rate: learning rate, or a schedule of the remaining progress (1 -> 0)
    :param alpha: RMSProp decay of the mean square
    :param momentum: RMSProp momentum
    :param epsilon: RMSProp epsilon, added to the mean square inside the square root
    :param lr_schedule: factor applied to ``learning_rate`` over training: ``"constant"``,
        ``"linear"``, ``"double_linear_con"``, ``"middle_drop"`` or ``"double_middle_drop"``
        (:data:`~stable_baselines_io.schedules.LR_SCHEDULE_FACTORS`)
    :param verbose: 0 silent, 1 a table of training statistics every ``log_interval`` updates
    :param _init_setup_model: build the networks now (``load`` passes False and builds later)
    :param policy_kwargs: keyword arguments of the policy (``net_arch``, ``act_fun``)
    :param seed: seed of every random number generator (networks, sampling, envs)
    :param n_envs: number of environment copies when ``env`` is an env id
    :param n_cpu_tf_sess: threads of TensorFlow's intra-op and inter-op pools (None: one per core);
        TensorFlow 2 sets them once per process, so only the first model can change them (see
        :func:`~stable_baselines_io.common.tf_util.configure_tf_threads`)
    :param tensorboard_log: folder of TensorBoard runs, written by ``learn`` (None: none)
    :param full_tensorboard_log: also write histograms of the trained variables
    """

    _save_attrs: ClassVar[tuple[str, ...]] = (
        *ActorCriticRLModel._save_attrs,
        "alpha",
        "momentum",
        "epsilon",
        "lr_schedule",
    )
    _sb2_data_keys: ClassVar[tuple[str, ...]] = tuple(sorted(A2C_DATA_KEYS))

    def __init__(
        self,
        policy: type | str,
        env: EnvSpec | None,
        gamma: float = 0.99,
        n_steps: int = 5,
        vf_coef: float = 0.25,
        ent_coef: float = 0.01,
        max_grad_norm: float | None = 0.5,
        learning_rate: float | Schedule = 7e-4,
        alpha: float = 0.99,
        momentum: float = 0.0,
        epsilon: float = 1e-5,
        lr_schedule: str = "constant",
        verbose: int = 0,
        _init_setup_model: bool = True,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        n_envs: int = 1,
        n_cpu_tf_sess: int | None = None,
        tensorboard_log: str | None = None,
        full_tensorboard_log: bool = False,
    ):
        self.alpha = alpha
        self.momentum = momentum
        self.epsilon = epsilon
        self.lr_schedule = lr_schedule
        super().__init__(policy, env, gamma=gamma, n_steps=n_steps, ent_coef=ent_coef, learning_rate=learning_rate,
                         vf_coef=vf_coef, max_grad_norm=max_grad_norm, verbose=verbose,
                         _init_setup_model=_init_setup_model, policy_kwargs=policy_kwargs, seed=seed, n_envs=n_envs,
                         n_cpu_tf_sess=n_cpu_tf_sess, tensorboard_log=tensorboard_log,
                         full_tensorboard_log=full_tensorboard_log)

    def _learning_rate_at(self, progress_remaining: float) -> float:
        if self.lr_schedule not in LR_SCHEDULE_FACTORS:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}: expected one of {sorted(LR_SCHEDULE_FACTORS)}")
        return super()._learning_rate_at(progress_remaining) * LR_SCHEDULE_FACTORS[self.lr_schedule](progress_remaining)

    optimizer_class = RMSProp

    def _make_optimizer(self, variables: list[tf.Variable], learning_rate: float) -> RMSProp:
        return RMSProp(variables, learning_rate=learning_rate, decay=self.alpha, momentum=self.momentum,
                       epsilon=self.epsilon)

    def _setup_train_step(self) -> None:
        policy = self._require_policy()
        sample_spec = tf.TensorSpec((None,), tf.float32)
        self._train_step = CompiledFunction(
            self._train_on_batch,
            [policy.observation_spec, policy.action_spec, sample_spec, sample_spec, *recurrent_specs(policy)],
        )

    # --- training -----------------------------------------------------------------------------

    def _compute_advantages(
        self, rewards: np.ndarray, values: np.ndarray, episode_starts: np.ndarray, last_values: np.ndarray,
        last_episode_starts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        # lambda = 1: returns are the n-step discounted returns, advantages = returns - values.
        return compute_gae(rewards, values, episode_starts, last_values, last_episode_starts, self.gamma, 1.0)

    def _train(self, rollout: Rollout, progress_remaining: float) -> dict[str, float]:
        recurrent_inputs = () if rollout.states is None else (rollout.states, rollout.masks)
        statistics = self._train_step(rollout.observations, rollout.actions, rollout.advantages, rollout.returns,
                                      *recurrent_inputs)
        return dict(zip(("pg_loss", "vf_loss", "entropy"), statistics.numpy().tolist()))

    def _train_on_batch(self, observations: tf.Tensor, actions: tf.Tensor, advantages: tf.Tensor,
                        returns: tf.Tensor, *recurrent_inputs: tf.Tensor) -> tf.Tensor:
        policy = self._require_policy()
        with tf.GradientTape() as tape:
            neglogps, entropy, values = policy.evaluate_actions(observations, actions, *recurrent_inputs)
            pg_loss = tf.reduce_mean(advantages * neglogps)
            vf_loss = tf.reduce_mean(tf.square(values - returns))
            entropy = tf.reduce_mean(entropy)
            loss = pg_loss - self.ent_coef * entropy + self.vf_coef * vf_loss
        self._apply_gradients(tape.gradient(loss, self._trained_variables))
        return tf.stack([pg_loss, vf_loss, entropy])
