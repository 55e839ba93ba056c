"""Recurrent actor-critic policies whose variables are named, shaped and ordered as in Stable Baselines 2.

A Stable Baselines 2 ``MlpLstmPolicy`` file (``layers`` form, the default) maps onto
:class:`MlpLstmPolicy` name for name, in this order::

    model/pi_fc{i}/w:0, model/pi_fc{i}/b:0     layers before the LSTM (``layers``, default [64, 64])
    model/lstm1/wx:0    (n_inputs, 4 * n_lstm)  input weights of the gates i, f, o, u (that order)
    model/lstm1/wh:0    (n_lstm, 4 * n_lstm)    recurrent weights
    model/lstm1/b:0     (4 * n_lstm,)           gate biases (no forget bias added)
    model/lstm1/gx:0, bx:0, gh:0, bh:0          (4 * n_lstm,) layer normalization (Ln policies only)
    model/lstm1/gc:0, bc:0                      (n_lstm,) layer normalization of the cell
    model/vf/w:0, model/vf/b:0                  value head, on the LSTM output
    model/pi/w:0, model/pi/b:0                  the action head on the LSTM output, as in MlpPolicy:
                                                logits (sum(nvec) for MultiDiscrete, one per bit for
                                                MultiBinary), or the Gaussian mean
    model/pi/logstd:0                           Box actions only
    model/q/w:0, model/q/b:0                    q head (unused by PPO and A2C)

With ``net_arch`` (ints, one ``'lstm'``, then optionally ``dict(pi=[...], vf=[...])``) the layers
are ``model/shared_fc{index in net_arch}``, ``model/lstm1``, then every ``pi_fc{i}``, then every
``vf_fc{i}``. :class:`CnnLstmPolicy` puts the nature CNN's ``c1, c2, c3, fc1`` before the LSTM
(:mod:`~stable_baselines_io.common.cnn`, on images min-max scaled by the space's bounds).

The recurrent state of each environment is ``concat([cell, hidden])``, shape ``(2 * n_lstm,)``.
The mask of a step is 1 where the observation begins an episode (the previous step ended one):
the state is zeroed before that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.cnn import NatureCNN, nature_cnn_input_shape, scale_images
from stable_baselines_io.common.distributions import Distribution
from stable_baselines_io.common.policies import (
    HIDDEN_INIT_SCALE,
    Linear,
    action_distribution,
    action_head,
    constant_variable,
    get_activation,
    logstd_variable,
    orthogonal_variable,
)
from stable_baselines_io.common.preprocessing import (
    check_observation_space,
    flat_dim,
    observation_spec,
    preprocess_observations,
)
from stable_baselines_io.common.tf_util import CompiledFunction
from stable_baselines_io.exceptions import RecurrentStateError, UnknownPolicyKwargsError
from stable_baselines_io.format.registry import register_serializable
from stable_baselines_io.type_aliases import Activation

#: ``net_arch`` of a recurrent policy: layer sizes and one ``"lstm"``, then optionally a pi/vf dict.
RecurrentNetArch = Sequence[int | str | dict[str, Sequence[int]]]

#: The net_arch entry that places the LSTM.
LSTM_LAYER = "lstm"
#: Stable Baselines 2's variable scope of the LSTM.
LSTM_SCOPE = "model/lstm1"
DEFAULT_N_LSTM = 256
DEFAULT_LSTM_LAYERS = (64, 64)
#: Stable Baselines 2's LSTM and heads use unit-gain orthogonal weights (the feed-forward policy scales pi by 0.01).
LSTM_INIT_SCALE = 1.0
HEAD_INIT_SCALE = 1.0
LAYER_NORM_EPSILON = 1e-5


def layer_norm(inputs: tf.Tensor, gain: tf.Variable, bias: tf.Variable) -> tf.Tensor:
    """Normalize each row to zero mean and unit variance, then scale and shift (Stable Baselines 2's ``_ln``).

    :param inputs: ``(batch, features)``
    :param gain: ``(features,)``
    :param bias: ``(features,)``
    :return: the normalized rows
    """
    centered = inputs - tf.reduce_mean(inputs, axis=1, keepdims=True)
    # Spelled out rather than tf.nn.moments: oneDNN's graph rewrite fuses the moments pattern into
    # a layer-norm kernel whose results drift from Stable Baselines 2's by ~1e-3.
    variance = tf.reduce_mean(centered * centered, axis=1, keepdims=True)
    return centered / tf.sqrt(variance + LAYER_NORM_EPSILON) * gain + bias


class Lstm(tf.Module):
    """Stable Baselines 2's LSTM layer (``tf_layers.lstm``), optionally layer-normalized.

    :param scope: the variable name prefix (``model/lstm1``)
    :param n_inputs: input features
    :param n_lstm: cells
    :param use_layer_norm: layer-normalize the gate pre-activations and the cell (``MlpLnLstmPolicy``)
    :param generator: the source of randomness for the initialisation
    """

    def __init__(self, scope: str, n_inputs: int, n_lstm: int, use_layer_norm: bool, generator: tf.random.Generator):
        super().__init__()
        self.n_lstm = n_lstm
        self.use_layer_norm = use_layer_norm
        gates = 4 * n_lstm
        self.wx = orthogonal_variable((n_inputs, gates), LSTM_INIT_SCALE, generator, f"{scope}/wx")
        self.wh = orthogonal_variable((n_lstm, gates), LSTM_INIT_SCALE, generator, f"{scope}/wh")
        self.b = constant_variable(0.0, (gates,), f"{scope}/b")
        self.norm_variables: list[tf.Variable] = []
        if use_layer_norm:
            for name, size, value in (("gx", gates, 1.0), ("bx", gates, 0.0), ("gh", gates, 1.0), ("bh", gates, 0.0),
                                      ("gc", n_lstm, 1.0), ("bc", n_lstm, 0.0)):
                self.norm_variables.append(constant_variable(value, (size,), f"{scope}/{name}"))

    @property
    def variables_in_order(self) -> list[tf.Variable]:
        """:return: ``wx, wh, b`` then the layer-norm gains and biases, in Stable Baselines 2's order"""
        return [self.wx, self.wh, self.b, *self.norm_variables]

    def input_gates(self, inputs: tf.Tensor) -> tf.Tensor:
        """The input's share of the gate pre-activations (it does not depend on the state).

        :param inputs: ``(batch, n_inputs)``
        :return: ``(batch, 4 * n_lstm)``
        """
        gates = tf.matmul(inputs, self.wx)
        if self.use_layer_norm:
            gates = layer_norm(gates, self.norm_variables[0], self.norm_variables[1])
        return gates

    def cell(self, input_gates: tf.Tensor, masks: tf.Tensor, cell_state: tf.Tensor,
             hidden: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One step: reset the states where ``masks`` is 1, then update them.

        :param input_gates: :meth:`input_gates` of the step's inputs
        :param masks: ``(batch,)`` float, 1 where an episode begins
        :param cell_state: ``(batch, n_lstm)``
        :param hidden: ``(batch, n_lstm)``
        :return: the new ``(cell_state, hidden)``
        """
        keep = (1.0 - masks)[:, None]
        cell_state, hidden = cell_state * keep, hidden * keep
        recurrent_gates = tf.matmul(hidden, self.wh)
        if self.use_layer_norm:
            recurrent_gates = layer_norm(recurrent_gates, self.norm_variables[2], self.norm_variables[3])
        in_gate, forget_gate, out_gate, candidate = tf.split(input_gates + recurrent_gates + self.b, 4, axis=1)
        cell_state = tf.sigmoid(forget_gate) * cell_state + tf.sigmoid(in_gate) * tf.tanh(candidate)
        normed_cell = layer_norm(cell_state, *self.norm_variables[4:]) if self.use_layer_norm else cell_state
        return cell_state, tf.sigmoid(out_gate) * tf.tanh(normed_cell)

    def __call__(self, inputs: tf.Tensor, masks: tf.Tensor, states: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Run over sequences.

        :param inputs: ``(n_steps, batch, n_inputs)``
        :param masks: ``(n_steps, batch)``
        :param states: ``(batch, 2 * n_lstm)``, cell then hidden
        :return: the hidden outputs ``(n_steps, batch, n_lstm)`` and the final states ``(batch, 2 * n_lstm)``
        """
        shape = tf.shape(inputs)
        input_gates = tf.reshape(self.input_gates(tf.reshape(inputs, (-1, inputs.shape[-1]))),
                                 (shape[0], shape[1], 4 * self.n_lstm))
        cell_state, hidden = tf.split(states, 2, axis=1)

        def step(carried: tuple[tf.Tensor, tf.Tensor], elements: tuple[tf.Tensor, tf.Tensor]
                 ) -> tuple[tf.Tensor, tf.Tensor]:
            return self.cell(elements[0], elements[1], *carried)

        cells, hiddens = tf.scan(step, (input_gates, masks), initializer=(cell_state, hidden))
        return hiddens, tf.concat([cells[-1], hiddens[-1]], axis=1)

    def single_step(self, inputs: tf.Tensor, masks: tf.Tensor, states: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One step of every environment (what acting needs), without a loop.

        :param inputs: ``(batch, n_inputs)``
        :param masks: ``(batch,)``
        :param states: ``(batch, 2 * n_lstm)``
        :return: the hidden output ``(batch, n_lstm)`` and the new states
        """
        cell_state, hidden = tf.split(states, 2, axis=1)
        cell_state, hidden = self.cell(self.input_gates(inputs), masks, cell_state, hidden)
        return hidden, tf.concat([cell_state, hidden], axis=1)


class LstmPolicy(tf.Module):
    """Actor-critic with an LSTM: Stable Baselines 2's ``LstmPolicy`` (base of the policies below).

    Every input of a step comes with the state of each environment and its mask; the outputs
    include the new states. Sequences (training) are flattened step-major: sample ``t * n_envs + e``
    is step ``t`` of environment ``e``.

    :param observation_space: the observation space
    :param action_space: the action space (Discrete, MultiDiscrete, MultiBinary or Box, with the
        heads of :class:`~stable_baselines_io.common.policies.MlpPolicy`)
    :param generator: the source of randomness for initialisation and sampling (owned by the model)
    :param n_lstm: LSTM cells
    :param layers: sizes of the layers before the LSTM (default ``[64, 64]``; ignored with ``net_arch``)
    :param net_arch: ints (shared layers), one ``'lstm'``, then optionally ``dict(pi=[...], vf=[...])``
    :param act_fun: activation of the hidden layers: a name or a function
    :param layer_norm: layer-normalized LSTM
    :param feature_extraction: ``"mlp"`` or ``"cnn"`` (:class:`~stable_baselines_io.common.cnn.NatureCNN` on
        images min-max scaled by the space's bounds, as Stable Baselines 2's ``scale=True``; no ``net_arch``)
    """

    #: Marks the policies whose steps take and return recurrent states.
    recurrent: ClassVar[bool] = True
    _accepted_kwargs: ClassVar[tuple[str, ...]] = ("act_fun", "layers", "n_lstm", "net_arch")
    _layer_norm: ClassVar[bool] = False
    _feature_extraction: ClassVar[str] = "mlp"

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        *,
        generator: tf.random.Generator | None = None,
        n_lstm: int = DEFAULT_N_LSTM,
        layers: Sequence[int] | None = None,
        net_arch: RecurrentNetArch | None = None,
        act_fun: str | Activation = "tanh",
        **unknown_kwargs: Any,
    ):
        if unknown_kwargs:
            raise UnknownPolicyKwargsError(
                f"Unknown keywords for policy: {sorted(unknown_kwargs)} ({type(self).__name__} policy_kwargs "
                f"accepted: {list(self._accepted_kwargs)})"
            )
        super().__init__(name="model")
        check_observation_space(observation_space)
        n_outputs, self.action_spec = action_head(action_space)
        if isinstance(n_lstm, bool) or not isinstance(n_lstm, (int, np.integer)) or n_lstm <= 0:
            raise ValueError(f"n_lstm must be a positive number of cells, received {n_lstm!r}")
        self.observation_space = observation_space
        self.action_space = action_space
        self.n_lstm = int(n_lstm)
        self.activation = get_activation(act_fun)
        self.generator = tf.random.Generator.from_non_deterministic_state() if generator is None else generator

        self.cnn: NatureCNN | None = None
        self.shared_before: list[Linear] = []
        self.shared_after: list[Linear] = []
        self.pi_layers: list[Linear] = []
        self.vf_layers: list[Linear] = []
        if self._feature_extraction == "cnn":
            if net_arch is not None:
                raise ValueError(f"{type(self).__name__} does not take net_arch (as in Stable Baselines 2): its "
                                 "features come from nature_cnn")
            self.cnn = NatureCNN("model", nature_cnn_input_shape(observation_space), self.generator)
            self.lstm = Lstm(LSTM_SCOPE, self.cnn.n_features, self.n_lstm, self._layer_norm, self.generator)
            pi_dim = vf_dim = self.n_lstm
        elif net_arch is None:
            sizes = list(DEFAULT_LSTM_LAYERS if layers is None else layers)
            latent_dim = self._add_layers(self.shared_before, "pi_fc", range(len(sizes)), sizes, flat_dim(
                observation_space))
            self.lstm = Lstm(LSTM_SCOPE, latent_dim, self.n_lstm, self._layer_norm, self.generator)
            pi_dim = vf_dim = self.n_lstm
        else:
            pi_dim, vf_dim = self._build_net_arch(net_arch)

        self.vf = Linear("model/vf", vf_dim, 1, HEAD_INIT_SCALE, self.generator)
        self.pi = Linear("model/pi", pi_dim, n_outputs, HEAD_INIT_SCALE, self.generator)
        self.logstd = logstd_variable(action_space, n_outputs)
        self.q = Linear("model/q", vf_dim, n_outputs, HEAD_INIT_SCALE, self.generator)

        self.observation_spec = observation_spec(observation_space)
        self.state_spec = tf.TensorSpec((None, self.state_size), tf.float32)
        self.mask_spec = tf.TensorSpec((None,), tf.float32)
        step_inputs = [self.observation_spec, self.state_spec, self.mask_spec]
        #: ``step(observations, states, masks) -> (actions, values, new_states, neglogps)``, actions sampled.
        self.step = CompiledFunction(self._step, step_inputs)
        #: ``value(observations, states, masks) -> values``.
        self.value = CompiledFunction(self._value, step_inputs)
        #: ``deterministic_actions(observations, states, masks) -> (actions, new_states)``.
        self.deterministic_actions = CompiledFunction(self._deterministic_actions, step_inputs)
        #: ``sampled_actions(observations, states, masks) -> (actions, new_states)``.
        self.sampled_actions = CompiledFunction(self._sampled_actions, step_inputs)
        #: ``action_proba(observations, states, masks) -> distribution.probabilities()``.
        self.action_proba = CompiledFunction(self._action_proba, step_inputs)

    def _add_layers(self, layers: list[Linear], prefix: str, indices: Sequence[int], sizes: Sequence[int],
                    n_inputs: int) -> int:
        for index, size in zip(indices, sizes):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
                raise ValueError(f"layer {prefix}{index} must have a positive size, received {size!r}")
            layers.append(Linear(f"model/{prefix}{index}", n_inputs, int(size), HIDDEN_INIT_SCALE, self.generator))
            n_inputs = int(size)
        return n_inputs

    def _build_net_arch(self, net_arch: RecurrentNetArch) -> tuple[int, int]:
        if isinstance(net_arch, (str, bytes, dict)) or not isinstance(net_arch, Sequence):
            raise ValueError(f"net_arch must be a list of layer sizes, one 'lstm' and at most one dict, "
                             f"received {net_arch!r}")
        if sum(1 for layer in net_arch if layer == LSTM_LAYER) != 1:
            raise ValueError(f"net_arch must contain 'lstm' exactly once (the LSTM is shared by the policy and the "
                             f"value network), received {net_arch!r}")
        latent_dim = flat_dim(self.observation_space)
        split: dict[str, Sequence[int]] = {}
        after_lstm = False
        for index, layer in enumerate(net_arch):
            if layer == LSTM_LAYER:
                self.lstm = Lstm(LSTM_SCOPE, latent_dim, self.n_lstm, self._layer_norm, self.generator)
                latent_dim, after_lstm = self.n_lstm, True
            elif isinstance(layer, dict):
                unknown = sorted(set(layer) - {"pi", "vf"})
                if unknown or index != len(net_arch) - 1:
                    raise ValueError(f"net_arch[{index}] must be the last entry, a dict of 'pi' and/or 'vf' layer "
                                     f"sizes, received {layer!r}")
                split = layer
            else:
                layers = self.shared_after if after_lstm else self.shared_before
                latent_dim = self._add_layers(layers, "shared_fc", [index], [layer], latent_dim)  # type: ignore[list-item]
        pi_dim = self._add_layers(self.pi_layers, "pi_fc", range(len(split.get("pi", []))), split.get("pi", []),
                                  latent_dim)
        vf_dim = self._add_layers(self.vf_layers, "vf_fc", range(len(split.get("vf", []))), split.get("vf", []),
                                  latent_dim)
        return pi_dim, vf_dim

    @property
    def state_size(self) -> int:
        """:return: the size of one environment's recurrent state, ``2 * n_lstm`` (cell, hidden)"""
        return 2 * self.n_lstm

    def initial_state(self, n_envs: int) -> np.ndarray:
        """The state of environments that have not started: zeros.

        :param n_envs: the number of environments
        :return: float32 ``(n_envs, 2 * n_lstm)``
        """
        return np.zeros((n_envs, self.state_size), dtype=np.float32)

    def check_states(self, states: Any, n_envs: int, what: str = "state") -> np.ndarray:
        """States given by a caller, as a float32 array of the shape the policy needs.

        :param states: one state per environment
        :param n_envs: the number of environments (observations)
        :param what: how to name the states in errors
        :return: float32 ``(n_envs, 2 * n_lstm)``
        :raises RecurrentStateError: the shape differs
        """
        array = np.asarray(states, dtype=np.float32)
        if array.shape != (n_envs, self.state_size):
            raise RecurrentStateError(
                f"{what} must have shape (n_envs, 2 * n_lstm) = {(n_envs, self.state_size)} for {n_envs} "
                f"observation(s) and n_lstm={self.n_lstm}, received shape {array.shape}"
            )
        return array

    # --- variables ----------------------------------------------------------------------------

    def get_parameter_list(self) -> list[tf.Variable]:
        """Every variable, in Stable Baselines 2 order (the order of its parameter files).

        :return: features, LSTM, pi layers, vf layers, vf, pi, [pi/logstd], q
        """
        return [*self.actor_critic_parameters(), self.q.w, self.q.b]

    def actor_critic_parameters(self) -> list[tf.Variable]:
        """The variables the policy and value outputs depend on: all but the unused ``q`` head.

        :return: the variables, in :meth:`get_parameter_list` order
        """
        variables = [] if self.cnn is None else self.cnn.get_parameter_list()
        for layer in self.shared_before:
            variables += [layer.w, layer.b]
        variables += self.lstm.variables_in_order
        for layer in [*self.shared_after, *self.pi_layers, *self.vf_layers, self.vf, self.pi]:
            variables += [layer.w, layer.b]
        if self.logstd is not None:
            variables.append(self.logstd)
        return variables

    # --- forward pass -------------------------------------------------------------------------

    def features(self, observations: tf.Tensor) -> tf.Tensor:
        """The LSTM's inputs: the CNN's features, or the layers before the LSTM.

        :param observations: a batch, as described by ``observation_spec``
        :return: ``(batch, features)``
        """
        if self.cnn is not None:
            return self.cnn(scale_images(observations, self.observation_space))
        features = preprocess_observations(observations, self.observation_space)
        for layer in self.shared_before:
            features = self.activation(layer(features))
        return features

    def heads(self, lstm_output: tf.Tensor) -> tuple[Distribution, tf.Tensor]:
        """The action distribution and the values from the LSTM's output.

        :param lstm_output: ``(batch, n_lstm)``
        :return: ``(distribution, values)``
        """
        latent = lstm_output
        for layer in self.shared_after:
            latent = self.activation(layer(latent))
        pi_latent = vf_latent = latent
        for layer in self.pi_layers:
            pi_latent = self.activation(layer(pi_latent))
        for layer in self.vf_layers:
            vf_latent = self.activation(layer(vf_latent))
        return action_distribution(self.action_space, self.pi(pi_latent), self.logstd), self.vf(vf_latent)[:, 0]

    def forward(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
                ) -> tuple[Distribution, tf.Tensor, tf.Tensor]:
        """One step of every environment.

        :param observations: ``(n_envs, ...)``
        :param states: ``(n_envs, 2 * n_lstm)``
        :param masks: ``(n_envs,)``, 1 where an episode begins
        :return: ``(distribution, values, new_states)``
        """
        lstm_output, new_states = self.lstm.single_step(self.features(observations), masks, states)
        distribution, values = self.heads(lstm_output)
        return distribution, values, new_states

    def forward_sequences(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
                          ) -> tuple[Distribution, tf.Tensor, tf.Tensor]:
        """Sequences of steps, flattened step-major (``n_steps * n_envs`` samples).

        :param observations: ``(n_steps * n_envs, ...)``
        :param states: the states before the first step, ``(n_envs, 2 * n_lstm)``
        :param masks: ``(n_steps * n_envs,)``
        :return: ``(distribution, values, final_states)``, over the flattened samples
        """
        n_envs = tf.shape(states)[0]
        features = self.features(observations)
        sequences = tf.reshape(features, (-1, n_envs, features.shape[-1]))
        outputs, final_states = self.lstm(sequences, tf.reshape(masks, (-1, n_envs)), states)
        distribution, values = self.heads(tf.reshape(outputs, (-1, self.n_lstm)))
        return distribution, values, final_states

    def evaluate_actions(self, observations: tf.Tensor, actions: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
                         ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """What the PPO and A2C losses need for sequences (differentiable; call inside a gradient tape).

        :param observations: ``(n_steps * n_envs, ...)``, step-major
        :param actions: the actions taken, as described by ``action_spec``
        :param states: the states before the first step, ``(n_envs, 2 * n_lstm)``
        :param masks: ``(n_steps * n_envs,)``
        :return: ``(neglogp, entropy, values)``, each of shape ``(n_steps * n_envs,)``
        """
        distribution, values, _ = self.forward_sequences(observations, states, masks)
        return distribution.neglogp(actions), distribution.entropy(), values

    def _step(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
              ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        distribution, values, new_states = self.forward(observations, states, masks)
        actions = distribution.sample(self.generator)
        return actions, values, new_states, distribution.neglogp(actions)

    def _value(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        return self.forward(observations, states, masks)[1]

    def _deterministic_actions(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
                               ) -> tuple[tf.Tensor, tf.Tensor]:
        distribution, _, new_states = self.forward(observations, states, masks)
        return distribution.mode(), new_states

    def _sampled_actions(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
                         ) -> tuple[tf.Tensor, tf.Tensor]:
        distribution, _, new_states = self.forward(observations, states, masks)
        return distribution.sample(self.generator), new_states

    def _action_proba(self, observations: tf.Tensor, states: tf.Tensor, masks: tf.Tensor
                      ) -> tf.Tensor | list[tf.Tensor]:
        return self.forward(observations, states, masks)[0].probabilities()


@register_serializable("actor_critic.MlpLstmPolicy")
class MlpLstmPolicy(LstmPolicy):
    """Stable Baselines 2's ``MlpLstmPolicy``: MLP features, then an LSTM of ``n_lstm`` cells (256).

    >>> import gymnasium
    >>> policy = MlpLstmPolicy(gymnasium.spaces.Box(-1, 1, (3,)), gymnasium.spaces.Discrete(2), n_lstm=8)
    >>> [variable.name for variable in policy.get_parameter_list()][4:7]
    ['model/lstm1/wx:0', 'model/lstm1/wh:0', 'model/lstm1/b:0']
    """


@register_serializable("actor_critic.MlpLnLstmPolicy")
class MlpLnLstmPolicy(LstmPolicy):
    """Stable Baselines 2's ``MlpLnLstmPolicy``: as :class:`MlpLstmPolicy`, with a layer-normalized LSTM."""

    _layer_norm = True


@register_serializable("actor_critic.CnnLstmPolicy")
class CnnLstmPolicy(LstmPolicy):
    """Stable Baselines 2's ``CnnLstmPolicy``: nature CNN features, then an LSTM."""

    _accepted_kwargs = ("act_fun", "layers", "n_lstm")
    _feature_extraction = "cnn"


@register_serializable("actor_critic.CnnLnLstmPolicy")
class CnnLnLstmPolicy(LstmPolicy):
    """Stable Baselines 2's ``CnnLnLstmPolicy``: nature CNN features, then a layer-normalized LSTM."""

    _accepted_kwargs = ("act_fun", "layers", "n_lstm")
    _layer_norm = True
    _feature_extraction = "cnn"


#: The recurrent policies by Stable Baselines 2 name.
RECURRENT_POLICIES: dict[str, type[LstmPolicy]] = {
    "MlpLstmPolicy": MlpLstmPolicy,
    "MlpLnLstmPolicy": MlpLnLstmPolicy,
    "CnnLstmPolicy": CnnLstmPolicy,
    "CnnLnLstmPolicy": CnnLnLstmPolicy,
}
