"""A :class:`~stable_baselines_io.common.vec_env.VecEnv` whose environments live in Ray actors.

Each actor holds ``envs_per_actor`` environments in an in-process ``VecEnv``, so seeding,
same-step auto-reset, ``terminal_observation`` / ``episode`` infos and episode statistics are
those of the in-process class, computed where the environments are. The driver sends each actor
its slice of the actions and concatenates the answers: a model trained on a ``RayVecEnv`` gets
exactly the arrays it would get from an in-process ``VecEnv`` of the same environments, and ends
with the same weights for the same seed.
"""

from __future__ import annotations

import functools
import io
import json
import pickle
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cloudpickle
import gymnasium
import numpy as np

from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.distributed.ray_runtime import DEFAULT_START_TIMEOUT, connect, gather, remote_class
from stable_baselines_io.exceptions import RayActorDiedError, UnsupportedFeatureError
from stable_baselines_io.format.url_targets import open_target_for_reading, write_bytes
from stable_baselines_io.type_aliases import StorageOptions

#: Members of an environment-state file (:meth:`RayVecEnv.save_env_state`).
ENV_STATE_HEADER_MEMBER = "header.json"
ENV_STATE_ACTOR_MEMBER = "actor_{index}.pkl"

EnvFactory = Callable[[], gymnasium.Env]
StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]


class EnvGroup:
    """The body of one Ray actor: some environments, stepped by an in-process VecEnv.

    :param env_fns: the factories of this actor's environments
    """

    def __init__(self, env_fns: Sequence[EnvFactory]):
        self.vec_env = VecEnv([env_fn() for env_fn in env_fns])

    def describe(self) -> tuple[gymnasium.Space, gymnasium.Space, Any]:
        """:return: the observation space, the action space and the first environment's spec"""
        return self.vec_env.observation_space, self.vec_env.action_space, self.vec_env.spec

    def seed(self, seed: int | None) -> None:
        self.vec_env.seed(seed)

    def reset(self) -> np.ndarray:
        return self.vec_env.reset()

    def step(self, actions: np.ndarray) -> StepResult:
        return self.vec_env.step(actions)

    def get_episode_stats(self) -> dict[str, np.ndarray]:
        return self.vec_env.get_episode_stats()

    def set_episode_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.vec_env.set_episode_stats(stats)

    def get_state(self) -> bytes:
        """:return: the environments and their episode statistics, pickled (cloudpickle)"""
        return cloudpickle.dumps(self.vec_env)

    def set_state(self, state: bytes) -> None:
        """Replace the environments by those of :meth:`get_state` (unpickled here, in the actor).

        :param state: bytes from :meth:`get_state`
        """
        vec_env = pickle.loads(state)
        if not isinstance(vec_env, VecEnv) or vec_env.num_envs != self.vec_env.num_envs:
            raise ValueError(f"the environment state holds {getattr(vec_env, 'num_envs', '?')} environments, "
                             f"this actor has {self.vec_env.num_envs}")
        self.vec_env.close()
        self.vec_env = vec_env

    def close(self) -> None:
        self.vec_env.close()


