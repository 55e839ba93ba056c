"""The functions every export format is built from: a ``tf.Module`` over the policy's variables.

:class:`ExportedPolicy` turns a model's policy into batch functions with fixed signatures, with
the whole path from raw observation to action inside the graph:

- preprocessing: the observation arrives in the observation space's dtype and shape (batch first)
  and is cast, one-hot encoded and flattened exactly as the policy does when training
  (:func:`~stable_baselines_io.common.preprocessing.preprocess_observations`); optional
  ``observation_transforms`` run before that (the place for image scaling or normalisation
  statistics);
- post-processing: argmax for Discrete actions (per dimension for MultiDiscrete), rounded
  probabilities for MultiBinary; for Box actions the Gaussian mean; actions are reshaped to the
  action shape (and Box actions clipped to the bounds), as ``model.predict`` does.

=======================  ==============================  =====================================
function                 policies                        outputs
=======================  ==============================  =====================================
``action``               all                             ``actions``
``action_probability``   actor-critic                    ``probabilities`` (Discrete; the
                                                         per-dimension probabilities
                                                         concatenated for MultiDiscrete; the
                                                         probability of each bit for
                                                         MultiBinary), or ``mean``, ``std``,
                                                         ``log_std`` (Box)
``value``                actor-critic                    ``values``
``q_values``             Q-network (DQN)                 ``q_values``
``metadata``             all (no input)                  ``metadata`` (a JSON string)
=======================  ==============================  =====================================

A recurrent policy's functions (``MlpLstmPolicy`` and the others, SavedModel only) take two more
inputs, ``states`` (float32 ``(batch, 2 * n_lstm)``, zeros to begin) and ``masks`` (float32
``(batch,)``, 1 where an episode begins: that state is zeroed first), and each also returns
``states``, the states to pass with the next observations, as ``model.predict`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    MultiCategoricalDistribution,
)
from stable_baselines_io.common.policies import MlpPolicy as ActorCriticPolicy
from stable_baselines_io.common.recurrent_policies import LstmPolicy
from stable_baselines_io.dqn.policies import MlpPolicy as QNetworkPolicy
from stable_baselines_io.exceptions import UnsupportedExportError
from stable_baselines_io.export.metadata import export_metadata, metadata_to_json

#: Model attributes that hold the network to export, tried in order.
POLICY_ATTRIBUTES = ("policy_net", "q_net")
#: The name of the input of every observation function.
OBSERVATIONS = "observations"
#: The names of the extra inputs of a recurrent policy's functions (and of its state output).
STATES = "states"
MASKS = "masks"

ObservationTransform = Callable[[tf.Tensor], tf.Tensor]


def policy_of(model: Any) -> ActorCriticPolicy | LstmPolicy | QNetworkPolicy:
    """The network of a model that an export runs.

    :param model: a set-up model (PPO, A2C, DQN, ...)
    :return: its actor-critic policy (feed-forward or recurrent) or Q-network
    """
    for name in POLICY_ATTRIBUTES:
        policy = getattr(model, name, None)
        if policy is None:
            continue
        if isinstance(policy, (ActorCriticPolicy, LstmPolicy, QNetworkPolicy)):
            return policy
        raise UnsupportedExportError(
            f"no exporter for {type(model).__name__}.{name} of class {type(policy).__qualname__}: expected "
            f"{ActorCriticPolicy.__module__}.MlpPolicy, {LstmPolicy.__module__}.LstmPolicy or "
            f"{QNetworkPolicy.__module__}.MlpPolicy (or a subclass)"
        )
    raise UnsupportedExportError(
        f"{type(model).__name__} has no network to export: expected one of the attributes "
        f"{list(POLICY_ATTRIBUTES)} to hold a policy (was the model set up?)"
    )


class ExportedPolicy(tf.Module):
    """Batch functions of a model's policy, ready for ``tf.saved_model.save`` and the converters.

    :param model: a set-up model whose policy is an actor-critic ``MlpPolicy``, a recurrent
        ``LstmPolicy`` or a DQN Q-network
    :param deterministic: ``action`` returns the greedy action; False makes it sample from the
        policy's distribution (actor-critic only)
    :param observation_transforms: functions applied in order to the raw observation batch before
        the policy's own preprocessing (e.g. normalisation with fixed statistics)
    """

    def __init__(self, model: Any, deterministic: bool = True,
                 observation_transforms: Sequence[ObservationTransform] = ()):
        super().__init__(name="exported_policy")
        policy = policy_of(model)
        # Bound methods, not the policy: tracking the policy would also save its random generator.
        self._forward: Callable[..., Any] | None = (
            policy.forward if isinstance(policy, (ActorCriticPolicy, LstmPolicy)) else None)
        self._q_network = policy.__call__ if isinstance(policy, QNetworkPolicy) else None
        self._transforms = tuple(observation_transforms)
        self.deterministic = bool(deterministic)
        self.is_actor_critic = isinstance(policy, (ActorCriticPolicy, LstmPolicy))
        #: The functions take and return recurrent states (saved_model only).
        self.recurrent = isinstance(policy, LstmPolicy)
        if not self.deterministic and not self.is_actor_critic:
            raise UnsupportedExportError(
                f"{type(model).__name__} has no stochastic policy to export: its exploration (epsilon-greedy) "
                "is a training-time behaviour; export with deterministic=True"
            )
        # Tracked here so that tf.saved_model.save finds every variable the functions capture.
        self.parameters = list(policy.actor_critic_parameters() if isinstance(policy, (ActorCriticPolicy, LstmPolicy))
                               else policy.get_parameter_list())
        self.observation_space = policy.observation_space
        self.action_space = policy.action_space
        spec = policy.observation_spec
        self.observation_spec = tf.TensorSpec(spec.shape, spec.dtype, name=OBSERVATIONS)
        #: The inputs of every observation function, in order.
        self.input_specs = [self.observation_spec]
        if isinstance(policy, LstmPolicy):
            self.input_specs += [tf.TensorSpec(policy.state_spec.shape, tf.float32, name=STATES),
                                 tf.TensorSpec(policy.mask_spec.shape, tf.float32, name=MASKS)]
        self.action = self._compile(self._action)
        if self.is_actor_critic:
            self.action_probability = self._compile(self._action_probability)
            self.value = self._compile(self._value)
        else:
            self.q_values = self._compile(self._q_values)
        self.metadata_json = metadata_to_json(export_metadata(
            type(model).__name__, self.observation_space, self.action_space, self.describe_signatures(),
            self.deterministic, extra={"tensorflow": tf.__version__},
        ))
        self.metadata = tf.function(self._metadata, input_signature=[], autograph=False)

    def _compile(self, function: Callable[..., dict[str, tf.Tensor]]) -> Any:
        return tf.function(function, input_signature=self.input_specs, autograph=False)

    def observation_functions(self) -> dict[str, Any]:
        """The functions of an observation batch, by signature name.

        :return: ``{"action": ..., "action_probability": ..., "value": ...}`` or
            ``{"action": ..., "q_values": ...}``
        """
        names = ["action", "action_probability", "value"] if self.is_actor_critic else ["action", "q_values"]
        return {name: getattr(self, name) for name in names}

    def signatures(self) -> dict[str, Any]:
        """Every function as a concrete function, by signature name (for ``tf.saved_model.save``).

        :return: signature name -> concrete function
        """
        functions = {name: function.get_concrete_function() for name, function in self.observation_functions().items()}
        return {**functions, "metadata": self.metadata.get_concrete_function()}

    def describe_signatures(self) -> dict[str, dict[str, Any]]:
        """Inputs and outputs of every signature: name -> dtype and shape (``-1``: any size).

        :return: signature name -> ``{"inputs": {...}, "outputs": {...}}``
        """
        inputs = {spec.name: _describe_spec(spec) for spec in self.input_specs}
        described = {}
        for name, function in self.observation_functions().items():
            outputs = function.get_concrete_function().structured_outputs
            described[name] = {"inputs": inputs, "outputs": {key: _describe_spec(value)
                                                             for key, value in outputs.items()}}
        described["metadata"] = {"inputs": {}, "outputs": {"metadata": {"dtype": "string", "shape": []}}}
        return described

    # --- the graphs -------------------------------------------------------------------------

    def _prepare(self, observations: tf.Tensor) -> tf.Tensor:
        for transform in self._transforms:
            observations = transform(observations)
        return observations

    def _distribution(self, observations: tf.Tensor, *recurrent_inputs: tf.Tensor
                      ) -> tuple[Distribution, tf.Tensor, dict[str, tf.Tensor]]:
        """The policy's outputs; a recurrent policy's new states come as ``{"states": ...}``.

        :param observations: the raw observation batch
        :param recurrent_inputs: ``(states, masks)`` of a recurrent policy, else nothing
        :return: ``(distribution, values, extra outputs)``
        """
        assert self._forward is not None
        outputs = self._forward(self._prepare(observations), *recurrent_inputs)
        return outputs[0], outputs[1], {STATES: outputs[2]} if self.recurrent else {}

    def _action(self, observations: tf.Tensor, *recurrent_inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        if not self.is_actor_critic:
            return {"actions": tf.argmax(self._q_values(observations)["q_values"], axis=-1)}
        distribution, _, extra = self._distribution(observations, *recurrent_inputs)
        if isinstance(distribution, DiagGaussianDistribution):
            actions = distribution.mode()
            if not self.deterministic:
                actions = actions + distribution.std * tf.random.normal(tf.shape(actions))
            return {"actions": self._clip_to_box(actions), **extra}
        if self.deterministic:
            actions = distribution.mode()
        elif isinstance(distribution, CategoricalDistribution):
            actions = _sample_categorical(distribution)
        elif isinstance(distribution, MultiCategoricalDistribution):
            actions = tf.stack([_sample_categorical(part) for part in distribution.categoricals], axis=-1)
        else:
            actions = tf.cast(tf.random.uniform(tf.shape(distribution.probs)) < distribution.probs, tf.int64)
        return {"actions": tf.reshape(actions, (-1, *(self.action_space.shape or ()))), **extra}

    def _clip_to_box(self, actions: tf.Tensor) -> tf.Tensor:
        space = self.action_space
        assert isinstance(space, gymnasium.spaces.Box)
        actions = tf.reshape(actions, (-1, *space.shape))
        low = tf.constant(np.asarray(space.low, dtype=np.float32))
        high = tf.constant(np.asarray(space.high, dtype=np.float32))
        return tf.minimum(tf.maximum(actions, low), high)

    def _action_probability(self, observations: tf.Tensor, *recurrent_inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        distribution, _, extra = self._distribution(observations, *recurrent_inputs)
        if isinstance(distribution, DiagGaussianDistribution):
            return {"mean": distribution.mean, "std": distribution.std, "log_std": distribution.logstd, **extra}
        if isinstance(distribution, MultiCategoricalDistribution):
            return {"probabilities": tf.concat(distribution.probabilities(), axis=-1), **extra}
        return {"probabilities": distribution.probabilities(), **extra}

    def _value(self, observations: tf.Tensor, *recurrent_inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        _, values, extra = self._distribution(observations, *recurrent_inputs)
        return {"values": values, **extra}

    def _q_values(self, observations: tf.Tensor) -> dict[str, tf.Tensor]:
        assert self._q_network is not None
        return {"q_values": self._q_network(self._prepare(observations))}

    def _metadata(self) -> dict[str, tf.Tensor]:
        return {"metadata": tf.constant(self.metadata_json)}


def _sample_categorical(distribution: CategoricalDistribution) -> tf.Tensor:
    return tf.random.categorical(distribution.logits, 1, dtype=tf.int64)[:, 0]


def _describe_spec(spec: tf.TensorSpec) -> dict[str, Any]:
    return {"dtype": spec.dtype.name, "shape": [-1 if size is None else int(size) for size in spec.shape]}

