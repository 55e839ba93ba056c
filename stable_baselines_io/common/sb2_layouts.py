"""Stable Baselines 2 files of other algorithms and other policy classes, brought to a model's terms.

``load`` reads any Stable Baselines 2 file whose acting network is one of this library's policies:

- TRPO and PPO1 files (played by :class:`~stable_baselines_io.PPO`) hold their old policy
  (``oldpi/...``) beside the acting one: it is dropped (see :func:`~stable_baselines_io.interop.acting_policy_params`);
- ACER and ACKTR files (played by :class:`~stable_baselines_io.A2C`) hold the actor-critic policy only;
- a policy class that safe mode did not import (a user's, the rl-baselines-zoo's) is replaced by
  the library policy whose parameters match the stored arrays exactly
  (:func:`~stable_baselines_io.architecture.infer_policy`), with an :class:`~.InferredPolicyWarning`.
"""

from __future__ import annotations

from typing import Any

from stable_baselines_io.architecture import UnknownPolicyClass, replace_unknown_policy
from stable_baselines_io.common.data_checks import expected_parameter_shapes
from stable_baselines_io.exceptions import AlgorithmMismatchError, PolicyInferenceError
from stable_baselines_io.format import registry
from stable_baselines_io.format.files import AgentFile
from stable_baselines_io.interop import SB2Algorithm, acting_policy_params, sb2_algorithm


def stored_sb2_algorithm(agent_file: AgentFile) -> SB2Algorithm | None:
    """The Stable Baselines 2 algorithm that wrote a file (None for this library's files).

    :param agent_file: the file, as read
    :return: the algorithm, or None
    """
    if agent_file.metadata.get("algorithm") is not None:
        return None
    return sb2_algorithm(agent_file.data if agent_file.data is not None else agent_file.data_keys)


def check_sb2_algorithm(class_name: str, agent_file: AgentFile, source: str) -> None:
    """Refuse a Stable Baselines 2 file that another class of this library loads, or none does.

    :param class_name: the loading class (``"PPO"``)
    :param agent_file: the file, as read
    :param source: the file, named in errors
    :raises AlgorithmMismatchError: the file is another class's, or of an unsupported algorithm
    """
    algorithm = stored_sb2_algorithm(agent_file)
    if algorithm is None or algorithm.loaded_by == class_name:
        return
    keys = sorted(algorithm.data_keys)
    if algorithm.loaded_by is None:
        raise AlgorithmMismatchError(
            f"the file {source!r} was saved by Stable Baselines 2's {algorithm.name} (its data keys {keys}), which "
            f"this library does not load: {algorithm.reason}")
    raise AlgorithmMismatchError(
        f"the file {source!r} was saved by Stable Baselines 2's {algorithm.name} (its data keys {keys}), another "
        f"algorithm than {class_name}: load it with {algorithm.loaded_by}.load")


def adapt_sb2_agent(agent_file: AgentFile, source: str, overrides: dict[str, Any], scheme: str | None) \
        -> dict[str, Any]:
    """Keep the acting policy's parameters and rebuild a policy class safe mode did not import.

    :param agent_file: the file, as read (its ``data`` and ``params`` are replaced in place)
    :param source: the file, named in errors and in the warning
    :param overrides: the attributes passed to ``load``
    :param scheme: the parameter scheme of the loading class's policies (None: no inference)
    :return: the attributes to set on the model (``policy_kwargs`` become the inferred ones)
    :raises PolicyInferenceError: the policy class is unknown and the arrays do not tell one library policy
    :raises ParameterMismatchError: the file's copies of its policy do not repeat it
    """
    data = agent_file.data if agent_file.data is not None else {}
    algorithm = stored_sb2_algorithm(agent_file)
    stored_class = data.get("policy")
    if isinstance(stored_class, UnknownPolicyClass):
        if scheme is None:
            raise PolicyInferenceError(
                f"the policy class {stored_class.qualified} is not this library's (safe mode does not import it): "
                "pass policy=<a library policy class> and policy_kwargs={...} to load()",
                stored_class=stored_class.qualified, path=source)
        inferred = replace_unknown_policy(agent_file, scheme, algorithm, overrides.get("policy_kwargs"), source,
                                          stacklevel=4)  # the caller of load
        assert inferred is not None  # the stored class is an unknown one
        policy = data["policy"]
        data["policy"] = policy.resolve() if isinstance(policy, registry.ClassReference) else policy
        return {**overrides, "policy_kwargs": inferred.policy_kwargs} if "policy_kwargs" in overrides else overrides
    expected = expected_parameter_shapes(data, source)
    if expected is not None:
        agent_file.params = acting_policy_params(agent_file.params, len(expected), algorithm, list(expected))
    return overrides
