"""Q-network policies whose variables are named, shaped and ordered as in Stable Baselines 2's DQN.

A Stable Baselines 2 DQN ``MlpPolicy`` maps onto :class:`MlpPolicy` name for name (``{scope}`` is
``deepq/model`` for the online network, ``deepq/target_q_func/model`` for the target)::

    {scope}/action_value/fully_connected/weights:0, .../biases:0      hidden layer 0
    {scope}/action_value/LayerNorm/beta:0, .../gamma:0                 (layer_norm only)
    {scope}/action_value/fully_connected_1/...  [LayerNorm_1/...]      hidden layer 1
    {scope}/action_value/fully_connected_2/...                         action scores (n_actions)
    {scope}/state_value/...                                            same layout, 1 output (dueling only)

Every layer computes ``x @ weights + biases``; hidden layers are followed by layer norm (if
enabled) and then the activation. With dueling, ``Q = V + (A - mean(A))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.policies import get_activation
from stable_baselines_io.common.preprocessing import (
    check_observation_space,
    flat_dim,
    observation_spec,
    preprocess_observations,
)
from stable_baselines_io.common.stored_values import lazy_variable
from stable_baselines_io.exceptions import UnknownPolicyKwargsError, UnsupportedSpaceError
from stable_baselines_io.format.registry import register_serializable
from stable_baselines_io.type_aliases import Activation

DEFAULT_LAYERS = (64, 64)
#: ``tf.contrib.layers.layer_norm`` used this variance epsilon.
LAYER_NORM_EPSILON = 1e-12


def _numbered(name: str, index: int) -> str:
    # TensorFlow 1 uniquified repeated scopes as name, name_1, name_2, ...
    return name if index == 0 else f"{name}_{index}"


class FullyConnected(tf.Module):
    """``tf.contrib.layers.fully_connected`` without activation: ``x @ weights + biases``.

    Weights are Glorot-uniform, biases zero, as TensorFlow 1 initialised them.

    :param scope: the variable name prefix, e.g. ``"deepq/model/action_value/fully_connected"``
    :param n_inputs: input features
    :param n_outputs: output features
    :param rng: the source of randomness for the initialisation
    """

    def __init__(self, scope: str, n_inputs: int, n_outputs: int, rng: np.random.Generator):
        super().__init__()
        limit = np.sqrt(6.0 / (n_inputs + n_outputs))
        # Callables: a loaded model takes both from the file and never draws (see common/stored_values.py).
        self.weights = lazy_variable(
            lambda: rng.uniform(-limit, limit, size=(n_inputs, n_outputs)).astype(np.float32),
            (n_inputs, n_outputs), f"{scope}/weights",
        )
        self.biases = lazy_variable(lambda: np.zeros(n_outputs, np.float32), (n_outputs,), f"{scope}/biases")

    def get_parameter_list(self) -> list[tf.Variable]:
        return [self.weights, self.biases]

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.matmul(inputs, self.weights) + self.biases


class LayerNorm(tf.Module):
    """``tf.contrib.layers.layer_norm(center=True, scale=True)`` over the feature axis.

    :param scope: the variable name prefix, e.g. ``"deepq/model/action_value/LayerNorm"``
    :param n_features: the normalised features
    """

    def __init__(self, scope: str, n_features: int):
        super().__init__()
        self.beta = lazy_variable(lambda: np.zeros(n_features, np.float32), (n_features,), f"{scope}/beta")
        self.gamma = lazy_variable(lambda: np.ones(n_features, np.float32), (n_features,), f"{scope}/gamma")

    def get_parameter_list(self) -> list[tf.Variable]:
        return [self.beta, self.gamma]

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        mean, variance = tf.nn.moments(inputs, axes=[1], keepdims=True)
        return tf.nn.batch_normalization(inputs, mean, variance, self.beta, self.gamma, LAYER_NORM_EPSILON)


class MlpStream(tf.Module):
    """One stream of the Q-network (``action_value`` or ``state_value``): an MLP with a linear head.

    :param scope: the variable name prefix, e.g. ``"deepq/model/action_value"``
    :param n_inputs: input features
    :param layers: hidden layer sizes
    :param n_outputs: outputs of the linear head
    :param layer_norm: normalise each hidden layer before its activation
    :param activation: the hidden activation
    :param rng: the source of randomness for the initialisation
    """

    def __init__(self, scope: str, n_inputs: int, layers: Sequence[int], n_outputs: int, layer_norm: bool,
                 activation: Activation, rng: np.random.Generator):
        super().__init__()
        self.activation = activation
        self.hidden_layers = []
        self.norms = []
        for index, size in enumerate(layers):
            layer_scope = f"{scope}/{_numbered('fully_connected', index)}"
            self.hidden_layers.append(FullyConnected(layer_scope, n_inputs, size, rng))
            if layer_norm:
                self.norms.append(LayerNorm(f"{scope}/{_numbered('LayerNorm', index)}", size))
            n_inputs = size
        self.head = FullyConnected(f"{scope}/{_numbered('fully_connected', len(layers))}", n_inputs, n_outputs, rng)

    def get_parameter_list(self) -> list[tf.Variable]:
        """The variables in creation order: each hidden layer (then its LayerNorm), then the head.

        :return: the variables
        """
        variables = []
        for index, layer in enumerate(self.hidden_layers):
            variables += layer.get_parameter_list()
            if self.norms:
                variables += self.norms[index].get_parameter_list()
        return variables + self.head.get_parameter_list()

    def __call__(self, features: tf.Tensor) -> tf.Tensor:
        for index, layer in enumerate(self.hidden_layers):
            features = layer(features)
            if self.norms:
                features = self.norms[index](features)
            features = self.activation(features)
        return self.head(features)


@register_serializable("dqn.MlpPolicy")
class MlpPolicy(tf.Module):
    """Stable Baselines 2's DQN ``MlpPolicy``: a (dueling) multi-layer perceptron Q-network.

    >>> import gymnasium
    >>> q_net = MlpPolicy(gymnasium.spaces.Box(-1, 1, (3,)), gymnasium.spaces.Discrete(2), layers=[8])
    >>> [variable.name for variable in q_net.get_parameter_list()][:2]
    ['deepq/model/action_value/fully_connected/weights:0', 'deepq/model/action_value/fully_connected/biases:0']
    >>> q_net(tf.zeros((5, 3))).shape
    TensorShape([5, 2])

    :param observation_space: the observation space (Box, Discrete, MultiBinary, MultiDiscrete)
    :param action_space: the action space (Discrete only)
    :param scope: variable name prefix: ``"deepq/model"`` (online) or ``"deepq/target_q_func/model"``
    :param rng: the source of randomness for the initialisation (owned by the model)
    :param layers: hidden layer sizes of each stream (default ``[64, 64]``)
    :param dueling: add a ``state_value`` stream and combine ``Q = V + A - mean(A)``
    :param layer_norm: layer-normalise hidden layers before their activation
    :param act_fun: activation of the hidden layers: a name such as ``"relu"`` or a function
    """

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        *,
        scope: str = "deepq/model",
        rng: np.random.Generator | None = None,
        layers: Sequence[int] | None = None,
        dueling: bool = True,
        layer_norm: bool = False,
        act_fun: str | Activation = "relu",
        **unknown_kwargs: Any,
    ):
        if unknown_kwargs:
            raise UnknownPolicyKwargsError(
                f"Unknown keywords for policy: {sorted(unknown_kwargs)} ({type(self).__name__} policy_kwargs "
                "accepted: ['act_fun', 'dueling', 'layer_norm', 'layers'])"
            )
        super().__init__(name="model")
        check_observation_space(observation_space)
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise UnsupportedSpaceError(
                f"DQN supports only Discrete action spaces, received {action_space}"
            )
        if int(action_space.start) != 0:
            raise UnsupportedSpaceError(f"Discrete action spaces must start at 0, received {action_space}")
        self.observation_space = observation_space
        self.action_space = action_space
        self.layers = _check_layers(DEFAULT_LAYERS if layers is None else layers)
        self.dueling = bool(dueling)
        self.layer_norm = bool(layer_norm)
        self.activation = get_activation(act_fun)
        self.n_actions = int(action_space.n)
        rng = np.random.default_rng() if rng is None else rng

        n_features, action_value_layers = self._build_features(scope, rng)
        self.action_value = MlpStream(f"{scope}/action_value", n_features, action_value_layers, self.n_actions,
                                      self.layer_norm, self.activation, rng)
        self.state_value = (
            MlpStream(f"{scope}/state_value", n_features, self.layers, 1, self.layer_norm, self.activation, rng)
            if self.dueling
            else None
        )
        self.observation_spec = observation_spec(observation_space)

    def _build_features(self, scope: str, rng: np.random.Generator) -> tuple[int, list[int]]:
        """Build what turns observations into the streams' input (nothing here: they are flattened).

        :param scope: the network's variable name prefix
        :param rng: the source of randomness for the initialisation
        :return: the feature count, and the hidden layer sizes of the ``action_value`` stream
        """
        return flat_dim(self.observation_space), self.layers

    def _feature_parameters(self) -> list[tf.Variable]:
        """The variables :meth:`_build_features` made (none here).

        :return: the variables
        """
        return []

    def features(self, observations: tf.Tensor) -> tf.Tensor:
        """The input of both streams: the flattened observations.

        :param observations: a batch, as described by ``observation_spec``
        :return: float32 features of shape ``(batch, n_features)``
        """
        return preprocess_observations(observations, self.observation_space)

    def get_parameter_list(self) -> list[tf.Variable]:
        """Every variable, in Stable Baselines 2 order: the ``action_value`` then the ``state_value`` stream.

        :return: the variables
        """
        variables = self._feature_parameters() + self.action_value.get_parameter_list()
        if self.state_value is not None:
            variables += self.state_value.get_parameter_list()
        return variables

    def __call__(self, observations: tf.Tensor) -> tf.Tensor:
        """Q-values of a batch of observations.

        :param observations: a batch, as described by ``observation_spec``
        :return: Q-values of shape ``(batch, n_actions)``
        """
        features = self.features(observations)
        action_scores = self.action_value(features)
        if self.state_value is None:
            return action_scores
        state_score = self.state_value(features)
        return state_score + (action_scores - tf.reduce_mean(action_scores, axis=1, keepdims=True))

    def action_proba(self, observations: tf.Tensor) -> tf.Tensor:
        """The softmax of the Q-values, as Stable Baselines 2's DQN ``proba_step``.

        :param observations: a batch, as described by ``observation_spec``
        :return: probabilities of shape ``(batch, n_actions)``
        """
        return tf.nn.softmax(self(observations))


@register_serializable("dqn.LnMlpPolicy")
class LnMlpPolicy(MlpPolicy):
    """:class:`MlpPolicy` with layer normalisation (Stable Baselines 2's ``LnMlpPolicy``).

    :param observation_space: the observation space
    :param action_space: the action space (Discrete only)
    :param kwargs: the other :class:`MlpPolicy` arguments, except ``layer_norm``
    """

    def __init__(self, observation_space: gymnasium.Space, action_space: gymnasium.Space, **kwargs: Any):
        super().__init__(observation_space, action_space, **always_layer_norm("LnMlpPolicy", "MlpPolicy", kwargs))


def always_layer_norm(policy_name: str, base_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a policy that always normalizes its layers (``LnMlpPolicy``, ``LnCnnPolicy``).

    :param policy_name: the layer-normalized policy's name
    :param base_name: the policy that lets the caller choose ``layer_norm``
    :param kwargs: the caller's keyword arguments
    :return: ``kwargs`` with ``layer_norm=True``
    :raises UnknownPolicyKwargsError: the caller passed ``layer_norm``
    """
    if "layer_norm" in kwargs:
        raise UnknownPolicyKwargsError(f"Unknown keywords for policy: ['layer_norm'] ({policy_name} always uses "
                                       f"layer_norm=True: use {base_name} to choose layer_norm)")
    return {**kwargs, "layer_norm": True}


def _check_layers(layers: Sequence[int]) -> list[int]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise ValueError(f"layers must be a list of layer sizes, received {layers!r}")
    for index, size in enumerate(layers):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
            raise ValueError(f"layers[{index}] must be a positive layer size, received {size!r}")
    return [int(size) for size in layers]
