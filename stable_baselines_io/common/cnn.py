"""Stable Baselines 2's ``nature_cnn`` feature extractor (Mnih et al. 2015), for any policy to reuse.

Images enter as NHWC batches in the observation space's dtype (``uint8`` for Atari) and are
scaled to ``[0, 1]`` by the space's bounds (:func:`scale_images`); then::

    {scope}/c1   conv 8x8, stride 4, 32 filters, ReLU      w: (8, 8, C, 32)   b: (1, 32, 1, 1)
    {scope}/c2   conv 4x4, stride 2, 64 filters, ReLU      w: (4, 4, 32, 64)  b: (1, 64, 1, 1)
    {scope}/c3   conv 3x3, stride 1, 64 filters, ReLU      w: (3, 3, 64, 64)  b: (1, 64, 1, 1)
    {scope}/fc1  dense on the flattened (H, W, C) output, 512 units, ReLU

Convolutions use VALID padding. Weights are orthogonal with gain ``sqrt(2)``, biases zero. The
names, shapes and order are those of :func:`stable_baselines_io.interop.nature_cnn_parameter_shapes`.

>>> import gymnasium
>>> space = gymnasium.spaces.Box(0, 255, (36, 36, 1), dtype=np.uint8)
>>> cnn = NatureCNN("model", space.shape, tf.random.Generator.from_seed(0))
>>> cnn(scale_images(tf.zeros((2, 36, 36, 1), tf.uint8), space)).shape
TensorShape([2, 512])
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.policies import HIDDEN_INIT_SCALE, Linear, constant_variable, orthogonal_variable
from stable_baselines_io.exceptions import UnsupportedSpaceError
from stable_baselines_io.interop import NATURE_CNN_CONVOLUTIONS, NATURE_CNN_FEATURES, nature_cnn_output_shape


def nature_cnn_input_shape(space: gymnasium.Space) -> tuple[int, int, int]:
    """The ``(height, width, channels)`` of an image observation space the nature CNN accepts.

    :param space: the observation space
    :return: its shape
    :raises UnsupportedSpaceError: ``space`` is not a Box of images at least 36x36 pixels
    """
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 3:
        raise UnsupportedSpaceError(
            f"CNN policies need image observations, a Box of shape (height, width, channels): received {space}"
        )
    try:
        nature_cnn_output_shape(space.shape)
    except ValueError as error:
        raise UnsupportedSpaceError(f"observation space {space}: {error}") from error
    height, width, channels = space.shape
    return int(height), int(width), int(channels)


def scale_images(observations: tf.Tensor, space: gymnasium.Space) -> tf.Tensor:
    """Float32 images scaled to ``[0, 1]`` by the space's bounds, as Stable Baselines 2 scaled the
    inputs of CNN policies: ``(x - low) / (high - low)`` when every bound is finite and some
    differ, else the values as they are (``uint8`` images in ``[0, 255]`` become ``x / 255``).

    :param observations: a batch of images in the space's dtype
    :param space: the observation space (a Box)
    :return: the float32 batch, same shape
    """
    images = tf.cast(observations, tf.float32)
    if not isinstance(space, gymnasium.spaces.Box):
        raise UnsupportedSpaceError(f"only Box images can be scaled, received {space}")
    low, high = np.asarray(space.low), np.asarray(space.high)
    if np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.any(high != low):
        # the range is taken in the space's dtype first, as Stable Baselines 2 did
        span = (high - low).astype(np.float32)
        images = (images - low.astype(np.float32)) / span
    return images


class Conv2d(tf.Module):
    """Stable Baselines 2's ``conv``: a VALID NHWC convolution plus a bias stored as ``(1, filters, 1, 1)``.

    :param scope: the variable name prefix, e.g. ``"model/c1"``
    :param in_channels: channels of the input
    :param filters: output channels
    :param filter_size: height and width of the square kernel
    :param stride: the stride along height and width
    :param init_scale: gain of the orthogonal kernel initialisation
    :param generator: the source of randomness for the initialisation
    """

    def __init__(self, scope: str, in_channels: int, filters: int, filter_size: int, stride: int,
                 init_scale: float, generator: tf.random.Generator):
        super().__init__()
        self.stride = stride
        self.filters = filters
        kernel_shape = (filter_size, filter_size, in_channels, filters)
        self.w = orthogonal_variable(kernel_shape, init_scale, generator, f"{scope}/w")
        self.b = constant_variable(0.0, (1, filters, 1, 1), f"{scope}/b")

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        convolved = tf.nn.conv2d(images, self.w, strides=[1, self.stride, self.stride, 1], padding="VALID")
        return tf.reshape(self.b, (1, 1, 1, self.filters)) + convolved


class NatureCNN(tf.Module):
    """The nature CNN: three ReLU convolutions and a 512-unit ReLU dense layer.

    :param scope: the enclosing variable scope, e.g. ``"model"`` or ``"deepq/model/action_value"``
    :param image_shape: ``(height, width, channels)`` of one observation
    :param generator: the source of randomness for the initialisation
    """

    #: Size of the feature vector of each image.
    n_features = NATURE_CNN_FEATURES

    def __init__(self, scope: str, image_shape: Sequence[int], generator: tf.random.Generator):
        super().__init__()
        channels = int(image_shape[-1])
        self.convolutions: list[Conv2d] = []
        for layer, filters, filter_size, stride in NATURE_CNN_CONVOLUTIONS:
            self.convolutions.append(
                Conv2d(f"{scope}/{layer}", channels, filters, filter_size, stride, HIDDEN_INIT_SCALE, generator)
            )
            channels = filters
        n_flat = int(np.prod(nature_cnn_output_shape(image_shape)))
        self.fc1 = Linear(f"{scope}/fc1", n_flat, NATURE_CNN_FEATURES, HIDDEN_INIT_SCALE, generator)

    def get_parameter_list(self) -> list[tf.Variable]:
        """The variables in Stable Baselines 2 order: ``c1/w, c1/b, ..., fc1/w, fc1/b``.

        :return: the variables
        """
        variables: list[tf.Variable] = []
        for convolution in self.convolutions:
            variables += [convolution.w, convolution.b]
        return [*variables, self.fc1.w, self.fc1.b]

    def __call__(self, scaled_images: tf.Tensor) -> tf.Tensor:
        """The features of a batch of scaled images.

        :param scaled_images: float32 NHWC images (see :func:`scale_images`)
        :return: features of shape ``(batch, 512)``
        """
        features = scaled_images
        for convolution in self.convolutions:
            features = tf.nn.relu(convolution(features))
        # row-major over (height, width, channels), as Stable Baselines 2's conv_to_fc
        flat = tf.reshape(features, (-1, int(np.prod(features.shape[1:]))))
        return tf.nn.relu(self.fc1(flat))
