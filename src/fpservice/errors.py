"""Exceptions that stop a run. Problems inside ledger rows are findings, not exceptions."""

from __future__ import annotations

from fpservice.status import ExitCode


class FpserviceError(Exception):
    """Base class: a run could not go on. The CLI prints the message and exits with code 3."""

    exit_code = ExitCode.COULD_NOT_RUN


class UsageError(FpserviceError):
    """An argument or option value cannot be used (bad quarter, unknown plan, ...)."""


class RuleError(FpserviceError):
    """A rule file (plan or indicator definitions) is invalid."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file, self.line, self.message = file, line, message
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(where + message)


class InputError(FpserviceError):
    """The ledger directory cannot be read, or holds nothing to evaluate."""