class RayVecEnv(VecEnv):
    """Steps environments that live in Ray actors, ``envs_per_actor`` per actor.

    Environment ``i`` is built by ``env_fns[i]`` inside actor ``i // envs_per_actor`` (the
    factories travel to the actors with cloudpickle). ``seed(s)`` gives environment ``i`` the seed
    ``s + i``, as :class:`VecEnv` does, so PPO, A2C and DQN runs give the same weights as with an
    in-process ``VecEnv`` of the same environments.

    >>> import ray
    >>> ray.init(num_cpus=2)  # doctest: +SKIP
    >>> env = make_ray_vec_env("CartPole-v1", n_envs=4, envs_per_actor=2)  # doctest: +SKIP
    >>> model = PPO("MlpPolicy", env, seed=0).learn(10_000)  # doctest: +SKIP
    >>> env.close()  # doctest: +SKIP

    :param env_fns: one factory (no argument, returns a gymnasium env) per environment
    :param envs_per_actor: environments per actor (the last actor may hold fewer)
    :param address: connect to this cluster if Ray is not initialised (``"auto"``, ``"ray://..."``,
        or ``"local"`` to start Ray on this machine); None: Ray must already be initialised
    :param num_cpus_per_actor: CPUs Ray reserves for each actor (fractions allowed)
    :param start_timeout: seconds to wait for the actors to start
    :raises RayDependencyError: Ray is not installed
    :raises RayNotInitializedError: Ray is not initialised and no address was given
    :raises RayActorDiedError: (at any call) an actor died; the error names its environments
    """

    def __init__(self, env_fns: Sequence[EnvFactory], envs_per_actor: int = 1, address: str | None = None,
                 num_cpus_per_actor: float = 1.0, start_timeout: float = DEFAULT_START_TIMEOUT):
        if not env_fns:
            raise ValueError("RayVecEnv needs at least one environment factory")
        if envs_per_actor < 1:
            raise ValueError(f"envs_per_actor must be at least 1, received {envs_per_actor}")
        ray = connect(address)
        self.num_envs = len(env_fns)
        self.envs_per_actor = envs_per_actor
        #: ``(start, stop)`` environment indices of each actor.
        self.actor_slices = [(start, min(start + envs_per_actor, self.num_envs))
                             for start in range(0, self.num_envs, envs_per_actor)]
        actor_class = remote_class(EnvGroup, num_cpus=num_cpus_per_actor)
        self._actors: list[Any] = [actor_class.remote(list(env_fns[start:stop])) for start, stop in self.actor_slices]
        try:
            descriptions = self._call("describe", timeout=start_timeout)
        except ray.exceptions.GetTimeoutError as error:
            self._end_actors()
            raise TimeoutError(
                f"the {len(self.actor_slices)} Ray actors of this RayVecEnv did not start within {start_timeout} s: "
                f"each asks for {num_cpus_per_actor} CPU and the cluster has {ray.cluster_resources().get('CPU', 0)}; "
                "lower num_cpus_per_actor or raise envs_per_actor"
            ) from error
        self.observation_space, self.action_space, self._spec = descriptions[0]

    @property
    def spec(self) -> Any:
        return self._spec

    @property
    def envs(self) -> list[gymnasium.Env]:  # type: ignore[override]
        raise UnsupportedFeatureError("the environments of a RayVecEnv live in Ray actors: they cannot be reached "
                                      "from the driver (render them inside the env factory instead)")

    def _describe_actor(self, index: int) -> str:
        start, stop = self.actor_slices[index]
        return f"environments {start} to {stop - 1}" if stop - start > 1 else f"environment {start}"

    def _env_indices(self, index: int) -> tuple[int, ...]:
        return tuple(range(*self.actor_slices[index]))

    def _call(self, method: str, per_actor_args: Sequence[tuple[Any, ...]] | None = None,
              timeout: float | None = None) -> list[Any]:
        if not self._actors:
            raise RuntimeError("this RayVecEnv is closed")
        arguments = per_actor_args if per_actor_args is not None else [()] * len(self._actors)
        refs = [getattr(actor, method).remote(*args) for actor, args in zip(self._actors, arguments)]
        return gather(refs, self._describe_actor, timeout, self._env_indices)

    def _split(self, values: Any) -> list[tuple[Any, ...]]:
        return [(values[start:stop],) for start, stop in self.actor_slices]

    def seed(self, seed: int | None) -> None:
        """Seed the next :meth:`reset` (environment ``i`` gets ``seed + i``) and the action spaces.

        :param seed: the base seed, or None
        """
        self._call("seed", [(None if seed is None else seed + start,) for start, _ in self.actor_slices])
        # The in-process VecEnv's action space is environment 0's, seeded with seed + 0.
        self.action_space.seed(seed)

    def reset(self) -> np.ndarray:
        """Reset every environment.

        :return: the batch of first observations
        """
        return np.concatenate(self._call("reset"))

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every environment (the actors in parallel), resetting those whose episode ended.

        :param actions: one action per environment
        :return: observations, rewards, terminated flags, truncated flags, infos
        """
        if len(actions) != self.num_envs:
            raise ValueError(f"expected one action per environment ({self.num_envs}), received {len(actions)}")
        results = self._call("step", self._split(actions))
        observations, rewards, terminated, truncated, infos = zip(*results)
        return (np.concatenate(observations), np.concatenate(rewards), np.concatenate(terminated),
                np.concatenate(truncated), [info for actor_infos in infos for info in actor_infos])

    def get_episode_stats(self) -> dict[str, np.ndarray]:
        stats = self._call("get_episode_stats")
        return {key: np.concatenate([actor_stats[key] for actor_stats in stats]) for key in ("returns", "lengths")}

    def set_episode_stats(self, stats: dict[str, np.ndarray]) -> None:
        if len(stats["lengths"]) != self.num_envs:
            raise ValueError(f"episode stats for {len(stats['lengths'])} environments, this VecEnv has {self.num_envs}")
        self._call("set_episode_stats", [({key: np.asarray(stats[key])[start:stop] for key in ("returns", "lengths")},)
                                         for start, stop in self.actor_slices])

    def save_env_state(self, path: str | Path, storage_options: StorageOptions | None = None) -> None:
        """Write the environments' state (pickled in the actors) to ``path``, atomically.

        With the model's checkpoint, it lets a job killed on one machine continue exactly on
        another (see ``CheckpointCallback(save_env_state=True)``). The file holds pickles: load
        it only from storage you trust, as you trust the environment code itself.

        :param path: the file or fsspec URL to write (a zip of one pickle per actor and a JSON header)
        :param storage_options: options for a URL's backend
        """
        states = self._call("get_state")
        header = {"num_envs": self.num_envs, "actor_slices": self.actor_slices}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(ENV_STATE_HEADER_MEMBER, json.dumps(header))
            for index, state in enumerate(states):
                archive.writestr(ENV_STATE_ACTOR_MEMBER.format(index=index), state)
        write_bytes(path, buffer.getvalue(), storage_options)

    def load_env_state(self, path: str | Path, storage_options: StorageOptions | None = None) -> None:
        """Put the environments back in the state :meth:`save_env_state` wrote (unpickled in the
        actors, never in this process).

        :param path: the file or fsspec URL
        :param storage_options: options for a URL's backend
        :raises ValueError: the file was written by a RayVecEnv with other environments per actor
        """
        with open_target_for_reading(path, storage_options) as (stream, _):
            archive = zipfile.ZipFile(io.BytesIO(stream.read()))
        header = json.loads(archive.read(ENV_STATE_HEADER_MEMBER))
        slices = [tuple(pair) for pair in header["actor_slices"]]
        if header["num_envs"] != self.num_envs or slices != self.actor_slices:
            raise ValueError(f"the environment state in {str(path)!r} is of {header['num_envs']} environments in "
                             f"actors {slices}; this RayVecEnv has {self.num_envs} in actors {self.actor_slices}")
        self._call("set_state", [(archive.read(ENV_STATE_ACTOR_MEMBER.format(index=index)),)
                                 for index in range(len(self._actors))])

    def close(self) -> None:
        """Close the environments and end the actors (a second call does nothing)."""
        if not self._actors:
            return
        try:
            self._call("close")
        except RayActorDiedError:
            pass  # a dead actor's environments are gone already; the others were closed
        finally:
            self._end_actors()

    def _end_actors(self) -> None:
        actors, self._actors = self._actors, []
        ray = connect(None)
        for actor in actors:
            ray.kill(actor)


def make_ray_vec_env(env: str | EnvFactory, n_envs: int = 1, envs_per_actor: int = 1, address: str | None = None,
                     num_cpus_per_actor: float = 1.0, env_kwargs: dict[str, Any] | None = None) -> RayVecEnv:
    """A :class:`RayVecEnv` of ``n_envs`` copies of an environment.

    >>> env = make_ray_vec_env("CartPole-v1", n_envs=8, envs_per_actor=4, address="auto")  # doctest: +SKIP

    :param env: a gymnasium env id (made with ``gymnasium.make`` in the actors) or a factory
    :param n_envs: number of environments
    :param envs_per_actor: environments per actor
    :param address: see :class:`RayVecEnv`
    :param num_cpus_per_actor: CPUs Ray reserves for each actor
    :param env_kwargs: keyword arguments of ``gymnasium.make`` (env id only)
    :return: the vectorized environment
    """
    if isinstance(env, str):
        factory: EnvFactory = functools.partial(gymnasium.make, env, **(env_kwargs or {}))
    elif env_kwargs:
        raise ValueError("env_kwargs applies to an env id; bind arguments inside the factory instead")
    else:
        factory = env
    return RayVecEnv([factory] * n_envs, envs_per_actor=envs_per_actor, address=address,
                     num_cpus_per_actor=num_cpus_per_actor)
