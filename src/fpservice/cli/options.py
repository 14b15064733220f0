"""Options shared by several commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fpservice.atomicfile import write_atomically
from fpservice.cli import console
from fpservice.errors import OutputError

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


def emit(text: str, output: Path | None, bom: bool = False) -> None:
    """Data (CSV, JSON, HTML): UTF-8 (with a BOM for CSV, so Excel opens it), whether to a file
    or to stdout, whatever the console's encoding."""
    emit_bytes(text.encode("utf-8-sig" if bom else "utf-8"), output)


def emit_text(text: str, output: Path | None) -> None:
    """Text for people (a table): UTF-8 in a file, the console's own encoding on stdout."""
    if output:
        emit(text, output)
    else:
        click.echo(text, nl=False)


def emit_bytes(data: bytes, output: Path | None) -> None:
    """To `output` whole or not at all, else to stdout. Raises OutputError with what happened."""
    if output:
        write_atomically(output, data)
        return
    stdout = console.binary_stdout()
    try:
        stdout.write(data)
        stdout.flush()
    except BrokenPipeError:  # the reader has gone (`| head`): nothing to say
        raise
    except OSError as exc:  # stdout sent to a file on a full disk
        raise OutputError.of(None, exc) from exc


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


def loading(obj: dict):
    """How a command reads ledgers: through the group's cache (made here, when a command reads
    ledgers, so that other commands never load pyarrow), with a progress bar on a terminal."""
    from fpservice.api import LoadOptions
    from fpservice.read.cache import LedgerCache, default_dir

    cache = None
    directory = None if obj.get("no_cache") else obj.get("cache_dir") or default_dir()
    if directory is not None:
        cache = LedgerCache(directory)

        def finish() -> None:  # entries being written land first; then what went wrong, once
            cache.close()
            for warning in cache.warnings():
                click.echo(warning, err=True)

        click.get_current_context().call_on_close(finish)
    return LoadOptions(cache, Progress.if_terminal())
