"""Command line: parses options, calls one `fpservice.api` function, renders, sets the exit code.

Exit codes (SPEC §6): 0 valid and every target met, 1 a target missed, 2 rows rejected,
3 could not run. Every exception is turned into a message here, in one place: an error from the
operating system that no stage put into words (stdout on a full disk, an unreadable rule file)
too, as one line with exit 3.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path

import click

from fpservice import __version__
from fpservice.cli import console
from fpservice.errors import FpserviceError, describe_os_error
from fpservice.status import ExitCode

COULD_NOT_RUN = ExitCode.COULD_NOT_RUN


LOCALE = Path(__file__).parent / "locale"  # click's own texts in Chinese (messages.po)


class _Group(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _speak_chinese()
        argv = self.options_first(list(sys.argv[1:] if args is None else args))
        verbose = "--verbose" in argv
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # a full disk under `> report.txt` shows here, not at exit
        except click.ClickException as exc:
            exc.show()
            code = COULD_NOT_RUN
        except click.Abort:
            click.echo("已中止。", err=True)
            code = COULD_NOT_RUN
        except FpserviceError as exc:
            click.echo(f"fpservice: {exc}", err=True)
            code = exc.exit_code
        except BrokenPipeError:  # the reader has gone (`| head`): what it took was all it wanted
            # Python flushes stdout again at exit: to nothing, so that it says nothing more
            with contextlib.suppress(OSError, ValueError):  # a stdout without a file (tests)
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 0
        except OSError as exc:
            if verbose:
                raise
            click.echo(f"fpservice: {describe_os_error(exc)}", err=True)
            code = COULD_NOT_RUN
        except MemoryError:
            click.echo("fpservice: 内存不足，无法完成。请关闭其他程序后重试，或分批处理台帐目录。", err=True)
            code = COULD_NOT_RUN
        except Exception as exc:  # a bug: say so plainly, without a traceback unless asked
            if verbose:
                raise
            click.echo(
                f"fpservice: 内部错误（{type(exc).__name__}）。请加 --verbose 重试，并把输出报告给维护者。",
                err=True,
            )
            code = COULD_NOT_RUN
        if standalone_mode:
            sys.exit(int(code) if isinstance(code, int) else 0)
        return code

    def options_first(self, argv: list[str]) -> list[str]:
        """The group's own options (`--verbose`, `--no-cache`, `--cache-dir DIR`, `--rules DIR`)
        are taken wherever they stand: `fpservice report … --verbose` means what
        `fpservice --verbose report …` means."""
        takes_value = {
            name: not p.is_flag for p in self.params if isinstance(p, click.Option) for name in p.opts
        }
        front, rest, i = [], [], 0
        seen_command = False
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                rest += argv[i:]
                break
            name = arg.split("=", 1)[0]
            if seen_command and name in takes_value and name not in ("-h", "--help", "--version"):
                step = 2 if takes_value[name] and "=" not in arg else 1
                front += argv[i : i + step]
                i += step
                continue
            seen_command = seen_command or arg in self.commands
            rest.append(arg)
            i += 1
        return front + rest


def _speak_chinese() -> None:
    """click's texts (用法, 选项, 错误 …) in the language of the rest of the interface: its strings are
    marked for gettext; this binds our catalogue, ahead of any language the environment names."""
    import gettext

    gettext.bindtextdomain("messages", str(LOCALE))
    languages = os.environ.get("LANGUAGE", "")
    if not languages.startswith("zh_CN"):
        os.environ["LANGUAGE"] = "zh_CN" + (":" + languages if languages else "")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fpservice", help="显示版本并退出。")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, exists=True),
    envvar="FPSERVICE_RULES",
    metavar="目录",
    help="规则目录（默认使用随程序安装的 rules/）。",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FPSERVICE_CACHE",
    metavar="目录",
    help="已解析台帐的缓存目录（默认 ~/.cache/fpservice，Windows 为 %LOCALAPPDATA%\\fpservice；"
    "按文件内容识别，文件一改即重新读取；缓存文件逐个校验，损坏的自动丢弃）。",
)
@click.option("--no-cache", is_flag=True, help="不读也不写缓存。")
@click.option("--verbose", is_flag=True, help="出错时显示完整的 Python 调用栈。")
@click.pass_context
def cli(
    ctx: click.Context, rules_dir: str | None, cache_dir: Path | None, no_cache: bool, verbose: bool
) -> None:
    """fpservice：流动人口计划生育基本公共服务台帐的指标计算与达标检查。

    \b
      fpservice check LEDGER_DIR                    台帐是否有效？目标是否达到？
      fpservice report --quarter 2011Q3 LEDGER_DIR  季度达标报告
      fpservice rules                               方案、阶段、指标与目标

    退出码：0 全部达标；1 有目标未达到；2 台帐有错误行（已报告并拒绝）；3 无法运行。
    """
    ctx.obj = {"rules_dir": rules_dir, "cache_dir": cache_dir, "no_cache": no_cache}


# Process settings, made before numpy and pyarrow are loaded (a value the user set is kept):
# - numpy asks the kernel for huge pages for every large array, and where the kernel grants them
#   only on request ("madvise", the default of many distributions) and has none free, each such
#   allocation stalls in memory compaction (numpy/numpy#31590). A report over a million persons
#   makes thousands of short-lived large arrays; with ordinary pages it spends a third less
#   time in the kernel.
# - pyarrow allocates from glibc (below), not from its own allocator (mimalloc): mimalloc hands
#   freed pages back to the system and faults them in again for the next file, and with glibc
#   keeping one heap for every thread the reads reuse each other's memory. A Dask worker keeps
#   mimalloc (cluster.WORKER_ARROW_POOL), which gives memory back when asked.
# - mimalloc, where it is used, asks for huge pages too: zeroing 2 MB at each first touch was a
#   tenth of a cold run's CPU time, on buffers that live for one file.
# - OpenBLAS starts a thread per core when numpy loads, and they spin for a while: fpservice
#   does no floating-point linear algebra, and the cores are needed to read ledgers.
# They belong to the command, not the library: `main` sets them, importing fpservice does not.
PROCESS_SETTINGS = {
    "NUMPY_MADVISE_HUGEPAGE": "0",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MIMALLOC_ALLOW_THP": "0",
    "OPENBLAS_NUM_THREADS": "1",
}


# glibc's allocator, told at once (its environment variables are read when the process starts):
# every block comes from one heap shared by all threads, never from a mapping of its own, and
# freed memory stays there for the next block. By default each block above a threshold is
# mapped on allocation and unmapped when freed, and each thread that allocates gets an arena of
# its own whose freed memory goes back to the system: either way the next block faults its
# pages in afresh, and on a virtual machine a fault costs microseconds. A cold 2M report faulted
# 1.1 million pages (2.4 s of system time); with one heap and Arrow on it, 0.38 million (1.0 s),
# and its peak was 110 MB lower. Variables the user set win.
MALLOC_SETTINGS = {  # mallopt parameter: (its number, value)
    "MALLOC_ARENA_MAX": (-8, 1),  # M_ARENA_MAX
    "MALLOC_MMAP_MAX_": (-4, 0),  # M_MMAP_MAX
    "MALLOC_TRIM_THRESHOLD_": (-1, 1 << 30),  # M_TRIM_THRESHOLD
    "MALLOC_TOP_PAD_": (-2, 64 << 20),  # M_TOP_PAD
}


def _tune_malloc() -> None:
    from fpservice import glibc

    mallopt = glibc.function("mallopt")
    if mallopt is None:  # another C library: left as it is
        return
    for name, (param, value) in MALLOC_SETTINGS.items():
        if name not in os.environ:
            mallopt(param, value)


# Python's cycle collector runs each time 700 more container objects are alive than before.
# Importing pandas and pyarrow makes some 60,000 of them, none garbage: 180 collections, 0.045 s
# of every run spent walking them with the GIL held (the hashing and counting threads wait too).
# A command makes its data as numpy arrays, which reference counting frees; cycles are still
# collected, every 200,000 objects (as mypy does). Warm 1M report: 1.26 -> 1.18 s, medians of 9
# interleaved; peak memory unchanged.
GC_FIRST_THRESHOLD = 200_000


def main() -> None:
    for name, value in PROCESS_SETTINGS.items():
        os.environ.setdefault(name, value)
    _tune_malloc()
    gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])
    with console.plain_streams():  # any console: see console.py
        cli.main(prog_name="fpservice")


def run() -> None:
    """The installed command and `python -m fpservice`: `main`, then out at once (`_leave`).
    `main` itself ends in SystemExit, for whoever calls it from Python."""
    try:
        main()
    except SystemExit as done:
        _leave(done.code)


def _leave(code) -> None:
    """Exit without tearing the interpreter down, once all is written and nothing else runs:
    freeing a report's frames and modules object by object took 0.1-0.2 s of a two-second
    warm run, for memory the kernel takes back at once. Anything unusual (a thread or a child
    process still alive, a stream that cannot be flushed, a code that is not a number, a
    profiler, debugger or coverage tool, which write their results at exit) takes Python's own
    way out."""
    import threading

    alone = threading.active_count() == 1 and sys.gettrace() is None and sys.getprofile() is None
    if alone and "multiprocessing" in sys.modules:
        alone = not sys.modules["multiprocessing"].active_children()
    if alone and type(code) is int:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - whatever it is, Python's own exit deals with it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


from fpservice.cli import check, due, report, rules  # noqa: E402,F401  (registers the commands)
