"""Options shared by several commands."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from fpservice.api import Reading

ledger_dir = click.argument("ledger_dir", type=click.Path(path_type=Path))
plan = click.option(
    "--plan",
    "-p",
    help="方案：编号或别名，如 jiangbei-2011、000、江北区（默认读台帐目录的 fpservice.yaml）。",
)
encoding = click.option("--encoding", help="台帐编码（默认自动识别 UTF-8、UTF-8 BOM、GB18030/GBK）。")
all_indicators = click.option(
    "--all-indicators", is_flag=True, help="也列出方案没有设定目标的指标（状态 no_target）。"
)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old file or the new
    one, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        # mkstemp makes the file private (0600); a report gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def emit(text: str, output: Path | None, bom: bool = False) -> None:
    emit_bytes(text.encode("utf-8-sig" if bom else "utf-8"), output)


def emit_bytes(data: bytes, output: Path | None) -> None:
    if output:
        write_atomically(output, data)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


class Progress:
    """A progress bar for long loads on stderr, only when it is a terminal (silent under cron).
    Small directories load too fast to need one."""

    MIN_BYTES = 20 << 20

    def __init__(self):
        self._bar = None

    @classmethod
    def if_terminal(cls) -> Progress | None:
        return cls() if sys.stderr.isatty() else None

    def start(self, total: int) -> None:
        if total >= self.MIN_BYTES:
            self._bar = click.progressbar(length=total, label="读取台帐", file=sys.stderr, width=30)
            self._bar.__enter__()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def reading(obj: dict):
    """How a command reads ledgers: the group's cache, a progress bar on a terminal."""
    return Reading(obj.get("cache"), Progress.if_terminal())
