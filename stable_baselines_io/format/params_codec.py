"""The ``parameters`` member: an ordered name -> array mapping <-> a NumPy ``.npz`` archive.

Arrays are streamed: each is written straight into its ``<name>.npy`` member and read straight
out of it, so no copy of the whole parameter set is ever held in memory. Arrays are never
pickled (``allow_pickle=False``): object arrays are refused on save and on load.

The hot paths move bytes once. A contiguous array is written as a view of its memory (no
``tobytes`` copy). A stored (uncompressed) member is read with ``readinto`` from the stream
straight into the preallocated array, at the offset its local header gives, and its CRC-32 is
checked over that memory (see :mod:`._crc`). Compressed or unusual members take zipfile's own
reader.

Reading is bounded: every array is charged to the load's :class:`~.budget.LoadBudget` before it
is allocated, ``.npy`` headers longer than :data:`MAX_NPY_HEADER_BYTES` are refused before they
are read, and a parameter named twice is refused.

>>> params = OrderedDict([("model/pi/w:0", np.ones((2, 3), dtype=np.float32))])
>>> bytes_to_params(params_to_bytes(params))["model/pi/w:0"].shape
(2, 3)
"""

from __future__ import annotations

import functools
import io
import math
import re
import struct
import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO

import numpy as np

from stable_baselines_io.exceptions import CorruptAgentFileError, SerializationError, StableBaselinesIOError
from stable_baselines_io.format._crc import CRC_CHUNK_BYTES, PieceCrc, crc_pool, write_with_crc
from stable_baselines_io.format.budget import LoadBudget
from stable_baselines_io.format.read_errors import DAMAGE_ERRORS, as_corrupt, reported_as_corrupt
from stable_baselines_io.format.zip_members import (
    DEFLATE_MAX_BYTES,
    UNSUPPORTED_FLAGS,
    DateTime,
    member_data_start,
    member_info,
    now_date_time,
    read_member,
    write_member,
)
from stable_baselines_io.type_aliases import ParamDict

NPY_SUFFIX = ".npy"
READ_CHUNK_BYTES = 16 * 1024 * 1024
#: The longest ``.npy`` header read (NumPy's own default limit); longer ones are refused unread.
MAX_NPY_HEADER_BYTES = 10_000
#: The deepest bracket nesting read in a ``.npy`` header (a structured dtype needs a few levels).
MAX_NPY_HEADER_NESTING = 8
_OPENING_BRACKETS = frozenset(b"([{")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"()[]{}")))
#: The most dimensions an array may have (NumPy's own limit).
MAX_NDIM = 64
#: Sizes above this are written with zip64 headers (zip's 32-bit limit, with room for headers).
ZIP64_THRESHOLD = 2**31
#: Deflate cannot expand data more than about 1032 times; a larger declared ratio is a zip bomb.
MAX_COMPRESSION_RATIO = 1100

#: What zipfile's object for one member costs in memory, at most (measured: about 400 bytes).
ZIP_ENTRY_COST_BYTES = 512
#: What rebuilding one array costs beyond its data (objects, header parsing, a member to open):
#: charged so that the budget also bounds how many arrays a file can make the reader rebuild
#: (4096 under the 64 MiB floor), and with them the time a load takes.
ARRAY_OVERHEAD_BYTES = 16 * 1024

_END_RECORD = struct.Struct("<4s4H2LH")
_END_RECORD_SIGNATURE = b"PK\x05\x06"
_CENTRAL_ENTRY_MIN_BYTES = 46
#: Array kinds written as raw memory: booleans and numbers. Others go through numpy.lib.format.
_RAW_KINDS = frozenset("biufc")


def params_to_bytes(params: Mapping[str, np.ndarray]) -> bytes:
    """Serialize parameters to the bytes of an ``.npz`` archive.

    :param params: name -> array
    :return: the archive's bytes
    """
    buffer = io.BytesIO()
    write_params(buffer, params)
    return buffer.getvalue()


