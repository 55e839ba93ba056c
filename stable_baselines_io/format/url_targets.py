"""Agent files at fsspec URLs (``s3://``, ``gs://``, ``memory://``...): atomic writes, ranged reads.

A target is a URL when it is a ``str`` that starts with ``<protocol>://``. ``file://`` URLs are
turned into local paths and take the local code path (:mod:`.file_targets`: a temporary file
renamed into place). Every other protocol goes through `fsspec <https://filesystem-spec.readthedocs.io>`_,
imported only when a URL is used: ``fsspec`` and the backend packages (``s3fs``, ``gcsfs``...) are
optional extras.

Writes use fsspec's transactional mode (``autocommit=False``): nothing appears at the key until
the whole archive is written and the file is committed (one PUT, or the completion of a multipart
upload on object stores); an exception discards the upload. Reads go through the backend's
ranged reads in :data:`READ_BLOCK_BYTES` blocks: a big agent is never copied whole into memory.

>>> with open_target_for_writing("memory://doc/agent.zip") as file:
...     _ = file.write(b"PK")
>>> with open_target_for_reading("memory://doc/agent") as (stream, source):
...     (stream.read(), source)
(b'PK', 'memory://doc/agent.zip')
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote, urlsplit

from stable_baselines_io.exceptions import (
    AgentFileNotFoundError,
    SavePathIsADirectoryError,
    StorageBackendMissingError,
    StorageCredentialsError,
)
from stable_baselines_io.format.file_targets import (
    ZIP_SUFFIX,
    atomic_write,
    is_path,
    open_for_reading,
    resolve_load_path,
    resolve_save_path,
)
from stable_baselines_io.type_aliases import FileTarget, StorageOptions

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_LOCAL_PROTOCOLS = ("file", "local")
#: Bytes fetched per ranged read, and the most bytes one ``readinto`` copies at a time: a 1 GB agent
#: takes about 64 requests and never more than a few blocks of memory beyond its arrays.
READ_BLOCK_BYTES = 8 * 2**20
#: Blocks kept by the reader (least recently used dropped): the zip's first and last blocks stay
#: while a member is read, so each block is fetched once.
READ_CACHE_BLOCKS = 2
#: Backends whose files honour ``autocommit=False`` (nothing visible before ``commit``): they are
#: written as a stream. Every other backend is written with one ``pipe_file`` of the whole archive.
TRANSACTIONAL_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
#: The install command that provides fsspec itself.
FSSPEC_INSTALL = 'pip install "stable-baselines-io[fsspec]"'
#: Install commands for the backends of common protocols (fsspec's own hint names the others).
BACKEND_INSTALLS = {
    "s3": 'pip install "stable-baselines-io[s3]"', "s3a": 'pip install "stable-baselines-io[s3]"',
    "gs": "pip install gcsfs", "gcs": "pip install gcsfs",
    "az": "pip install adlfs", "abfs": "pip install adlfs", "abfss": "pip install adlfs", "adl": "pip install adlfs",
    "hf": "pip install huggingface_hub", "sftp": "pip install paramiko", "ssh": "pip install paramiko",
}
#: Names of the credential errors of botocore and google-auth (matched by name: neither is imported here).
_CREDENTIAL_ERRORS = frozenset({"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                                "DefaultCredentialsError", "RefreshError", "ClientAuthenticationError"})


def is_url(target: object) -> bool:
    """Whether ``target`` is a URL (``<protocol>://...``) rather than a local path or a file object.

    >>> is_url("s3://bucket/agent.zip"), is_url("agents/agent.zip"), is_url(Path("s3://x"))
    (True, False, False)

    :param target: a path, a URL or a file object
    :return: True for a ``str`` URL
    """
    return isinstance(target, str) and _URL.match(target) is not None


def _protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def _local_path(url: str) -> str | None:
    """The local path of a ``file://`` URL, None for any other URL."""
    if _protocol(url) not in _LOCAL_PROTOCOLS:
        return None
    parts = urlsplit(url)
    return unquote(parts.netloc + parts.path) if parts.netloc not in ("", "localhost") else unquote(parts.path)


def url_filesystem(url: str, storage_options: StorageOptions | None = None) -> tuple[Any, str]:
    """The fsspec file system of a URL and the path inside it.

    Options come from ``storage_options``, merged over fsspec's configuration (``FSSPEC_<PROTOCOL>``
    and ``FSSPEC_<PROTOCOL>_<OPTION>`` environment variables); the backends read their own
    environment too (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``...).

    :param url: a URL, e.g. ``s3://bucket/agents/ppo.zip``
    :param storage_options: options for the backend (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``)
    :return: ``(filesystem, path)``
    :raises StorageBackendMissingError: fsspec, or the protocol's backend package, is not installed
    """
    try:
        import fsspec
    except ImportError as error:
        raise StorageBackendMissingError(f"reading and writing URLs needs fsspec: {FSSPEC_INSTALL}",
                                         path=url) from error
    protocol = _protocol(url)
    try:
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as error:
        install = BACKEND_INSTALLS.get(protocol, f"install the fsspec backend of {protocol!r}")
        raise StorageBackendMissingError(f"no fsspec backend for {protocol}:// URLs is installed ({error}): "
                                         f"{install}", path=url) from error
    except ValueError as error:
        if protocol in fsspec.available_protocols():
            raise
        raise StorageBackendMissingError(f"fsspec knows no protocol {protocol!r}: check the URL, or install the "
                                         "package that registers this protocol with fsspec", path=url) from error


def resolve_url_save_path(url: str) -> str:
    """The URL a save writes to: ``.zip`` is appended when the last part has no extension.

    >>> resolve_url_save_path("s3://bucket/agents/ppo"), resolve_url_save_path("memory://a/b.zip")
    ('s3://bucket/agents/ppo.zip', 'memory://a/b.zip')

    :param url: the URL given by the user
    :return: the resolved URL
    """
    return url if posixpath.splitext(posixpath.basename(url.rstrip("/")))[1] else url + ZIP_SUFFIX


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn a backend's missing-object and credential errors into the library's, naming ``url``.

    :param url: the URL being read or written
    :return: a context manager
    :raises AgentFileNotFoundError: the object or its bucket does not exist
    :raises StorageCredentialsError: no credentials, or credentials the store refuses
    """
    try:
        yield
    except FileNotFoundError as error:
        if isinstance(error, AgentFileNotFoundError):
            raise
        raise AgentFileNotFoundError(f"the object could not be found ({error})", path=url) from error
    except Exception as error:
        if not _is_credential_error(error):
            raise
        raise StorageCredentialsError(
            f"the store refused the credentials, or found none ({type(error).__name__}: {error}); give them "
            "through the backend's environment variables (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for s3://) "
            "or storage_options (e.g. {'key': ..., 'secret': ...})", path=url) from error


def _is_credential_error(error: BaseException) -> bool:
    if isinstance(error, (PermissionError, StorageCredentialsError)):
        return True
    return any(kind.__name__ in _CREDENTIAL_ERRORS for kind in type(error).__mro__)


@contextlib.contextmanager
def open_url_for_writing(url: str, storage_options: StorageOptions | None = None) -> Iterator[IO[bytes]]:
    """Write to ``url`` so that readers see the previous object or the whole new one, never a part.

    On the backends of :data:`TRANSACTIONAL_PROTOCOLS` the file is opened with ``autocommit=False``:
    the backend holds the bytes (s3fs: a buffer, then the parts of a multipart upload) and publishes
    them only at ``commit`` (one PUT or ``CompleteMultipartUpload``). On an exception the upload is
    discarded (the multipart upload aborted); a killed process leaves at most an incomplete
    multipart upload, invisible to readers. Other backends (``memory://``, or any fsspec backend
    not listed) get the whole archive buffered in memory and written by one ``pipe_file`` call.
    The stream is not seekable, so the zip writer streams (data descriptors after each member).

    :param url: the URL of the object (``.zip`` is not appended here, see :func:`resolve_url_save_path`)
    :param storage_options: options for the backend
    :return: a context manager yielding the open binary stream
    :raises SavePathIsADirectoryError: ``url`` is a folder
    """
    filesystem, path = url_filesystem(url, storage_options)
    with storage_errors(url):
        if filesystem.isdir(path):
            raise SavePathIsADirectoryError("cannot save an agent onto a folder: give a file name", path=url)
    if _protocol(url) not in TRANSACTIONAL_PROTOCOLS:
        buffer = io.BytesIO()
        yield cast(IO[bytes], _WriteOnly(buffer))
        with storage_errors(url):
            filesystem.pipe_file(path, buffer.getvalue())
        return
    with storage_errors(url):
        file = filesystem.open(path, "wb", autocommit=False)
    try:
        with storage_errors(url):
            yield cast(IO[bytes], _WriteOnly(file))
            file.close()
            file.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            file.discard()
        _mark_closed(file)
        raise


def _mark_closed(file: Any) -> None:
    """Close a discarded file without flushing it: a flush would start a new upload of what is left."""
    try:
        file.closed = True
    except AttributeError:  # a plain io object (memory://): nothing to flush
        file.close()


@contextlib.contextmanager
def open_url_for_reading(url: str, storage_options: StorageOptions | None = None,
                         block_bytes: int = READ_BLOCK_BYTES) -> Iterator[tuple[IO[bytes], str]]:
    """Open the object at ``url`` (else ``url + ".zip"`` when ``url`` has no extension) for ranged reads.

    :param url: the URL of an agent file
    :param storage_options: options for the backend
    :param block_bytes: bytes per ranged request, and per copy into a caller's buffer
    :return: a context manager yielding ``(stream, url read)``
    :raises AgentFileNotFoundError: neither object exists
    """
    filesystem, path = url_filesystem(url, storage_options)
    has_suffix = bool(posixpath.splitext(posixpath.basename(url))[1])
    candidates = [(url, path)] if has_suffix else [(url, path), (url + ZIP_SUFFIX, path + ZIP_SUFFIX)]
    with storage_errors(url):
        found = next((candidate for candidate in candidates if filesystem.isfile(candidate[1])), None)
        if found is None:
            tried = "" if has_suffix else f" (nor {url + ZIP_SUFFIX})"
            raise AgentFileNotFoundError(f"the object could not be found{tried}", path=url)
        file = filesystem.open(found[1], "rb", block_size=block_bytes, cache_type="blockcache",
                               cache_options={"maxblocks": READ_CACHE_BLOCKS})
    with file:
        yield cast(IO[bytes], _RangedReader(file, block_bytes)), found[0]


class _WriteOnly(io.RawIOBase):
    """A backend's write stream presented as not seekable, whatever the backend (an in-memory file
    can seek): every backend then receives the same bytes, written once, in order."""

    def __init__(self, file: Any):
        super().__init__()
        self._file = file

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        written = self._file.write(data)
        return len(memoryview(data)) if written is None else int(written)

    def tell(self) -> int:
        return int(self._file.tell())

    def flush(self) -> None:
        """Leave the backend to buffer: a forced flush would start an upload part early."""

    def close(self) -> None:
        """The context manager closes and commits the backend's file, not this view."""


