"""The ``parameters`` member: an ordered name -> array mapping <-> a NumPy ``.npz`` archive.

Arrays are streamed: each is written straight into its ``<name>.npy`` member and read straight
out of it, so no copy of the whole parameter set is ever held in memory. Arrays are never
pickled (``allow_pickle=False``): object arrays are refused on save and on load.

The hot paths move bytes once. A contiguous array is written as a view of its memory (no
``tobytes`` copy). A stored (uncompressed) member is read with ``readinto`` from the stream
straight into the preallocated array, at the offset its local header gives, and its CRC-32 is
checked over that memory, in chunks spread over a few threads while the next chunk is read
(``zlib.crc32`` releases the GIL). Compressed or unusual members take zipfile's own reader.
Where the optional ``isal`` package is installed, its CRC-32 (the same function, about ten
times faster with carry-less multiplication) is used on these paths instead, without threads.

>>> params = OrderedDict([("model/pi/w:0", np.ones((2, 3), dtype=np.float32))])
>>> bytes_to_params(params_to_bytes(params), ["model/pi/w:0"])["model/pi/w:0"].shape
(2, 3)
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

import numpy as np

from stable_baselines_io.exceptions import CorruptAgentFileError, SerializationError
from stable_baselines_io.type_aliases import ParamDict

NPY_SUFFIX = ".npy"
READ_CHUNK_BYTES = 16 * 1024 * 1024
#: Stored members are read (and their CRC computed) in pieces of this size, so that the CRC of
#: one piece runs on another core while the next piece is read.
CRC_CHUNK_BYTES = 8 * 1024 * 1024
#: Arrays smaller than this are written with zipfile's own per-level CRC (cheaper than combining CRCs).
KNOWN_CRC_MIN_BYTES = 1024 * 1024
#: Threads computing CRCs while reading; 1 computes them in the reading thread.
CRC_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
#: Sizes above this are written with zip64 headers (zip's 32-bit limit, with room for headers).
ZIP64_THRESHOLD = 2**31
#: Deflate cannot expand data more than about 1032 times; a larger declared ratio is a zip bomb.
MAX_COMPRESSION_RATIO = 1100

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
_UTF8_NAME_FLAG = 0x800
#: Members with these flag bits (encrypted, patched, strongly encrypted) go to zipfile, which refuses them.
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40
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


def bytes_to_params(serialized: bytes, param_list: Iterable[str] | None) -> ParamDict:
    """Rebuild the ordered parameters from :func:`params_to_bytes` output.

    :param serialized: the ``.npz`` bytes
    :param param_list: the names in order (the ``parameter_list`` member); None keeps the
        archive's own order
    :return: ordered name -> array
    """
    return read_params(io.BytesIO(serialized), param_list, source=None)


def write_params(stream: IO[bytes], params: Mapping[str, np.ndarray]) -> None:
    """Write parameters as an ``.npz`` archive into ``stream`` (which need not be seekable).

    :param stream: a binary stream open for writing
    :param params: name -> array
    :raises SerializationError: an array holds Python objects, or a value is not an array
    """
    total_bytes = sum(getattr(value, "nbytes", 0) for value in params.values())
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive, \
            _crc_pool(total_bytes) as pool:
        for name, value in params.items():
            array = np.asanyarray(value)
            if array.dtype.hasobject:
                raise SerializationError(f"parameter {name!r} is an array of Python objects, which cannot be saved "
                                         "without pickle")
            member_size = array.nbytes + 4096
            with archive.open(name + NPY_SUFFIX, "w", force_zip64=member_size > ZIP64_THRESHOLD) as member:
                write_array(member, np.asarray(array), pool)


def write_array(file: IO[bytes], array: np.ndarray, pool: ThreadPoolExecutor | None = None) -> None:
    """Write one ``.npy`` stream, the same bytes as ``numpy.lib.format.write_array``.

    A C- or Fortran-contiguous array of numbers is written as one view of its memory: no copy,
    and its CRC-32 computed once (see :func:`_write_with_crc`). Other arrays go through
    ``numpy.lib.format`` (16 MiB copies).

    :param file: the member to write into
    :param array: the array (not an object array)
    :param pool: threads that compute the CRC while the bytes are written, or None
    """
    if array.flags.c_contiguous:
        memory = array
    elif array.flags.f_contiguous:
        memory = array.T  # the .npy data of a Fortran-ordered array is its transpose in C order
    else:
        memory = None
    header = io.BytesIO()
    if memory is not None and array.dtype.kind in _RAW_KINDS:
        try:
            np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
        except ValueError:  # a header too long for version 1.0: let numpy pick the version
            memory = None
    if memory is None or array.dtype.kind not in _RAW_KINDS:
        np.lib.format.write_array(file, array, allow_pickle=False)
        return
    file.write(header.getvalue())
    if memory.size:
        data = memoryview(memory.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        _write_with_crc(file, data, pool)


_ZIP_MEMBER_WRITER = getattr(zipfile, "_ZipWriteFile", None)
_TELLABLE = getattr(zipfile, "_Tellable", None)


def _write_with_crc(file: IO[bytes], data: memoryview, pool: ThreadPoolExecutor | None) -> None:
    """Write ``data`` into a zip member, computing its CRC-32 once for every enclosing member.

    An array goes into its ``.npy`` member of the ``.npz``, which is itself written into the
    agent file's ``parameters`` member: zipfile's writers would each compute the CRC of the same
    bytes (one pass per level, single-threaded). Here the chain of stored member writers is
    walked down to the real file, the bytes are written to it once, the CRC is computed (in
    pieces on ``pool``'s threads, meanwhile) and each writer's size and CRC are advanced as its
    own ``write`` would have. Anything but stored zipfile writers (another Python's zipfile, a
    compressor, a plain stream) gets an ordinary ``file.write``.

    :param file: the member writer
    :param data: the bytes
    :param pool: threads for the CRC, or None
    """
    writers: list[IO[bytes]] = []
    counters: list[object] = []
    sink: object = file
    while True:
        if (type(sink) is _ZIP_MEMBER_WRITER and getattr(sink, "_compressor", True) is None
                and getattr(sink, "_encrypter", None) is None and hasattr(sink, "_crc")
                and hasattr(sink, "_file_size") and not sink.closed):  # type: ignore[attr-defined]
            writers.append(sink)  # type: ignore[arg-type]
            sink = sink._fileobj  # type: ignore[attr-defined]
        elif type(sink) is _TELLABLE and hasattr(sink, "offset"):
            counters.append(sink)
            sink = sink.fp  # type: ignore[attr-defined]
        else:
            break
    if not writers or len(data) < KNOWN_CRC_MIN_BYTES:
        file.write(data)
        return
    if pool is None or len(data) <= CRC_CHUNK_BYTES:
        sink.write(data)  # type: ignore[attr-defined]
        crc = _crc32()(data)
    else:
        pieces = [(pool.submit(_crc32(), piece), len(piece)) for piece in _pieces(data, CRC_CHUNK_BYTES)]
        sink.write(data)  # type: ignore[attr-defined]
        crc = 0
        for future, length in pieces:
            crc = crc32_combine(crc, future.result(), length)
    for writer in writers:
        writer._file_size += len(data)  # type: ignore[attr-defined]
        writer._crc = crc32_combine(writer._crc, crc, len(data))  # type: ignore[attr-defined]
    for counter in counters:
        counter.offset += len(data)  # type: ignore[attr-defined]


def _pieces(data: memoryview, size: int) -> list[memoryview]:
    return [data[start:start + size] for start in range(0, len(data), max(size, 1))]


def read_params(stream: IO[bytes], param_list: Iterable[str] | None, source: str | None,
                limit_bytes: int | None = None, member_prefix: str = "parameters") -> ParamDict:
    """Read an ``.npz`` archive from a seekable stream into ordered parameters.

    :param stream: seekable binary stream positioned anywhere
    :param param_list: names in order; None keeps the archive's order
    :param source: the file, named in errors
    :param limit_bytes: the size the stream can hold at most (declared sizes above it are refused)
    :param member_prefix: the archive member holding the stream, named in errors
    :return: ordered name -> array
    :raises CorruptAgentFileError: a missing array, a bad archive, a CRC error, a truncated or
        implausible array
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:  # "zip file version"
        raise CorruptAgentFileError(f"not a valid .npz archive: {error}", path=source,
                                    member=member_prefix) from error
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        if param_list is None:
            names = [filename[: -len(NPY_SUFFIX)] for filename in members if filename.endswith(NPY_SUFFIX)]
        else:
            names = list(param_list)
            missing = [name for name in names if name + NPY_SUFFIX not in members]
            if missing:
                raise CorruptAgentFileError(
                    f"parameter_list names arrays that the parameters archive does not hold: {missing}",
                    path=source, member=f"{member_prefix}/{missing[0]}{NPY_SUFFIX}",
                )
        params: ParamDict = OrderedDict()
        direct = hasattr(stream, "readinto")
        with _crc_pool(sum(members[name + NPY_SUFFIX].file_size for name in names)) as pool:
            for name in names:
                info = members[name + NPY_SUFFIX]
                member = f"{member_prefix}/{info.filename}"
                plausible_size = _plausible_size(info, limit_bytes)
                if plausible_size is not None and info.file_size > plausible_size:
                    raise CorruptAgentFileError(
                        f"declared size {info.file_size} bytes is impossible inside {limit_bytes} bytes (zip bomb?)",
                        path=source, member=member,
                    )
                try:
                    if direct and info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & _UNSUPPORTED_FLAGS:
                        params[name] = _read_stored_array(stream, info, getattr(archive, "metadata_encoding", None),
                                                          pool)  # metadata_encoding: Python 3.11+
                    else:
                        with archive.open(info) as file:
                            params[name] = read_array(file, info.file_size)
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as error:
                    # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method
                    raise CorruptAgentFileError(f"cannot read the array: {error}", path=source,
                                                member=member) from error
        return params


def _plausible_size(info: zipfile.ZipInfo, limit_bytes: int | None) -> int | None:
    """The largest uncompressed size a member can have inside ``limit_bytes`` bytes; None: no limit."""
    if limit_bytes is None:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        return limit_bytes
    # a compressed .npz (np.savez_compressed) can be larger than its archive, within deflate's ratio
    return min(max(info.compress_size, 1), limit_bytes) * MAX_COMPRESSION_RATIO


def read_array(file: IO[bytes], member_size: int) -> np.ndarray:
    """Read one ``.npy`` stream in chunks, checking its header against the member's size first.

    :param file: the ``.npy`` stream
    :param member_size: the member's uncompressed size
    :return: the array
    :raises ValueError: a pickled (object) array, a header that does not match the size, truncation
    """
    shape, fortran_order, dtype = _read_npy_header(file)
    header_size = file.tell() if hasattr(file, "tell") else None
    array, view = _empty_array(shape, dtype, member_size, header_size)
    offset = 0
    while offset < len(view):
        received = file.readinto(view[offset:offset + READ_CHUNK_BYTES])  # type: ignore[attr-defined]
        if not received:
            raise ValueError(f"the array is truncated: {offset} of {len(view)} bytes")
        offset += received
    return _shaped(array, shape, fortran_order)


def _read_npy_header(file: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The ``.npy`` magic and header: ``(shape, fortran_order, dtype)``; object arrays are refused."""
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
    elif version in ((2, 0), (3, 0)):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(file)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ValueError("the array holds pickled Python objects, which are never loaded")
    return shape, fortran_order, dtype


def _empty_array(shape: tuple[int, ...], dtype: np.dtype, member_size: int,
                 header_size: int | None) -> tuple[np.ndarray, memoryview]:
    """A flat array for the data the header declares, after checking it fills the member exactly.

    :return: the array and a byte view of its memory
    """
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    data_size = count * dtype.itemsize
    if header_size is not None and header_size + data_size != member_size:
        raise ValueError(
            f"the array header declares shape {shape} of {dtype} ({data_size} bytes) but the member holds "
            f"{member_size - header_size} bytes"
        )
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
                       pool: ThreadPoolExecutor | None) -> np.ndarray:
    """Read a stored ``.npy`` member straight from ``stream`` into a new array and check its CRC-32.

    Checks the local header as ``zipfile.ZipFile.open`` does (signature, name), then reads the
    data with ``readinto`` into the array's memory: no intermediate buffer, no per-chunk copy.

    :param stream: the seekable ``.npz`` stream
    :param info: the member (stored, not encrypted)
    :param metadata_encoding: the archive's encoding of names without the UTF-8 flag
    :param pool: threads for the CRC, or None to compute it here
    :return: the array
    :raises zipfile.BadZipFile: a bad local header or a CRC mismatch
    :raises ValueError: a bad ``.npy`` header, a size mismatch, truncation
    """
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("Truncated file header")
    signature, _, _, flags, *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != _LOCAL_HEADER_SIGNATURE:
        raise zipfile.BadZipFile("Bad magic number for file header")
    raw_name = stream.read(name_length)
    name = raw_name.decode("utf-8" if flags & _UTF8_NAME_FLAG else metadata_encoding or "cp437")
    if name != info.orig_filename:
        raise zipfile.BadZipFile(f"File name in directory {info.orig_filename!r} and header {raw_name!r} differ.")
    stream.seek(extra_length, io.SEEK_CUR)
    data_start = stream.tell()

    npy_header = _CountingReader(stream, info.file_size)
    try:
        shape, fortran_order, dtype = _read_npy_header(npy_header)  # type: ignore[arg-type]
        array, view = _empty_array(shape, dtype, info.file_size, npy_header.tell())
    except Exception as error:
        # A damaged member is reported as a CRC error, as zipfile's reader reports it; a header that
        # is wrong but intact as what it is (numpy's tokenizer raises more than ValueError).
        _check_member_crc(stream, data_start, info, error)
        if isinstance(error, ValueError):
            raise
        raise ValueError(f"bad .npy header: {error!r}") from error
    crc = zlib.crc32(npy_header.consumed)
    if pool is not None and len(view) <= CRC_CHUNK_BYTES:
        pool = None  # one piece: nothing to overlap
    pieces: list[tuple[Future[int], int]] = []
    offset = 0
    while offset < len(view):
        chunk = view[offset:offset + CRC_CHUNK_BYTES]
        received = stream.readinto(chunk)  # type: ignore[attr-defined]
        if not received:
            raise ValueError(f"the array is truncated: {offset} of {len(view)} bytes")
        if pool is None:
            crc = _crc32()(chunk[:received], crc)
        else:  # the CRC of this piece runs on another core while the next one is read
            pieces.append((pool.submit(_crc32(), chunk[:received]), received))
        offset += received
    for future, length in pieces:
        crc = crc32_combine(crc, future.result(), length)
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return _shaped(array, shape, fortran_order)


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


@functools.cache
def _crc32() -> Callable[..., int]:
    """``zlib.crc32``, or the same function from ``isal`` (ISA-L) where it is installed."""
    try:
        from isal.isal_zlib import crc32
    except ImportError:
        return zlib.crc32
    return crc32  # type: ignore[no-any-return]


@contextlib.contextmanager
def _crc_pool(total_bytes: int) -> Iterator[ThreadPoolExecutor | None]:
    """Threads for CRCs when there is enough data to share out and the CRC is slow, else None."""
    if CRC_THREADS < 2 or total_bytes < 2 * CRC_CHUNK_BYTES or _crc32() is not zlib.crc32:
        yield None
        return
    pool = ThreadPoolExecutor(CRC_THREADS, thread_name_prefix="crc32")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- CRC-32 of concatenated pieces (zlib's crc32_combine, which Python does not expose) ----------

_CRC_POLYNOMIAL = 0xEDB88320  # reflected CRC-32 polynomial of zip and zlib


def _multiply_mod_p(a: int, b: int) -> int:
    """``a(x) * b(x) mod p(x)`` for reflected CRC-32 polynomials (zlib's ``multmodp``)."""
    product = 0
    bit = 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _CRC_POLYNOMIAL if b & 1 else b >> 1
    return product


def _powers_of_x() -> list[int]:
    powers = [1 << 30]  # x^1
    for _ in range(31):
        powers.append(_multiply_mod_p(powers[-1], powers[-1]))
    return powers


_X_TO_2_TO_THE = _powers_of_x()  # x^(2^k) mod p


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``.

    >>> crc32_combine(zlib.crc32(b"stable "), zlib.crc32(b"baselines"), 9) == zlib.crc32(b"stable baselines")
    True

    :param crc1: CRC-32 of the first piece
    :param crc2: CRC-32 of the second piece
    :param length2: length of the second piece, in bytes
    :return: CRC-32 of the concatenation
    """
    # crc1 times x^(8 * length2), then add crc2 (zlib 1.2.12's algorithm)
    return _multiply_mod_p(_x_to_the_8n(length2), crc1) ^ crc2


@functools.lru_cache(maxsize=64)
def _x_to_the_8n(length: int) -> int:
    """``x^(8 * length) mod p``: O(log length) multiplications, cached (pieces mostly share a length)."""
    power = 1 << 31  # x^0
    exponent, k = length, 3
    while exponent:
        if exponent & 1:
            power = _multiply_mod_p(_X_TO_2_TO_THE[k & 31], power)
        exponent >>= 1
        k += 1
    return power
