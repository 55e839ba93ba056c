"""Zip members whose bytes are in memory: deflated when that makes them smaller, and read back.

Small members (the JSON members and the ``.npy`` members of arrays below
:data:`DEFLATE_MAX_BYTES`) are compressed with raw deflate (``ZIP_DEFLATED``, what every zip
reader, NumPy's ``np.load`` and Stable Baselines 2 read) at :data:`DEFLATE_LEVEL`, by ISA-L where
the ``isal`` package is installed (several times faster than zlib) and by zlib otherwise. Larger
arrays stay stored, so that :mod:`.params_codec` streams them from the file straight into their
arrays.

:func:`write_member` appends a member whose compressed bytes and CRC-32 are already known to a
``zipfile.ZipFile`` open for writing, as ``ZipFile.mkdir`` appends a directory: zipfile's own
writer would compress the bytes again (with zlib) and compute their CRC once per member.
:func:`read_member` is its reverse for a member of a seekable archive: its bytes, inflated with
at most the size the directory declares, checked against the declared size and CRC-32.

>>> import io
>>> buffer = io.BytesIO()
>>> with zipfile.ZipFile(buffer, "w") as archive:
...     write_member(archive, "data", b"{}" * 100, (2020, 1, 1, 0, 0, 0), compress=True)
>>> with zipfile.ZipFile(buffer) as archive:
...     (archive.getinfo("data").compress_type == zipfile.ZIP_DEFLATED, archive.read("data") == b"{}" * 100)
(True, True)
"""

from __future__ import annotations

import functools
import io
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from typing import IO

from stable_baselines_io.format._crc import crc32_function

#: A zip member's time: ``(year, month, day, hour, minute, second)``.
DateTime = tuple[int, int, int, int, int, int]

#: Arrays whose ``.npy`` bytes are below this size are deflated. Deflate gains 5-10 % on trained
#: float32 weights (more on biases and counters) at ~300 MB/s with ISA-L: a few tens of
#: microseconds for a small network's layers, but milliseconds for large layers, which stay
#: stored and are streamed straight into their arrays on load.
DEFLATE_MAX_BYTES = 64 * 1024
#: ISA-L's level 1 (of 0-3): as small as zlib's level 6 on agent files at 1/8 of zlib level 1's
#: time (ISA-L level 0 leaves a CartPole DQN file 9 % larger). zlib (the fallback) gets the same number.
DEFLATE_LEVEL = 1
#: Below this size ISA-L deflates at level 0: level 1 sets up ~10 us of tables per call, more than
#: its gain on a bias vector or a short JSON text (0.2 ms of a CartPole DQN save for 1.4 KB).
FAST_LEVEL_MAX_BYTES = 1024
_RAW_DEFLATE_WBITS = -15

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
_UTF8_NAME_FLAG = 0x800
#: Flag bits (encrypted, patched, strongly encrypted) that :func:`read_member` leaves to zipfile.
UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40
#: The attributes of a ``ZipFile`` (besides its ``_writecheck`` method) that :func:`write_member`
#: needs to append a member itself.
_ZIPFILE_WRITER_ATTRIBUTES = frozenset({"_lock", "_seekable", "_didModify", "start_dir", "fp", "filelist",
                                        "NameToInfo", "_writing"})


def now_date_time() -> DateTime:
    """:return: the current local time as a zip member's ``date_time``"""
    return time.localtime()[:6]  # type: ignore[return-value]


def member_info(name: str, date_time: DateTime) -> zipfile.ZipInfo:
    """A stored zip member written at ``date_time``, with zipfile's default permissions (``rw-------``).

    :param name: the member's name
    :param date_time: ``(year, month, day, hour, minute, second)``
    :return: the member's header
    """
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    return info


def zlib_deflate(data: bytes | memoryview) -> bytes:
    """Raw deflate with zlib at :data:`DEFLATE_LEVEL` (the fallback; ``zlib.compress`` takes
    ``wbits`` only from Python 3.11).

    :param data: the bytes
    :return: the deflated bytes
    """
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, _RAW_DEFLATE_WBITS)
    return compressor.compress(data) + compressor.flush()


@functools.cache
def deflate_function() -> Callable[[bytes | memoryview], bytes]:
    """Raw deflate: ISA-L's where ``isal`` is installed (level 0 below :data:`FAST_LEVEL_MAX_BYTES`,
    else :data:`DEFLATE_LEVEL`), else :func:`zlib_deflate`.

    :return: a function ``data -> deflated bytes``
    """
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib_deflate

    def isal_deflate(data: bytes | memoryview) -> bytes:
        level = 0 if len(data) < FAST_LEVEL_MAX_BYTES else DEFLATE_LEVEL
        return isal_zlib.compress(data, level, _RAW_DEFLATE_WBITS)  # type: ignore[no-any-return]

    return isal_deflate


