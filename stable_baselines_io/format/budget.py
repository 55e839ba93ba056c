"""One budget per load: the bytes and objects a file may make the reader produce.

A file's declared sizes cannot be trusted, so the limit depends only on the file's real size and
on the caller: ``max(MIN_BUDGET_BYTES, BUDGET_PER_FILE_BYTE * file size)`` unless ``max_bytes`` is
given. Every reader of one load (archive members, nested compressed streams, pickles, JSON
codecs) charges the same :class:`LoadBudget`, so limits add up across members and nesting levels
instead of multiplying.

>>> budget = LoadBudget.for_file(file_size=1_000, source="agent.zip")
>>> budget.limit == MIN_BUDGET_BYTES
True
>>> budget.charge(1_024, "the 'data' member")
>>> budget.used
1024
"""

from __future__ import annotations

from collections.abc import Callable

from stable_baselines_io.exceptions import LoadBudgetExceededError

#: The smallest budget, whatever the file's size.
MIN_BUDGET_BYTES = 64 * 1024 * 1024
#: Decompressed bytes allowed per byte of file (deflate's best ratio is about 1032:1).
BUDGET_PER_FILE_BYTE = 1100
#: What one rebuilt object (a list, dict, string, record...) counts for, beyond its own bytes.
OBJECT_OVERHEAD_BYTES = 64


class LoadBudget:
    """Counts what one load has produced against its limit.

    :param limit: the most bytes this load may produce
    :param source: the file, named in errors
    """

    def __init__(self, limit: int, source: str | None = None):
        if limit < 0:
            raise ValueError(f"a load budget must be at least 0 bytes, received {limit}")
        self.limit = limit
        self.source = source
        self.used = 0

    @classmethod
    def for_file(cls, file_size: int | None, max_bytes: int | None = None, source: str | None = None) -> LoadBudget:
        """The budget for loading a file of ``file_size`` bytes.

        :param file_size: the file's real size (not one it declares); None when unknown
        :param max_bytes: the caller's limit, replacing the default
        :param source: the file, named in errors
        :return: a fresh budget
        """
        if max_bytes is None:
            max_bytes = max(MIN_BUDGET_BYTES, BUDGET_PER_FILE_BYTE * (file_size or 0))
        return cls(max_bytes, source)

    def remaining(self) -> int:
        """:return: the bytes still allowed"""
        return self.limit - self.used

    def charge(self, n_bytes: int, what: str | Callable[[], str], member: str | None = None) -> None:
        """Count ``n_bytes`` more, or refuse them.

        :param n_bytes: the bytes about to be produced (decompressed, allocated or rebuilt)
        :param what: what they are for, named in the error (or a function that says it, called
            only for the error)
        :param member: the archive member or data key concerned
        :raises LoadBudgetExceededError: the load would go over its limit
        """
        if n_bytes > self.limit - self.used:
            what = what() if callable(what) else what
            raise LoadBudgetExceededError(
                f"loading would exceed the load budget of {self.limit:,} bytes: {what} needs {n_bytes:,} more "
                f"bytes after {self.used:,} already used. If you trust this file, raise the limit with "
                "max_bytes=... (e.g. load(path, max_bytes=2**34))",
                path=self.source,
                member=member,
            )
        self.used += n_bytes

    def charge_objects(self, count: int, what: str, member: str | None = None) -> None:
        """Count ``count`` rebuilt objects (containers, strings, records) at a fixed size each.

        :param count: how many objects
        :param what: what they are, named in the error
        :param member: the archive member or data key concerned
        :raises LoadBudgetExceededError: the load would go over its limit
        """
        self.charge(count * OBJECT_OVERHEAD_BYTES, what, member)