def bytes_to_params(serialized: bytes, param_list: Iterable[str] | None = None,
                    max_bytes: int | None = None) -> ParamDict:
    """Rebuild the ordered parameters from :func:`params_to_bytes` output.

    :param serialized: the ``.npz`` bytes
    :param param_list: the names in order (the ``parameter_list`` member); None keeps the
        archive's own order
    :param max_bytes: the most bytes the arrays may take (default: see :class:`~.budget.LoadBudget`)
    :return: ordered name -> array
    """
    budget = LoadBudget.for_file(len(serialized), max_bytes)
    return read_params(io.BytesIO(serialized), param_list, source=None, budget=budget)


def write_params(stream: IO[bytes], params: Mapping[str, np.ndarray], date_time: DateTime | None = None) -> None:
    """Write parameters as an ``.npz`` archive into ``stream`` (which need not be seekable).

    Arrays whose ``.npy`` bytes are below :data:`~.zip_members.DEFLATE_MAX_BYTES` are deflated
    (see :mod:`.zip_members`); larger ones are stored, streamed from their memory.

    :param stream: a binary stream open for writing
    :param params: name -> array
    :param date_time: the members' time (default: now)
    :raises SerializationError: an array holds Python objects, or a value is not an array
    """
    date_time = date_time or now_date_time()
    total_bytes = sum(getattr(value, "nbytes", 0) for value in params.values())
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive, \
            crc_pool(total_bytes) as pool:
        for name, value in params.items():
            array = np.asanyarray(value)
            if array.dtype.hasobject:
                raise SerializationError(f"parameter {name!r} is an array of Python objects, which cannot be saved "
                                         "without pickle")
            if array.nbytes < DEFLATE_MAX_BYTES:
                npy = array_to_npy(np.asarray(array))
                if len(npy) < DEFLATE_MAX_BYTES:
                    write_member(archive, name + NPY_SUFFIX, npy, date_time, compress=True)
                    continue
            member_size = array.nbytes + 4096
            with archive.open(member_info(name + NPY_SUFFIX, date_time), "w",
                              force_zip64=member_size > ZIP64_THRESHOLD) as member:
                write_array(member, np.asarray(array), pool)


def write_array(file: IO[bytes], array: np.ndarray, pool: ThreadPoolExecutor | None = None) -> None:
    """Write one ``.npy`` stream, the same bytes as ``numpy.lib.format.write_array``.

    A C- or Fortran-contiguous array of numbers is written as one view of its memory: no copy,
    and its CRC-32 computed once (see :func:`._crc.write_with_crc`). Other arrays go through
    ``numpy.lib.format`` (16 MiB copies).

    :param file: the member to write into
    :param array: the array (not an object array)
    :param pool: threads that compute the CRC while the bytes are written, or None
    """
    raw = _raw_npy(array)
    if raw is None:
        np.lib.format.write_array(file, array, allow_pickle=False)
        return
    header, data = raw
    file.write(header)
    if len(data):
        write_with_crc(file, data, pool)


def array_to_npy(array: np.ndarray) -> bytes:
    """:return: the bytes of one ``.npy`` stream, as :func:`write_array` writes it"""
    raw = _raw_npy(array)
    if raw is None:
        npy = io.BytesIO()
        np.lib.format.write_array(npy, array, allow_pickle=False)
        return npy.getvalue()
    return b"".join(raw)


def _raw_npy(array: np.ndarray) -> tuple[bytes, memoryview] | None:
    """The ``.npy`` header and a view of the data of a contiguous array of numbers, else None."""
    if array.dtype.kind not in _RAW_KINDS:
        return None
    if array.flags.c_contiguous:
        memory, fortran_order = array, False
    elif array.flags.f_contiguous:
        memory, fortran_order = array.T, True  # the .npy data of a Fortran-ordered array is its transpose in C order
    else:
        return None
    header = _npy_header(array.dtype, array.shape, fortran_order)
    if header is None:
        return None
    return header, memoryview(memory.reshape(-1).view(np.uint8))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1024)
def _npy_header(dtype: np.dtype, shape: tuple[int, ...], fortran_order: bool) -> bytes | None:
    """A version 1.0 ``.npy`` header (cached: a model's layers share a few), or None where it is too
    long for version 1.0 and NumPy picks the version."""
    header = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                      "fortran_order": fortran_order, "shape": shape})
    except ValueError:
        return None
    return header.getvalue()


