"""Save and load agent files: the entry points the model layer and the tools use.

>>> import io
>>> buffer = io.BytesIO()
>>> save_to_file(buffer, data={"gamma": 0.99}, params=None)
>>> _ = buffer.seek(0)
>>> load_from_file(buffer)
({'gamma': 0.99}, None)
"""

from __future__ import annotations

import datetime
import functools
import io
import os
import platform
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import gymnasium
import numpy as np

from stable_baselines_io.exceptions import CorruptAgentFileError, UnsupportedFormatVersionError
from stable_baselines_io.format.archive import (
    ARRAYS_MEMBER,
    DATA_MEMBER,
    STATE_MEMBERS,
    TRAINING_STATE_MEMBER,
    VEC_NORMALIZE_MEMBER,
    check_member_name,
    read_archive,
    write_archive,
)
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.file_targets import describe_target
from stable_baselines_io.format.json_codec import data_to_json, json_to_data
from stable_baselines_io.format.legacy import read_legacy_contents, write_legacy
from stable_baselines_io.format.read_errors import reported_as_corrupt
from stable_baselines_io.format.url_targets import local_load_path, open_target_for_reading, open_target_for_writing
from stable_baselines_io.type_aliases import DataDict, FileTarget, LoadedParams, ParamDict, StorageOptions
from stable_baselines_io.version import __version__

#: The format version this library writes; files of a higher version are refused.
#: 1: data, parameter_list, parameters, metadata. 2: adds extra members (training state, replay
#: buffer). See docs/file-format.md for when a new member needs a new version.
FORMAT_VERSION = 3
#: Members an older reader would skip and then build a *wrong* model: a file holding one is
#: written in the version that introduced it (others stay at version 2, readable by older readers).
MEMBER_FORMAT_VERSIONS: dict[str, int] = {VEC_NORMALIZE_MEMBER: 3}
#: The version of a file that holds none of :data:`MEMBER_FORMAT_VERSIONS`.
BASE_FORMAT_VERSION = 2
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_FORMAT = "zip"
LEGACY_FORMAT = "cloudpickle"


@dataclass
class AgentFile:
    """Everything read from one agent file."""

    data: DataDict | None
    params: LoadedParams
    metadata: dict[str, Any] = field(default_factory=dict)
    file_format: str = ZIP_FORMAT
    #: Extra JSON members (``training_state``...), decoded like ``data``, when asked for and present.
    json_members: dict[str, DataDict] = field(default_factory=dict)
    #: Extra array members (``training_arrays``, ``replay_buffer``...), when asked for and present.
    state_arrays: dict[str, ParamDict] = field(default_factory=dict)
    #: The format version the file was written in.
    format_version: int = 1
    #: The data dictionary's keys, known even when the data was not decoded (legacy files) or not stored.
    data_keys: tuple[str, ...] = ()
    #: Extra array members left unread (``read_agent_file``'s ``unread_members``), to read on demand.
    unread_arrays: dict[str, UnreadArrays] = field(default_factory=dict)

    @property
    def training_state(self) -> DataDict | None:
        """The ``training_state`` member, when read and present."""
        return self.json_members.get(TRAINING_STATE_MEMBER)


@dataclass(frozen=True)
class UnreadArrays:
    """An array member of a local agent file that a load left unread (a replay buffer that only
    training needs): :meth:`read` reads it from the file, if the file is still the one loaded.

    :param path: the file
    :param member: the member's name
    :param identity: the file's size, modification time, inode and device when it was loaded
    :param max_bytes: the load's ``max_bytes``
    """

    path: str
    member: str
    identity: tuple[int, int, int, int]
    max_bytes: int | None

    def read(self) -> ParamDict:
        """The member's arrays, read and checked as a load reads them.

        :return: name -> array
        :raises CorruptAgentFileError: the file was changed or removed since it was loaded, or the
            member is damaged
        """
        try:
            current = file_identity(os.stat(self.path))
        except OSError:
            current = None
        if current != self.identity:
            raise CorruptAgentFileError(
                "the file was changed or removed after it was loaded, so the member that load left to read "
                "when needed cannot be read from it any more", path=self.path, member=self.member,
            )
        arrays = read_agent_file(self.path, load_data=False, load_params=False,
                                 extra_members={self.member: ARRAYS_MEMBER}, max_bytes=self.max_bytes
                                 ).state_arrays.get(self.member)
        if arrays is None:
            raise CorruptAgentFileError("the file no longer holds the member", path=self.path, member=self.member)
        return arrays


