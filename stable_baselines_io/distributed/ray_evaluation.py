"""``evaluate_policy`` over Ray workers, with weights sent through the object store.

Each worker builds the environment and the model once; after that only the weights travel:
``get_parameters`` on the driver, ``ray.put`` once per new version, ``load_parameters`` in the
worker (no file round trip). The model's normalization statistics (``get_vec_normalize``), if
any, travel with the weights, and the worker's model normalizes raw observations with them, as
the local evaluation does. The driver numbers what it sends (a new version whenever the weights
or the statistics differ from the last ones sent); a worker that already holds a version does not
fetch it again, so evaluating an unchanged model transfers no weights at all.

Episode ``i`` is played by worker ``i % n_workers`` from ``reset(seed=seed + i)``, as in the
local evaluation of a gymnasium env, so both return the same episode rewards for the same seed
(with ``deterministic=True``, or any policy whose actions do not depend on a random generator).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.common.evaluation import episode_seeds, play_episodes, summarize_episodes
from stable_baselines_io.distributed.ray_runtime import DEFAULT_START_TIMEOUT, connect, gather, remote_class
from stable_baselines_io.exceptions import RayActorDiedError
from stable_baselines_io.format.normalization import StoredStatistics, statistics_to_arrays

EnvFactory = Callable[[], gymnasium.Env]
#: What one weights version is: the parameters and the normalization statistics (None: none).
WeightsVersion = tuple[dict[str, np.ndarray], StoredStatistics | None]


class EvaluationWorker:
    """The body of one Ray evaluation worker: an environment and a model, built once.

    :param env_fn: builds the worker's environment
    """

    def __init__(self, env_fn: EnvFactory):
        self.env = env_fn()
        self.model: Any = None
        self.model_key: str | None = None
        self.weights_version = -1
        self.weight_loads = 0

    def set_model(self, model_class: Any, data: dict[str, Any], key: str) -> None:
        """Build the model (its policy and variables) from its data dictionary, unless built already.

        :param model_class: the algorithm class
        :param data: ``model._get_save_data()`` of the driver's model
        :param key: identifies the architecture; the same key keeps the model built before
        """
        if key == self.model_key:
            return
        self.model = model_class._from_data(data, None, {})
        self.model_key, self.weights_version = key, -1

    def set_weights(self, version: int, boxed_weights: list[Any]) -> bool:
        """Load weights ``version`` unless this worker holds it already.

        :param version: the driver's version number of the weights
        :param boxed_weights: ``[ObjectRef]`` of a :data:`WeightsVersion`; inside a list, so that
            Ray does not fetch it before this method decides whether it is needed
        :return: True when the weights were fetched and loaded
        """
        if version == self.weights_version:
            return False
        import ray

        parameters, statistics = ray.get(boxed_weights[0])
        self.model.load_parameters(parameters)
        self.model.set_vec_normalize(statistics)
        self.weights_version = version
        self.weight_loads += 1
        return True

    def play(self, seeds: list[int | None], deterministic: bool,
             max_episode_steps: int | None) -> tuple[list[float], list[int]]:
        return play_episodes(self.model, self.env, seeds, deterministic, max_episode_steps=max_episode_steps)

    def stats(self) -> dict[str, int]:
        """:return: ``{"weights_version": ..., "weight_loads": ...}``"""
        return {"weights_version": self.weights_version, "weight_loads": self.weight_loads}

    def close(self) -> None:
        self.env.close()


class RayEvaluator:
    """A pool of Ray workers evaluating a model, kept between evaluations.

    >>> evaluator = RayEvaluator("CartPole-v1", n_workers=4, address="auto")  # doctest: +SKIP
    >>> mean_reward, std_reward = evaluator.evaluate(model, n_eval_episodes=20)  # doctest: +SKIP
    >>> evaluator.close()  # doctest: +SKIP

    :param env: a gymnasium env id (``gymnasium.make`` in each worker) or a factory
    :param n_workers: number of workers
    :param address: connect to this cluster if Ray is not initialised (see
        :func:`~stable_baselines_io.distributed.ray_runtime.connect`)
    :param num_cpus_per_worker: CPUs Ray reserves for each worker
    :param start_timeout: seconds to wait for the workers to start
    """

    def __init__(self, env: str | EnvFactory, n_workers: int = 2, address: str | None = None,
                 num_cpus_per_worker: float = 1.0, start_timeout: float = DEFAULT_START_TIMEOUT):
        if n_workers < 1:
            raise ValueError(f"n_workers must be at least 1, received {n_workers}")
        ray = connect(address)
        env_fn: EnvFactory = functools.partial(gymnasium.make, env) if isinstance(env, str) else env
        worker_class = remote_class(EvaluationWorker, num_cpus=num_cpus_per_worker)
        self._workers: list[Any] = [worker_class.remote(env_fn) for _ in range(n_workers)]
        self._start_timeout = start_timeout
        self._sent_weights: dict[str, np.ndarray] | None = None
        self._sent_statistics: dict[str, np.ndarray] | None = None
        self._weights_ref: Any = None
        #: Version number of the last weights sent (0: none yet).
        self.weights_version = 0
        self._model_key: str | None = None
        self._ray = ray

    @property
    def n_workers(self) -> int:
        return len(self._workers)

    def _call(self, method: str, per_worker_args: list[tuple[Any, ...]] | None = None,
              timeout: float | None = None) -> list[Any]:
        if not self._workers:
            raise RuntimeError("this RayEvaluator is closed")
        arguments = per_worker_args if per_worker_args is not None else [()] * len(self._workers)
        refs = [getattr(worker, method).remote(*args) for worker, args in zip(self._workers, arguments)]
        return gather(refs, lambda index: f"evaluation worker {index}", timeout)

    def sync_model(self, model: Any) -> None:
        """Make every worker hold ``model``'s architecture, current weights and normalization statistics.

        The architecture is built in a worker only when first seen; the weights and statistics get
        a new version number (and one ``ray.put``) only when they differ from the last ones sent.

        :param model: a model of this library (with ``get_parameters`` and ``_get_save_data``)
        """
        model_key = repr((type(model).__module__, type(model).__qualname__, model.policy, model.policy_kwargs,
                          model.observation_space, model.action_space))
        if model_key != self._model_key:
            self._call("set_model", [(type(model), model._get_save_data(), model_key)] * self.n_workers,
                       timeout=self._start_timeout)
            self._model_key, self._sent_weights = model_key, None
        weights = model.get_parameters()
        vec_normalize = model.get_vec_normalize() if callable(getattr(model, "get_vec_normalize", None)) else None
        statistics = None if vec_normalize is None else vec_normalize.get_statistics()
        statistics_arrays = None if statistics is None else statistics_to_arrays(statistics)
        if self._sent_weights is None or not _same_weights(weights, self._sent_weights) \
                or not _same_weights(statistics_arrays or {}, self._sent_statistics or {}):
            self.weights_version += 1
            payload: WeightsVersion = (weights, statistics)
            self._weights_ref = self._ray.put(payload)
            self._sent_weights = {name: np.array(value, copy=True) for name, value in weights.items()}
            self._sent_statistics = statistics_arrays
        self._call("set_weights", [(self.weights_version, [self._weights_ref])] * self.n_workers)

    def evaluate(self, model: Any, n_eval_episodes: int = 10, deterministic: bool = True,
                 reward_threshold: float | None = None, return_episode_rewards: bool = False, *,
                 seed: int | None = 0,
                 max_episode_steps: int | None = None) -> tuple[float, float] | tuple[list[float], list[int]]:
        """:func:`~stable_baselines_io.common.evaluation.evaluate_policy` on the workers.

        :param model: the agent (PPO, A2C, DQN, or another model of this library)
        :param n_eval_episodes: number of episodes, spread round-robin over the workers
        :param deterministic: greedy actions
        :param reward_threshold: raise ``RewardThresholdError`` unless the mean reward is above it
        :param return_episode_rewards: return every episode's return and length
        :param seed: episode ``i`` starts from ``reset(seed=seed + i)`` (None: no seeding)
        :param max_episode_steps: end an episode after this many steps
        :return: ``(mean_reward, std_reward)``, or ``(episode_rewards, episode_lengths)`` in episode order
        """
        if n_eval_episodes < 1:
            raise ValueError(f"n_eval_episodes must be at least 1, received {n_eval_episodes}")
        self.sync_model(model)
        assignments = [list(range(index, n_eval_episodes, self.n_workers)) for index in range(self.n_workers)]
        results = self._call("play", [(episode_seeds(seed, episodes), deterministic, max_episode_steps)
                                      for episodes in assignments])
        rewards, lengths = [0.0] * n_eval_episodes, [0] * n_eval_episodes
        for episodes, (worker_rewards, worker_lengths) in zip(assignments, results):
            for episode, reward, length in zip(episodes, worker_rewards, worker_lengths):
                rewards[episode], lengths[episode] = reward, length
        return summarize_episodes(rewards, lengths, reward_threshold, return_episode_rewards)

    def worker_stats(self) -> list[dict[str, int]]:
        """:return: each worker's weights version and number of weight loads so far"""
        return self._call("stats")

    def close(self) -> None:
        """Close the workers' environments and end the workers (a second call does nothing)."""
        if not self._workers:
            return
        workers = self._workers
        try:
            self._call("close")
        except RayActorDiedError:
            pass  # a dead worker's environment is gone already; the others were closed
        finally:
            self._workers = []
            for worker in workers:
                self._ray.kill(worker)

    def __enter__(self) -> RayEvaluator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _same_weights(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> bool:
    return list(left) == list(right) and all(np.array_equal(left[name], right[name]) for name in left)


def distributed_evaluate_policy(
    model: Any,
    env: str | EnvFactory,
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    reward_threshold: float | None = None,
    return_episode_rewards: bool = False,
    *,
    seed: int | None = 0,
    max_episode_steps: int | None = None,
    ray_workers: int = 2,
    address: str | None = None,
) -> tuple[float, float] | tuple[list[float], list[int]]:
    """One evaluation on a :class:`RayEvaluator` made for it (keep a ``RayEvaluator`` to evaluate
    repeatedly without rebuilding the workers). ``evaluate_policy(..., ray_workers=N)`` calls this.

    >>> episode_rewards, _ = distributed_evaluate_policy(model, "CartPole-v1", 20, return_episode_rewards=True,
    ...                                                  ray_workers=4)  # doctest: +SKIP

    :param model: the agent
    :param env: a gymnasium env id or a factory
    :param n_eval_episodes: number of episodes
    :param deterministic: greedy actions
    :param reward_threshold: raise ``RewardThresholdError`` unless the mean reward is above it
    :param return_episode_rewards: return every episode's return and length
    :param seed: episode ``i`` starts from ``reset(seed=seed + i)``
    :param max_episode_steps: end an episode after this many steps
    :param ray_workers: number of workers
    :param address: the cluster to connect to when Ray is not initialised
    :return: as :func:`~stable_baselines_io.common.evaluation.evaluate_policy`
    """
    with RayEvaluator(env, n_workers=ray_workers, address=address) as evaluator:
        return evaluator.evaluate(model, n_eval_episodes, deterministic, reward_threshold, return_episode_rewards,
                                  seed=seed, max_episode_steps=max_episode_steps)