def read_params(stream: IO[bytes], param_list: Iterable[str] | None, source: str | None,
                limit_bytes: int | None = None, member_prefix: str = "parameters",
                budget: LoadBudget | None = None) -> ParamDict:
    """Read an ``.npz`` archive from a seekable stream into ordered parameters.

    :param stream: seekable binary stream positioned anywhere
    :param param_list: names in order; None keeps the archive's order
    :param source: the file, named in errors
    :param limit_bytes: the size the stream can hold at most (declared sizes above it are refused)
    :param member_prefix: the archive member holding the stream, named in errors
    :param budget: the load's budget, charged with every array before it is allocated (default:
        a new one for the stream's size)
    :return: ordered name -> array
    :raises CorruptAgentFileError: a missing or repeated array, a bad archive, a CRC error, a
        truncated or implausible array
    :raises LoadBudgetExceededError: the arrays would exceed the budget
    """
    if budget is None:
        budget = LoadBudget.for_file(stream.seek(0, io.SEEK_END), None, source)
    with reported_as_corrupt(source, member_prefix, "not a valid .npz archive"):
        charge_directory(stream, budget, member_prefix)
        archive = zipfile.ZipFile(stream)
    with archive:
        infos = archive.infolist()
        members = unique_members(infos, source, member_prefix)
        names = _names_to_read(members, param_list, source, member_prefix)
        params: ParamDict = OrderedDict()
        direct = hasattr(stream, "readinto")
        encoding = getattr(archive, "metadata_encoding", None)  # Python 3.11+
        with crc_pool(sum(members[name + NPY_SUFFIX].file_size for name in names)) as pool:
            for name in names:
                info = members[name + NPY_SUFFIX]
                member = f"{member_prefix}/{info.filename}"
                check_member_bounds(info, limit_bytes, source, member)
                try:
                    plain = direct and not info.flag_bits & UNSUPPORTED_FLAGS
                    if plain and info.compress_type == zipfile.ZIP_STORED:
                        params[name] = _read_stored_array(stream, info, encoding, pool, budget, member)
                    elif plain and info.compress_type == zipfile.ZIP_DEFLATED and info.file_size <= DEFLATE_MAX_BYTES:
                        params[name] = _read_small_array(stream, info, encoding, budget, member)
                    else:
                        with archive.open(info) as file:
                            params[name] = read_array(file, info.file_size, budget, member)
                except StableBaselinesIOError:
                    raise
                except DAMAGE_ERRORS as error:
                    raise as_corrupt(error, source, member, "cannot read the array") from error
        return params


def charge_directory(stream: IO[bytes], budget: LoadBudget, member: str | None) -> None:
    """Charge the members zipfile is about to create for an archive, before it parses them.

    zipfile builds one object of a few hundred bytes for every entry of the central directory,
    whatever the entries' names say, so a directory of a million identical entries (which
    compresses to almost nothing inside a compressed member) would cost hundreds of megabytes
    before anything could be checked. The cost charged here is bounded by the directory's real
    size (an entry takes at least 46 bytes), read from the end record, or the stream's size.

    :param stream: the seekable archive
    :param budget: the load's budget
    :param member: the archive's name in the file, for errors (None for the file itself)
    :raises LoadBudgetExceededError: the entries would exceed the budget
    """
    size = stream.seek(0, io.SEEK_END)
    # as zipfile: the end record is the last 22 bytes, unless the archive has a comment (64 KiB at most)
    for tail_start in (max(0, size - _END_RECORD.size), max(0, size - _END_RECORD.size - 0xFFFF)):
        stream.seek(tail_start)
        tail = stream.read(size - tail_start)
        end = tail.rfind(_END_RECORD_SIGNATURE)
        if end >= 0:
            break
    stream.seek(0)
    if end < 0 or end + _END_RECORD.size > len(tail):
        return  # not a zip archive: zipfile will say so without building anything
    declared = _END_RECORD.unpack_from(tail, end)[5]
    directory_size = size if declared == 0xFFFFFFFF else min(declared, size)  # zip64: the size bounds it
    entries = directory_size // _CENTRAL_ENTRY_MIN_BYTES
    budget.charge(entries * ZIP_ENTRY_COST_BYTES, f"the directory of up to {entries:,} entries", member)


