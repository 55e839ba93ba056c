"""The save/load behaviour shared by every TensorFlow 2 model: one mixin, no per-algorithm code.

A class gains ``save`` / ``load`` / ``get_parameters`` / ``load_parameters`` by mixing in
:class:`SaveLoadMixin`, listing its ``tf.Variable``\\ s in ``get_parameter_list()`` and declaring
the attributes that form its data dictionary in ``_save_attrs`` (extended by subclasses)::

    class MyAlgorithm(BaseRLModel):
        _save_attrs = (*BaseRLModel._save_attrs, "my_coefficient")

Archive members beyond ``data`` and the parameters are declared the same way, in
``_archive_members`` (name -> :class:`ArchiveMember`): the format layer writes and reads any
declared member, so a class adds one without touching the format layer.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import tensorflow as tf

from stable_baselines_io.architecture import read_agent_file_naming_unknown_policy
from stable_baselines_io.common.stored_values import StoredInitialValues
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    CorruptAgentFileError,
    ParameterMismatchError,
    PolicyKwargsMismatchError,
    UnknownParameterError,
)
from stable_baselines_io.format.archive import (
    ARRAYS_MEMBER,
    JSON_MEMBER,
    REPLAY_BUFFER_MEMBER,
    TRAINING_ARRAYS_MEMBER,
    TRAINING_STATE_MEMBER,
    check_member_name,
)
from stable_baselines_io.format.file_targets import describe_target
from stable_baselines_io.format.files import (
    AgentFile,
    load_from_file,
    read_agent_file,
    save_to_file,
    writer_metadata,
)
from stable_baselines_io.interop import acting_policy_params, sb2_algorithm
from stable_baselines_io.type_aliases import DataDict, EnvSpec, FileTarget, ParamDict, StorageOptions

SelfModel = TypeVar("SelfModel", bound="SaveLoadMixin")


@dataclass(frozen=True)
class ArchiveMember:
    """An archive member a model class writes and reads beyond ``data`` and the parameters.

    The two methods are named, not referenced, so subclasses can override them.

    :param kind: :data:`~stable_baselines_io.format.archive.JSON_MEMBER` (a dict encoded like
        ``data``, never pickled) or :data:`~stable_baselines_io.format.archive.ARRAYS_MEMBER`
        (name -> array, an ``.npz``)
    :param get: method ``get(options) -> content | None``; ``options`` are ``save``'s keyword
        options (``include_replay_buffer``); None leaves the member out of the file
    :param set: method ``set(content)``, called on ``load`` when the file has the member, in
        declaration order, after the parameters are loaded
    """

    kind: str
    get: str
    set: str

    def __post_init__(self) -> None:
        if self.kind not in (JSON_MEMBER, ARRAYS_MEMBER):
            raise ValueError(f"ArchiveMember kind must be {JSON_MEMBER!r} or {ARRAYS_MEMBER!r}, received {self.kind!r}")


class SaveLoadMixin:
    """Save, load and parameter access for any class that owns ``tf.Variable``\\ s.

    Subclasses provide :meth:`get_parameter_list` and ``_save_attrs``; classes that are built from
    a data dictionary on :meth:`load` also provide :meth:`_from_data`.
    """

    #: Attributes written to the ``data`` member. Extend in subclasses, never hand-write ``save``.
    _save_attrs: ClassVar[tuple[str, ...]] = ()
    #: Data keys read from a file that this class does not declare: kept and written back on save.
    _extra_data: DataDict

    #: Stable Baselines 2's names for the format layer's entry points (kept for its users; the
    #: model's own ``save`` / ``load`` call the format layer directly).
    _save_to_file = staticmethod(save_to_file)
    _load_from_file = staticmethod(load_from_file)
    #: Members beyond data and parameters, written by :meth:`save` and restored by :meth:`load`,
    #: in this order. Extend in subclasses: ``{**Base._archive_members, "name": ArchiveMember(...)}``.
    #: Array members that ``load`` leaves unread in a local file (only training needs them): their
    #: ``set`` method gets an :class:`~stable_baselines_io.format.files.UnreadArrays` to read when needed.
    _members_read_on_demand: ClassVar[frozenset[str]] = frozenset()
    _archive_members: ClassVar[dict[str, ArchiveMember]] = {
        TRAINING_STATE_MEMBER: ArchiveMember(JSON_MEMBER, "_get_training_state", "_set_training_state"),
        TRAINING_ARRAYS_MEMBER: ArchiveMember(ARRAYS_MEMBER, "_get_training_arrays", "_set_training_arrays"),
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in cls._archive_members.items():
            check_member_name(name, member.kind)

    def get_parameter_list(self) -> list[tf.Variable]:
        """The model's variables, in a stable order (the order of list-form parameters).

        :return: the variables
        """
        raise NotImplementedError

    def get_parameters(self) -> ParamDict:
        """Copies of the network weights, by variable name, in :meth:`get_parameter_list` order.

        :return: ordered mapping name -> array
        """
        # Reading through the raw op skips Variable.numpy()'s per-call Python work (read_value, name
        # scopes, a second copy): 200 variables of 64x64 take ~3 ms instead of ~9-13 ms (see
        # docs/performance.md). Wrapped variables (distributed, autocast) keep their own read.
        from tensorflow.python.ops.resource_variable_ops import ResourceVariable  # the plain, unwrapped class

        eager = tf.executing_eagerly()
        params: ParamDict = OrderedDict()
        for variable in self.get_parameter_list():
            if eager and type(variable) is ResourceVariable:
                value = tf.raw_ops.ReadVariableOp(resource=variable.handle, dtype=variable.dtype).numpy()
            else:
                value = variable.numpy()
            # numpy() already copies (a scalar for 0-d variables): copy again only if it did not
            if not isinstance(value, np.ndarray) or not value.flags.owndata or not value.flags.writeable:
                value = np.array(value)
            params[variable.name] = value
        return params

    def load_parameters(
        self, load_path_or_dict: FileTarget | Mapping[str, np.ndarray] | list[np.ndarray], exact_match: bool = True,
        max_bytes: int | None = None, storage_options: StorageOptions | None = None,
    ) -> None:
        """Assign network weights from a mapping, a list, an agent file (path, URL) or a file object.

        Values may be arrays, nested lists or NumPy scalars; they are cast within their kind
        (float64 to float32...) as Stable Baselines did, never with loss (see :func:`cast_for_variable`).
        Everything is checked before anything is assigned: on error the model is unchanged and
        the error lists every problem (unknown names, missing names, shapes, dtypes).

        :param load_path_or_dict: name -> array mapping; a list in :meth:`get_parameter_list`
            order (deprecated); or an agent file (path, fsspec URL or binary file object). A Stable
            Baselines 2 TRPO or PPO1 file's old policy (``oldpi/...``, or the second half of a list
            twice as long) is left out (see :func:`~stable_baselines_io.interop.acting_policy_params`)
        :param exact_match: require a value for every variable; if False, a subset is assigned
        :param max_bytes: for a file, the most bytes reading it may decompress and allocate
            (default ``max(64 MiB, 1100 * file size)``)
        :param storage_options: options for the fsspec backend of a URL (credentials, endpoint...; see docs/scaling.md)
        :raises ParameterMismatchError: (a ``ValueError`` and a ``RuntimeError``) missing names,
            wrong shapes, dtypes that cannot be cast without loss
        :raises UnknownParameterError: (also a ``KeyError``) as above, with names the model does not have
        """
        variables = self.get_parameter_list()
        if isinstance(load_path_or_dict, list):
            warnings.warn(
                "Loading parameters from a list is deprecated: pass a mapping name -> array "
                "(see get_parameters())",
                DeprecationWarning,
                stacklevel=2,
            )
            values = acting_policy_params(load_path_or_dict, len(variables), None,
                                          [variable.name for variable in variables])
            params: Mapping[str, Any] = self._list_to_params(values, variables)  # type: ignore[arg-type]
        elif isinstance(load_path_or_dict, Mapping):
            params = load_path_or_dict
        else:
            agent_file = read_agent_file(load_path_or_dict, load_data=False, max_bytes=max_bytes,
                                         storage_options=storage_options)
            if agent_file.params is None:
                raise ParameterMismatchError(f"{describe_target(load_path_or_dict)} holds no parameters")
            loaded = acting_policy_params(agent_file.params, len(variables), sb2_algorithm(agent_file.data_keys),
                                          [variable.name for variable in variables])
            params = self._list_to_params(loaded, variables) if isinstance(loaded, list) else loaded or {}
        self._assign_by_name(OrderedDict((variable.name, variable) for variable in variables), params, exact_match)

    def set_parameters(
        self, load_path_or_dict: FileTarget | Mapping[str, np.ndarray], exact_match: bool = True,
        storage_options: StorageOptions | None = None,
    ) -> None:
        """Stable-Baselines3's name for :meth:`load_parameters` (same arguments, same checks).

        Unlike Stable-Baselines3, the mapping is flat (variable name -> array, as
        :meth:`get_parameters` returns), not a dict of PyTorch state dicts, and there is no ``device``.

        :param load_path_or_dict: name -> array mapping, or an agent file (path or binary file object)
        :param exact_match: require a value for every variable; if False, a subset is assigned
        :param storage_options: options for the fsspec backend of a URL (credentials, endpoint...; see docs/scaling.md)
        """
        self.load_parameters(load_path_or_dict, exact_match=exact_match, storage_options=storage_options)

    @staticmethod
    def _list_to_params(values: list[Any], variables: list[tf.Variable]) -> ParamDict:
        if len(values) != len(variables):
            raise ParameterMismatchError(
                f"received {len(values)} parameters as a list, the model has {len(variables)} variables: "
                f"{[variable.name for variable in variables]}"
            )
        return OrderedDict((variable.name, value) for variable, value in zip(variables, values))

    @staticmethod
    def _checked_values(specs: Mapping[str, tf.TensorSpec], params: Mapping[str, Any], exact_match: bool,
                        what: str = "parameters") -> OrderedDict[str, np.ndarray]:
        """Check values against the variables' specs and cast them (see :func:`cast_for_variable`).

        :param specs: the variables' shapes and dtypes, by name
        :param params: the values, by name
        :param exact_match: require a value for every spec
        :param what: what is loaded, named in errors
        :return: the cast arrays, by name
        :raises ParameterMismatchError: missing names, shapes, dtypes (every problem at once)
        :raises UnknownParameterError: as above, with names ``specs`` does not have
        """
        problems = []
        unknown = [name for name in params if name not in specs]
        if unknown:
            problems.append(f"unknown parameter names {unknown}")
        if exact_match:
            missing = [name for name in specs if name not in params]
            if missing:
                problems.append(f"missing parameter names {missing}")
        checked: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, value in params.items():
            spec = specs.get(name)
            if spec is None:
                continue
            array, problem = cast_for_variable(value, tuple(spec.shape), np.dtype(spec.dtype.as_numpy_dtype))
            if problem is not None:
                problems.append(f"{name!r}: {problem}")
            else:
                checked[name] = array
        if problems:
            error = UnknownParameterError if unknown else ParameterMismatchError
            raise error(
                f"cannot load {what}, nothing was changed: " + "; ".join(problems)
                + f". The model's variables: {list(specs)}"
            )
        return checked

    @classmethod
    def _assign_by_name(cls, by_name: Mapping[str, tf.Variable], params: Mapping[str, Any], exact_match: bool,
                        what: str = "parameters") -> None:
        specs = {name: tf.TensorSpec(variable.shape, variable.dtype) for name, variable in by_name.items()}
        checked = cls._checked_values(specs, params, exact_match, what)
        updates = [(by_name[name], array) for name, array in checked.items()]
        # Shapes and dtypes are checked (and cast) above, so the raw op does what assign() does without its
        # per-call Python work (conversion checks, read-back): 200 assignments of 64x64 take ~5 ms
        # instead of ~13-18 ms, about 2x one traced tf.function doing them all, and need no
        # tracing (which would cost ~250 ms for every newly loaded model).
        from tensorflow.python.ops.resource_variable_ops import ResourceVariable  # the plain, unwrapped class

        eager = tf.executing_eagerly()
        for variable, array in updates:
            if eager and type(variable) is ResourceVariable:
                tf.raw_ops.AssignVariableOp(resource=variable.handle, value=array)
            else:
                variable.assign(array)

    def _get_save_data(self) -> DataDict:
        """The data dictionary: kept unknown keys from a loaded file, then the declared attributes.

        :return: attribute name -> value
        """
        data: DataDict = dict(getattr(self, "_extra_data", {}))
        for name in getattr(self, "_restored_extra_attrs", ()):
            data[name] = getattr(self, name)
        for name in self._save_attrs:
            data[name] = getattr(self, name)
        return data

    def _get_save_metadata(self) -> dict[str, Any]:
        """Facts about the writer stored beside the data (algorithm class, versions).

        :return: JSON-able mapping
        """
        return {"algorithm": type(self).__name__}

    # --- training state: what exact resume needs beyond the weights ------------------------------

    #: Attributes forming the training state (counters, NumPy generators, last observations...),
    #: written to the ``training_state`` member like the data dictionary. Extend in subclasses.
    _state_attrs: ClassVar[tuple[str, ...]] = ()

    def get_state_variables(self) -> OrderedDict[str, tf.Variable]:
        """Variables of the training state that are not network weights (optimizer slots and step
        counter, TensorFlow random generator state), by a stable name.

        :return: ordered mapping name -> variable
        """
        return OrderedDict()

    def _get_training_state(self, options: Mapping[str, Any]) -> DataDict:
        """The ``training_state`` member: the attributes declared in ``_state_attrs``.

        :param options: ``save``'s options (unused)
        :return: attribute name -> value
        """
        return {name: getattr(self, name) for name in self._state_attrs}

    def _set_training_state(self, state: DataDict) -> None:
        """Set the declared attributes of the ``training_state`` member; other keys are ignored.

        :param state: the member, as read
        """
        for name, value in state.items():
            if name in self._state_attrs:
                setattr(self, name, value)

    def _built_state_variables(self) -> OrderedDict[str, tf.Variable]:
        """The state variables that exist now, building none (the optimizer is built by the first
        ``learn``); by default all of :meth:`get_state_variables`.

        :return: ordered mapping name -> variable
        """
        return self.get_state_variables()

    def _unbuilt_state_specs(self) -> Mapping[str, tf.TensorSpec]:
        """The names, shapes and dtypes of the state variables not built yet.

        :return: mapping name -> spec
        """
        return {}

    def _take_pending_state_arrays(self, variables: Mapping[str, tf.Variable]) -> None:
        """Assign the arrays a file gave for ``variables`` before they existed (call once they are built).

        :param variables: the newly built state variables, by name
        """
        pending = getattr(self, "_pending_state_arrays", {})
        taken = {name: pending.pop(name) for name in list(pending) if name in variables}
        self._assign_by_name(variables, taken, exact_match=False, what="the training state")

    def _get_training_arrays(self, options: Mapping[str, Any]) -> ParamDict:
        """The ``training_arrays`` member: the values of the built state variables, and the arrays a
        file gave for those not built yet, as read (a loaded model that never trained writes back
        what it read, without building its optimizer).

        :param options: ``save``'s options (unused)
        :return: name -> array
        """
        arrays: ParamDict = OrderedDict(getattr(self, "_pending_state_arrays", {}))
        for name, variable in self._built_state_variables().items():
            arrays[name] = np.array(variable.numpy())
        return arrays

    def _set_training_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Assign the state variables from the ``training_arrays`` member (every problem is reported).

        Arrays of state variables not built yet (the optimizer's, until the first ``learn``) are
        checked now and kept: :meth:`_take_pending_state_arrays` assigns them when they are built.

        :param arrays: the member, as read
        """
        built = self._built_state_variables()
        specs = {**self._unbuilt_state_specs(),
                 **{name: tf.TensorSpec(variable.shape, variable.dtype) for name, variable in built.items()}}
        checked = self._checked_values(specs, arrays, exact_match=False, what="the training state")
        self._pending_state_arrays = OrderedDict((name, array) for name, array in checked.items() if name not in built)
        self._assign_by_name(built, {name: array for name, array in checked.items() if name in built},
                             exact_match=False, what="the training state")

    # --- save and load ------------------------------------------------------------------------

    def save(self, save_path: FileTarget, cloudpickle: bool = False, include_replay_buffer: bool = False,
             exclude: Iterable[str] | None = None, include: Iterable[str] | None = None,
             storage_options: StorageOptions | None = None) -> None:
        """Write the agent to one file: data dictionary, weights and the declared members
        (``_archive_members``: the training state, and the replay buffer on request).

        ``.zip`` is appended to a path or URL without extension. The write is atomic: a crash never
        leaves a half-written file at ``save_path`` (on object stores, the object appears whole).

        :param save_path: a path (``str`` or ``pathlib.Path``), an fsspec URL (``s3://bucket/ppo.zip``,
            ``memory://``...) or a binary file object, left open
        :param cloudpickle: write the legacy cloudpickle format (data and weights only)
        :param include_replay_buffer: also store the replay buffer (off-policy models)
        :param exclude: data keys to leave out (SB3); ``load`` then uses the default of each
            constructor argument, or the value passed to it
        :param include: other attributes to store in the data (SB3); ``load`` sets them back
        :param storage_options: options for the fsspec backend of a URL (credentials, endpoint...; see docs/scaling.md)
        :raises AttributeError: an ``include`` name is not an attribute of the model
        """
        if include_replay_buffer and REPLAY_BUFFER_MEMBER not in self._archive_members:
            raise ValueError(f"{type(self).__name__} has no replay buffer to include")
        data = self._get_save_data()
        for name in include or ():
            if not hasattr(self, name):
                raise AttributeError(f"save(include=...): {type(self).__name__} has no attribute {name!r} to include")
            data[name] = getattr(self, name)
        for name in exclude or ():
            data.pop(name, None)
        options = {"include_replay_buffer": include_replay_buffer}
        json_members: dict[str, DataDict] = {}
        array_members: dict[str, ParamDict] = {}
        for name, member in self._archive_members.items():
            content = getattr(self, member.get)(options)
            if content is not None:
                (json_members if member.kind == JSON_MEMBER else array_members)[name] = content
        save_to_file(
            save_path,
            data=data,
            params=self.get_parameters(),
            cloudpickle=cloudpickle,
            metadata=self._get_save_metadata(),
            json_members=json_members,
            state_arrays=array_members,
            storage_options=storage_options,
        )

    @classmethod
    def load(
        cls: type[SelfModel],
        load_path: FileTarget,
        env: EnvSpec | None = None,
        custom_objects: dict[str, Any] | None = None,
        safe_mode: bool = True,
        force_reset: bool = True,
        print_system_info: bool = False,
        max_bytes: int | None = None,
        storage_options: StorageOptions | None = None,
        **kwargs: Any,
    ) -> SelfModel:
        """Build a new model from an agent file, with its training state when the file has one.

        :param load_path: path (``agent`` finds ``agent.zip``), fsspec URL (read with ranged
            requests, never copied whole into memory) or binary file object
        :param env: the environment to continue training in (its spaces must match); None for a
            model that can predict (call ``set_env`` before ``learn``)
        :param custom_objects: values that replace stored keys without decoding them
        :param safe_mode: refuse to run code from the file (pickled functions, unknown classes);
            set False only for files you trust
        :param force_reset: reset the environment at the next ``learn``; False continues ``env``
            from the stored last observation (pass the same environment object, in the same state)
        :param print_system_info: print the versions the file was saved with beside the current ones
        :param max_bytes: the most bytes reading the file may decompress and allocate; default
            ``max(64 MiB, 1100 * file size)`` (see ``docs/security.md``)
        :param storage_options: options for the fsspec backend of a URL (credentials, endpoint...; see docs/scaling.md)
        :param kwargs: attributes that override the stored ones (the stored value of such a key is
            never decoded, so ``policy=MlpPolicy`` also replaces a policy class that cannot load).
            ``policy_kwargs`` must equal the stored ones, unless the policy is replaced too
        :return: the new model
        """
        replaced = {**(custom_objects or {}), **{key: value for key, value in kwargs.items() if key != "policy_kwargs"}}
        extra_members = {name: member.kind for name, member in cls._archive_members.items()}
        # A policy class safe mode does not import is read as its name: the policy is rebuilt from the arrays.
        agent_file = read_agent_file_naming_unknown_policy(load_path, replaced, safe_mode=safe_mode,
                                                           extra_members=extra_members, max_bytes=max_bytes,
                                                           storage_options=storage_options,
                                                           unread_members=cls._members_read_on_demand)
        source = describe_target(load_path)
        if print_system_info:
            print(system_info_table(agent_file.metadata))
        data = agent_file.data
        if data is None:
            raise CorruptAgentFileError("the file holds no data dictionary, so no model can be built from it",
                                        path=source, member="data")
        cls._check_algorithm(agent_file, source)
        if "policy" in replaced and "policy_kwargs" in kwargs:
            data["policy_kwargs"] = kwargs["policy_kwargs"]  # the replacement's, checked against the arrays below
        kwargs = cls._adapt_stored_agent(agent_file, source, kwargs)
        cls._check_stored_values(agent_file, source)
        stored_kwargs = data.get("policy_kwargs")
        if "policy" not in replaced and "policy_kwargs" in kwargs and kwargs["policy_kwargs"] != stored_kwargs:
            raise PolicyKwargsMismatchError(
                "the specified policy kwargs do not equal the stored policy kwargs: "
                f"specified {kwargs['policy_kwargs']}, stored {stored_kwargs}"
            )
        return cls._build_from_file(agent_file, data, env, kwargs, source, force_reset)

    @classmethod
    def _build_from_file(cls: type[SelfModel], agent_file: AgentFile, data: DataDict, env: EnvSpec | None,
                         overrides: dict[str, Any], source: str, force_reset: bool) -> SelfModel:
        """The model of a file that was read and checked: built from its data and parameters, with
        its members restored.

        :param agent_file: the file, as read
        :param data: its data dictionary
        :param env: ``load``'s environment
        :param overrides: the attributes passed to ``load``
        :param source: the file, named in errors
        :param force_reset: ``load``'s argument
        :return: the model
        """
        stored_params = agent_file.params if isinstance(agent_file.params, Mapping) else {}
        with StoredInitialValues(stored_params) as stored:
            model = cls._from_data(data, env, overrides)
        if agent_file.params is not None and not stored.built_exactly(model.get_parameter_list()):
            try:
                model.load_parameters(agent_file.params)
            except ParameterMismatchError as error:
                raise AlgorithmMismatchError(
                    f"the file {source!r} does not hold a {cls.__name__} agent of this configuration: {error}"
                ) from error
        model._restore_members(agent_file)
        if force_reset:
            model._forget_last_observation()
        return model

    def _restore_members(self, agent_file: AgentFile) -> None:
        """Hand each declared member the file holds to its ``set`` method, in declaration order.

        :param agent_file: the file, as read
        """
        for name, member in self._archive_members.items():
            read: Mapping[str, Any] = agent_file.json_members if member.kind == JSON_MEMBER else agent_file.state_arrays
            content = read.get(name, agent_file.unread_arrays.get(name))
            if content is not None:
                getattr(self, member.set)(content)

    @classmethod
    def _check_algorithm(cls, agent_file: AgentFile, source: str) -> None:
        """Refuse a file written by another algorithm (before anything is built from it).

        :param agent_file: the file, as read
        :param source: the file, named in errors
        :raises AlgorithmMismatchError: the file belongs to another algorithm
        """

    @classmethod
    def _adapt_stored_agent(cls, agent_file: AgentFile, source: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Bring what a file of another layout holds to this class's terms, before it is checked:
        e.g. keep only the acting policy of a file that also holds copies of it, or rebuild a
        policy class that safe mode did not import. May change ``agent_file`` in place.

        :param agent_file: the file, as read
        :param source: the file, named in errors
        :param overrides: the attributes passed to ``load``
        :return: the attributes to set on the model
        """
        return overrides

    @classmethod
    def _check_stored_values(cls, agent_file: AgentFile, source: str) -> None:
        """Check the values the file gives the model (types, ranges, stored shapes) before anything
        is built from them.

        :param agent_file: the file, as read
        :param source: the file, named in errors
        :raises CorruptAgentFileError: a value of the wrong type or out of range
        """

    @classmethod
    def _from_data(cls: type[SelfModel], data: DataDict, env: EnvSpec | None, overrides: dict[str, Any]) -> SelfModel:
        """A new model from a data dictionary, built and ready for its parameters.

        :param data: the loaded data dictionary
        :param env: the environment, or None
        :param overrides: attributes that replace the stored ones
        :return: the model
        """
        raise NotImplementedError(f"{cls.__name__} cannot be built from a file: it does not implement _from_data")

    def _forget_last_observation(self) -> None:
        """Make the next ``learn`` reset the environment (``load(..., force_reset=True)``)."""

    def _restore_data(self, data: DataDict) -> None:
        """Set declared attributes from a data dictionary; keep the other keys for the next save.

        :param data: the loaded data dictionary
        """
        self._extra_data = {}
        self._restored_extra_attrs: list[str] = []
        for name, value in data.items():
            if name in self._save_attrs:
                setattr(self, name, value)
            else:
                self._extra_data[name] = value
                if name.isidentifier() and not name.startswith("_") and not hasattr(self, name):
                    # an attribute saved with save(include=...): set back, never shadowing one the model has
                    setattr(self, name, value)
                    self._restored_extra_attrs.append(name)


def system_info_table(saved: dict[str, Any]) -> str:
    """The versions an agent file was saved with, beside the ones running now.

    :param saved: the file's metadata
    :return: a small table
    """
    current = writer_metadata({"tensorflow": tf.__version__})
    keys = ["format_version", "stable_baselines_io", "python", "tensorflow", "numpy", "gymnasium", "date"]
    rows = [("", "saved", "current")] + [(key, str(saved.get(key, "-")), str(current.get(key, "-"))) for key in keys]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def cast_for_variable(value: Any, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, str | None]:
    """Check a value for a variable and cast it as Stable Baselines did: lists and NumPy scalars
    become arrays, and numbers are cast within their kind (float64 to float32, int64 to int32, an
    int to a float). A cast that would change values is refused: float to int, complex to float,
    or values outside the target's range.

    >>> cast_for_variable([[1.0, 2.0]], (1, 2), np.dtype(np.float32))[0].dtype
    dtype('float32')

    :param value: the value given for the variable
    :param shape: the variable's shape
    :param dtype: the variable's dtype
    :return: ``(array, None)``, or ``(the value as an array, what is wrong)``
    """
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        return np.empty(0), f"expected an array of shape {shape}, received {type(value).__name__} ({error})"
    if array.shape != shape:
        return array, f"expected shape {shape}, received {array.shape}"
    if array.dtype == dtype:
        return array, None
    if array.dtype.kind not in "biuf" or not np.can_cast(array.dtype, dtype, casting="same_kind"):
        return array, (f"expected dtype {dtype}, received {array.dtype}, which cannot be cast to it without "
                       f"loss (only casts within a kind, such as float64 to float32, are made)")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype)
    if dtype.kind == "f":
        changed = np.isfinite(array) & ~np.isfinite(cast)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            changed = cast.astype(array.dtype) != array
    if np.any(changed):
        return array, f"received {array.dtype} values outside the range of the variable's dtype {dtype}"
    return cast, None
