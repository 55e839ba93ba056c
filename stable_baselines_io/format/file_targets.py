"""Where agent files go: path resolution, atomic writes, and open binary file objects."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from stable_baselines_io.exceptions import AgentFileNotFoundError
from stable_baselines_io.type_aliases import FileTarget

ZIP_SUFFIX = ".zip"


def is_path(target: FileTarget) -> bool:
    """Whether ``target`` is a file system path (``str`` or ``os.PathLike``) rather than a file object.

    :param target: a path or a binary file object
    :return: True for a path
    """
    return isinstance(target, (str, os.PathLike))


def describe_target(target: FileTarget) -> str:
    """A short description of a path or file object, for error messages.

    :param target: a path or a binary file object
    :return: the path, or the file object's name or type
    """
    if is_path(target):
        return os.fspath(target)  # type: ignore[arg-type]
    name = getattr(target, "name", None)
    return name if isinstance(name, str) else f"<{type(target).__name__}>"


def resolve_save_path(save_path: str | os.PathLike[str]) -> Path:
    """The path a save writes to: ``.zip`` is appended when the path has no extension.

    :param save_path: the path given by the user
    :return: the resolved path
    """
    path = Path(save_path)
    return path if path.suffix else path.with_name(path.name + ZIP_SUFFIX)


def resolve_load_path(load_path: str | os.PathLike[str]) -> Path:
    """The file a load reads: the path itself, else the path with ``.zip`` appended.

    :param load_path: the path given by the user
    :return: an existing file
    :raises AgentFileNotFoundError: when neither exists
    """
    path = Path(load_path)
    if path.is_file():
        return path
    with_suffix = path.with_name(path.name + ZIP_SUFFIX)
    if not path.suffix and with_suffix.is_file():
        return with_suffix
    if path.exists():
        raise AgentFileNotFoundError("the path exists but is not a file", path=path)
    tried = f" (nor {with_suffix})" if not path.suffix else ""
    raise AgentFileNotFoundError(f"the file could not be found{tried}", path=path)


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside ``path`` and rename it over ``path`` only on success.

    A crash or an exception while writing leaves any previous file at ``path`` untouched and no
    partial file behind. The new file gets the permissions of the file it replaces, or the
    default permissions for new files.

    :param path: the final file
    :return: a context manager yielding the temporary file, open for binary writing
    """
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise AgentFileNotFoundError("the folder to save into does not exist", path=path)
    handle, temporary_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def open_for_reading(load_path: FileTarget) -> Iterator[tuple[IO[bytes], str]]:
    """Open a path, or take a caller's file object (left open), as a seekable binary stream.

    A file object that cannot seek is read into memory first.

    :param load_path: a path or a binary file object
    :return: a context manager yielding ``(stream, description)``
    """
    if is_path(load_path):
        path = resolve_load_path(load_path)  # type: ignore[arg-type]
        with open(path, "rb") as file:
            yield file, str(path)
        return
    stream: IO[bytes] = load_path  # type: ignore[assignment]
    description = describe_target(load_path)
    if not _is_seekable(stream):
        stream = io.BytesIO(stream.read())
    yield stream, description


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError):
        return False
