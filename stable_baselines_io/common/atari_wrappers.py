"""Atari through gymnasium and ``ale-py``, wrapped as Stable Baselines 2 wrapped it for training.

Stable Baselines 2's ``make_atari`` (:class:`NoopResetEnv`, :class:`MaxAndSkipEnv`) and
``wrap_deepmind`` (:class:`EpisodicLifeEnv`, :class:`FireResetEnv`, :class:`WarpFrame`,
:class:`ClipRewardEnv`) are rebuilt here on gymnasium's API (``terminated`` / ``truncated``);
frames are stacked by :class:`~stable_baselines_io.common.vec_frame_stack.VecFrameStack`, as the
rl-baselines-zoo did. :func:`make_atari_vec_env` builds the whole stack.

``ale-py`` ships the ROMs; it registers Stable Baselines 2's ids (``PongNoFrameskip-v4``: one
frame per step, no sticky actions, minimal action set) beside its own ``ALE/Pong-v5``, so an SB2
id names the same game here. Install it with ``pip install 'stable-baselines-io[atari]'``.

:class:`WarpFrame` needs no OpenCV: the gray conversion uses OpenCV's fixed-point coefficients
and the resize averages the covered area of every source pixel, as ``cv2.INTER_AREA`` does
(results agree with OpenCV up to the rounding of exact ties).
"""

from __future__ import annotations

import os
from typing import Any, SupportsFloat

import gymnasium
import numpy as np

from stable_baselines_io.common.monitor import Monitor
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.common.vec_frame_stack import VecFrameStack
from stable_baselines_io.exceptions import AtariEnvError, AtariUnavailableError

#: OpenCV's ``COLOR_RGB2GRAY`` weights in 14-bit fixed point (0.299, 0.587, 0.114).
GRAY_WEIGHTS = np.array([4899, 9617, 1868], dtype=np.int64)
GRAY_SHIFT = 14

Step = tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]


def register_atari_envs() -> None:
    """Register ``ale-py``'s Atari environments with gymnasium (idempotent).

    :raises AtariUnavailableError: ``ale-py`` is not installed
    """
    try:
        import ale_py
    except ImportError as error:
        raise AtariUnavailableError(
            "Atari environments need ale-py: pip install 'stable-baselines-io[atari]'"
        ) from error
    gymnasium.register_envs(ale_py)


def is_atari_env_id(env_id: str) -> bool:
    """Whether ``env_id`` names an Atari game of ``ale-py`` (``PongNoFrameskip-v4``, ``ALE/Pong-v5``).

    Only the id's form is looked at: ``ale-py`` need not be installed.

    :param env_id: a gymnasium env id
    :return: True for Atari ids
    """
    if env_id.startswith("ALE/"):
        return True
    try:
        spec = gymnasium.spec(env_id)
    except gymnasium.error.Error:
        return "NoFrameskip-v" in env_id
    return "ale_py" in str(spec.entry_point)


class NoopResetEnv(gymnasium.Wrapper):
    """Start each episode with a random number (1 to ``noop_max``) of no-op actions (action 0).

    :param env: an Atari env whose action 0 is ``NOOP``
    :param noop_max: the most no-ops
    """

    def __init__(self, env: gymnasium.Env, noop_max: int = 30):
        super().__init__(env)
        meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
        if meanings[0] != "NOOP":
            raise AtariEnvError(f"NoopResetEnv needs action 0 to be NOOP, {env.spec} has {meanings}")
        self.noop_max = noop_max
        #: A fixed number of no-ops instead of a random one (None: random).
        self.override_num_noops: int | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        noops = self.override_num_noops
        if noops is None:
            noops = int(self.unwrapped.np_random.integers(1, self.noop_max + 1))
        for _ in range(noops):
            observation, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                observation, info = self.env.reset(**kwargs)
        return observation, info


class FireResetEnv(gymnasium.Wrapper):
    """Press FIRE (then action 2) after each reset, for games that wait for it.

    :param env: an Atari env whose action 1 is ``FIRE``
    """

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
        if meanings[1] != "FIRE" or len(meanings) < 3:
            raise AtariEnvError(f"FireResetEnv needs action 1 to be FIRE and 3 actions or more, received {meanings}")

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.env.reset(**kwargs)
        for action in (1, 2):
            observation, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                observation, info = self.env.reset(**kwargs)
        return observation, info


class EpisodicLifeEnv(gymnasium.Wrapper):
    """A lost life ends the episode (``terminated``); the game is reset only when it is really over.

    :param env: an Atari env
    """

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        self.lives = 0
        self.was_real_done = True

    def _lives(self) -> int:
        return int(self.env.unwrapped.ale.lives())  # type: ignore[attr-defined]

    def step(self, action: Any) -> Step:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.was_real_done = terminated or truncated
        lives = self._lives()
        # lives can stay at 0 for a few frames (Qbert): only a decrease above 0 ends the episode
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return observation, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if self.was_real_done:
            observation, info = self.env.reset(**kwargs)
        else:
            observation, _, _, _, info = self.env.step(0)
        self.lives = self._lives()
        return observation, info


class MaxAndSkipEnv(gymnasium.Wrapper):
    """Repeat each action ``skip`` frames, sum the rewards and return the pixel-wise max of the last two frames.

    :param env: an env that shows every frame (``NoFrameskip``)
    :param skip: frames per step
    """

    def __init__(self, env: gymnasium.Env, skip: int = 4):
        super().__init__(env)
        shape = env.observation_space.shape or ()
        self._frames = np.zeros((2, *shape), dtype=env.observation_space.dtype)
        self._skip = skip

    def step(self, action: Any) -> Step:
        total_reward = 0.0
        terminated = truncated = False
        info: dict[str, Any] = {}
        for index in range(self._skip):
            observation, reward, terminated, truncated, info = self.env.step(action)
            if index >= self._skip - 2:
                self._frames[index - (self._skip - 2)] = observation
            total_reward += float(reward)
            if terminated or truncated:
                break
        # the frame of a finished episode does not matter (the next reset replaces it)
        return self._frames.max(axis=0), total_reward, terminated, truncated, info