@functools.cache
def _inflater() -> tuple[Callable[[], zlib._Decompress], tuple[type[Exception], ...]]:
    """A raw-inflate object factory (ISA-L's where installed) and the errors a bad stream raises."""
    try:
        from isal import isal_zlib
    except ImportError:
        return functools.partial(zlib.decompressobj, _RAW_DEFLATE_WBITS), (zlib.error,)
    return (functools.partial(isal_zlib.decompressobj, _RAW_DEFLATE_WBITS),  # type: ignore[return-value]
            (zlib.error, isal_zlib.error))


def write_member(archive: zipfile.ZipFile, name: str, payload: bytes | memoryview, date_time: DateTime,
                 compress: bool) -> None:
    """Append a member holding ``payload`` to ``archive``, deflated if ``compress`` and that is smaller.

    The bytes are deflated and their CRC-32 computed once, here; the member's local header
    carries its sizes and CRC (no data descriptor, whatever the stream). A ``ZipFile`` without
    the internals this relies on gets the same member through ``writestr``.

    :param archive: a zip archive open for writing, with no member open
    :param name: the member's name
    :param payload: its uncompressed bytes
    :param date_time: its time
    :param compress: deflate it (kept only if smaller than ``payload``)
    """
    info = member_info(name, date_time)
    data = payload
    if compress and payload:
        deflated = deflate_function()(payload)
        if len(deflated) < len(payload):
            info.compress_type, data = zipfile.ZIP_DEFLATED, deflated
    if not (vars(archive).keys() >= _ZIPFILE_WRITER_ATTRIBUTES and hasattr(archive, "_writecheck")) \
            or archive._writing:  # type: ignore[attr-defined]
        archive.writestr(info, bytes(payload), compresslevel=DEFLATE_LEVEL)
        return
    info.file_size, info.compress_size, info.CRC = len(payload), len(data), crc32_function()(payload)
    with archive._lock:  # type: ignore[attr-defined]
        if archive._seekable:  # type: ignore[attr-defined]
            archive.fp.seek(archive.start_dir)  # type: ignore[union-attr]
        info.header_offset = archive.fp.tell()  # type: ignore[union-attr]
        archive._writecheck(info)  # type: ignore[attr-defined]
        archive._didModify = True  # type: ignore[attr-defined]
        archive.fp.write(info.FileHeader(None))  # type: ignore[union-attr]
        archive.fp.write(data)  # type: ignore[union-attr]
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info
        archive.start_dir = archive.fp.tell()  # type: ignore[union-attr]


def member_data_start(stream: IO[bytes], info: zipfile.ZipInfo, metadata_encoding: str | None) -> int:
    """Check a member's local header as ``zipfile.ZipFile.open`` does (signature, name) and find its data.

    :param stream: the seekable archive
    :param info: the member, from the central directory
    :param metadata_encoding: the archive's encoding of names without the UTF-8 flag (None: cp437)
    :return: the offset of the member's first data byte, where ``stream`` is left
    :raises zipfile.BadZipFile: a truncated or bad local header, or a name that differs
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
    return stream.tell()


def read_member(stream: IO[bytes], info: zipfile.ZipInfo, metadata_encoding: str | None) -> bytes:
    """The bytes of a stored or deflated member, read straight from the archive's stream.

    At most ``info.file_size`` bytes are inflated: the caller charges that size to its budget
    before calling. A member that inflates to more or fewer bytes than declared, or whose CRC-32
    differs, is refused.

    :param stream: the seekable archive
    :param info: the member (stored or deflated, without :data:`UNSUPPORTED_FLAGS`)
    :param metadata_encoding: the archive's encoding of names without the UTF-8 flag
    :return: the member's uncompressed bytes
    :raises zipfile.BadZipFile: a bad local header, a size or CRC-32 that does not match
    :raises ValueError: another compression method
    """
    member_data_start(stream, info, metadata_encoding)
    raw = stream.read(info.compress_size)
    if len(raw) != info.compress_size:
        raise zipfile.BadZipFile(f"the member is truncated: {len(raw)} of its {info.compress_size} bytes")
    if info.compress_type == zipfile.ZIP_STORED:
        data = raw
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        new_inflater, errors = _inflater()
        inflater = new_inflater()
        try:
            data = inflater.decompress(raw, info.file_size)
            more = inflater.unconsumed_tail or (not inflater.eof and inflater.decompress(b"", 1))
        except errors as error:
            raise zipfile.BadZipFile(f"bad deflate stream: {error}") from error
        if more:
            raise zipfile.BadZipFile(f"the member inflates to more than its declared {info.file_size} bytes")
    else:
        raise ValueError(f"compression method {info.compress_type} is not read directly")
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(f"the member holds {len(data)} bytes, not the {info.file_size} it declares")
    if crc32_function()(data) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return data
