"""The CRC-32 fast path of the ``.npz`` reader and writer (private).

Zip checks every member with a CRC-32, and an array nested in the ``parameters`` member would have
its CRC computed once per zip level, on one core. This module computes it once, in pieces spread
over a few threads (``zlib.crc32`` releases the GIL), combines the pieces' CRCs
(:func:`crc32_combine`) and hands the result to every enclosing zip writer. Where the optional
``isal`` package is installed its CRC-32 (the same function, about ten times faster with carry-less
multiplication) replaces zlib's, on one thread beside the reads and writes.

>>> crc32_combine(zlib.crc32(b"stable "), zlib.crc32(b"baselines"), 9) == zlib.crc32(b"stable baselines")
True
"""

from __future__ import annotations

import contextlib
import functools
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

#: Data is checked in pieces of this size, so that the CRC of one piece runs on another core while
#: the next piece is read or written.
CRC_CHUNK_BYTES = 8 * 1024 * 1024
#: Arrays smaller than this are written with zipfile's own per-level CRC (cheaper than combining CRCs).
KNOWN_CRC_MIN_BYTES = 1024 * 1024
#: Threads computing CRCs; 1 computes them in the calling thread.
CRC_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))

_ZIP_MEMBER_WRITER = getattr(zipfile, "_ZipWriteFile", None)
_TELLABLE = getattr(zipfile, "_Tellable", None)


@functools.cache
def crc32_function() -> Callable[..., int]:
    """``zlib.crc32``, or the same function from ``isal`` (ISA-L) where it is installed.

    :return: a function ``(data, value=0) -> crc``
    """
    try:
        from isal.isal_zlib import crc32
    except ImportError:
        return zlib.crc32
    return crc32  # type: ignore[no-any-return]


@contextlib.contextmanager
def crc_pool(total_bytes: int) -> Iterator[ThreadPoolExecutor | None]:
    """Threads for CRCs when there is enough data to share out, else None.

    :param total_bytes: the bytes that will be checked
    :return: a context manager yielding the pool or None
    """
    zlib_crc = crc32_function() is zlib.crc32
    if total_bytes < 2 * CRC_CHUNK_BYTES or (zlib_crc and CRC_THREADS < 2):
        yield None
        return
    # One thread of ISA-L's CRC keeps up with the disk: it runs while the calling thread reads or writes.
    pool = ThreadPoolExecutor(CRC_THREADS if zlib_crc else 1, thread_name_prefix="crc32")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class PieceCrc:
    """The CRC-32 of data seen piece by piece, the pieces' CRCs computed on ``pool`` meanwhile.

    :param initial: the CRC of what came before the pieces
    :param pool: threads, or None to compute each piece's CRC when it is added
    """

    def __init__(self, initial: int = 0, pool: ThreadPoolExecutor | None = None):
        self._crc = initial
        self._pool = pool
        self._pending: list[tuple[Future[int], int]] = []

    def add(self, piece: memoryview) -> None:
        """Account for the next piece (which must not change until :meth:`value` is called).

        :param piece: the bytes
        """
        if self._pool is None:
            self._crc = crc32_function()(piece, self._crc)
        else:
            self._pending.append((self._pool.submit(crc32_function(), piece), len(piece)))

    def value(self) -> int:
        """:return: the CRC-32 of everything added"""
        for future, length in self._pending:
            self._crc = crc32_combine(self._crc, future.result(), length)
        self._pending = []
        return self._crc


def write_with_crc(file: IO[bytes], data: memoryview, pool: ThreadPoolExecutor | None) -> None:
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
    crc = PieceCrc(pool=pool if len(data) > CRC_CHUNK_BYTES else None)
    for start in range(0, len(data), CRC_CHUNK_BYTES):
        crc.add(data[start:start + CRC_CHUNK_BYTES])
    sink.write(data)  # type: ignore[attr-defined]
    value = crc.value()
    for writer in writers:
        writer._file_size += len(data)  # type: ignore[attr-defined]
        writer._crc = crc32_combine(writer._crc, value, len(data))  # type: ignore[attr-defined]
    for counter in counters:
        counter.offset += len(data)  # type: ignore[attr-defined]


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
