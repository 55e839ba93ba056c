"""Stable Baselines 2's DQN ``CnnPolicy`` and ``LnCnnPolicy``: a Q-network on images.

As in Stable Baselines 2, the nature CNN lives in the ``action_value`` scope and feeds a linear
head directly; with dueling, the ``state_value`` stream applies the hidden ``layers`` (default
``[64, 64]``, layer-normalised for ``LnCnnPolicy``) to the same 512 features::

    {scope}/action_value/c1/w:0, .../c1/b:0, ..., .../fc1/w:0, .../fc1/b:0    the nature CNN
    {scope}/action_value/fully_connected/weights:0, .../biases:0              action scores
    {scope}/state_value/fully_connected/..., [LayerNorm/...], ...             dueling only
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.cnn import NatureCNN, nature_cnn_input_shape, scale_images
from stable_baselines_io.dqn.policies import MlpPolicy, always_layer_norm
from stable_baselines_io.format.registry import register_serializable


@register_serializable("dqn.CnnPolicy")
class CnnPolicy(MlpPolicy):
    """Stable Baselines 2's DQN ``CnnPolicy``: the nature CNN, then (dueling) Q-value streams.

    >>> import gymnasium
    >>> space = gymnasium.spaces.Box(0, 255, (36, 36, 1), dtype=np.uint8)
    >>> q_net = CnnPolicy(space, gymnasium.spaces.Discrete(3))
    >>> [variable.name for variable in q_net.get_parameter_list()][8:10]
    ['deepq/model/action_value/fully_connected/weights:0', 'deepq/model/action_value/fully_connected/biases:0']

    :param observation_space: a Box of images ``(height, width, channels)``, at least 36x36
    :param action_space: the action space (Discrete only)
    :param kwargs: the other :class:`~stable_baselines_io.dqn.policies.MlpPolicy` arguments
        (``layers``, ``layer_norm`` and ``act_fun`` shape the ``state_value`` stream)
    """

    def __init__(self, observation_space: gymnasium.Space, action_space: gymnasium.Space, **kwargs: Any):
        self.image_shape = nature_cnn_input_shape(observation_space)
        super().__init__(observation_space, action_space, **kwargs)

    def _build_features(self, scope: str, rng: np.random.Generator) -> tuple[int, list[int]]:
        generator = tf.random.Generator.from_seed(int(rng.integers(2**62)))
        self.cnn = NatureCNN(f"{scope}/action_value", self.image_shape, generator)
        return self.cnn.n_features, []

    def _feature_parameters(self) -> list[tf.Variable]:
        return self.cnn.get_parameter_list()

    def features(self, observations: tf.Tensor) -> tf.Tensor:
        """The nature CNN's features of a batch of images, input of both streams.

        :param observations: a batch of images, as described by ``observation_spec``
        :return: float32 features of shape ``(batch, 512)``
        """
        return self.cnn(scale_images(observations, self.observation_space))


@register_serializable("dqn.LnCnnPolicy")
class LnCnnPolicy(CnnPolicy):
    """:class:`CnnPolicy` with a layer-normalised ``state_value`` stream (Stable Baselines 2's ``LnCnnPolicy``).

    :param observation_space: a Box of images
    :param action_space: the action space (Discrete only)
    :param kwargs: the other :class:`CnnPolicy` arguments, except ``layer_norm``
    """

    def __init__(self, observation_space: gymnasium.Space, action_space: gymnasium.Space, **kwargs: Any):
        super().__init__(observation_space, action_space, **always_layer_norm("LnCnnPolicy", "CnnPolicy", kwargs))
