"""Small test environments for the action spaces gymnasium's own environments do not have.

Stable Baselines 2 tested its MultiDiscrete and MultiBinary policies on identity environments:
the observation is a random element of the action space and the agent is rewarded for repeating
it. Importing this module registers them with gymnasium (the library's models import it, so
``PPO("MlpPolicy", "IdentityMultiDiscrete-v0")`` and ``sb-io train|eval --env`` accept the bare
ids); ``gymnasium.make`` alone needs the module prefix::

    gymnasium.make("stable_baselines_io.envs:IdentityMultiDiscrete-v0")   # MultiDiscrete([3, 4])
    gymnasium.make("stable_baselines_io.envs:IdentityMultiBinary-v0")     # MultiBinary(4)

>>> env = gymnasium.make("stable_baselines_io.envs:IdentityMultiBinary-v0")
>>> observation, _ = env.reset(seed=0)
>>> float(env.step(observation)[1])
1.0
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

#: The registered ids, without the module prefix.
IDENTITY_MULTI_DISCRETE_ID = "IdentityMultiDiscrete-v0"
IDENTITY_MULTI_BINARY_ID = "IdentityMultiBinary-v0"


class IdentityEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """Reward 1 when the action equals the observation (every element), else 0.

    :param space: both the observation and the action space (MultiDiscrete or MultiBinary)
    :param ep_length: steps per episode (the episode is truncated, not terminated)
    """

    def __init__(self, space: gymnasium.spaces.MultiDiscrete | gymnasium.spaces.MultiBinary, ep_length: int = 100):
        if not isinstance(space, (gymnasium.spaces.MultiDiscrete, gymnasium.spaces.MultiBinary)):
            raise TypeError(f"IdentityEnv needs a MultiDiscrete or MultiBinary space, received {space}")
        self.observation_space = space
        self.action_space = space
        self.ep_length = ep_length
        self._steps = 0
        self._state = self._draw()

    def _draw(self) -> np.ndarray:
        space = self.observation_space
        if isinstance(space, gymnasium.spaces.MultiDiscrete):
            return (space.start + self.np_random.integers(0, space.nvec)).astype(space.dtype)
        return self.np_random.integers(0, 2, size=space.shape).astype(space.dtype)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._steps = 0
        self._state = self._draw()
        return self._state.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        expected_shape = self.observation_space.shape
        reward = float(np.array_equal(np.asarray(action).reshape(expected_shape), self._state))
        self._steps += 1
        self._state = self._draw()
        return self._state.copy(), reward, False, self._steps >= self.ep_length, {}


def identity_multi_discrete(nvec: Any = (3, 4), ep_length: int = 100) -> IdentityEnv:
    """:param nvec: the choices of each dimension
    :param ep_length: steps per episode
    :return: an :class:`IdentityEnv` over ``MultiDiscrete(nvec)``"""
    return IdentityEnv(gymnasium.spaces.MultiDiscrete(nvec), ep_length)


def identity_multi_binary(n: int = 4, ep_length: int = 100) -> IdentityEnv:
    """:param n: the number of bits
    :param ep_length: steps per episode
    :return: an :class:`IdentityEnv` over ``MultiBinary(n)``"""
    return IdentityEnv(gymnasium.spaces.MultiBinary(n), ep_length)


for _env_id, _entry_point in ((IDENTITY_MULTI_DISCRETE_ID, "identity_multi_discrete"),
                              (IDENTITY_MULTI_BINARY_ID, "identity_multi_binary")):
    if _env_id not in gymnasium.registry:
        gymnasium.register(_env_id, entry_point=f"{__name__}:{_entry_point}")
