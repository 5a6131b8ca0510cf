"""The one error type for user mistakes.

Why: the CLI must turn every user mistake (a bad space file, an impossible architecture, a missing
corpus) into one clear line and exit code 2, while genuine bugs keep their traceback. Everything
that is the user's fault raises a subclass of `BortnasError`; nothing else is caught by the CLI.
"""

from __future__ import annotations


class BortnasError(Exception):
    """A mistake in what the user asked for or gave us; the message is the whole explanation."""


class ArchitectureError(BortnasError, ValueError):
    """An architecture whose dimensions cannot form a BERT encoder."""


class SpaceError(BortnasError, ValueError):
    """A search-space file or name that cannot be loaded."""


class DataError(BortnasError, ValueError):
    """A corpus, data set, teacher or checkpoint that cannot be used."""


class StoreError(BortnasError, RuntimeError):
    """A results folder or study storage that cannot be reached or written."""