def unique_members(infos: list[zipfile.ZipInfo], source: str | None, member: str | None) -> dict[str, zipfile.ZipInfo]:
    """The members of a zip archive by name, refusing a name used twice (which one a reader took
    would be up to the reader).

    :param infos: the archive's ``infolist()``
    :param source: the file, named in errors
    :param member: the archive, named in errors (None for the agent file itself)
    :return: name -> member
    :raises CorruptAgentFileError: a name appears more than once
    """
    members = {info.filename: info for info in infos}
    if len(members) != len(infos):
        repeated = sorted(name for name, count in Counter(info.filename for info in infos).items() if count > 1)
        raise CorruptAgentFileError(f"the archive holds several members named {repeated[:5]}", path=source,
                                    member=member)
    return members


def check_member_bounds(info: zipfile.ZipInfo, limit_bytes: int | None, source: str | None, member: str) -> None:
    """Refuse a member whose offset is negative or whose declared size cannot fit ``limit_bytes``.

    :param info: the member
    :param limit_bytes: the size of the archive holding it, or None
    :param source: the file, named in errors
    :param member: the member, named in errors
    :raises CorruptAgentFileError: an impossible offset or size
    """
    if info.header_offset < 0 or info.compress_size < 0 or info.file_size < 0:
        raise CorruptAgentFileError(
            f"the member claims offset {info.header_offset} and sizes {info.compress_size} / {info.file_size} "
            "(negative: damaged central directory)", path=source, member=member,
        )
    if limit_bytes is None:
        return
    # a compressed .npz (np.savez_compressed) can be larger than its archive, within deflate's ratio
    plausible_size = limit_bytes if info.compress_type == zipfile.ZIP_STORED else \
        min(max(info.compress_size, 1), limit_bytes) * MAX_COMPRESSION_RATIO
    if info.file_size > plausible_size:
        raise CorruptAgentFileError(
            f"declared size {info.file_size} bytes is impossible inside {limit_bytes} bytes (zip bomb?)",
            path=source, member=member,
        )


def _names_to_read(members: dict[str, zipfile.ZipInfo], param_list: Iterable[str] | None, source: str | None,
                   member_prefix: str) -> list[str]:
    if param_list is None:
        return [filename[: -len(NPY_SUFFIX)] for filename in members if filename.endswith(NPY_SUFFIX)]
    names = list(param_list)
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise CorruptAgentFileError(f"parameter_list names these parameters more than once: {repeated[:5]}",
                                    path=source, member="parameter_list")
    missing = [name for name in names if name + NPY_SUFFIX not in members]
    if missing:
        raise CorruptAgentFileError(
            f"parameter_list names arrays that the parameters archive does not hold: {missing}",
            path=source, member=f"{member_prefix}/{missing[0]}{NPY_SUFFIX}",
        )
    return names


def read_array(file: IO[bytes], member_size: int, budget: LoadBudget | None = None,
               member: str | None = None) -> np.ndarray:
    """Read one ``.npy`` stream in chunks, checking its header against the member's size first.

    :param file: the ``.npy`` stream
    :param member_size: the member's uncompressed size
    :param budget: charged with the array's size before it is allocated
    :param member: the member, named in errors
    :return: the array
    :raises ValueError: a pickled (object) array, a header that does not match the size, truncation
    """
    shape, fortran_order, dtype = _read_npy_header(file)
    header_size = file.tell() if hasattr(file, "tell") else None
    array, view = _empty_array(shape, dtype, member_size, header_size, budget, member)
    offset = 0
    while offset < len(view):
        received = file.readinto(view[offset:offset + READ_CHUNK_BYTES])  # type: ignore[attr-defined]
        if not received:
            raise ValueError(f"the array is truncated: {offset} of {len(view)} bytes")
        offset += received
    return _shaped(array, shape, fortran_order)