class ClipRewardEnv(gymnasium.RewardWrapper):
    """Rewards become their sign: -1, 0 or +1.

    :param env: the env
    """

    def reward(self, reward: SupportsFloat) -> float:
        return float(np.sign(float(reward)))


def area_resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of area interpolation along one axis: row ``i`` averages the
    source pixels that the ``i``-th output pixel covers, each weighted by the covered fraction.

    >>> area_resize_weights(4, 2)
    array([[0.5, 0.5, 0. , 0. ],
           [0. , 0. , 0.5, 0.5]])

    :param n_in: source pixels
    :param n_out: output pixels
    :return: the weights (each row sums to 1)
    """
    scale = n_in / n_out
    starts = np.arange(n_out)[:, None] * scale
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(pixels + 1, starts + scale) - np.maximum(pixels, starts), 0.0, None)
    return overlap / scale


class WarpFrame(gymnasium.ObservationWrapper):
    """RGB frames to ``height x width x 1`` gray uint8 frames (84x84, as in the Nature paper).

    :param env: an env with RGB frames ``(H, W, 3)``
    :param width: output width
    :param height: output height
    """

    def __init__(self, env: gymnasium.Env, width: int = 84, height: int = 84):
        super().__init__(env)
        shape = env.observation_space.shape
        if shape is None or len(shape) != 3 or shape[2] != 3:
            raise AtariEnvError(
                f"WarpFrame needs RGB frames of shape (height, width, 3), received {env.observation_space}"
            )
        self.width = width
        self.height = height
        self._rows = area_resize_weights(shape[0], height)
        self._columns = area_resize_weights(shape[1], width).T
        self.observation_space = gymnasium.spaces.Box(0, 255, (height, width, 1), dtype=np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        gray = (observation.astype(np.int64) @ GRAY_WEIGHTS + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT
        resized = self._rows @ gray @ self._columns
        return np.clip(np.rint(resized), 0, 255).astype(np.uint8)[:, :, None]


def make_atari(env_id: str, noop_max: int = 30, skip: int = 4, **make_kwargs: Any) -> gymnasium.Env:
    """An Atari env with random no-op starts and frame skipping (Stable Baselines 2's ``make_atari``).

    :param env_id: an id that shows every frame, e.g. ``"PongNoFrameskip-v4"``
    :param noop_max: the most no-ops at the start of an episode
    :param skip: frames per step
    :param make_kwargs: passed to ``gymnasium.make``
    :return: the env
    :raises AtariEnvError: the id skips frames itself (``ALE/Pong-v5`` without ``frameskip=1``)
    """
    register_atari_envs()
    env = gymnasium.make(env_id, **make_kwargs)
    frameskip = env.unwrapped._frameskip if hasattr(env.unwrapped, "_frameskip") else 1  # noqa: SLF001
    if frameskip != 1:
        env.close()
        raise AtariEnvError(
            f"{env_id} skips {frameskip} frames itself: use a NoFrameskip id (e.g. PongNoFrameskip-v4) "
            "or pass frameskip=1"
        )
    return MaxAndSkipEnv(NoopResetEnv(env, noop_max=noop_max), skip=skip)


def wrap_deepmind(env: gymnasium.Env, episode_life: bool = True, clip_rewards: bool = True) -> gymnasium.Env:
    """DeepMind's Atari preprocessing (Stable Baselines 2's ``wrap_deepmind``, without its frame
    stacking: use :class:`~stable_baselines_io.common.vec_frame_stack.VecFrameStack`).

    :param env: an env from :func:`make_atari`
    :param episode_life: a lost life ends the episode
    :param clip_rewards: rewards become their sign
    :return: the wrapped env
    """
    if episode_life:
        env = EpisodicLifeEnv(env)
    if "FIRE" in env.unwrapped.get_action_meanings():  # type: ignore[attr-defined]
        env = FireResetEnv(env)
    env = WarpFrame(env)
    if clip_rewards:
        env = ClipRewardEnv(env)
    return env


def make_atari_vec_env(env_id: str, n_envs: int = 1, monitor_dir: str | os.PathLike[str] | None = None,
                       n_stack: int = 4, episode_life: bool = True, clip_rewards: bool = True) -> VecFrameStack:
    """``n_envs`` Atari envs as the rl-baselines-zoo trained on them: :func:`make_atari`, a
    :class:`~stable_baselines_io.common.monitor.Monitor` of the real game (when ``monitor_dir`` is
    given), :func:`wrap_deepmind`, then ``n_stack`` frames stacked.

    :param env_id: e.g. ``"PongNoFrameskip-v4"``
    :param n_envs: number of copies
    :param monitor_dir: the folder of the monitor files ``{rank}.monitor.csv``, or None
    :param n_stack: frames stacked along the channel axis
    :param episode_life: a lost life ends the episode (train with True, evaluate with False)
    :param clip_rewards: rewards become their sign (train with True, evaluate with False)
    :return: the vectorized env; observations ``(84, 84, n_stack)`` uint8
    """
    envs = []
    for rank in range(n_envs):
        env = make_atari(env_id)
        if monitor_dir is not None:
            os.makedirs(monitor_dir, exist_ok=True)
            env = Monitor(env, os.path.join(monitor_dir, str(rank)))
        envs.append(wrap_deepmind(env, episode_life=episode_life, clip_rewards=clip_rewards))
    return VecFrameStack(VecEnv(envs), n_stack)
