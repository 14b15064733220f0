"""Options shared by several commands."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from fpservice.atomicfile import write_atomically
from fpservice.cli import console
from fpservice.errors import OutputError, UsageError

ledger_dir = click.argument("ledger_dir", type=click.Path(path_type=Path))
quiet = click.option("--quiet", is_flag=True, help="只输出错误信息（结果照常写出）。")
wide = click.option("--wide", is_flag=True, help="终端表格显示全部列（默认按终端宽度省略次要的列）。")


def engine(command):
    """--engine local|dask and how to reach the cluster (check and report)."""
    command = click.option(
        "--partitions",
        type=click.IntRange(1),
        metavar="K",
        help="dask：按人分成 K 份（默认按台帐大小：不超过计算节点内存四分之一时为 1 份，不重分；"
        "更大时约每份 20 万人）。",
    )(command)
    command = click.option(
        "--workers",
        type=click.IntRange(1),
        metavar="N",
        help="dask：不给 --scheduler 时在本机启动 N 个工作进程（默认每核一个）。",
    )(command)
    command = click.option(
        "--scheduler",
        metavar="地址",
        help="dask：已有集群的调度器地址，如 tcp://10.0.0.5:8786（台帐目录须在各节点同一路径）。",
    )(command)
    return click.option(
        "--engine",
        type=click.Choice(["local", "dask"], case_sensitive=False),
        default="local",
        help="计算引擎：local（本进程，默认）或 dask（按人分区，在 Dask 集群上计算；"
        "见 README“A province or the nation”）。",
    )(command)


def engine_of(kind: str, scheduler: str | None, workers: int | None, partitions: int | None):
    """The engine the options name; the cluster options only with --engine dask."""
    from fpservice.engine import Engine

    kind = kind.lower()
    if kind != "dask" and (scheduler or workers or partitions):
        raise UsageError("--scheduler、--workers、--partitions 只用于 --engine dask")
    if scheduler and workers:
        raise UsageError("--workers 启动本机集群，--scheduler 连接已有集群：二者选一")
    return Engine(kind, scheduler, workers, partitions)


def terminal_width(wide: bool) -> int | None:
    """The width a table on stdout must fit: COLUMNS when set, else the terminal's; None (every
    column) for a pipe or a file, or with --wide."""
    import os
    import shutil

    if wide:
        return None
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def date(help_text: str):
    """`--date` wherever a day is meant (`check` also takes its old name, `--as-of`)."""
    spellings = "写法同台帐：2011-09-30、2011/9/30、2011年9月30日…"
    return click.option("--date", "--as-of", "date_", metavar="日期", help=help_text + spellings)


def formats(choices: list[str], default: str, help_text: str | None = None):
    """`-f`/`--format`: the same names in every command, in any case (`XLSX`)."""
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(choices, case_sensitive=False),
        default=None,
        help=(help_text or "输出格式。") + f"（默认 {default}）",
    )


def check_encoding(ctx, param, value):
    """An encoding Python knows, or a usage error that names it (not 14 undecodable files)."""
    if value is None:
        return value
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"未知的编码：{value}（可用如 utf-8、utf-8-sig、gb18030、gbk）") from None
    return value


# -o's suffix -> the format it names, when -f is not given
SUFFIXES = {
    ".txt": "table",
    ".md": "markdown",
    ".csv": "csv",
    ".json": "json",
    ".xlsx": "xlsx",
    ".html": "html",
}
SUFFIXES[".htm"] = "html"
EXTENSIONS = {"table": "txt", "markdown": "md", "csv": "csv", "json": "json", "xlsx": "xlsx", "html": "html"}
BINARY = {"xlsx"}


@dataclass(frozen=True)
class Target:
    """Where a result goes: a format, and stdout (no file), a file, or a directory to name one in."""

    fmt: str
    file: Path | None = None
    directory: Path | None = None

    @property
    def stdout(self) -> bool:
        return self.file is None and self.directory is None

    def path(self, stem: str) -> Path | None:
        """The file to write: a directory's file is named `<stem>.<ext>` (stem: plan_quarter)."""
        if self.directory is None:
            return self.file
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, no permission, a read-only disk
            raise OutputError.of(self.directory, exc) from exc
        return self.directory / f"{stem}.{EXTENSIONS[self.fmt]}"


def target(fmt: str | None, output: str | Path | None, default: str) -> Target:
    """The format from -f, else from -o's suffix, else `default`; -o DIR/ (a trailing slash, or a
    directory that exists) is a directory to write into. Contradictions are usage errors that
    say the fix; nothing is run before they are settled."""
    fmt = fmt.lower() if fmt else None
    if output is None:
        chosen = fmt or default
        if chosen in BINARY and sys.stdout.isatty():
            raise UsageError(
                f"{chosen} 是二进制文件，不能输出到终端：请用 -o 指定文件名，如 -o 报告.{chosen}"
            )
        return Target(chosen)
    text, output = str(output), Path(output)
    if text.endswith(("/", "\\")) or output.is_dir():
        return Target(fmt or default, directory=output)
    named = SUFFIXES.get(output.suffix.lower())
    if fmt and named and named != fmt:
        right = output.with_suffix("." + EXTENSIONS[fmt]).name
        raise UsageError(f"-f {fmt} 与文件名 {output.name} 不符：去掉 -f，或把文件名改为 {right}")
    if not fmt and named is None:
        known = " ".join(sorted(SUFFIXES))
        raise UsageError(f"不认识 -o {output.name} 的扩展名：可用 {known}，或用 -f 指定格式")
    if not output.parent.is_dir():
        raise UsageError(
            f"-o {output}：目录 {output.parent} 不存在；"
            f"请先建立它，或写 -o {output.parent}/ 让 fpservice 建立"
        )
    return Target(fmt or named, file=output)


plan = click.option(
    "--plan",
    "-p",
    metavar="方案",
    help="方案：编号或别名，如 jiangbei-2011、000、江北区（默认读台帐目录的 fpservice.yaml）。",
)
encoding = click.option(
    "--encoding",
    callback=check_encoding,
    metavar="编码",
    help="台帐编码（默认自动识别 UTF-8、UTF-8 BOM、GB18030/GBK）。",
)
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


def emit_bytes(data: bytes | list, output: Path | None) -> None:
    """Bytes, or bytes-like parts written one after another: to `output` whole or not at all,
    else to stdout. Raises OutputError with what happened."""
    parts = [data] if isinstance(data, bytes | bytearray | memoryview) else data
    if output:
        write_atomically(output, lambda fh: fh.writelines(parts))
        return
    stdout = console.binary_stdout()
    try:
        stdout.writelines(parts)
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