class _RangedReader(io.RawIOBase):
    """A seekable view of a backend's read stream whose ``readinto`` copies block by block, so that
    an array read straight into its own memory never needs a second copy of its size."""

    def __init__(self, file: Any, block_bytes: int):
        super().__init__()
        self._file = file
        self._block_bytes = block_bytes
        self.name = f"{file.fs.protocol[0] if isinstance(file.fs.protocol, tuple) else file.fs.protocol}://" \
                    f"{file.path}"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._file.seek(offset, whence))

    def tell(self) -> int:
        return int(self._file.tell())

    def read(self, size: int | None = -1) -> bytes:
        return bytes(self._file.read(-1 if size is None else size))

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            block = self._file.read(min(self._block_bytes, len(view) - filled))
            if not block:
                break
            view[filled:filled + len(block)] = block
            filled += len(block)
        return filled


@contextlib.contextmanager
def open_target_for_writing(save_path: FileTarget, storage_options: StorageOptions | None = None
                            ) -> Iterator[IO[bytes]]:
    """Open where a save writes: a URL, a local path (atomic rename) or a caller's file object (left open).

    ``.zip`` is appended to a path or URL without extension.

    :param save_path: a URL, a path or a binary file object
    :param storage_options: options for a URL's backend
    :return: a context manager yielding a binary stream open for writing
    """
    url = _remote(save_path)
    if url is not None:
        with open_url_for_writing(resolve_url_save_path(url), storage_options) as file:
            yield file
    elif isinstance(save_path, (str, os.PathLike)):
        with atomic_write(resolve_save_path(_local(save_path))) as file:
            yield file
    else:
        yield save_path


