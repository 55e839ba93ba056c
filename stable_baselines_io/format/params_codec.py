"""The ``parameters`` member: an ordered name -> array mapping <-> a NumPy ``.npz`` archive.

Arrays are streamed: each is written straight into its ``<name>.npy`` member and read straight
out of it in chunks, so no copy of the whole parameter set is ever held in memory. Arrays are
never pickled (``allow_pickle=False``): object arrays are refused on save and on load.

>>> params = OrderedDict([("model/pi/w:0", np.ones((2, 3), dtype=np.float32))])
>>> bytes_to_params(params_to_bytes(params), ["model/pi/w:0"])["model/pi/w:0"].shape
(2, 3)
"""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import IO

import numpy as np

from stable_baselines_io.exceptions import CorruptAgentFileError, SerializationError
from stable_baselines_io.type_aliases import ParamDict

NPY_SUFFIX = ".npy"
READ_CHUNK_BYTES = 16 * 1024 * 1024
#: Sizes above this are written with zip64 headers (zip's 32-bit limit, with room for headers).
ZIP64_THRESHOLD = 2**31
#: Deflate cannot expand data more than about 1032 times; a larger declared ratio is a zip bomb.
MAX_COMPRESSION_RATIO = 1100


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
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in params.items():
            array = np.asanyarray(value)
            if array.dtype.hasobject:
                raise SerializationError(f"parameter {name!r} is an array of Python objects, which cannot be saved "
                                         "without pickle")
            member_size = array.nbytes + 4096
            with archive.open(name + NPY_SUFFIX, "w", force_zip64=member_size > ZIP64_THRESHOLD) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


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
                with archive.open(info) as file:
                    params[name] = read_array(file, info.file_size)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as error:
                # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method
                raise CorruptAgentFileError(f"cannot read the array: {error}", path=source, member=member) from error
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
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
    elif version in ((2, 0), (3, 0)):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(file)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ValueError("the array holds pickled Python objects, which are never loaded")
    header_size = file.tell() if hasattr(file, "tell") else None
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    data_size = count * dtype.itemsize
    if header_size is not None and header_size + data_size != member_size:
        raise ValueError(
            f"the array header declares shape {shape} of {dtype} ({data_size} bytes) but the member holds "
            f"{member_size - header_size} bytes"
        )
    array = np.empty(count, dtype=dtype)
    view = memoryview(array.view(np.uint8).reshape(-1)) if data_size else memoryview(b"")
    offset = 0
    while offset < data_size:
        received = file.readinto(view[offset:offset + READ_CHUNK_BYTES])  # type: ignore[attr-defined]
        if not received:
            raise ValueError(f"the array is truncated: {offset} of {data_size} bytes")
        offset += received
    if fortran_order:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)
