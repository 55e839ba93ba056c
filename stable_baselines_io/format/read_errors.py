"""Every failure of a read is the library's: raw errors from damaged bytes become our exceptions.

Whatever a file holds, a reader raises an exception from :mod:`stable_baselines_io.exceptions`
naming the file and the member, never ``zlib.error``, ``struct.error``, ``RecursionError``...

>>> try:
...     with reported_as_corrupt("agent.zip", "metadata"):
...         int("ten")
... except CorruptAgentFileError as error:
...     print(error)
cannot read it: invalid literal for int() with base 10: 'ten' (file 'agent.zip', member 'metadata')
"""

from __future__ import annotations

import contextlib
import lzma
import pickle
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Iterator

from stable_baselines_io.exceptions import CorruptAgentFileError, LoadBudgetExceededError, StableBaselinesIOError

#: What damaged bytes make the standard library and NumPy raise while reading. ``OSError`` covers
#: ``bz2`` and bad seeks, ``ValueError`` covers ``JSONDecodeError`` and ``UnicodeDecodeError``,
#: ``LookupError`` covers ``KeyError`` and ``IndexError``, ``RuntimeError`` an encrypted member.
RAW_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, pickle.UnpicklingError, OSError, EOFError, ValueError,
    TypeError, AttributeError, LookupError, struct.error, OverflowError, RecursionError, NotImplementedError,
    RuntimeError, ArithmeticError, AssertionError, SyntaxError, tokenize.TokenError,  # the last two: .npy headers
)


#: What a read of damaged or hostile bytes can raise: :data:`RAW_READ_ERRORS` and ``MemoryError``.
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (MemoryError, *RAW_READ_ERRORS)
#: The longest quote of a low-level error in our messages.
MAX_CAUSE_CHARS = 300


@contextlib.contextmanager
def reported_as_corrupt(source: str | None, member: str | None = None, what: str = "cannot read it") -> Iterator[None]:
    """Turn a raw error raised inside the block into :class:`CorruptAgentFileError`.

    The library's own exceptions pass unchanged; ``MemoryError`` becomes
    :class:`LoadBudgetExceededError` (also a ``MemoryError``).

    :param source: the file, named in the error
    :param member: the member or key being read, named in the error
    :param what: the start of the message
    :return: a context manager
    """
    try:
        yield
    except StableBaselinesIOError:
        raise
    except DAMAGE_ERRORS as error:
        raise as_corrupt(error, source, member, what) from error


def as_corrupt(error: BaseException, source: str | None, member: str | None, what: str) -> CorruptAgentFileError:
    """The library's exception for a raw ``error`` (for hot loops, where a ``try`` costs less than a
    ``with reported_as_corrupt(...)``; raise it ``from error``).

    :param error: one of :data:`DAMAGE_ERRORS`
    :param source: the file
    :param member: the member or key
    :param what: the start of the message
    :return: the exception to raise
    """
    if isinstance(error, MemoryError):
        return LoadBudgetExceededError(
            f"{what}: ran out of memory ({error!r}); the file asks for more than this machine has",
            path=source, member=member,
        )
    return CorruptAgentFileError(f"{what}: {error_text(error)}", path=source, member=member)


def error_text(error: BaseException) -> str:
    """The message alone where it says what happened, else the error's type and message; shortened
    (zipfile quotes whole damaged headers)."""
    text = str(error)
    text = text if text and isinstance(error, (ValueError, OSError, EOFError, zipfile.BadZipFile)) else repr(error)
    return text if len(text) <= MAX_CAUSE_CHARS else text[:MAX_CAUSE_CHARS] + "..."