@contextlib.contextmanager
def open_target_for_reading(load_path: FileTarget, storage_options: StorageOptions | None = None
                            ) -> Iterator[tuple[IO[bytes], str]]:
    """Open what a load reads: a URL (ranged reads), a local path or a caller's file object (left open).

    :param load_path: a URL, a path (``agent`` finds ``agent.zip``) or a binary file object
    :param storage_options: options for a URL's backend
    :return: a context manager yielding ``(seekable stream, description)``
    """
    url = _remote(load_path)
    if url is not None:
        opened = open_url_for_reading(url, storage_options)
    else:
        opened = open_for_reading(_local(load_path) if is_url(load_path) else load_path)  # type: ignore[arg-type]
    with opened as stream_and_source:
        yield stream_and_source


def local_load_path(target: FileTarget) -> Path | None:
    """The local file a load of ``target`` reads (``agent`` finds ``agent.zip``; ``file://`` URLs
    too), or None for a remote URL or a file object.

    :param target: what ``load`` was given
    :return: the path, or None
    """
    if not is_path(target) or _remote(target) is not None:
        return None
    return resolve_load_path(_local(target))  # type: ignore[arg-type]


def _remote(target: object) -> str | None:
    """The URL of a target that fsspec handles; None for local paths, ``file://`` URLs and file objects."""
    return target if is_url(target) and _local_path(target) is None else None  # type: ignore[arg-type, return-value]