def _read_npy_header(file: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The ``.npy`` magic and header: ``(shape, fortran_order, dtype)``.

    The header's declared length is checked before the header is read (NumPy reads it first,
    which lets a compressed member ask for gigabytes). Object and structured dtypes are refused.
    """
    version = np.lib.format.read_magic(file)
    length_format = "<H" if version == (1, 0) else "<I"
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unsupported .npy format version {version}")
    length_bytes = file.read(struct.calcsize(length_format))
    if len(length_bytes) != struct.calcsize(length_format):
        raise ValueError("the .npy header is truncated")
    (header_length,) = struct.unpack(length_format, length_bytes)
    if header_length > MAX_NPY_HEADER_BYTES:
        raise ValueError(f"the .npy header declares {header_length} bytes; at most {MAX_NPY_HEADER_BYTES} are read")
    header_bytes = file.read(header_length)
    written_by_numpy = _NUMPY_HEADER.fullmatch(header_bytes)
    if written_by_numpy is not None:
        descr, fortran_order, shape = written_by_numpy.groups()
        dtype = np.dtype(descr.decode("ascii"))
        return tuple(int(size) for size in shape.split(b",") if size.strip()), fortran_order == b"True", dtype
    _check_nesting(header_bytes)
    header = io.BytesIO(length_bytes + header_bytes)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(header)
    else:
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(header)
    if dtype.hasobject:
        raise ValueError("the array holds pickled Python objects, which are never loaded")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"the array has a structured dtype {dtype}; only plain numbers, booleans and strings load")
    return shape, fortran_order, dtype


#: The header NumPy writes for an array of plain numbers, booleans or strings (then spaces to align
#: the data, and a newline), parsed without NumPy's ``literal_eval`` (a tenth of the time); any
#: other header goes through NumPy's parser.
_NUMPY_HEADER = re.compile(
    rb"\{'descr': '([<>|=](?:[biufc]\d{1,2}|b1|[SU]\d{1,9}))', 'fortran_order': (True|False), "
    rb"'shape': \((|\d{1,19},|\d{1,19}(?:, \d{1,19}){1,31})\), \} *\n"
)


def _check_nesting(header: bytes) -> None:
    """Refuse a header nested deeper than a dict of tuples needs, before NumPy's parser recurses into it."""
    brackets = header.translate(None, _NOT_BRACKETS)
    if len(brackets) <= 2 * MAX_NPY_HEADER_NESTING:
        return
    depth = deepest = 0
    for bracket in brackets:
        depth += 1 if bracket in _OPENING_BRACKETS else -1
        deepest = max(deepest, depth)
    if deepest > MAX_NPY_HEADER_NESTING:
        raise ValueError(f"the .npy header is nested {deepest} levels deep; a valid one has at most "
                         f"{MAX_NPY_HEADER_NESTING}")


def _empty_array(shape: tuple[int, ...], dtype: np.dtype, member_size: int, header_size: int | None,
                 budget: LoadBudget | None, member: str | None) -> tuple[np.ndarray, memoryview]:
    """A flat array for the data the header declares, after checking it fills the member exactly
    and fits the budget.

    :return: the array and a byte view of its memory
    """
    if len(shape) > MAX_NDIM or not all(isinstance(size, int) and size >= 0 for size in shape):
        raise ValueError(f"the array header declares shape {shape}, which is impossible")
    count = math.prod(shape)
    data_size = count * dtype.itemsize
    if header_size is not None and header_size + data_size != member_size:
        raise ValueError(
            f"the array header declares shape {shape} of {dtype} ({data_size} bytes) but the member holds "
            f"{member_size - header_size} bytes"
        )
    if budget is not None:
        budget.charge(data_size + ARRAY_OVERHEAD_BYTES,
                      lambda: f"the array {member or ''} of shape {shape} ({dtype})".replace("  ", " "), member)
    array = np.empty(count, dtype=dtype)
    view = memoryview(array.view(np.uint8).reshape(-1)) if data_size else memoryview(b"")  # type: ignore[arg-type]
    return array, view


def _shaped(array: np.ndarray, shape: tuple[int, ...], fortran_order: bool) -> np.ndarray:
    if fortran_order:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


class _CountingReader:
    """Reads at most ``limit`` bytes of ``stream`` and keeps them (the ``.npy`` header, for its CRC)."""

    def __init__(self, stream: IO[bytes], limit: int):
        self._stream = stream
        self._remaining = limit
        self.consumed = bytearray()

    def read(self, size: int = -1) -> bytes:
        size = self._remaining if size < 0 else min(size, self._remaining)
        data = self._stream.read(size)
        self._remaining -= len(data)
        self.consumed += data
        return data

    def tell(self) -> int:
        return len(self.consumed)


