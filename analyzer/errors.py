"""The exceptions a user sees. Each renders as one line (a rubric: one line per problem).

The CLI turns every `AnalyzerError` into a `click.ClickException` in one place; the library
never prints and never imports click.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class AnalyzerError(Exception):
    """Base class: something the user can fix, with a message that says what."""


class InputError(AnalyzerError):
    """A file that cannot be used: missing, unreadable, of an unknown format, empty."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class TranscriptError(InputError):
    """A transcript file that cannot be read into turns."""


class RubricError(AnalyzerError):
    """An invalid rubric. Carries every problem found, each with its location."""

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{self.path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class RoleError(AnalyzerError):
    """The rep cannot be decided as asked (e.g. `--rep` names nobody on the call)."""


class ModelError(AnalyzerError):
    """A speech model that cannot be found or loaded; the message says what file to place where."""


class AudioError(InputError):
    """An audio file that cannot be decoded: empty, truncated, not audio, too long."""


class ConfigError(AnalyzerError):
    """An invalid analyzer.toml: every problem with its location, on one line."""


class BatchBusyError(AnalyzerError):
    """Another batch run holds the database."""


class StoreError(AnalyzerError):
    """The database cannot be used: unwritable path, not a database, a newer schema, busy."""


class UserError(AnalyzerError):
    """A user account that cannot be made or found: a taken name, a weak password, no such user."""


class NotFoundError(AnalyzerError):
    """No such call (or item) in the database: a 404 on the web."""


class ForbiddenError(AnalyzerError):
    """The user may not see or change this: a rep opening another rep's call, a rep confirming."""


class ReviewError(AnalyzerError):
    """A review that cannot be stored as sent: an unknown item or status (a 422 on the web).

    `field` names the part of the request at fault, e.g. `items[2].status`; `location` says
    where that part is sent: "body" or "query".
    """

    def __init__(self, field: str, problem: str, location: str = "body") -> None:
        self.field = field
        self.problem = problem
        self.location = location
        super().__init__(f"{field}: {problem}")


class ConflictError(AnalyzerError):
    """Someone changed the call since the page was loaded: reload and review again (a 409)."""


class GoldenSetError(AnalyzerError):
    """A golden set that cannot be evaluated as labelled: every problem found, one line each,
    each naming its file (and, for the labels file, the row's line)."""

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{self.path}: {count} problem{'s' if count != 1 else ''}; nothing was evaluated"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class ExportError(AnalyzerError):
    """An export that cannot be made as asked: no calls, none matching, a bad date, no folder."""


class CalibrationError(AnalyzerError):
    """No confirmed grades to compare with (none yet, or none in the dates asked), a bad date."""


class LearnedFileError(InputError):
    """A learned file (`analyzer learn`) that cannot be used: missing, corrupt, for another
    rubric, version or model, or from a newer version of the tool."""
