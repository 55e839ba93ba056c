"""The zip archive: ``data``, ``parameter_list``, ``parameters`` and ``metadata`` members.

Written with ``ZIP_STORED`` members (as Stable Baselines wrote them) and zip64 where sizes need
it. The ``parameters`` member is streamed in and out (see :mod:`.params_codec`): on read, a
stored member is handed to the ``.npz`` reader as a window onto the file, not copied.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from stable_baselines_io.exceptions import CorruptAgentFileError
from stable_baselines_io.format.params_codec import MAX_COMPRESSION_RATIO, ZIP64_THRESHOLD, read_params, write_params
from stable_baselines_io.type_aliases import ParamDict

DATA_MEMBER = "data"
PARAMETER_LIST_MEMBER = "parameter_list"
PARAMETERS_MEMBER = "parameters"
METADATA_MEMBER = "metadata"
#: The members Stable Baselines 2 wrote; every other member is an *extra* member.
AGENT_MEMBERS = frozenset({DATA_MEMBER, PARAMETER_LIST_MEMBER, PARAMETERS_MEMBER, METADATA_MEMBER})
#: Training state (counters, random generator states, last observations...): JSON like ``data``.
TRAINING_STATE_MEMBER = "training_state"
#: Arrays of the training state: optimizer slots and other state variables, by name (an .npz).
TRAINING_ARRAYS_MEMBER = "training_arrays"
#: The replay buffer's arrays (an .npz), when the caller includes it.
REPLAY_BUFFER_MEMBER = "replay_buffer"

#: Kinds of extra member: a UTF-8 JSON text, or named arrays (an .npz, read like ``parameters``).
JSON_MEMBER = "json"
ARRAYS_MEMBER = "arrays"
MEMBER_KINDS = (JSON_MEMBER, ARRAYS_MEMBER)
#: The extra members this library's models declare (name -> kind): what ``load_state`` reads.
STATE_MEMBERS: dict[str, str] = {
    TRAINING_STATE_MEMBER: JSON_MEMBER,
    TRAINING_ARRAYS_MEMBER: ARRAYS_MEMBER,
    REPLAY_BUFFER_MEMBER: ARRAYS_MEMBER,
}
_MEMBER_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"


def check_member_name(name: str, kind: str | None = None) -> None:
    """Refuse an extra member name that is not lower-case ``[a-z][a-z0-9_]*`` (at most 64
    characters), that is one of :data:`AGENT_MEMBERS`, or a kind that is not in :data:`MEMBER_KINDS`.

    >>> check_member_name("replay_buffer", ARRAYS_MEMBER)
    >>> check_member_name("data")
    Traceback (most recent call last):
    ...
    ValueError: 'data' is a core member of the archive, not an extra member

    :param name: the member name
    :param kind: the member's kind, if known
    :raises ValueError: the name or kind is not allowed
    """
    if not isinstance(name, str) or not _MEMBER_NAME.fullmatch(name):
        raise ValueError(f"extra member names must match [a-z][a-z0-9_]* (at most 64 characters), received {name!r}")
    if name in AGENT_MEMBERS:
        raise ValueError(f"{name!r} is a core member of the archive, not an extra member")
    if kind is not None and kind not in MEMBER_KINDS:
        raise ValueError(f"member {name!r}: expected a kind in {MEMBER_KINDS}, received {kind!r}")


@dataclass
class ArchiveContents:
    """What a zip agent file holds; ``None`` for members that are absent."""

    data_json: str | None = None
    parameter_list: list[str] | None = None
    params: ParamDict | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Extra JSON members that were asked for and present: name -> text.
    json_members: dict[str, str] = field(default_factory=dict)
    #: Extra array members that were asked for and present: name -> arrays.
    array_members: dict[str, ParamDict] = field(default_factory=dict)


def write_archive(
    stream: IO[bytes],
    data_json: str | None,
    params: ParamDict | None,
    metadata: dict[str, Any] | None,
    json_members: Mapping[str, str] | None = None,
    array_members: Mapping[str, ParamDict] | None = None,
) -> None:
    """Write a zip agent file into ``stream`` (which need not be seekable).

    The core members come first, then the extra JSON members, then the extra array members, each
    group in the order given.

    :param stream: binary stream open for writing
    :param data_json: the ``data`` member's JSON, or None to omit it
    :param params: ordered parameters, or None to omit ``parameter_list`` and ``parameters``
    :param metadata: the ``metadata`` member's content, or None to omit it
    :param json_members: extra members holding JSON text (e.g. ``training_state``), by name
    :param array_members: extra members holding arrays (e.g. ``training_arrays``), by name
    :raises ValueError: an extra member name is not allowed (see :func:`check_member_name`), or
        is given twice
    """
    json_members, array_members = dict(json_members or {}), dict(array_members or {})
    for name in [*json_members, *array_members]:
        check_member_name(name)
    if json_members.keys() & array_members.keys():
        both = sorted(json_members.keys() & array_members.keys())
        raise ValueError(f"members {both} are given both as JSON and as arrays")
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        if data_json is not None:
            archive.writestr(DATA_MEMBER, data_json)
        if params is not None:
            archive.writestr(PARAMETER_LIST_MEMBER, json.dumps(list(params), indent=4))
            _write_arrays(archive, PARAMETERS_MEMBER, params)
        if metadata is not None:
            archive.writestr(METADATA_MEMBER, json.dumps(metadata, indent=4, allow_nan=False))
        for member_name, text in json_members.items():
            archive.writestr(member_name, text)
        for member_name, arrays in array_members.items():
            _write_arrays(archive, member_name, arrays)


def _write_arrays(archive: zipfile.ZipFile, member_name: str, arrays: ParamDict) -> None:
    total_bytes = sum(getattr(value, "nbytes", 0) + 4096 for value in arrays.values())
    with archive.open(member_name, "w", force_zip64=total_bytes > ZIP64_THRESHOLD) as member:
        write_params(member, arrays)


def read_archive(stream: IO[bytes], source: str, load_data: bool = True,
                 extra_members: Mapping[str, str] | None = None) -> ArchiveContents:
    """Read a zip agent file from a seekable stream.

    :param stream: seekable binary stream
    :param source: the file, named in errors
    :param load_data: read the ``data`` member (False skips it)
    :param extra_members: the extra members to read when present, name -> kind
        (:data:`JSON_MEMBER` or :data:`ARRAYS_MEMBER`); other members are ignored
    :return: the members' contents
    :raises CorruptAgentFileError: for every way the archive can be bad
    :raises ValueError: an extra member name or kind is not allowed
    """
    extra_members = dict(extra_members or {})
    for name, kind in extra_members.items():
        check_member_name(name, kind)
    file_size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:  # "zip file version"
        raise CorruptAgentFileError(f"not a valid zip archive (truncated or damaged?): {error}", path=source) from error
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        if members and not members.keys() & AGENT_MEMBERS:
            # e.g. a file cut after the nested .npz, whose own end record zipfile then finds
            raise CorruptAgentFileError(
                f"the archive holds none of the members {sorted(AGENT_MEMBERS)} but {sorted(members)[:5]} "
                "(truncated, or not an agent file?)", path=source,
            )
        for info in members.values():
            _check_declared_size(info, file_size, source)
        contents = ArchiveContents()
        if METADATA_MEMBER in members:
            metadata = _read_json(archive, members[METADATA_MEMBER], source)
            if not isinstance(metadata, dict):
                raise CorruptAgentFileError("expected a JSON object", path=source, member=METADATA_MEMBER)
            contents.metadata = metadata
        if load_data and DATA_MEMBER in members:
            contents.data_json = _read_text(archive, members[DATA_MEMBER], source)
        if PARAMETER_LIST_MEMBER in members:
            parameter_list = _read_json(archive, members[PARAMETER_LIST_MEMBER], source)
            if not isinstance(parameter_list, list) or not all(isinstance(name, str) for name in parameter_list):
                raise CorruptAgentFileError("expected a JSON array of parameter names", path=source,
                                            member=PARAMETER_LIST_MEMBER)
            contents.parameter_list = parameter_list
        if PARAMETERS_MEMBER in members:
            info = members[PARAMETERS_MEMBER]
            with _open_member(archive, stream, info, source) as parameters_stream:
                contents.params = read_params(parameters_stream, contents.parameter_list, source,
                                              limit_bytes=info.file_size)
        for member_name, kind in extra_members.items():
            if member_name not in members:
                continue
            if kind == JSON_MEMBER:
                contents.json_members[member_name] = _read_text(archive, members[member_name], source)
            else:
                info = members[member_name]
                with _open_member(archive, stream, info, source) as arrays_stream:
                    contents.array_members[member_name] = read_params(arrays_stream, None, source,
                                                                      limit_bytes=info.file_size,
                                                                      member_prefix=member_name)
        if PARAMETERS_MEMBER not in members and contents.parameter_list:
            raise CorruptAgentFileError(
                f"parameter_list names {len(contents.parameter_list)} parameters but the archive has no "
                "parameters member", path=source, member=PARAMETERS_MEMBER,
            )
        return contents


def _check_declared_size(info: zipfile.ZipInfo, file_size: int, source: str) -> None:
    end_of_data = info.header_offset + info.compress_size
    if info.compress_size > file_size or end_of_data > file_size:
        raise CorruptAgentFileError(
            f"the member claims {info.compress_size} bytes at offset {info.header_offset} in a file of "
            f"{file_size} bytes (truncated file?)", path=source, member=info.filename,
        )
    if info.compress_type == zipfile.ZIP_STORED:
        plausible = info.file_size == info.compress_size
    else:
        plausible = info.file_size <= max(info.compress_size, 1) * MAX_COMPRESSION_RATIO
    if not plausible:
        raise CorruptAgentFileError(
            f"declared size {info.file_size} bytes is impossible for {info.compress_size} stored bytes "
            "(zip bomb?)", path=source, member=info.filename,
        )


def _read_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as error:
        # RuntimeError: an encrypted member
        raise CorruptAgentFileError(f"cannot read the member: {error}", path=source, member=info.filename) from error


def _read_text(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> str:
    try:
        return _read_bytes(archive, info, source).decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptAgentFileError(f"not UTF-8 text: {error}", path=source, member=info.filename) from error


def _read_json(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Any:
    text = _read_text(archive, info, source)
    try:
        return json.loads(text)
    except ValueError as error:
        raise CorruptAgentFileError(f"invalid JSON: {error}", path=source, member=info.filename) from error


class _MemberWindow(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of ``stream`` starting at ``start``."""

    def __init__(self, stream: IO[bytes], start: int, length: int):
        super().__init__()
        self._stream = stream
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        remaining = self._length - self._position
        if remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), remaining)]
        self._stream.seek(self._start + self._position)
        received = self._stream.readinto(view)  # type: ignore[attr-defined]
        self._position += received or 0
        return received or 0


@contextlib.contextmanager
def _open_member(
    archive: zipfile.ZipFile, stream: IO[bytes], info: zipfile.ZipInfo, source: str
) -> Iterator[IO[bytes]]:
    """Open a member for reading: a window onto the file when stored, else decompressed in memory."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        yield io.BytesIO(_read_bytes(archive, info, source))
        return
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_HEADER_SIGNATURE:
        raise CorruptAgentFileError("bad local file header", path=source, member=info.filename)
    *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    yield io.BufferedReader(_MemberWindow(stream, start, info.file_size), buffer_size=1024 * 1024)
