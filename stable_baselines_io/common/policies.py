"""Actor-critic policies whose variables are named, shaped and ordered as in Stable Baselines 2.

A Stable Baselines 2 ``MlpPolicy`` file maps onto :class:`MlpPolicy` name for name::

    model/shared_fc{i}/w:0, model/shared_fc{i}/b:0     shared layers (net_arch ints)
    model/pi_fc{i}/w:0, model/pi_fc{i}/b:0             policy layers  } interleaved by index
    model/vf_fc{i}/w:0, model/vf_fc{i}/b:0             value layers   }
    model/vf/w:0, model/vf/b:0                         value head (1 output)
    model/pi/w:0, model/pi/b:0                         logits (sum(nvec) for MultiDiscrete), or the Gaussian mean
    model/pi/logstd:0                                  Box actions only, shape (1, action_dim)
    model/q/w:0, model/q/b:0                           q head on the value latent (unused by PPO)

Every layer computes ``act_fun(x @ w + b)``; heads are linear.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    MultiCategoricalDistribution,
)
from stable_baselines_io.common.preprocessing import (
    check_observation_space,
    flat_dim,
    observation_spec,
    preprocess_observations,
)
from stable_baselines_io.common.stored_values import InitialDraw, lazy_variable
from stable_baselines_io.common.tf_util import PREDICT_EAGER_CALLS, CompiledFunction
from stable_baselines_io.exceptions import UnknownPolicyKwargsError, UnsupportedSpaceError
from stable_baselines_io.format.registry import register_serializable
from stable_baselines_io.type_aliases import Activation

#: ``net_arch`` in Stable Baselines 2 form: shared layer sizes, then optionally ``dict(pi=[...], vf=[...])``.
NetArch = Sequence[int | dict[str, Sequence[int]]]

#: Activation names accepted as ``act_fun`` (the name is what gets saved).
ACTIVATIONS: dict[str, Activation] = {
    "tanh": tf.tanh,
    "relu": tf.nn.relu,
    "elu": tf.nn.elu,
    "sigmoid": tf.sigmoid,
    "softplus": tf.nn.softplus,
    "selu": tf.nn.selu,
    "swish": tf.nn.silu,
    "softsign": tf.nn.softsign,
    "relu6": tf.nn.relu6,
    "leaky_relu": tf.nn.leaky_relu,
    "linear": tf.identity,
    "identity": tf.identity,
}

HIDDEN_INIT_SCALE = float(np.sqrt(2.0))
POLICY_INIT_SCALE = 0.01
VALUE_INIT_SCALE = 1.0


def get_activation(act_fun: str | Activation) -> Activation:
    """The activation function for an ``act_fun`` policy kwarg.

    :param act_fun: a name from :data:`ACTIVATIONS` or a TensorFlow function such as ``tf.nn.relu``
    :return: the function
    """
    if isinstance(act_fun, str):
        if act_fun not in ACTIVATIONS:
            raise ValueError(f"unknown act_fun {act_fun!r}: expected one of {sorted(ACTIVATIONS)} or a function")
        return ACTIVATIONS[act_fun]
    if callable(act_fun):
        return act_fun
    raise TypeError(f"act_fun must be an activation name or a function, received {act_fun!r}")


def split_net_arch(net_arch: NetArch) -> tuple[list[int], list[int], list[int]]:
    """Split a Stable Baselines 2 ``net_arch`` into shared, policy-only and value-only layer sizes.

    >>> split_net_arch([128, dict(pi=[64], vf=[32, 32])])
    ([128], [64], [32, 32])

    :param net_arch: shared layer sizes, optionally followed by one ``dict(pi=[...], vf=[...])``
    :return: ``(shared, pi, vf)``
    """
    if isinstance(net_arch, (str, bytes, dict)) or not isinstance(net_arch, Sequence):
        raise ValueError(f"net_arch must be a list of layer sizes and at most one dict, received {net_arch!r}")
    shared: list[int] = []
    pi: list[int] = []
    vf: list[int] = []
    for index, layer in enumerate(net_arch):
        if isinstance(layer, dict):
            unknown = sorted(set(layer) - {"pi", "vf"})
            if unknown:
                raise ValueError(f"net_arch[{index}] has unknown keys {unknown}: expected 'pi' and/or 'vf'")
            if index != len(net_arch) - 1:
                raise ValueError(f"net_arch[{index}] is a dict, so it must be the last entry: {net_arch!r}")
            pi = [_layer_size(size, f"net_arch[{index}]['pi']") for size in layer.get("pi", [])]
            vf = [_layer_size(size, f"net_arch[{index}]['vf']") for size in layer.get("vf", [])]
        else:
            shared.append(_layer_size(layer, f"net_arch[{index}]"))
    return shared, pi, vf


def _layer_size(size: Any, where: str) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"{where} must be a positive layer size, received {size!r}")
    return int(size)


def orthogonal_init(shape: tuple[int, ...], scale: float, generator: tf.random.Generator) -> np.ndarray:
    """An orthogonal weight matrix times ``scale`` (Saxe et al. 2013), as Stable Baselines 2 used.

    A convolution kernel ``(height, width, in_channels, filters)`` is orthogonal as the matrix
    ``(height * width * in_channels, filters)`` (its fan-in by its outputs), as in Stable Baselines 2.

    :param shape: ``(inputs, outputs)``, or a 4-D NHWC convolution kernel shape
    :param scale: the gain
    :param generator: the source of randomness
    :return: float32 array of ``shape``
    """
    flat_shape = (int(np.prod(shape[:-1])), int(shape[-1]))
    normal = generator.normal(flat_shape, dtype=tf.float64).numpy()
    tall = normal if flat_shape[0] >= flat_shape[1] else normal.T
    # QR rather than SVD: as orthogonal, and a small SVD is pathologically slow in multithreaded
    # OpenBLAS on a busy machine (100 ms for 64x64), which every model construction paid.
    q, r = np.linalg.qr(tall)
    orthogonal = q * np.sign(np.diag(r))
    if flat_shape[0] < flat_shape[1]:
        orthogonal = orthogonal.T
    return (scale * orthogonal).reshape(shape).astype(np.float32)


def orthogonal_variable(shape: tuple[int, ...], scale: float, generator: tf.random.Generator,
                        name: str) -> tf.Variable:
    """A float32 variable initialised by :func:`orthogonal_init`, drawn only when no stored array
    replaces it (a loaded model takes it from the file and advances ``generator`` as the draw would,
    see :mod:`~stable_baselines_io.common.stored_values`).

    :param shape: the variable's shape (a matrix or an NHWC convolution kernel)
    :param scale: the gain
    :param generator: the source of randomness
    :param name: the variable's name, without ``:0``
    :return: the variable
    """
    # orthogonal_init draws one normal per element
    draw = InitialDraw(lambda: orthogonal_init(shape, scale, generator), generator, n_draws=int(np.prod(shape)))
    return lazy_variable(draw, shape, name)


def constant_variable(value: float, shape: tuple[int, ...], name: str) -> tf.Variable:
    """A float32 variable filled with ``value``, built only when no stored array replaces it.

    :param value: the fill value
    :param shape: the variable's shape
    :param name: the variable's name, without ``:0``
    :return: the variable
    """
    return lazy_variable(lambda: np.full(shape, value, np.float32), shape, name)


class Linear(tf.Module):
    """A dense layer ``x @ w + b`` with variables ``{scope}/w:0`` and ``{scope}/b:0``.

    :param scope: the variable name prefix, e.g. ``"model/pi_fc0"``
    :param n_inputs: input features
    :param n_outputs: output features
    :param init_scale: gain of the orthogonal weight initialisation
    :param generator: the source of randomness for the initialisation
    """

    def __init__(self, scope: str, n_inputs: int, n_outputs: int, init_scale: float, generator: tf.random.Generator):
        super().__init__()
        self.scope = scope
        self.w = orthogonal_variable((n_inputs, n_outputs), init_scale, generator, f"{scope}/w")
        self.b = constant_variable(0.0, (n_outputs,), f"{scope}/b")

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.matmul(inputs, self.w) + self.b


@register_serializable("actor_critic.MlpPolicy")
class MlpPolicy(tf.Module):
    """Actor-critic multi-layer perceptron: Stable Baselines 2's ``MlpPolicy``.

    Discrete actions follow a categorical distribution over the ``pi`` logits; MultiDiscrete actions
    one categorical per dimension over consecutive blocks of ``pi``; MultiBinary actions one
    Bernoulli per bit; Box actions a diagonal Gaussian with mean ``pi`` and a state-independent
    ``logstd``.

    >>> import gymnasium
    >>> policy = MlpPolicy(gymnasium.spaces.Box(-1, 1, (3,)), gymnasium.spaces.Discrete(2), net_arch=[8])
    >>> [variable.name for variable in policy.get_parameter_list()][:2]
    ['model/shared_fc0/w:0', 'model/shared_fc0/b:0']

    :param observation_space: the observation space (Box, Discrete, MultiBinary, MultiDiscrete)
    :param action_space: the action space (Discrete, MultiDiscrete, MultiBinary or Box)
    :param generator: the source of randomness for initialisation and sampling (owned by the model)
    :param net_arch: shared layer sizes, then optionally ``dict(pi=[...], vf=[...])``;
        default ``[dict(pi=[64, 64], vf=[64, 64])]``
    :param layers: deprecated Stable Baselines 2 kwarg, ``layers=[64, 64]`` means
        ``net_arch=[dict(pi=[64, 64], vf=[64, 64])]``
    :param act_fun: activation of the hidden layers: a name from :data:`ACTIVATIONS` or a function
    """

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        *,
        generator: tf.random.Generator | None = None,
        net_arch: NetArch | None = None,
        layers: Sequence[int] | None = None,
        act_fun: str | Activation = "tanh",
        **unknown_kwargs: Any,
    ):
        if unknown_kwargs:
            raise UnknownPolicyKwargsError(
                f"Unknown keywords for policy: {sorted(unknown_kwargs)} ({type(self).__name__} policy_kwargs "
                "accepted: ['act_fun', 'layers', 'net_arch'])"
            )
        super().__init__(name="model")
        check_observation_space(observation_space)
        n_outputs, self.action_spec = action_head(action_space)
        self.observation_space = observation_space
        self.action_space = action_space
        self.activation = get_activation(act_fun)
        self.generator = tf.random.Generator.from_non_deterministic_state() if generator is None else generator
        pi_dim, vf_dim = self._build_extractor(_resolve_net_arch(net_arch, layers))

        self.vf = Linear("model/vf", vf_dim, 1, VALUE_INIT_SCALE, self.generator)
        self.pi = Linear("model/pi", pi_dim, n_outputs, POLICY_INIT_SCALE, self.generator)
        self.logstd = logstd_variable(action_space, n_outputs)
        self.q = Linear("model/q", vf_dim, n_outputs, VALUE_INIT_SCALE, self.generator)

        self.observation_spec = observation_spec(observation_space)
        #: ``step(observations) -> (actions, values, neglogps)``, actions sampled.
        self.step = CompiledFunction(self._step, [self.observation_spec])
        #: ``value(observations) -> values``.
        self.value = CompiledFunction(self._value, [self.observation_spec])
        #: ``deterministic_actions(observations) -> actions`` (argmax, or the Gaussian mean).
        self.deterministic_actions = CompiledFunction(self._deterministic_actions, [self.observation_spec],
                                                      eager_calls=PREDICT_EAGER_CALLS)
        #: ``sampled_actions(observations) -> actions``.
        self.sampled_actions = CompiledFunction(self._sampled_actions, [self.observation_spec],
                                                eager_calls=PREDICT_EAGER_CALLS)
        #: ``action_proba(observations) -> distribution.probabilities()`` (see ``action_probability``).
        self.action_proba = CompiledFunction(self._action_proba, [self.observation_spec],
                                             eager_calls=PREDICT_EAGER_CALLS)

    def _build_extractor(self, net_arch: NetArch) -> tuple[int, int]:
        """Build the layers between the observations and the heads (Stable Baselines 2's ``mlp_extractor``).

        :param net_arch: the resolved ``net_arch``
        :return: the sizes of the policy and value latents
        """
        shared_sizes, pi_sizes, vf_sizes = split_net_arch(net_arch)
        latent_dim = flat_dim(self.observation_space)
        self.shared_layers = []
        for index, size in enumerate(shared_sizes):
            self.shared_layers.append(
                Linear(f"model/shared_fc{index}", latent_dim, size, HIDDEN_INIT_SCALE, self.generator)
            )
            latent_dim = size
        self.pi_layers = []
        self.vf_layers = []
        # Creation order (pi_fc0, vf_fc0, pi_fc1, ...) is the parameter order of Stable Baselines 2.
        self._separate_layers = []
        pi_dim = vf_dim = latent_dim
        for index, (pi_size, vf_size) in enumerate(zip_longest(pi_sizes, vf_sizes)):
            if pi_size is not None:
                layer = Linear(f"model/pi_fc{index}", pi_dim, pi_size, HIDDEN_INIT_SCALE, self.generator)
                self.pi_layers.append(layer)
                self._separate_layers.append(layer)
                pi_dim = pi_size
            if vf_size is not None:
                layer = Linear(f"model/vf_fc{index}", vf_dim, vf_size, HIDDEN_INIT_SCALE, self.generator)
                self.vf_layers.append(layer)
                self._separate_layers.append(layer)
                vf_dim = vf_size
        return pi_dim, vf_dim

    def _extractor_parameters(self) -> list[tf.Variable]:
        """The variables of the layers :meth:`_build_extractor` made, in Stable Baselines 2 order.

        :return: the variables
        """
        variables: list[tf.Variable] = []
        for layer in [*self.shared_layers, *self._separate_layers]:
            variables += [layer.w, layer.b]
        return variables

    # --- variables ----------------------------------------------------------------------------

    def get_parameter_list(self) -> list[tf.Variable]:
        """Every variable, in Stable Baselines 2 order (the order of its parameter files).

        :return: shared layers, interleaved pi/vf layers, vf, pi, [pi/logstd], q
        """
        return [*self.actor_critic_parameters(), self.q.w, self.q.b]

    def actor_critic_parameters(self) -> list[tf.Variable]:
        """The variables the policy and value outputs depend on: all but the unused ``q`` head.

        :return: the variables, in :meth:`get_parameter_list` order
        """
        variables = self._extractor_parameters()
        for layer in [self.vf, self.pi]:
            variables += [layer.w, layer.b]
        if self.logstd is not None:
            variables.append(self.logstd)
        return variables

    # --- forward pass -------------------------------------------------------------------------

    def latent(self, observations: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The policy and value latents (outputs of the last pi / vf layers).

        :param observations: a batch, as described by ``observation_spec``
        :return: ``(pi_latent, vf_latent)``
        """
        shared = self._dense_stack(self.shared_layers, preprocess_observations(observations, self.observation_space))
        return self._dense_stack(self.pi_layers, shared), self._dense_stack(self.vf_layers, shared)

    def pi_latent(self, observations: tf.Tensor) -> tf.Tensor:
        """The policy latent alone: what acting needs, without the value layers' ops (which an eager
        call, e.g. the first ``predict`` after ``load``, would otherwise run for nothing).

        :param observations: a batch, as described by ``observation_spec``
        :return: the output of the last pi layer, equal to ``latent(observations)[0]``
        """
        features = preprocess_observations(observations, self.observation_space)
        return self._dense_stack([*self.shared_layers, *self.pi_layers], features)

    def _dense_stack(self, layers: Sequence[Linear], inputs: tf.Tensor) -> tf.Tensor:
        for layer in layers:
            inputs = self.activation(layer(inputs))
        return inputs

    def forward(self, observations: tf.Tensor) -> tuple[Distribution, tf.Tensor]:
        """The action distribution and the value estimate of each observation.

        :param observations: a batch, as described by ``observation_spec``
        :return: ``(distribution, values)``, values of shape ``(batch,)``
        """
        pi_latent, vf_latent = self.latent(observations)
        return self.distribution(pi_latent), self.vf(vf_latent)[:, 0]

    def distribution(self, pi_latent: tf.Tensor) -> Distribution:
        """The action distribution the ``pi`` head makes of a policy latent.

        :param pi_latent: the output of the last pi layer
        :return: the distribution of the action space
        """
        return action_distribution(self.action_space, self.pi(pi_latent), self.logstd)

    def evaluate_actions(self, observations: tf.Tensor, actions: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """What the PPO loss needs for a minibatch (differentiable; call inside a gradient tape).

        :param observations: a batch, as described by ``observation_spec``
        :param actions: the actions taken, as described by ``action_spec``
        :return: ``(neglogp, entropy, values)``, each of shape ``(batch,)``
        """
        distribution, values = self.forward(observations)
        return distribution.neglogp(actions), distribution.entropy(), values

    def _step(self, observations: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        distribution, values = self.forward(observations)
        actions = distribution.sample(self.generator)
        return actions, values, distribution.neglogp(actions)

    def _value(self, observations: tf.Tensor) -> tf.Tensor:
        _, vf_latent = self.latent(observations)
        return self.vf(vf_latent)[:, 0]

    def _deterministic_actions(self, observations: tf.Tensor) -> tf.Tensor:
        return self.distribution(self.pi_latent(observations)).mode()

    def _sampled_actions(self, observations: tf.Tensor) -> tf.Tensor:
        return self.distribution(self.pi_latent(observations)).sample(self.generator)

    def _action_proba(self, observations: tf.Tensor) -> tf.Tensor | list[tf.Tensor]:
        return self.distribution(self.pi_latent(observations)).probabilities()


def action_head(action_space: gymnasium.Space) -> tuple[int, tf.TensorSpec]:
    """The size of the ``pi`` layer for an action space, and the spec of a batch of its actions.

    As in Stable Baselines 2: Discrete(n) has n logits; MultiDiscrete(nvec) ``sum(nvec)`` logits,
    one block per dimension; MultiBinary(n) n log-odds; Box the Gaussian mean of each element.

    :param action_space: Discrete or MultiDiscrete starting at 0, MultiBinary, or Box
    :return: ``(n_outputs, action_spec)``
    :raises UnsupportedSpaceError: for any other space
    """
    starts = getattr(action_space, "start", None)
    if isinstance(action_space, (gymnasium.spaces.Discrete, gymnasium.spaces.MultiDiscrete)) and np.any(starts):
        raise UnsupportedSpaceError(
            f"{type(action_space).__name__} action spaces must start at 0, received {action_space}"
        )
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return int(action_space.n), tf.TensorSpec((None,), tf.int64)
    if isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        nvec = np.asarray(action_space.nvec).reshape(-1)
        return int(nvec.sum()), tf.TensorSpec((None, len(nvec)), tf.int64)
    size = int(np.prod(action_space.shape or ()))
    if isinstance(action_space, gymnasium.spaces.MultiBinary):
        return size, tf.TensorSpec((None, size), tf.int64)
    if isinstance(action_space, gymnasium.spaces.Box):
        return size, tf.TensorSpec((None, size), tf.float32)
    raise UnsupportedSpaceError(
        f"actor-critic policies support Discrete, MultiDiscrete, MultiBinary and Box action spaces, "
        f"received {action_space}"
    )


def logstd_variable(action_space: gymnasium.Space, n_outputs: int) -> tf.Variable | None:
    """Stable Baselines 2's ``model/pi/logstd`` of Box actions, zeros of shape ``(1, n_outputs)``.

    :param action_space: the action space
    :param n_outputs: the width of ``pi`` (see :func:`action_head`)
    :return: the variable, or None for any other space (it has none)
    """
    if not isinstance(action_space, gymnasium.spaces.Box):
        return None
    return constant_variable(0.0, (1, n_outputs), "model/pi/logstd")


def action_distribution(action_space: gymnasium.Space, pi_output: tf.Tensor,
                        logstd: tf.Variable | None) -> Distribution:
    """The action distribution an actor-critic policy's ``pi`` layer parametrises (:func:`action_head`).

    :param action_space: the action space the head was built for
    :param pi_output: the ``pi`` layer's output, ``(batch, n_outputs)``
    :param logstd: :func:`logstd_variable` of the space
    :return: a diagonal Gaussian (Box), one categorical per dimension (MultiDiscrete), one Bernoulli
        per bit (MultiBinary) or a categorical (Discrete)
    """
    if logstd is not None:
        return DiagGaussianDistribution(pi_output, logstd)
    if isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        return MultiCategoricalDistribution(pi_output, np.asarray(action_space.nvec).reshape(-1).tolist())
    if isinstance(action_space, gymnasium.spaces.MultiBinary):
        return BernoulliDistribution(pi_output)
    return CategoricalDistribution(pi_output)


def _resolve_net_arch(net_arch: NetArch | None, layers: Sequence[int] | None) -> NetArch:
    if layers is not None:
        warnings.warn(
            "Usage of the `layers` policy kwarg is deprecated: use net_arch instead "
            "(layers=[64, 64] is net_arch=[dict(pi=[64, 64], vf=[64, 64])])",
            DeprecationWarning,
            stacklevel=3,
        )
        if net_arch is not None:
            warnings.warn("net_arch overrides the deprecated `layers` policy kwarg", DeprecationWarning, stacklevel=3)
            return net_arch
        return [dict(pi=list(layers), vf=list(layers))]
    if net_arch is None:
        return [dict(pi=[64, 64], vf=[64, 64])]
    return net_arch
