"""Text for people on any console. Whatever encoding stdout and stderr have (UTF-8, GBK on
Chinese Windows when output goes to a file, ASCII in an old cron mail), output never fails on
it: a character the stream cannot encode is written as a plain equivalent (`−` as `-`, `✓` as
`√`, a full-width `（` as `(`), else as `?`.

Data (CSV, JSON, HTML, workbooks) is not text for a console: it is written as UTF-8 bytes to
stdout as to a file (`binary_stdout`).
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import sys
import unicodedata
from typing import BinaryIO

from fpservice.errors import OutputError

HANDLER = "fpservice.plain"

# Characters fpservice writes that some consoles lack, and what to write instead, best first.
PLAIN = {
    "\u2212": "-",  # − minus sign (差距 = 户籍比率 − 流动比率)
    "\u2013": "-",  # – en dash (95 % intervals, 0%–100%)
    "\u2014": "-",  # — em dash (a blank cell)
    "\u2026": "...",  # … (a value cut short)
    "\u2713": "√",  # ✓
    "\u2714": "√",
    "\u2717": "×",  # ✗
    "\u00a0": " ",  # no-break space
    "\ufeff": "",  # a byte-order mark inside text
}


@functools.lru_cache(maxsize=4096)
def plain(char: str, encoding: str) -> str:
    """What to write for `char` in `encoding`: its plain equivalent or its compatibility form
    (NFKC: full-width `（：１` as `(:1`) when the encoding has it, else `?`."""
    for candidate in (PLAIN.get(char), unicodedata.normalize("NFKC", char)):
        if candidate is None or candidate == char:
            continue
        try:
            candidate.encode(encoding)
        except UnicodeEncodeError:
            continue
        return candidate
    return "?"


def _replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(plain(c, exc.encoding) for c in exc.object[exc.start : exc.end]), exc.end


def register() -> None:
    """Make the error handler known to codecs (idempotent: the same function each time)."""
    codecs.register_error(HANDLER, _replace)


def encode(text: str, encoding: str) -> bytes:
    register()
    return text.encode(encoding, HANDLER)


class ConsoleStream(io.TextIOBase):
    """stdout or stderr as text: each write encoded for the console with plain replacements.

    Deliberately without a `buffer`: click re-wraps a stream whose encoding is ASCII in UTF-8
    (taking ASCII for a misconfigured locale) unless it cannot reach the bytes underneath, and
    the bytes written must be the ones the stream's encoding promises."""

    def __init__(self, stream, *, is_stdout: bool):
        super().__init__()
        self._stream = stream
        self.binary: BinaryIO = stream.buffer
        self._encoding = stream.encoding or "utf-8"
        self._flush_lines = bool(getattr(stream, "line_buffering", False))
        self._is_stdout = is_stdout

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def errors(self) -> str:
        return HANDLER

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._said():
            self.binary.write(text.encode(self._encoding, HANDLER))
            if self._flush_lines and ("\n" in text or "\r" in text):
                self.binary.flush()
        return len(text)

    def flush(self) -> None:
        with self._said():
            self.binary.flush()

    @contextlib.contextmanager
    def _said(self):
        """stdout sent to a file on a full disk: an OutputError that names stdout."""
        try:
            yield
        except BrokenPipeError:  # the reader has gone (`| head`): nothing to say
            raise
        except OSError as exc:
            if not self._is_stdout:
                raise
            raise OutputError.of(None, exc) from exc

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()


@contextlib.contextmanager
def plain_streams():
    """stdout and stderr as ConsoleStreams while the command runs (a process setting: `main`
    makes it, importing fpservice does not)."""
    register()
    saved = sys.stdout, sys.stderr
    try:
        sys.stdout, sys.stderr = _wrapped(saved[0], is_stdout=True), _wrapped(saved[1], is_stdout=False)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError, OutputError):
                stream.flush()
        sys.stdout, sys.stderr = saved


def _wrapped(stream, *, is_stdout: bool):
    if stream is None or isinstance(stream, ConsoleStream) or not hasattr(stream, "buffer"):
        return stream  # no console (pythonw), already wrapped, or a test's own stream
    with contextlib.suppress(OSError, ValueError):
        stream.flush()  # what was written before goes out first
    return ConsoleStream(stream, is_stdout=is_stdout)


def binary_stdout() -> BinaryIO:
    """The bytes under stdout, for data written as UTF-8 whatever the console's encoding."""
    stdout = sys.stdout
    stdout.flush()
    return getattr(stdout, "binary", None) or stdout.buffer