def file_identity(status: os.stat_result) -> tuple[int, int, int, int]:
    """What tells that a file is still the same: size, modification time, inode, device.

    :param status: the file's ``os.stat``
    :return: the identity
    """
    return status.st_size, status.st_mtime_ns, status.st_ino, status.st_dev


def writer_metadata(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``metadata`` member for a file written now: format version, versions, date.

    :param extra: more entries from the caller (e.g. the algorithm and TensorFlow version)
    :return: JSON-able mapping
    """
    return {
        "format_version": FORMAT_VERSION,
        "stable_baselines_io": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def save_to_file(
    save_path: FileTarget,
    data: DataDict | None = None,
    params: ParamDict | None = None,
    cloudpickle: bool = False,
    metadata: dict[str, Any] | None = None,
    training_state: DataDict | None = None,
    state_arrays: Mapping[str, ParamDict] | None = None,
    allow_pickle: bool = True,
    json_members: Mapping[str, DataDict] | None = None,
    storage_options: StorageOptions | None = None,
) -> None:
    """Write an agent file: a zip archive, or the legacy cloudpickle stream on request.

    A path or URL without extension gets ``.zip``. Writing to a path is atomic (a temporary file
    beside it is renamed over it on success); so is writing to a URL (the object appears whole, see
    :mod:`.url_targets`). A file object is written from its current position and left open.

    :param save_path: a path (``str`` or ``pathlib.Path``), an fsspec URL (``s3://bucket/agent.zip``)
        or a binary file object
    :param data: the data dictionary, or None
    :param params: ordered name -> array, or None
    :param cloudpickle: write the legacy cloudpickle format
    :param metadata: extra entries for the ``metadata`` member (zip only)
    :param training_state: the ``training_state`` member, encoded like ``data`` (zip only);
        the same as ``json_members={"training_state": ...}``
    :param state_arrays: extra array members by name (``training_arrays``, ``replay_buffer``;
        zip only)
    :param allow_pickle: let data values without a JSON codec fall back to cloudpickle (zip only;
        if False they raise :class:`~stable_baselines_io.exceptions.SerializationError`)
    :param json_members: extra JSON members by name, encoded like ``data`` but never pickled (zip only)
    :param storage_options: options for the backend of a URL (credentials, endpoint...)
    :raises ValueError: an extra member name is not allowed
    """
    extra_json = dict(json_members or {})
    if training_state is not None:
        extra_json[TRAINING_STATE_MEMBER] = training_state
    for name in [*extra_json, *(state_arrays or {})]:
        check_member_name(name)
    if cloudpickle:
        if extra_json or state_arrays:
            warnings.warn("the legacy cloudpickle format holds only data and parameters: the training state is "
                          "not saved (save without cloudpickle=True to keep it)", UserWarning, stacklevel=3)

        def write(stream: IO[bytes]) -> None:
            write_legacy(stream, data, params)
    else:
        data_json = None if data is None else data_to_json(data, allow_pickle=allow_pickle)
        json_texts = {name: data_to_json(value, allow_pickle=False) for name, value in extra_json.items()}

        version = required_format_version([*extra_json, *(state_arrays or {})])
        file_metadata = {"format_version": version, **(metadata or {})}

        def write(stream: IO[bytes]) -> None:
            write_archive(stream, data_json, params, writer_metadata(file_metadata), json_texts, state_arrays)

    with open_target_for_writing(save_path, storage_options) as file:
        write(file)


def read_agent_file(
    load_path: FileTarget,
    load_data: bool = True,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
    load_state: bool = False,
    extra_members: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    storage_options: StorageOptions | None = None,
    load_params: bool = True,
    unread_members: Collection[str] = (),
) -> AgentFile:
    """Read an agent file, zip or legacy, with its metadata.

    Whatever the file holds, an error is one of the library's exceptions naming the file (and the
    member when there is one). Everything the file makes the reader decompress or allocate is
    charged to one :class:`~stable_baselines_io.format.budget.LoadBudget`.

    :param load_path: a path (``agent`` finds ``agent.zip``), an fsspec URL (read with ranged
        requests) or a binary file object (left open)
    :param load_data: also decode the data dictionary
    :param custom_objects: values that replace stored data keys, never decoded
    :param safe_mode: never run code from the file; False allows unpickling (trusted files only)
    :param load_state: also read the training state members of this library's models
        (:data:`~stable_baselines_io.format.archive.STATE_MEMBERS`)
    :param extra_members: the extra members to read when present, name -> kind (``"json"`` or
        ``"arrays"``), as a model class declares them
    :param max_bytes: the most bytes the load may decompress and allocate; default
        ``max(64 MiB, 1100 * file size)``. Raise it for a trusted, genuinely huge agent
    :param storage_options: options for the backend of a URL (credentials, endpoint...)
    :param load_params: also read the parameters
    :param unread_members: extra array members to leave unread when ``load_path`` is a local file:
        ``AgentFile.unread_arrays`` has one :class:`UnreadArrays` for each that is present, to read
        later (from a URL or file object they are read now)
    :return: the file's contents
    :raises CorruptAgentFileError: the file is damaged or not an agent file
    :raises LoadBudgetExceededError: loading it would exceed ``max_bytes``
    """
    wanted = {**(STATE_MEMBERS if load_state else {}), **(extra_members or {})}
    for name, kind in wanted.items():  # the caller's declarations: a ValueError, not a damaged file
        check_member_name(name, kind)
    local_path = local_load_path(load_path) if unread_members else None
    with open_target_for_reading(load_path, storage_options) as (stream, source):
        start = stream.tell()
        budget = LoadBudget.for_file(stream.seek(0, io.SEEK_END) - start, max_bytes, source)
        stream.seek(start)
        unread: Callable[[str], UnreadArrays] | None = None
        if local_path is not None:
            identity = file_identity(os.fstat(stream.fileno()))
            unread = functools.partial(UnreadArrays, str(local_path), identity=identity, max_bytes=max_bytes)
        with reported_as_corrupt(source):
            return _read_open_file(stream, source, budget, load_data, custom_objects, safe_mode, wanted,
                                   load_params, unread_members if unread is not None else (), unread)


def _read_open_file(stream: IO[bytes], source: str, budget: LoadBudget, load_data: bool,
                    custom_objects: dict[str, Any] | None, safe_mode: bool,
                    extra_members: Mapping[str, str], load_params: bool = True,
                    unread_members: Collection[str] = (),
                    unread: Callable[[str], UnreadArrays] | None = None) -> AgentFile:
    start = stream.tell()
    signature = stream.read(4)
    stream.seek(start)
    if not signature:
        raise CorruptAgentFileError("the file is empty (0 bytes): nothing was saved into it", path=source)
    if signature in ZIP_SIGNATURES:
        contents = read_archive(stream, source, load_data=load_data, extra_members=extra_members, budget=budget,
                                load_params=load_params, unread_members=unread_members)
        version = stored_format_version(contents.metadata, source)
        data = None
        if load_data and contents.data_json is not None:
            with reported_as_corrupt(source, DATA_MEMBER, "cannot rebuild the data"):
                data = json_to_data(contents.data_json, custom_objects=custom_objects, safe_mode=safe_mode,
                                    source=source, budget=budget)
        json_members = {}
        for name, text in contents.json_members.items():
            # extra JSON members (the training state...) are written pickle-free: never unpickled
            with reported_as_corrupt(source, name, f"cannot rebuild the {name!r} member"):
                json_members[name] = json_to_data(text, safe_mode=True, source=source, member=name,
                                                  allow_pickle=False, budget=budget)
        unread_arrays = {name: unread(name) for name in contents.unread_members} if unread is not None else {}
        return upgrade(AgentFile(data, contents.params, contents.metadata, ZIP_FORMAT, json_members,
                                 contents.array_members, version, data_keys=tuple(data or ()),
                                 unread_arrays=unread_arrays))
    warnings.warn(
        f"{source} is not a zip archive: reading it as a legacy cloudpickle file. This format is "
        "deprecated; re-save the model (model.save(path)) to get a zip file",
        DeprecationWarning,
        stacklevel=4,
    )
    legacy = read_legacy_contents(stream, source, custom_objects=custom_objects, safe_mode=safe_mode,
                                  load_data=load_data, budget=budget)
    return AgentFile(legacy.data, legacy.params, {}, LEGACY_FORMAT, data_keys=legacy.data_keys)


def load_from_file(
    load_path: FileTarget,
    load_data: bool = True,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
    max_bytes: int | None = None,
    storage_options: StorageOptions | None = None,
) -> tuple[DataDict | None, LoadedParams]:
    """Read an agent file's data dictionary and parameters (Stable Baselines' ``_load_from_file``).

    :param load_path: a path (``agent`` finds ``agent.zip``) or a binary file object (left open)
    :param load_data: also decode the data dictionary (else ``data`` is None)
    :param custom_objects: values that replace stored data keys, never decoded
    :param safe_mode: never run code from the file; False allows unpickling (trusted files only)
    :param max_bytes: the most bytes the load may decompress and allocate (see :func:`read_agent_file`)
    :param storage_options: options for the backend of a URL (credentials, endpoint...)
    :return: ``(data, params)``; ``params`` is an ordered mapping, a list for the oldest legacy
        files, or None
    """
    agent_file = read_agent_file(load_path, load_data=load_data, custom_objects=custom_objects, safe_mode=safe_mode,
                                 max_bytes=max_bytes, storage_options=storage_options)
    return agent_file.data, agent_file.params


def stored_format_version(metadata: dict[str, Any], source: str) -> int:
    """The format version of a file: ``metadata["format_version"]``, or 1 without metadata.

    :param metadata: the file's ``metadata`` member (possibly empty)
    :param source: the file, named in errors
    :return: the version
    :raises UnsupportedFormatVersionError: the file is of a newer version than this library reads
    """
    version = metadata.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CorruptAgentFileError(f"format_version must be an integer of at least 1, received {version!r}",
                                    path=source, member="metadata")
    if version > FORMAT_VERSION:
        raise UnsupportedFormatVersionError(
            f"the file was written in format version {version} (by stable-baselines-io "
            f"{metadata.get('stable_baselines_io', '?')}); this stable-baselines-io {__version__} reads versions up "
            f"to {FORMAT_VERSION}: upgrade it to load this file", path=source, member="metadata",
        )
    return version


def upgrade(agent_file: AgentFile) -> AgentFile:
    """Bring a file read from an older format version to :data:`FORMAT_VERSION`, step by step.

    :param agent_file: the contents as read
    :return: the contents in the current version's terms (``format_version`` keeps what was read)
    """
    for version in range(agent_file.format_version, FORMAT_VERSION):
        agent_file = _UPGRADES[version](agent_file)
    return agent_file


def required_format_version(members: Iterable[str]) -> int:
    """The lowest format version that can hold these extra members (see :data:`MEMBER_FORMAT_VERSIONS`).

    >>> required_format_version(["training_state"]), required_format_version(["vec_normalize"])
    (2, 3)

    :param members: the extra members' names
    :return: the version to write in ``metadata``
    """
    return max([BASE_FORMAT_VERSION, *(MEMBER_FORMAT_VERSIONS.get(name, BASE_FORMAT_VERSION) for name in members)])


def _upgrade_2_to_3(agent_file: AgentFile) -> AgentFile:
    """Version 3 adds the ``vec_normalize`` member, which version 2 files never hold: nothing to change."""
    return agent_file


def _upgrade_1_to_2(agent_file: AgentFile) -> AgentFile:
    """Version 1 has no extra members: the model keeps fresh optimizer and counters."""
    agent_file.json_members = {}
    agent_file.state_arrays = {}
    agent_file.unread_arrays = {}
    return agent_file


_UPGRADES = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3}


__all__ = ["save_to_file", "load_from_file", "read_agent_file", "AgentFile", "writer_metadata", "describe_target",
           "FORMAT_VERSION"]
