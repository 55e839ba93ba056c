"""The actor-critic ``CnnPolicy`` of Stable Baselines 2 (PPO2, A2C, ACER, ACKTR, TRPO Atari agents).

Its parameters, in Stable Baselines 2 order::

    model/c1/w:0 (8, 8, C, 32)   model/c1/b:0 (1, 32, 1, 1)
    model/c2/w:0 (4, 4, 32, 64)  model/c2/b:0 (1, 64, 1, 1)
    model/c3/w:0 (3, 3, 64, 64)  model/c3/b:0 (1, 64, 1, 1)
    model/fc1/w:0 (H3 * W3 * 64, 512), model/fc1/b:0 (512,)
    model/vf/..., model/pi/..., [model/pi/logstd:0], model/q/...   as in MlpPolicy

The policy and value heads share the CNN's 512 features.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium
import tensorflow as tf

from stable_baselines_io.common.cnn import NatureCNN, nature_cnn_input_shape, scale_images
from stable_baselines_io.common.policies import MlpPolicy, NetArch
from stable_baselines_io.format.registry import register_serializable

#: Keywords Stable Baselines 2's ``CnnPolicy`` accepted and ignored.
IGNORED_KWARGS = ("act_fun", "layers", "net_arch")


@register_serializable("actor_critic.CnnPolicy")
class CnnPolicy(MlpPolicy):
    """Actor-critic policy on images: Stable Baselines 2's ``CnnPolicy`` (the nature CNN).

    >>> import gymnasium, numpy as np
    >>> space = gymnasium.spaces.Box(0, 255, (36, 36, 1), dtype=np.uint8)
    >>> policy = CnnPolicy(space, gymnasium.spaces.Discrete(2))
    >>> [variable.name for variable in policy.get_parameter_list()][:2]
    ['model/c1/w:0', 'model/c1/b:0']

    :param observation_space: a Box of images ``(height, width, channels)``, at least 36x36
    :param action_space: the action space (Discrete or Box)
    :param generator: the source of randomness for initialisation and sampling (owned by the model)
    :param kwargs: ``net_arch``, ``layers`` and ``act_fun`` are accepted and ignored, as Stable
        Baselines 2 did (with a warning)
    """

    def __init__(self, observation_space: gymnasium.Space, action_space: gymnasium.Space, *,
                 generator: tf.random.Generator | None = None, **kwargs: Any):
        self.image_shape = nature_cnn_input_shape(observation_space)
        ignored = sorted(name for name in IGNORED_KWARGS if kwargs.get(name) is not None)
        if ignored:
            warnings.warn(f"CnnPolicy ignores {ignored}: the nature CNN is fixed (as in Stable Baselines 2)",
                          UserWarning, stacklevel=2)
        super().__init__(observation_space, action_space, generator=generator, **kwargs)

    def _build_extractor(self, net_arch: NetArch) -> tuple[int, int]:
        self.cnn = NatureCNN("model", self.image_shape, self.generator)
        return self.cnn.n_features, self.cnn.n_features

    def _extractor_parameters(self) -> list[tf.Variable]:
        return self.cnn.get_parameter_list()

    def latent(self, observations: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The CNN features of the observations, shared by the policy and the value heads.

        :param observations: a batch of images, as described by ``observation_spec``
        :return: ``(pi_latent, vf_latent)``, the same tensor
        """
        features = self.pi_latent(observations)
        return features, features

    def pi_latent(self, observations: tf.Tensor) -> tf.Tensor:
        """The CNN features of the observations (the policy latent).

        :param observations: a batch of images, as described by ``observation_spec``
        :return: the features
        """
        return self.cnn(scale_images(observations, self.observation_space))
