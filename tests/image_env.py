"""A tiny image environment for CNN policies (tests and the CNN learning benchmark).

Each step shows a bright square in one of ``n_positions`` column bands of a dark ``height x width``
grayscale image (uint8, HWC); the action that names the column earns 1, any other 0. An
episode lasts ``episode_length`` steps: a random policy earns ``episode_length / n_positions``
on average, a perfect one ``episode_length``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np


class ImageChoiceEnv(gymnasium.Env):
    """Find the bright square: a contextual bandit on images.

    :param height: height of the image (at least 36, the nature CNN's minimum)
    :param width: width of the image (default: ``height``)
    :param channels: channels of the image (the same picture in each)
    :param n_positions: columns the square can appear in, and the number of actions
    :param episode_length: steps per episode
    :param continuous: Box actions in ``[-1, 1]``: the column is the sign-bucketed first value
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, height: int = 36, width: int | None = None, channels: int = 1, n_positions: int = 3,
                 episode_length: int = 8, continuous: bool = False):
        self.height = height
        self.width = height if width is None else width
        self.n_positions = n_positions
        self.episode_length = episode_length
        self.observation_space = gymnasium.spaces.Box(0, 255, (height, self.width, channels), dtype=np.uint8)
        self.action_space: gymnasium.Space = (
            gymnasium.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32) if continuous
            else gymnasium.spaces.Discrete(n_positions)
        )
        self._position = 0
        self._steps = 0

    def _observation(self) -> np.ndarray:
        self._position = int(self.np_random.integers(self.n_positions))
        image = self.np_random.integers(0, 40, self.observation_space.shape, dtype=np.uint8)
        side = min(self.width // self.n_positions, self.height)
        top = int(self.np_random.integers(0, self.height - side + 1))
        image[top:top + side, self._position * side:(self._position + 1) * side] = 255
        return image

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._steps = 0
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if isinstance(self.action_space, gymnasium.spaces.Box):
            first = float(np.clip(np.asarray(action).reshape(-1)[0], -1.0, 1.0))
            chosen = min(int((first + 1.0) / 2.0 * self.n_positions), self.n_positions - 1)
        else:
            chosen = int(action)
        reward = float(chosen == self._position)
        self._steps += 1
        return self._observation(), reward, False, self._steps >= self.episode_length, {}
