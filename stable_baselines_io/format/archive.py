"""The zip archive: ``data``, ``parameter_list``, ``parameters`` and ``metadata`` members.

The JSON members are deflated and the ``.npz`` members stored (see :mod:`.zip_members`), with
zip64 where sizes need it. The ``parameters`` member is streamed in and out (see
:mod:`.params_codec`): on read, a stored member is handed to the ``.npz`` reader as a window onto
the file, not copied.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import zipfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from stable_baselines_io.exceptions import CorruptAgentFileError
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.params_codec import (
    MAX_COMPRESSION_RATIO,
    ZIP64_THRESHOLD,
    DateTime,
    charge_directory,
    check_member_bounds,
    member_info,
    now_date_time,
    read_params,
    unique_members,
    write_params,
)
from stable_baselines_io.format.read_errors import reported_as_corrupt
from stable_baselines_io.format.zip_members import write_member
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
#: Observation and return normalization statistics (VecNormalize), an .npz (format version 3).
VEC_NORMALIZE_MEMBER = "vec_normalize"

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
_READ_CHUNK_BYTES = 1024 * 1024
#: An ``.npz`` member of arrays smaller than this in all is built in memory, then written in one
#: piece (cheaper than zipfile's streaming writer); a larger one is streamed (no copy of its arrays).
IN_MEMORY_ARRAYS_BYTES = 1024 * 1024


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
    #: Extra array members present but left unread (``read_archive``'s ``unread_members``).
    unread_members: list[str] = field(default_factory=list)


def write_archive(
    stream: IO[bytes],
    data_json: str | None,
    params: ParamDict | None,
    metadata: dict[str, Any] | None,
    json_members: Mapping[str, str] | None = None,
    array_members: Mapping[str, ParamDict] | None = None,
    date_time: DateTime | None = None,
) -> None:
    """Write a zip agent file into ``stream`` (which need not be seekable).

    The core members come first, then the extra JSON members, then the extra array members, each
    group in the order given. JSON members are deflated (when that makes them smaller), ``.npz``
    members stored, all with the same time: the same contents, ``date_time`` and deflate backend
    give the same bytes.

    :param stream: binary stream open for writing
    :param data_json: the ``data`` member's JSON, or None to omit it
    :param params: ordered parameters, or None to omit ``parameter_list`` and ``parameters``
    :param metadata: the ``metadata`` member's content, or None to omit it
    :param json_members: extra members holding JSON text (e.g. ``training_state``), by name
    :param array_members: extra members holding arrays (e.g. ``training_arrays``), by name
    :param date_time: the members' time (default: now)
    :raises ValueError: an extra member name is not allowed (see :func:`check_member_name`), or
        is given twice
    """
    date_time = date_time or now_date_time()
    json_members, array_members = dict(json_members or {}), dict(array_members or {})
    for name in [*json_members, *array_members]:
        check_member_name(name)
    if json_members.keys() & array_members.keys():
        both = sorted(json_members.keys() & array_members.keys())
        raise ValueError(f"members {both} are given both as JSON and as arrays")
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        if data_json is not None:
            _write_json(archive, DATA_MEMBER, data_json, date_time)
        if params is not None:
            _write_json(archive, PARAMETER_LIST_MEMBER, json.dumps(list(params), indent=4), date_time)
            _write_arrays(archive, PARAMETERS_MEMBER, params, date_time)
        if metadata is not None:
            _write_json(archive, METADATA_MEMBER, json.dumps(metadata, indent=4, allow_nan=False), date_time)
        for member_name, text in json_members.items():
            _write_json(archive, member_name, text, date_time)
        for member_name, arrays in array_members.items():
            _write_arrays(archive, member_name, arrays, date_time)


def _write_json(archive: zipfile.ZipFile, member_name: str, text: str, date_time: DateTime) -> None:
    write_member(archive, member_name, text.encode("utf-8"), date_time, compress=True)


def _write_arrays(archive: zipfile.ZipFile, member_name: str, arrays: ParamDict, date_time: DateTime) -> None:
    """An ``.npz`` member, stored: built in memory when small, else streamed into the archive."""
    total_bytes = sum(getattr(value, "nbytes", 0) + 4096 for value in arrays.values())
    if total_bytes < IN_MEMORY_ARRAYS_BYTES:
        npz = io.BytesIO()
        write_params(npz, arrays, date_time)
        write_member(archive, member_name, npz.getbuffer(), date_time, compress=False)
        return
    with archive.open(member_info(member_name, date_time), "w", force_zip64=total_bytes > ZIP64_THRESHOLD) as member:
        write_params(member, arrays, date_time)


def read_archive(stream: IO[bytes], source: str, load_data: bool = True,
                 extra_members: Mapping[str, str] | None = None, budget: LoadBudget | None = None,
                 load_params: bool = True, unread_members: Collection[str] = ()) -> ArchiveContents:
    """Read a zip agent file from a seekable stream.

    :param stream: seekable binary stream
    :param source: the file, named in errors
    :param load_data: read the ``data`` member (False skips it)
    :param extra_members: the extra members to read when present, name -> kind
        (:data:`JSON_MEMBER` or :data:`ARRAYS_MEMBER`); other members are ignored
    :param budget: the load's budget, charged with every decompressed byte and every array
        (default: a new one for the stream's size)
    :param load_params: read the ``parameters`` member (False skips it)
    :param unread_members: extra array members to leave unread: their presence is reported in
        ``ArchiveContents.unread_members`` (their directory entries are checked like every other)
    :return: the members' contents
    :raises CorruptAgentFileError: for every way the archive can be bad
    :raises LoadBudgetExceededError: the members would exceed the budget
    :raises ValueError: an extra member name or kind is not allowed
    """
    extra_members = dict(extra_members or {})
    for name, kind in extra_members.items():
        check_member_name(name, kind)
    file_size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if budget is None:
        budget = LoadBudget.for_file(file_size, None, source)
    with reported_as_corrupt(source, None, "not a valid zip archive (truncated or damaged?)"):
        charge_directory(stream, budget, None)
        archive = zipfile.ZipFile(stream)
    with archive:
        infos = archive.infolist()
        members = unique_members(infos, source, None)
        if members and not members.keys() & AGENT_MEMBERS:
            # e.g. a file cut after the nested .npz, whose own end record zipfile then finds
            raise CorruptAgentFileError(
                f"the archive holds none of the members {sorted(AGENT_MEMBERS)} but {sorted(members)[:5]} "
                "(truncated, or not an agent file?)", path=source,
            )
        for info in members.values():
            _check_declared_size(info, file_size, source)
        reader = _MemberReader(archive, stream, source, budget)
        contents = ArchiveContents()
        if METADATA_MEMBER in members:
            metadata = reader.json(members[METADATA_MEMBER])
            if not isinstance(metadata, dict):
                raise CorruptAgentFileError("expected a JSON object", path=source, member=METADATA_MEMBER)
            contents.metadata = metadata
        if load_data and DATA_MEMBER in members:
            contents.data_json = reader.text(members[DATA_MEMBER])
        if PARAMETER_LIST_MEMBER in members:
            parameter_list = reader.json(members[PARAMETER_LIST_MEMBER])
            if not isinstance(parameter_list, list) or not all(isinstance(name, str) for name in parameter_list):
                raise CorruptAgentFileError("expected a JSON array of parameter names", path=source,
                                            member=PARAMETER_LIST_MEMBER)
            contents.parameter_list = parameter_list
        if load_params and PARAMETERS_MEMBER in members:
            contents.params = reader.arrays(members[PARAMETERS_MEMBER], contents.parameter_list)
        for member_name, kind in extra_members.items():
            if member_name not in members:
                continue
            if kind == ARRAYS_MEMBER and member_name in unread_members:
                contents.unread_members.append(member_name)
            elif kind == JSON_MEMBER:
                contents.json_members[member_name] = reader.text(members[member_name])
            else:
                contents.array_members[member_name] = reader.arrays(members[member_name], None)
        if PARAMETERS_MEMBER not in members and contents.parameter_list:
            raise CorruptAgentFileError(
                f"parameter_list names {len(contents.parameter_list)} parameters but the archive has no "
                "parameters member", path=source, member=PARAMETERS_MEMBER,
            )
        return contents


def _check_declared_size(info: zipfile.ZipInfo, file_size: int, source: str) -> None:
    check_member_bounds(info, None, source, info.filename)
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


class _MemberReader:
    """Reads the members of one archive, charging what they decompress to the load's budget.

    :param archive: the open archive
    :param stream: the seekable stream it reads
    :param source: the file, named in errors
    :param budget: the load's budget
    """

    def __init__(self, archive: zipfile.ZipFile, stream: IO[bytes], source: str, budget: LoadBudget):
        self._archive = archive
        self._stream = stream
        self._source = source
        self._budget = budget

    def decompressed(self, info: zipfile.ZipInfo) -> io.BytesIO:
        """The member's decompressed bytes, in memory.

        Its declared size is charged before anything is decompressed (zipfile never returns
        more than the declared size, and :func:`_check_declared_size` bounded it by the
        compressed size), then the bytes are read straight into one buffer of that size.

        :param info: the member
        :return: a stream at position 0
        """
        self._budget.charge(info.file_size, "decompressing the member", info.filename)
        stream = io.BytesIO()
        if info.file_size:
            stream.seek(info.file_size - 1)
            stream.write(b"\0")
        with reported_as_corrupt(self._source, info.filename, "cannot read the member"), \
                self._archive.open(info) as member, stream.getbuffer() as view:
            offset = 0
            while offset < len(view):
                received = member.readinto(view[offset:offset + _READ_CHUNK_BYTES])  # type: ignore[attr-defined]
                if not received:
                    raise CorruptAgentFileError(f"the member ends after {offset} of its {len(view)} bytes",
                                                path=self._source, member=info.filename)
                offset += received
        stream.seek(0)
        return stream

    def text(self, info: zipfile.ZipInfo) -> str:
        """:return: the member as UTF-8 text"""
        stream = self.decompressed(info)
        self._budget.charge(info.file_size, "decoding the member as text", info.filename)
        with reported_as_corrupt(self._source, info.filename, "not UTF-8 text"), stream.getbuffer() as view:
            return str(view, "utf-8")

    def json(self, info: zipfile.ZipInfo) -> Any:
        """:return: the member parsed as JSON (nesting deeper than Python's recursion limit is refused)"""
        text = self.text(info)
        with reported_as_corrupt(self._source, info.filename, "invalid JSON"):
            return json.loads(text)

    def arrays(self, info: zipfile.ZipInfo, parameter_list: list[str] | None) -> ParamDict:
        """:return: the arrays of an ``.npz`` member, in ``parameter_list`` order when given"""
        with self._open(info) as arrays_stream:
            return read_params(arrays_stream, parameter_list, self._source, limit_bytes=info.file_size,
                               member_prefix=info.filename, budget=self._budget)

    @contextlib.contextmanager
    def _open(self, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
        """A window onto the file when the member is stored, else its bytes decompressed in memory."""
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            yield self.decompressed(info)
            return
        with reported_as_corrupt(self._source, info.filename, "bad local file header"):
            self._stream.seek(info.header_offset)
            header = self._stream.read(_LOCAL_HEADER.size)
            if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_HEADER_SIGNATURE:
                raise CorruptAgentFileError("bad local file header", path=self._source, member=info.filename)
            *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        yield io.BufferedReader(_MemberWindow(self._stream, start, info.file_size), buffer_size=1024 * 1024)


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
