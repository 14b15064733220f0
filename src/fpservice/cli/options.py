"""Options shared by several commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fpservice.atomicfile import write_atomically

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


def loading(obj: dict):
    """How a command reads ledgers: through the group's cache (made here, when a command reads
    ledgers, so that other commands never load pyarrow), with a progress bar on a terminal."""
    from fpservice.api import LoadOptions
    from fpservice.read.cache import LedgerCache, default_dir

    cache = None
    if not obj.get("no_cache"):
        cache = LedgerCache(obj.get("cache_dir") or default_dir())
        click.get_current_context().call_on_close(cache.close)  # entries being written land first
    return LoadOptions(cache, Progress.if_terminal())
