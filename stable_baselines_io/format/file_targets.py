"""Where agent files go: path resolution, atomic writes, and open binary file objects."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from stable_baselines_io.exceptions import AgentFileNotFoundError, SavePathIsADirectoryError, SaveTargetChangedError
from stable_baselines_io.type_aliases import FileTarget

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

ZIP_SUFFIX = ".zip"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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


#: Marks the temporary files of a save: ``.<name>.sbio-tmp-<16 random hex digits>`` beside the target.
TEMPORARY_MARK = ".sbio-tmp-"
_TEMPORARY_RANDOM_HEX = 16
#: Without ``fcntl`` (Windows), a leftover temporary file this old is taken as abandoned.
STALE_TEMPORARY_SECONDS = 24 * 3600


def temporary_name(path: Path) -> str:
    """A fresh, unpredictable name for the temporary file of a save to ``path``.

    :param path: the final file
    :return: a file name in ``path``'s folder
    """
    return f".{path.name}{TEMPORARY_MARK}{secrets.token_hex(_TEMPORARY_RANDOM_HEX // 2)}"


def is_temporary_of(name: str, path: Path) -> bool:
    """Whether ``name`` is the name of a temporary file of a save to ``path``.

    >>> is_temporary_of(".agent.zip.sbio-tmp-0123456789abcdef", Path("agent.zip"))
    True
    >>> is_temporary_of(".agent.zip.sbio-tmp-../../etc", Path("agent.zip"))
    False

    :param name: a file name
    :param path: the final file
    :return: True for one of ours
    """
    prefix = f".{path.name}{TEMPORARY_MARK}"
    token = name[len(prefix):]
    return name.startswith(prefix) and len(token) == _TEMPORARY_RANDOM_HEX and \
        all(character in "0123456789abcdef" for character in token)


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside ``path`` and rename it over ``path`` only on success.

    A crash or an exception while writing leaves any previous file at ``path`` untouched and no
    partial file behind. The temporary file is created exclusively under an unpredictable name
    (see :func:`temporary_name`), locked while it is written, given its permissions through its
    open descriptor, synced, and renamed only after checking that its name still refers to the
    file written (same device and inode, not a symlink): whoever can write to the folder cannot
    redirect the save. The new file gets the permissions of the file it replaces, or the default
    permissions for new files. Temporary files left by a killed save of the same target are
    removed first.

    :param path: the final file
    :return: a context manager yielding the temporary file, open for binary writing
    :raises AgentFileNotFoundError: the folder does not exist
    :raises SavePathIsADirectoryError: ``path`` is a directory
    :raises SaveTargetChangedError: the temporary file was replaced while it was written
    """
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise AgentFileNotFoundError("the folder to save into does not exist", path=path)
    if path.is_dir():
        raise SavePathIsADirectoryError("cannot save an agent onto a directory: give a file name", path=path)
    remove_abandoned_temporaries(path)
    mode = _mode_for(path)
    temporary = directory / temporary_name(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
    try:
        _lock(descriptor)
        written = os.fstat(descriptor)
        with os.fdopen(descriptor, "wb", closefd=False) as file:
            yield file
            file.flush()
        os.fchmod(descriptor, mode)
        os.fsync(descriptor)
        _before_rename(temporary)
        _check_still_ours(temporary, written, path)
        try:
            os.replace(temporary, path)
        except IsADirectoryError as error:  # a directory appeared at the target meanwhile
            raise SavePathIsADirectoryError("cannot save an agent onto a directory: give a file name",
                                            path=path) from error
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # removes the name only: never follows a symlink swapped in
        raise
    finally:
        os.close(descriptor)
    _fsync_directory(directory)


def _before_rename(temporary: Path) -> None:
    """Runs between the last write and the checks before the rename (a seam for tests)."""


def _check_still_ours(temporary: Path, written: os.stat_result, path: Path) -> None:
    try:
        current = os.lstat(temporary)
    except FileNotFoundError as error:
        raise SaveTargetChangedError("the temporary file of the save was removed while it was written",
                                     path=path, member=temporary.name) from error
    if stat.S_ISLNK(current.st_mode) or (current.st_dev, current.st_ino) != (written.st_dev, written.st_ino):
        raise SaveTargetChangedError(
            "the temporary file of the save was replaced while it was written (by a symlink or another file): "
            "refusing to rename it over the target; is someone else writing to this folder?",
            path=path, member=temporary.name,
        )


def remove_abandoned_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that killed saves to ``path`` left behind.

    Only files named as ours for this target (:func:`is_temporary_of`), regular files owned by
    this user, and not in use: a save in progress holds a lock on its temporary file (or, where
    locks are not available, the file is younger than :data:`STALE_TEMPORARY_SECONDS`).

    :param path: the final file
    :return: the files removed
    """
    directory = path.parent if str(path.parent) else Path(".")
    removed = []
    with contextlib.suppress(OSError):
        names = [name for name in os.listdir(directory) if is_temporary_of(name, path)]
        for name in names:
            candidate = directory / name
            if _is_abandoned(candidate):
                with contextlib.suppress(OSError):
                    os.unlink(candidate)
                    removed.append(candidate)
    return removed


def _is_abandoned(candidate: Path) -> bool:
    try:
        info = os.lstat(candidate)
        if not stat.S_ISREG(info.st_mode) or (hasattr(os, "geteuid") and info.st_uid != os.geteuid()):
            return False
        if fcntl is None:
            return time.time() - info.st_mtime > STALE_TEMPORARY_SECONDS
        descriptor = os.open(candidate, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if (os.fstat(descriptor).st_ino, os.fstat(descriptor).st_dev) != (info.st_ino, info.st_dev):
            return False
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True  # nobody holds it: the save that wrote it is gone
    except OSError:
        return False
    finally:
        os.close(descriptor)


def _lock(descriptor: int) -> None:
    """Mark the temporary file as in use until it is closed (see :func:`remove_abandoned_temporaries`)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):  # file systems without locks: the file just looks abandoned sooner
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
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

    A file object that cannot seek is read into memory first. A seekable one is read from where it
    is positioned, except that one positioned at its end (left there by a ``save`` into it, not
    rewound) is read from its beginning, where that save wrote the archive. An empty one stays empty.

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
    else:
        position = stream.tell()
        stream.seek(0 if position == stream.seek(0, io.SEEK_END) else position)
    yield stream, description


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError):
        return False
