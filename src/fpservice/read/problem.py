"""What stops one file from being read at all (not the run): it becomes a finding of that file.
Its own module, without pandas, so that a file can be parsed before pandas is imported (see
headstart)."""

from __future__ import annotations


class FileProblem(Exception):
    """A file as a whole cannot be read: carries a finding code, line and detail."""

    def __init__(self, code: str, line: int | None = None, detail: str = ""):
        super().__init__(detail)
        self.code, self.line, self.detail = code, line, detail
