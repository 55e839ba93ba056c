"""Loading without building: ``load`` returns a model whose TensorFlow variables do not exist yet.

Creating a TensorFlow variable and running an eager op on it costs far more than reading a small
agent's file, so ``load`` of a model that can defer (see
:meth:`~stable_baselines_io.common.base_class.BaseRLModel._deferred_actor`) runs ``setup_model``
on *constant tensors* made from the stored arrays (:class:`StoredInitialValues` with
``as_constants``). Every check of a normal load runs, with the same errors; the training state is
restored and checked. Then the attributes ``setup_model`` made are set aside, and the model keeps:

- an *actor*: deterministic actions from the constant network, for the first
  :data:`~stable_baselines_io.common.tf_util.PREDICT_EAGER_CALLS` deterministic predictions (the
  same eager kernels as a built model's first predictions, so the same actions);
- a :class:`DeferredSetup`, from which :func:`finish_setup` builds the model for real (variables
  from the stored arrays, the training arrays assigned): on the first access to anything the
  setup makes (``learn``, ``save``, ``get_parameters``, a sampled action, ``policy_net``...),
  through ``BaseRLModel.__getattr__``.

The result is the model a normal load makes: training resumes bit for bit. The global seeding
(Python, NumPy, TensorFlow, the environment) happens once, at ``load``, as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from stable_baselines_io.common.stored_values import StoredInitialValues
from stable_baselines_io.common.tf_util import PREDICT_EAGER_CALLS
from stable_baselines_io.format.archive import TRAINING_ARRAYS_MEMBER
from stable_baselines_io.format.files import AgentFile

if TYPE_CHECKING:
    from stable_baselines_io.common.base_class import BaseRLModel

#: ``actor(observations) -> actions``: deterministic actions of a batch, as ``_predict_step`` returns them.
Actor = Callable[[np.ndarray], np.ndarray]


@dataclass
class DeferredSetup:
    """What a model loaded without building needs to act now and to build later.

    :param params: the stored parameters, by name
    :param training_arrays: the file's training arrays (assigned once the state variables exist), or None
    :param kept: attributes that ``setup_model`` makes and the training state replaced (generators):
        set back after the real setup
    :param actor: deterministic actions from the constant network
    :param actions_left: deterministic predictions the actor still makes before the model is built
    """

    params: Mapping[str, np.ndarray]
    training_arrays: Mapping[str, np.ndarray] | None
    kept: dict[str, Any] = field(default_factory=dict)
    actor: Actor | None = None
    actions_left: int = PREDICT_EAGER_CALLS

    def act(self, observations: np.ndarray) -> np.ndarray | None:
        """Deterministic actions, while the actor may still make them.

        :param observations: a batch
        :return: the actions, or None when the model must be built to act
        """
        if self.actor is None or self.actions_left <= 0:
            return None
        self.actions_left -= 1
        return self.actor(observations)


def defer_setup(model: BaseRLModel, agent_file: AgentFile, params: Mapping[str, np.ndarray],
                force_reset: bool) -> bool:
    """Set ``model`` (made by ``_from_data(..., setup=False)``) up on constants, restore the file's
    members, and set the setup's attributes aside in a :class:`DeferredSetup`.

    :param model: the model, not set up
    :param agent_file: the file, as read and checked
    :param params: its parameters by name (every one must make a constant of the setup)
    :param force_reset: ``load``'s argument
    :return: False when the file's parameters do not make exactly the model's variables (the caller
        then loads the normal way, which reports the mismatch)
    """
    before = dict(vars(model))
    with StoredInitialValues(params, as_constants=True) as stored:
        model.setup_model()
    if not stored.built_exactly(model.get_parameter_list()):
        return False
    made = [name for name, value in vars(model).items() if name not in before or before[name] is not value]
    model._restore_members(agent_file)
    if force_reset:
        model._forget_last_observation()
    deferred = DeferredSetup(params, agent_file.state_arrays.get(TRAINING_ARRAYS_MEMBER),
                             actor=model._deferred_actor())
    state_attributes = set(model._state_attrs)
    for name in made:
        value = vars(model).pop(name)
        if name in state_attributes:
            deferred.kept[name] = value
    vars(model)["_deferred_setup"] = deferred
    return True


def finish_setup(model: BaseRLModel) -> None:
    """Build a model :func:`defer_setup` left unbuilt: what a normal ``load`` would have made.

    :param model: the model (nothing happens if it is built)
    """
    deferred: DeferredSetup | None = vars(model).pop("_deferred_setup", None)
    if deferred is None:
        return
    vars(model)["_seeded_at_load"] = True
    try:
        with StoredInitialValues(deferred.params) as stored, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the constant setup at load gave them
            model.setup_model()
    finally:
        del vars(model)["_seeded_at_load"]
    if not stored.built_exactly(model.get_parameter_list()):
        model.load_parameters(deferred.params)
    for name, value in deferred.kept.items():
        setattr(model, name, value)
    if deferred.training_arrays is not None:
        getattr(model, model._archive_members[TRAINING_ARRAYS_MEMBER].set)(deferred.training_arrays)