def _read_stored_array(stream: IO[bytes], info: zipfile.ZipInfo, metadata_encoding: str | None,
                       pool: ThreadPoolExecutor | None, budget: LoadBudget | None, member: str) -> np.ndarray:
    """Read a stored ``.npy`` member straight from ``stream`` into a new array and check its CRC-32.

    Checks the local header as ``zipfile.ZipFile.open`` does (signature, name), then reads the
    data with ``readinto`` into the array's memory: no intermediate buffer, no per-chunk copy.

    :param stream: the seekable ``.npz`` stream
    :param info: the member (stored, not encrypted)
    :param metadata_encoding: the archive's encoding of names without the UTF-8 flag
    :param pool: threads for the CRC, or None to compute it here
    :param budget: charged with the array's size before it is allocated
    :param member: the member, named in errors
    :return: the array
    :raises zipfile.BadZipFile: a bad local header or a CRC mismatch
    :raises ValueError: a bad ``.npy`` header, a size mismatch, truncation
    """
    data_start = member_data_start(stream, info, metadata_encoding)
    npy_header = _CountingReader(stream, info.file_size)
    try:
        shape, fortran_order, dtype = _read_npy_header(npy_header)  # type: ignore[arg-type]
        array, view = _empty_array(shape, dtype, info.file_size, npy_header.tell(), budget, member)
    except CorruptAgentFileError:
        raise
    except Exception as error:
        # A damaged member is reported as a CRC error, as zipfile's reader reports it; a header that
        # is wrong but intact as what it is (numpy's tokenizer raises more than ValueError).
        _check_member_crc(stream, data_start, info, error)
        if isinstance(error, ValueError):
            raise
        raise ValueError(f"bad .npy header: {error!r}") from error
    crc = PieceCrc(zlib.crc32(npy_header.consumed), pool if len(view) > CRC_CHUNK_BYTES else None)
    offset = 0
    while offset < len(view):
        chunk = view[offset:offset + CRC_CHUNK_BYTES]
        received = stream.readinto(chunk)  # type: ignore[attr-defined]
        if not received:
            raise ValueError(f"the array is truncated: {offset} of {len(view)} bytes")
        crc.add(chunk[:received])  # on another core, while the next piece is read
        offset += received
    if crc.value() != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return _shaped(array, shape, fortran_order)


def _read_small_array(stream: IO[bytes], info: zipfile.ZipInfo, metadata_encoding: str | None,
                      budget: LoadBudget | None, member: str) -> np.ndarray:
    """Read a small deflated ``.npy`` member: inflated in one call (at most its declared size), checked, parsed.

    :param stream: the seekable ``.npz`` stream
    :param info: the member (deflated, not encrypted, at most :data:`~.zip_members.DEFLATE_MAX_BYTES`)
    :param metadata_encoding: the archive's encoding of names without the UTF-8 flag
    :param budget: charged with the inflated bytes, then with the array, each before it is allocated
    :param member: the member, named in errors
    :return: the array
    :raises zipfile.BadZipFile: a bad local header or deflate stream, a size or CRC-32 mismatch
    :raises ValueError: a bad ``.npy`` header, a size mismatch
    """
    if budget is not None:
        budget.charge(info.file_size, "decompressing the member", member)
    return read_array(io.BytesIO(read_member(stream, info, metadata_encoding)), info.file_size, budget, member)


def _check_member_crc(stream: IO[bytes], data_start: int, info: zipfile.ZipInfo, cause: Exception) -> None:
    """Raise ``zipfile.BadZipFile`` from ``cause`` if the member's bytes do not match its CRC-32."""
    stream.seek(data_start)
    crc, remaining = 0, info.file_size
    while remaining > 0:
        chunk = stream.read(min(remaining, READ_CHUNK_BYTES))
        if not chunk:
            return  # truncated: the caller's error says so
        crc = zlib.crc32(chunk, crc)
        remaining -= len(chunk)
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}") from cause