def _local(target: str | os.PathLike[str]) -> Path:
    """The local path of a path or a ``file://`` URL."""
    return Path((_local_path(target) if is_url(target) else None) or target)  # type: ignore[arg-type]


def join_target(folder: str | os.PathLike[str], name: str) -> str | Path:
    """``name`` inside ``folder``: a URL for a URL folder, else a path.

    >>> join_target("s3://bucket/run/", "agent.zip"), join_target("run", "agent.zip")
    ('s3://bucket/run/agent.zip', PosixPath('run/agent.zip'))

    :param folder: a URL or a local folder
    :param name: a file name
    :return: the URL or path
    """
    url = _remote(folder)
    return f"{url.rstrip('/')}/{name}" if url is not None else _local(folder) / name


def make_folder(folder: str | os.PathLike[str], storage_options: StorageOptions | None = None) -> None:
    """Create a local folder and its parents; for a URL, whatever the backend needs (object stores:
    nothing, keys need no folder).

    :param folder: a URL or a local folder
    :param storage_options: options for a URL's backend
    """
    url = _remote(folder)
    if url is None:
        _local(folder).mkdir(parents=True, exist_ok=True)
        return
    filesystem, path = url_filesystem(url, storage_options)
    with storage_errors(url):
        filesystem.makedirs(path, exist_ok=True)


def list_folder(folder: str | os.PathLike[str], storage_options: StorageOptions | None = None) -> list[str]:
    """The names of the files directly inside ``folder`` (none if it does not exist).

    :param folder: a URL or a local folder
    :param storage_options: options for a URL's backend
    :return: file names
    """
    url = _remote(folder)
    if url is None:
        local = _local(folder)
        return [entry.name for entry in local.iterdir() if entry.is_file()] if local.is_dir() else []
    filesystem, path = url_filesystem(url, storage_options)
    with storage_errors(url):
        if not filesystem.isdir(path):
            return []
        entries = filesystem.ls(path, detail=True, refresh=True)
    return [posixpath.basename(entry["name"].rstrip("/")) for entry in entries if entry.get("type") == "file"]


def remove_target(target: str | os.PathLike[str], storage_options: StorageOptions | None = None) -> None:
    """Delete one file or object.

    :param target: a URL or a local path
    :param storage_options: options for a URL's backend
    """
    url = _remote(target)
    if url is None:
        _local(target).unlink()
        return
    filesystem, path = url_filesystem(url, storage_options)
    with storage_errors(url):
        filesystem.rm_file(path)


def write_bytes(target: str | os.PathLike[str], data: bytes, storage_options: StorageOptions | None = None) -> None:
    """Write a whole small file atomically (e.g. ``evaluations.npz``) to a URL or a local path.

    :param target: a URL or a local path (used as given: no suffix is appended)
    :param data: the contents
    :param storage_options: options for a URL's backend
    """
    url = _remote(target)
    opened = atomic_write(_local(target)) if url is None else open_url_for_writing(url, storage_options)
    with opened as file:
        file.write(data)
