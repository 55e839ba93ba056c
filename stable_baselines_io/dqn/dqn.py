"""Deep Q-Network (Mnih et al., 2015) with Stable Baselines 2's extensions.

Double Q-learning (van Hasselt et al., 2016), dueling networks (Wang et al., 2016, in the
policy) and proportional prioritized replay (Schaul et al., 2016). Variables are named as in
Stable Baselines 2, so its DQN files load into :class:`DQN` and back.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.buffers import PrioritizedReplayBuffer, ReplayBatch, ReplayBuffer
from stable_baselines_io.common.deferred_setup import Actor
from stable_baselines_io.common.off_policy import OffPolicyRLModel, _crossings
from stable_baselines_io.common.optimizers import Adam, apply_clipped_gradients
from stable_baselines_io.common.preprocessing import observations_to_array
from stable_baselines_io.common.stored_values import active_stored_values
from stable_baselines_io.common.tf_util import PREDICT_EAGER_CALLS, CompiledFunction
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.dqn.cnn_policies import CnnPolicy, LnCnnPolicy
from stable_baselines_io.dqn.policies import LnMlpPolicy, MlpPolicy
from stable_baselines_io.exceptions import NoEnvironmentError, UnsupportedFeatureError, UnsupportedSpaceError
from stable_baselines_io.format.names import DQN_SCHEME
from stable_baselines_io.interop import DQN_PARAM_NOISE_SCOPES
from stable_baselines_io.schedules import LinearSchedule, Schedule, get_schedule_fn
from stable_baselines_io.type_aliases import EnvSpec


def greedy_actions(q_net: Callable[[tf.Tensor], tf.Tensor], observations: tf.Tensor) -> tf.Tensor:
    """The action of highest Q-value for each observation.

    :param q_net: a Q-network
    :param observations: a batch
    :return: int64 actions, ``(batch,)``
    """
    return tf.argmax(q_net(observations), axis=1)


def huber_loss(errors: tf.Tensor, delta: float = 1.0) -> tf.Tensor:
    """Quadratic for ``|error| < delta``, linear beyond (elementwise).

    :param errors: the TD errors
    :param delta: where the loss turns linear
    :return: the losses, same shape as ``errors``
    """
    absolute = tf.abs(errors)
    return tf.where(absolute < delta, 0.5 * tf.square(errors), delta * (absolute - 0.5 * delta))


class DQN(OffPolicyRLModel):
    """Deep Q-Network, with the arguments and saved attributes of Stable Baselines 2's ``DQN``.

    >>> model = DQN("MlpPolicy", "CartPole-v1", learning_starts=50, seed=0)
    >>> model = model.learn(total_timesteps=100)
    >>> action, _ = model.predict(np.zeros(4, dtype=np.float32), deterministic=True)

    :param policy: ``"MlpPolicy"``, ``"LnMlpPolicy"``, ``"CnnPolicy"``, ``"LnCnnPolicy"`` or a policy class
    :param env: the environment (see :class:`~stable_baselines_io.common.base_class.BaseRLModel`)
    :param gamma: discount factor
    :param learning_rate: Adam learning rate (a number or a schedule of the remaining progress)
    :param buffer_size: replay buffer capacity, in transitions
    :param exploration_fraction: fraction of training over which epsilon decays linearly
    :param exploration_final_eps: epsilon after the decay
    :param exploration_initial_eps: epsilon at the start of training
    :param train_freq: train every ``train_freq`` environment steps
    :param batch_size: minibatch size
    :param double_q: pick the next action with the online network, value it with the target one
    :param learning_starts: environment steps before training starts
    :param target_network_update_freq: copy the online network to the target every this many steps
    :param prioritized_replay: sample transitions in proportion to their TD error
    :param prioritized_replay_alpha: how much prioritization is used (0: uniform)
    :param prioritized_replay_beta0: initial importance-sampling exponent (annealed to 1)
    :param prioritized_replay_beta_iters: steps over which beta reaches 1 (default: ``total_timesteps``)
    :param prioritized_replay_eps: added to ``|td_error|`` so no priority is zero
    :param param_noise: Stable Baselines 2's parameter-space noise exploration: such an agent acts
        (with ``deepq/model``) and keeps SB2's ``deepq/perturbed_model`` and ``deepq/adaptive_model``
        variables, but cannot learn (the exploration was not ported)
    :param n_cpu_tf_sess: threads of TensorFlow's intra-op and inter-op pools (None: one per core);
        TensorFlow 2 sets them once per process, so only the first model can change them (see
        :func:`~stable_baselines_io.common.tf_util.configure_tf_threads`)
    :param verbose: 0 silent, 1 training information
    :param _init_setup_model: build the networks now (``load`` builds them after restoring attributes)
    :param policy_kwargs: ``layers``, ``dueling``, ``layer_norm``, ``act_fun``
    :param seed: seed for the networks' initialisation, exploration, sampling and the environments
    :param n_envs: number of environment copies when ``env`` is an id
    :param gradient_steps: gradient steps each time training happens
    :param max_grad_norm: clip the gradients' global norm to this (None: no clipping); Stable
        Baselines 2 clipped each variable's gradient to norm 10 separately
    :param tensorboard_log: folder of TensorBoard runs, written by ``learn`` (None: none)
    :param full_tensorboard_log: also write histograms of the trained variables
    """

    policy_aliases: ClassVar[dict[str, type]] = {
        "MlpPolicy": MlpPolicy, "LnMlpPolicy": LnMlpPolicy, "CnnPolicy": CnnPolicy, "LnCnnPolicy": LnCnnPolicy,
    }
    _parameter_scheme: ClassVar[str | None] = DQN_SCHEME
    optimizer_class = Adam
    _save_attrs: ClassVar[tuple[str, ...]] = (
        *OffPolicyRLModel._save_attrs,
        "double_q",
        "param_noise",
        "prioritized_replay",
        "prioritized_replay_eps",
        "target_network_update_freq",
        "prioritized_replay_alpha",
        "prioritized_replay_beta0",
        "prioritized_replay_beta_iters",
        "exploration_final_eps",
        "exploration_fraction",
        "exploration_initial_eps",
        "n_cpu_tf_sess",
        "max_grad_norm",
    )
    #: Everything ``learn`` carries from one call to the next, so that a saved and reloaded model
    #: trains on bit-exactly (``load(..., force_reset=False)`` with the same environment, and the
    #: replay buffer). ``rng`` draws exploration actions and minibatches; the optimizer slots are
    #: in :meth:`get_state_variables`; epsilon and the target network are parameters.
    #: Training and target-update steps are derived from ``num_timesteps``.
    _state_attrs: ClassVar[tuple[str, ...]] = (*OffPolicyRLModel._state_attrs, "rng")
    _sb2_data_keys: ClassVar[tuple[str, ...]] = ("exploration_fraction", "target_network_update_freq")

    def __init__(
        self,
        policy: type | str,
        env: EnvSpec | None,
        gamma: float = 0.99,
        learning_rate: float | Schedule = 5e-4,
        buffer_size: int = 50000,
        exploration_fraction: float = 0.1,
        exploration_final_eps: float = 0.02,
        exploration_initial_eps: float = 1.0,
        train_freq: int = 1,
        batch_size: int = 32,
        double_q: bool = True,
        learning_starts: int = 1000,
        target_network_update_freq: int = 500,
        prioritized_replay: bool = False,
        prioritized_replay_alpha: float = 0.6,
        prioritized_replay_beta0: float = 0.4,
        prioritized_replay_beta_iters: int | None = None,
        prioritized_replay_eps: float = 1e-6,
        param_noise: bool = False,
        n_cpu_tf_sess: int | None = None,
        verbose: int = 0,
        _init_setup_model: bool = True,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        n_envs: int = 1,
        gradient_steps: int = 1,
        max_grad_norm: float | None = 10,
        tensorboard_log: str | None = None,
        full_tensorboard_log: bool = False,
    ):
        self.n_cpu_tf_sess = n_cpu_tf_sess
        self.tensorboard_log = tensorboard_log
        self.full_tensorboard_log = full_tensorboard_log
        super().__init__(policy, env, verbose=verbose, policy_kwargs=policy_kwargs, seed=seed, n_envs=n_envs)
        self.gamma = gamma
        self.learning_rate = learning_rate
        self.buffer_size = buffer_size
        self.exploration_fraction = exploration_fraction
        self.exploration_final_eps = exploration_final_eps
        self.exploration_initial_eps = exploration_initial_eps
        self.train_freq = train_freq
        self.batch_size = batch_size
        self.double_q = double_q
        self.learning_starts = learning_starts
        self.target_network_update_freq = target_network_update_freq
        self.prioritized_replay = prioritized_replay
        self.prioritized_replay_alpha = prioritized_replay_alpha
        self.prioritized_replay_beta0 = prioritized_replay_beta0
        self.prioritized_replay_beta_iters = prioritized_replay_beta_iters
        self.prioritized_replay_eps = prioritized_replay_eps
        self.param_noise = param_noise
        self.gradient_steps = gradient_steps
        self.max_grad_norm = max_grad_norm

        self.replay_buffer = None
        if _init_setup_model:
            self.setup_model()

    # --- networks -----------------------------------------------------------------------------

    def setup_model(self) -> None:
        """Build the online and target Q-networks, ``deepq/eps``, the optimizer and the compiled steps."""
        if self.observation_space is None or self.action_space is None:
            raise NoEnvironmentError(
                "DQN needs an environment (or a loaded file's observation and action spaces) to build its networks"
            )
        if not isinstance(self.action_space, gymnasium.spaces.Discrete):
            raise UnsupportedSpaceError(f"DQN supports only Discrete action spaces, received {self.action_space}")
        self._seed_for_setup()
        init_seed, run_seed = np.random.SeedSequence(self.seed).spawn(2)
        #: Draws exploration actions and minibatches; its ``bit_generator.state`` is plain data.
        self.rng = np.random.default_rng(run_seed)
        init_rng = np.random.default_rng(init_seed)

        self.epsilon = tf.Variable(0.0, dtype=tf.float32, trainable=False, name="deepq/eps")
        self.q_net = self.policy(self.observation_space, self.action_space, scope="deepq/model", rng=init_rng,
                                 **self.policy_kwargs)
        #: With ``param_noise``: SB2's perturbed and adaptive copies of the online network, in its
        #: creation order. Kept so that an SB2 file loads name for name and saves back whole; they
        #: never act (SB2's ``predict`` used ``deepq/model`` too) and are not trained.
        self.q_net_perturbations = [
            self.policy(self.observation_space, self.action_space, scope=f"deepq/{copy}/model", rng=init_rng,
                        **self.policy_kwargs)
            for copy in (DQN_PARAM_NOISE_SCOPES if self.param_noise else ())
        ]
        self.q_net_target = self.policy(self.observation_space, self.action_space,
                                        scope="deepq/target_q_func/model", rng=init_rng, **self.policy_kwargs)
        self.learning_rate_schedule = get_schedule_fn(self.learning_rate)
        self._reset_optimizer()

        observation_spec = self.q_net.observation_spec
        minibatches_spec = tf.TensorSpec((None, *observation_spec.shape), observation_spec.dtype)
        scalars_spec = tf.TensorSpec((None, None), tf.float32)
        self._train_fn = CompiledFunction(
            self._train_minibatches,
            [minibatches_spec, tf.TensorSpec((None, None), tf.int64), scalars_spec, minibatches_spec, scalars_spec,
             scalars_spec],
            autograph=True,
        )
        # Training acts through the traced function from its first step; predict starts eagerly.
        self._greedy_actions_fn = CompiledFunction(self._greedy_actions, [observation_spec])
        self._greedy_predict_fn = CompiledFunction(self._greedy_actions, [observation_spec],
                                                   eager_calls=PREDICT_EAGER_CALLS)
        self._update_target_fn = CompiledFunction(self._update_target, [])
        stored = active_stored_values()
        if stored is None or not stored.covers(self.q_net_target.get_parameter_list()):
            for target, online in zip(self.q_net_target.get_parameter_list(), self.q_net.get_parameter_list()):
                target.assign(online)

    def _make_model_optimizer(self) -> Adam:
        return Adam(self.q_net.get_parameter_list(), learning_rate=self.learning_rate_schedule(1.0), epsilon=1e-8)

    def _optimized_variables(self) -> list[tf.Variable]:
        return self.q_net.get_parameter_list()

    def get_parameter_list(self) -> list[tf.Variable]:
        """``deepq/eps:0``, the online network's variables, with ``param_noise`` the perturbed and adaptive
        copies', then the target network's (Stable Baselines 2 order).

        :return: the variables
        """
        perturbations = [variable for network in self.q_net_perturbations for variable in network.get_parameter_list()]
        return [self.epsilon, *self.q_net.get_parameter_list(), *perturbations, *self.q_net_target.get_parameter_list()]

    def get_state_variables(self) -> OrderedDict[str, tf.Variable]:
        """The optimizer's step counter, learning rate and slots, named as in Stable Baselines 2
        (``Adam/iterations:0``, ``Adam/learning_rate:0``, ``<variable>/Adam:0``, ``<variable>/Adam_1:0``).

        :return: ordered mapping name -> variable
        """
        self.optimizer  # noqa: B018 (built on first use)
        return self._optimizer_state_variables()

    def _built_state_variables(self) -> OrderedDict[str, tf.Variable]:
        return self._optimizer_state_variables()

    @property
    def episode_returns(self) -> deque[float]:
        """Returns of the last 100 finished episodes."""
        return deque(info["r"] for info in self.ep_info_buf)

    def _update_target(self) -> None:
        for target, online in zip(self.q_net_target.get_parameter_list(), self.q_net.get_parameter_list()):
            target.assign(online)

    def _greedy_actions(self, observations: tf.Tensor) -> tf.Tensor:
        return greedy_actions(self.q_net, observations)

    def _train_minibatches(self, observations: tf.Tensor, actions: tf.Tensor, rewards: tf.Tensor,
                           next_observations: tf.Tensor, dones: tf.Tensor,
                           weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One gradient step per minibatch, in order, in a single graph call.

        Every argument has shape ``(n_minibatches, batch_size, ...)``.

        :return: the loss of each minibatch and the TD errors of each transition
        """
        n_minibatches = tf.shape(observations)[0]
        losses = tf.TensorArray(tf.float32, size=n_minibatches)
        td_errors = tf.TensorArray(tf.float32, size=n_minibatches)
        for index in tf.range(n_minibatches):
            loss, minibatch_td_errors = self._gradient_step(
                observations[index], actions[index], rewards[index], next_observations[index], dones[index],
                weights[index],
            )
            losses = losses.write(index, loss)
            td_errors = td_errors.write(index, minibatch_td_errors)
        return losses.stack(), td_errors.stack()

    def _gradient_step(self, observations: tf.Tensor, actions: tf.Tensor, rewards: tf.Tensor,
                       next_observations: tf.Tensor, dones: tf.Tensor,
                       weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        next_q_values_target = self.q_net_target(next_observations)
        if self.double_q:
            next_actions = tf.argmax(self.q_net(next_observations), axis=1)
            next_q_values = tf.gather(next_q_values_target, next_actions, batch_dims=1)
        else:
            next_q_values = tf.reduce_max(next_q_values_target, axis=1)
        td_target = rewards + self.gamma * (1.0 - dones) * next_q_values

        parameters = self.q_net.get_parameter_list()
        with tf.GradientTape() as tape:
            q_values = tf.gather(self.q_net(observations), actions, batch_dims=1)
            td_errors = q_values - td_target
            loss = tf.reduce_mean(weights * huber_loss(td_errors))
        apply_clipped_gradients(self.optimizer, tape.gradient(loss, parameters), self.max_grad_norm)
        return loss, td_errors

    # --- acting -------------------------------------------------------------------------------

    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        observations = observations_to_array(observations, self.q_net.observation_space)
        if deterministic:
            return self._greedy_predict_fn(observations).numpy()
        return self._epsilon_greedy(observations, float(self.epsilon.numpy()), self._greedy_predict_fn)

    def _deferred_actor(self) -> Actor:
        q_net = self.q_net
        return lambda observations: greedy_actions(q_net, observations_to_array(observations, q_net.observation_space)
                                                   ).numpy()

    def _proba_step(self, observations: np.ndarray) -> np.ndarray:
        return self.q_net.action_proba(observations_to_array(observations, self.q_net.observation_space)).numpy()

    def _epsilon_greedy(self, observations: np.ndarray, epsilon: float,
                        greedy_actions_fn: CompiledFunction | None = None) -> np.ndarray:
        n_observations = len(observations)
        # Draw both every time, so the generator advances the same whatever the outcome.
        explore = self.rng.random(n_observations) < epsilon
        random_actions = self.rng.integers(self.q_net.n_actions, size=n_observations)
        if explore.all():
            return random_actions
        greedy_actions = (greedy_actions_fn or self._greedy_actions_fn)(observations).numpy()
        return np.where(explore, random_actions, greedy_actions)

    # --- learning -----------------------------------------------------------------------------

    def _make_replay_buffer(self) -> ReplayBuffer:
        space = self.q_net.observation_space
        shape, dtype = tuple(space.shape or ()), np.dtype(space.dtype)
        if self.prioritized_replay:
            return PrioritizedReplayBuffer(self.buffer_size, shape, alpha=self.prioritized_replay_alpha,
                                           observation_dtype=dtype)
        return ReplayBuffer(self.buffer_size, shape, observation_dtype=dtype)

    def _setup_learn(self, horizon_steps: int, reset_num_timesteps: bool) -> VecEnv:
        if self.param_noise:
            raise UnsupportedFeatureError(
                "DQN(param_noise=True) cannot learn: parameter-space noise exploration was not ported (a "
                "param_noise agent loads to act, with deepq/model); use epsilon-greedy exploration "
                "(param_noise=False)"
            )
        env = super()._setup_learn(horizon_steps, reset_num_timesteps)
        self.exploration = LinearSchedule(self.exploration_initial_eps, self.exploration_final_eps,
                                          end_fraction=self.exploration_fraction)
        self.beta_schedule = LinearSchedule(self.prioritized_replay_beta0, 1.0)
        self._assigned_epsilon: float | None = None
        return env

    def _sample_actions(self, observations: np.ndarray, progress_remaining: float) -> np.ndarray:
        epsilon = self.exploration(progress_remaining)
        if epsilon != self._assigned_epsilon:
            self.epsilon.assign(epsilon)
            self._assigned_epsilon = epsilon
        return self._epsilon_greedy(observations, epsilon)

    def _train(self, replay_buffer: ReplayBuffer, n_gradient_steps: int,
               progress_remaining: float) -> dict[str, Any]:
        learning_rate = self.learning_rate_schedule(min(max(progress_remaining, 0.0), 1.0))
        self.optimizer.learning_rate.assign(learning_rate)
        if not isinstance(replay_buffer, PrioritizedReplayBuffer):
            losses, td_errors = self._train_fn(
                *_graph_inputs(replay_buffer.sample((n_gradient_steps, self.batch_size), self.rng)))
            return _train_statistics(learning_rate, losses, td_errors)
        beta_steps = self.prioritized_replay_beta_iters or self._total_timesteps
        beta = self.beta_schedule(1.0 - self.num_timesteps / beta_steps)
        # Priorities change after every step, so each minibatch is drawn after the previous update.
        for _ in range(n_gradient_steps):
            batch = replay_buffer.sample((1, self.batch_size), self.rng, beta=beta)
            losses, td_errors = self._train_fn(*_graph_inputs(batch))
            replay_buffer.update_priorities(batch.indices, np.abs(td_errors.numpy()) + self.prioritized_replay_eps)
        return _train_statistics(learning_rate, losses, td_errors)

    def _on_steps_trained(self, previous_timesteps: int) -> None:
        if _crossings(previous_timesteps, self.num_timesteps, self.target_network_update_freq):
            self._update_target_fn()

    def _logged_values(self) -> dict[str, Any]:
        return {"% time spent exploring": round(100 * float(self.epsilon.numpy()))}

    def _tensorboard_values(self) -> dict[str, Any]:
        return {"exploration_rate": self.epsilon}


def _train_statistics(learning_rate: float, losses: tf.Tensor, td_errors: tf.Tensor) -> dict[str, Any]:
    """The statistics of the last gradient steps: tensors, averaged only when they are logged."""
    return {"learning_rate": learning_rate, "loss": losses, "td_error": td_errors}


def _graph_inputs(batch: ReplayBatch) -> tuple[np.ndarray, ...]:
    return (batch.observations, batch.actions.astype(np.int64), batch.rewards, batch.next_observations,
            batch.dones, batch.weights)
