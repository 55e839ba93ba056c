"""The architecture of a policy, read from its stored arrays' names and shapes alone (no TensorFlow).

A Stable Baselines 2 file may name a policy class this library does not have: a user's own, or
the rl-baselines-zoo's (``utils.CustomDQNPolicy``, ``utils.utils.CustomMlpPolicy``). Safe mode
never imports it, but such classes were almost always a library policy with other keyword
arguments, and those show in the arrays: the layer sizes in the weight shapes, shared and
separate layers in the order (or the names), layer normalisation in the extra ``beta`` /
``gamma`` arrays, dueling in a second stream. :func:`infer_policy` tries every library layout the
arrays could be and keeps those that match the stored arrays *exactly* (every name and shape);
it never runs anything from the file.

The activation leaves no trace in the arrays: it is taken from the stored ``policy_kwargs`` when
they record it, from the caller's, or else Stable Baselines 2's default for that kind of policy
(and the result says it was assumed).

>>> shapes = [(4, 16), (16,), (4, 16), (16,), (16, 1), (1,), (16, 2), (2,), (16, 2), (2,)]
>>> inferred = infer_policy("actor_critic", shapes, n_outputs=2, continuous_actions=False)
>>> inferred.policy_kwargs
{'net_arch': [{'pi': [16], 'vf': [16]}], 'act_fun': 'tanh'}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.exceptions import (
    InferredPolicyWarning,
    ParameterMismatchError,
    PolicyInferenceError,
    UnknownPolicyClassError,
)
from stable_baselines_io.format import registry
from stable_baselines_io.format.file_targets import is_path
from stable_baselines_io.format.files import AgentFile, read_agent_file
from stable_baselines_io.format.names import ACTOR_CRITIC_SCHEME, DQN_SCHEME
from stable_baselines_io.interop import (
    DEFAULT_ACTOR_CRITIC_LAYERS,
    DEFAULT_DQN_LAYERS,
    SB2Algorithm,
    Shapes,
    acting_policy_params,
    actor_critic_parameter_shapes,
    dqn_parameter_shapes,
)
from stable_baselines_io.type_aliases import FileTarget, LoadedParams

#: The library policy rebuilt for each parameter scheme (registered names), and its import path.
SCHEME_POLICIES = {ACTOR_CRITIC_SCHEME: "actor_critic.MlpPolicy", DQN_SCHEME: "dqn.MlpPolicy"}
SCHEME_POLICY_PATHS = {ACTOR_CRITIC_SCHEME: "stable_baselines_io.common.policies.MlpPolicy",
                       DQN_SCHEME: "stable_baselines_io.dqn.policies.MlpPolicy"}
#: Stable Baselines 2's default activation of each kind of policy (``FeedForwardPolicy``).
DEFAULT_ACTIVATIONS = {ACTOR_CRITIC_SCHEME: "tanh", DQN_SCHEME: "relu"}
#: The most hidden layers a candidate layout may have (a bound on the search, far above real files).
MAX_HIDDEN_LAYERS = 64

StoredShapes = Mapping[str, tuple[int, ...]] | Sequence[tuple[int, ...]]


@dataclass(frozen=True)
class UnknownPolicyClass:
    """A policy class named by a file that safe mode did not import: its name only, never the class.

    :param qualified: ``"module.qualname"`` as the file names it
    """

    qualified: str

    def __repr__(self) -> str:
        return f"<unknown policy class {self.qualified} (not imported)>"


@dataclass(frozen=True)
class InferredPolicy:
    """A library policy whose parameters have exactly the stored names and shapes.

    :param scheme: the parameter scheme (:data:`~.names.ACTOR_CRITIC_SCHEME` or :data:`~.names.DQN_SCHEME`)
    :param policy_kwargs: the keyword arguments that rebuild it, activation included
    :param assumed: the entries of ``policy_kwargs`` that the arrays do not show and that were
        neither stored nor given (Stable Baselines 2's defaults)
    """

    scheme: str
    policy_kwargs: dict[str, Any]
    assumed: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        """:return: the registered name of the library policy class"""
        return SCHEME_POLICIES[self.scheme]

    def describe(self) -> str:
        """One sentence for warnings and ``inspect``.

        :return: e.g. ``"stable_baselines_io.dqn.policies.MlpPolicy with policy_kwargs={...}"``
        """
        text = f"{SCHEME_POLICY_PATHS[self.scheme]} with policy_kwargs={self.policy_kwargs}"
        if self.assumed:
            assumed = ", ".join(f"{key}={value!r}" for key, value in self.assumed.items())
            text += (f" ({assumed}: Stable Baselines 2's default, as the arrays do not record it; pass "
                     f"policy_kwargs={{{', '.join(repr(key) + ': ...' for key in self.assumed)}}} if the class used "
                     "another)")
        return text


def shapes_of(params: Mapping[str, Any] | Sequence[Any]) -> StoredShapes:
    """The shapes of stored parameters, keeping their names when they have them.

    :param params: name -> array, or a list of arrays
    :return: name -> shape, or a list of shapes
    """
    if isinstance(params, Mapping):
        return {name: tuple(np.shape(value)) for name, value in params.items()}
    return [tuple(np.shape(value)) for value in params]


def action_outputs(action_space: gymnasium.Space) -> tuple[int, bool] | None:
    """What a policy's action head produces for an action space.

    :param action_space: the action space
    :return: ``(outputs, continuous)``, or None for a space the MLP policies do not act in
    """
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return int(action_space.n), False
    if isinstance(action_space, gymnasium.spaces.Box):
        return int(np.prod(action_space.shape)), True
    return None


def infer_policy(
    scheme: str,
    stored: StoredShapes,
    n_outputs: int,
    continuous_actions: bool = False,
    stored_kwargs: Mapping[str, Any] | None = None,
    given_kwargs: Mapping[str, Any] | None = None,
    stored_class: str = "<unnamed>",
) -> InferredPolicy:
    """The library policy whose parameters match the stored ones exactly.

    :param scheme: :data:`~.names.ACTOR_CRITIC_SCHEME` (PPO, A2C) or :data:`~.names.DQN_SCHEME`
    :param stored: the stored parameters' shapes: name -> shape (zip files, compared name for name)
        or a list in Stable Baselines 2's order (legacy files, compared shape for shape)
    :param n_outputs: the number of discrete actions or the size of a Box action
    :param continuous_actions: Box actions (the actor-critic policy has a ``logstd``)
    :param stored_kwargs: the file's ``policy_kwargs``, if any (only the activation is read from them)
    :param given_kwargs: ``policy_kwargs`` the caller passed: they must agree with the arrays
    :param stored_class: the class the file names, for messages
    :return: the policy and its keyword arguments
    :raises PolicyInferenceError: no layout, or more than one, matches the arrays; the message
        lists what ``load`` needs to be told
    """
    if scheme not in SCHEME_POLICIES:
        raise ValueError(f"unknown parameter scheme {scheme!r}: expected one of {sorted(SCHEME_POLICIES)}")
    given = dict(given_kwargs or {})
    matches = [kwargs for kwargs, layout in _candidate_layouts(scheme, stored, n_outputs, continuous_actions)
               if _same_layout(layout, stored) and _agrees(kwargs, given)]
    unique = [kwargs for index, kwargs in enumerate(matches) if kwargs not in matches[:index]]
    if len(unique) != 1:
        raise PolicyInferenceError(_no_match_message(scheme, stored, unique, stored_class, given),
                                   stored_class=stored_class)
    kwargs = unique[0]
    activation = given.get("act_fun", (stored_kwargs or {}).get("act_fun"))
    assumed = {}
    if activation is None:
        activation = assumed["act_fun"] = DEFAULT_ACTIVATIONS[scheme]
    extra = {key: value for key, value in given.items()
             if key not in kwargs and not (key == "layers" and "net_arch" in kwargs)}
    return InferredPolicy(scheme, {**kwargs, **extra, "act_fun": activation}, assumed)


def declared_architecture(scheme: str, policy_kwargs: Mapping[str, Any] | None,
                          layer_norm_default: bool = False) -> dict[str, Any]:
    """The architecture a library policy class builds from ``policy_kwargs``, defaults filled in.

    >>> declared_architecture("actor_critic", {"layers": [32]})
    {'net_arch': [{'pi': [32], 'vf': [32]}], 'act_fun': 'tanh'}

    :param scheme: the policy's parameter scheme
    :param policy_kwargs: the stored ``policy_kwargs``
    :param layer_norm_default: for DQN policies, True for ``LnMlpPolicy``
    :return: the keyword arguments that describe the network completely
    """
    kwargs = dict(policy_kwargs or {})
    activation = kwargs.get("act_fun", DEFAULT_ACTIVATIONS[scheme])
    if not isinstance(activation, str):
        activation = getattr(activation, "__name__", repr(activation))
    if scheme == DQN_SCHEME:
        layers = kwargs.get("layers")
        return {"layers": list(DEFAULT_DQN_LAYERS if layers is None else layers),
                "dueling": bool(kwargs.get("dueling", True)),
                "layer_norm": bool(kwargs.get("layer_norm", layer_norm_default)), "act_fun": activation}
    net_arch = kwargs.get("net_arch")
    if net_arch is None:
        layers = kwargs.get("layers")
        layers = list(DEFAULT_ACTOR_CRITIC_LAYERS if layers is None else layers)
        net_arch = [{"pi": layers, "vf": list(layers)}]
    return {"net_arch": _normal_net_arch(net_arch), "act_fun": activation}


def matches_arrays(scheme: str, architecture: Mapping[str, Any], stored: StoredShapes, n_outputs: int,
                   continuous_actions: bool = False) -> bool:
    """Whether a policy of ``architecture`` has exactly the stored parameters (names, or the order of shapes).

    :param scheme: the policy's parameter scheme
    :param architecture: its keyword arguments
    :param stored: the stored shapes (see :func:`infer_policy`)
    :param n_outputs: the number of discrete actions or the size of a Box action
    :param continuous_actions: Box actions
    :return: True when every name and shape agree
    """
    shapes = list(stored.values()) if isinstance(stored, Mapping) else list(stored)
    first_weight = next((shape for shape in shapes if len(shape) == 2), None)
    if first_weight is None:
        return False
    if scheme == DQN_SCHEME:
        layout = dqn_parameter_shapes(architecture, first_weight[0], n_outputs)
    else:
        layout = actor_critic_parameter_shapes(architecture, first_weight[0], n_outputs, continuous_actions)
    return _same_layout(layout, stored)


def _candidate_layouts(scheme: str, stored: StoredShapes, n_outputs: int,
                       continuous_actions: bool) -> list[tuple[dict[str, Any], Shapes]]:
    shapes = list(stored.values()) if isinstance(stored, Mapping) else list(stored)
    if scheme == DQN_SCHEME:
        return _dqn_candidates(shapes, n_outputs)
    return _actor_critic_candidates(shapes, n_outputs, continuous_actions)


def _actor_critic_candidates(shapes: list[tuple[int, ...]], n_outputs: int,
                             continuous_actions: bool) -> list[tuple[dict[str, Any], Shapes]]:
    """Every split of the hidden layers into shared, policy-only and value-only layers.

    Stable Baselines 2's order is: shared layers, then the policy and value layers interleaved by
    depth, then the heads (``vf``, ``pi`` [``logstd``], ``q``): ``(shared, pi, vf)`` counts decide the
    order, and the weight shapes decide the sizes.
    """
    heads = 7 if continuous_actions else 6
    hidden = shapes[:-heads] if len(shapes) >= heads else []
    if len(shapes) < heads or len(hidden) % 2 or len(hidden) // 2 > MAX_HIDDEN_LAYERS \
            or any(len(shape) != 2 for shape in hidden[::2]) or not shapes or len(shapes[0]) != 2:
        return []
    sizes = [shape[1] for shape in hidden[::2]]
    n_inputs = shapes[0][0]
    candidates = []
    for n_shared in range(len(sizes) + 1):
        rest = sizes[n_shared:]
        for n_pi in range(len(rest) + 1):
            n_vf = len(rest) - n_pi
            pi: list[int] = []
            vf: list[int] = []
            position = 0
            for depth in range(max(n_pi, n_vf)):
                if depth < n_pi:
                    pi.append(rest[position])
                    position += 1
                if depth < n_vf:
                    vf.append(rest[position])
                    position += 1
            kwargs = {"net_arch": [*sizes[:n_shared], {"pi": pi, "vf": vf}]}
            candidates.append((kwargs, actor_critic_parameter_shapes(kwargs, n_inputs, n_outputs, continuous_actions)))
    return candidates


def _dqn_candidates(shapes: list[tuple[int, ...]], n_actions: int) -> list[tuple[dict[str, Any], Shapes]]:
    """Layouts of the online network (the target network repeats it): hidden layers with or without
    layer normalisation, one stream or two (dueling)."""
    if not shapes or shapes[0] != () or len(shapes) % 2 == 0:
        return []
    online = shapes[1: 1 + (len(shapes) - 1) // 2]
    groups: list[list[tuple[int, ...]]] = []
    for shape in online:
        if len(shape) == 2 or not groups:
            groups.append([])
        groups[-1].append(shape)
    if not groups or len(groups[0][0]) != 2 or len(groups) > 2 * (MAX_HIDDEN_LAYERS + 1):
        return []
    n_inputs = groups[0][0][0]
    layer_norm = any(len(group) == 4 for group in groups)
    candidates = []
    for dueling in (True, False):
        stream = groups[: len(groups) // 2] if dueling else groups
        if dueling and len(groups) % 2:
            continue
        kwargs = {"layers": [group[0][1] for group in stream[:-1]], "dueling": dueling, "layer_norm": layer_norm}
        candidates.append((kwargs, dqn_parameter_shapes(kwargs, n_inputs, n_actions)))
    return candidates


def _same_layout(layout: Shapes, stored: StoredShapes) -> bool:
    if isinstance(stored, Mapping):
        return dict(layout) == dict(stored)
    return list(layout.values()) == list(stored)


def _agrees(kwargs: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether the caller's ``policy_kwargs`` say nothing against a candidate's."""
    for key, value in kwargs.items():
        if key not in given:
            continue
        if key == "net_arch" and _normal_net_arch(given[key]) != _normal_net_arch(value):
            return False
        if key != "net_arch" and given[key] != value:
            return False
    if "layers" in given and "net_arch" in kwargs and "net_arch" not in given:
        layers = list(given["layers"])
        return _normal_net_arch(kwargs["net_arch"]) == _normal_net_arch([{"pi": layers, "vf": layers}])
    return True


def _normal_net_arch(net_arch: Any) -> Any:
    if not isinstance(net_arch, Sequence):
        return net_arch
    return [dict(pi=list(layer.get("pi", [])), vf=list(layer.get("vf", []))) if isinstance(layer, Mapping) else layer
            for layer in net_arch]


def _no_match_message(scheme: str, stored: StoredShapes, matches: list[dict[str, Any]], stored_class: str,
                      given: Mapping[str, Any]) -> str:
    policy = SCHEME_POLICY_PATHS[scheme]
    if isinstance(stored, Mapping):
        described = ", ".join(f"{name} {shape}" for name, shape in stored.items())
    else:
        described = ", ".join(f"[{index}] {shape}" for index, shape in enumerate(stored))
    if matches:
        options = "; ".join(f"policy={policy}, policy_kwargs={kwargs}" for kwargs in matches)
        return (f"the policy class {stored_class} is not this library's (safe mode does not import it) and its "
                f"{len(stored)} arrays fit {len(matches)} different {policy} layouts, which compute different "
                f"things: pass the one the class used to load(): {options} (with its act_fun)")
    given_text = f" and with the given policy_kwargs={dict(given)}" if given else ""
    return (f"the policy class {stored_class} is not this library's (safe mode does not import it), and no "
            f"{policy} layout{given_text} has exactly its parameters ({described}). Load it with policy=<a library "
            f"policy class> and policy_kwargs={{...}} (e.g. net_arch, layers, dueling, layer_norm, act_fun) "
            "describing a network with these names and shapes, or safe_mode=False if you trust the file and have "
            "its code installed")


def infer_stored_policy(scheme: str, params: LoadedParams, algorithm: SB2Algorithm | None, data: Mapping[str, Any],
                        given_kwargs: Mapping[str, Any] | None = None, source: str | None = None) \
        -> tuple[InferredPolicy, LoadedParams]:
    """The library policy for a file's stored arrays, and the acting policy's parameters among them.

    A list from an algorithm whose files may hold copies of the policy (TRPO's old policy) is read
    both ways, with and without copies: exactly one reading must fit a library policy.

    :param scheme: the parameter scheme of the loading class's policies
    :param params: the stored parameters
    :param algorithm: the Stable Baselines 2 algorithm that wrote the file, if known
    :param data: the file's data (``policy``, ``action_space``, ``policy_kwargs``)
    :param given_kwargs: ``policy_kwargs`` the caller passed
    :param source: the file, named in errors
    :return: the policy, and the acting policy's parameters
    :raises PolicyInferenceError: no reading, or more than one, fits exactly one library policy
    """
    policy = data.get("policy")
    stored_class = policy.qualified if isinstance(policy, UnknownPolicyClass) else str(policy)
    outputs = action_outputs(data.get("action_space"))  # type: ignore[arg-type]
    if params is None or outputs is None:
        raise PolicyInferenceError(
            f"the policy class {stored_class} is not this library's (safe mode does not import it), and the file "
            f"holds no parameters or no Discrete or Box action space to rebuild a library policy from: pass "
            "policy=<a library policy class> and policy_kwargs={...} to load()", stored_class=stored_class, path=source)
    readings: list[LoadedParams] = [params]
    if isinstance(params, list) and algorithm is not None and algorithm.copy_scopes:
        copies = 1 + len(algorithm.copy_scopes)
        if len(params) % copies == 0:
            try:
                readings.insert(0, acting_policy_params(params, len(params) // copies, algorithm))
            except ParameterMismatchError:
                pass  # the copies do not repeat the first part: the list reads only as one policy
    elif not isinstance(params, list):
        readings = [acting_policy_params(params, len(params), algorithm)]
    found: list[tuple[InferredPolicy, LoadedParams]] = []
    errors: list[PolicyInferenceError] = []
    for reading in readings:
        try:
            found.append((infer_policy(scheme, shapes_of(reading), outputs[0], outputs[1],  # type: ignore[arg-type]
                                       data.get("policy_kwargs"), given_kwargs, stored_class), reading))
        except PolicyInferenceError as error:
            errors.append(error)
    if len(found) == 1:
        return found[0]
    if found:
        raise PolicyInferenceError(
            f"the policy class {stored_class} is not this library's, and the {len(params)} stored arrays read both "
            f"as one policy and as Stable Baselines 2's {algorithm.name if algorithm else ''} policy plus its old "
            f"copy: {'; or '.join(inferred.describe() for inferred, _ in found)}. Pass policy= and policy_kwargs= to "
            "load()", stored_class=stored_class, path=source)
    raise PolicyInferenceError(str(errors[0]), stored_class=stored_class, path=source)


def read_agent_file_naming_unknown_policy(target: FileTarget, custom_objects: Mapping[str, Any] | None = None,
                                          **options: Any) -> AgentFile:
    """``read_agent_file``, with a policy class that safe mode does not import read as its name.

    The class (a user's, the rl-baselines-zoo's) becomes an :class:`UnknownPolicyClass`, for
    :func:`replace_unknown_policy` to rebuild from the arrays; nothing of it is imported.

    :param target: the agent file (a file object is read again from where it was)
    :param custom_objects: values replacing stored data keys
    :param options: the other arguments of ``read_agent_file``
    :return: the file, as read
    """
    start = None if is_path(target) else target.tell()  # type: ignore[union-attr]
    try:
        return read_agent_file(target, custom_objects=dict(custom_objects or {}), **options)
    except UnknownPolicyClassError as error:
        if start is not None:
            target.seek(start)  # type: ignore[union-attr]
        named = {**(custom_objects or {}), "policy": UnknownPolicyClass(error.stored_class)}
        return read_agent_file(target, custom_objects=named, **options)


def replace_unknown_policy(agent_file: AgentFile, scheme: str, algorithm: SB2Algorithm | None,
                           given_kwargs: Mapping[str, Any] | None, source: str, stacklevel: int = 2,
                           remedy: str = "Pass policy= and policy_kwargs= to load() to choose the policy yourself") \
        -> InferredPolicy | None:
    """Put the library policy whose parameters match the stored arrays in place of an unknown class.

    The file's ``policy``, ``policy_kwargs`` and parameters (the acting policy's) are replaced in
    place, and an :class:`~.InferredPolicyWarning` says what was inferred.

    :param agent_file: the file, as read by :func:`read_agent_file_naming_unknown_policy`
    :param scheme: the parameter scheme of the policies of the class that plays the file
    :param algorithm: the Stable Baselines 2 algorithm that wrote the file, if known
    :param given_kwargs: ``policy_kwargs`` the caller passed
    :param source: the file, named in errors and in the warning
    :param stacklevel: the warning's, counted from the caller of this function
    :param remedy: the warning's last sentence: how to choose the policy instead
    :return: the inferred policy, or None when the file's policy class is not an unknown one
    :raises PolicyInferenceError: the arrays do not tell one library policy
    """
    data = agent_file.data if agent_file.data is not None else {}
    stored_class = data.get("policy")
    if not isinstance(stored_class, UnknownPolicyClass):
        return None
    inferred, agent_file.params = infer_stored_policy(scheme, agent_file.params, algorithm, data, given_kwargs,
                                                      source)
    data["policy"] = registry.resolve_registered(inferred.policy)
    data["policy_kwargs"] = inferred.policy_kwargs
    warnings.warn(
        f"{source}: the policy class {stored_class.qualified} is not this library's and safe mode did not import "
        f"it; its parameters have exactly the names and shapes of those of {inferred.describe()}, which is used "
        f"instead. {remedy}", InferredPolicyWarning, stacklevel=stacklevel + 1)
    return inferred
