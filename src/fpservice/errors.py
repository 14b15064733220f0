"""Exceptions that stop a run. Problems inside ledger rows are findings, not exceptions.

Errors from the operating system (a full disk, a missing permission, a file Excel holds open) are
put into words here, once: `os_reason` says what happened and what to do, and `OutputError` is
what writing a result raises with it.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

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


class UnitsError(InputError):
    """units.csv does not describe a hierarchy: a wrong tree would give wrong township and county
    numbers, so the run stops at the first line that breaks it."""

    def __init__(self, message: str, file: str, line: int):
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


class OutputError(FpserviceError):
    """A result cannot be written (disk full, no permission, read-only, a directory in the way, a
    file another program holds open). The previous file, if any, is left as it was."""

    def __init__(self, path: Path | str | None, reason: str):
        self.path, self.reason, self.replacing = path, reason, False
        where = f"无法写入 {path}" if path is not None else "无法写到标准输出"
        kept = "（原有文件未改动）" if path is not None and Path(path).is_file() else ""
        super().__init__(f"{where}：{reason}{kept}")

    @classmethod
    def of(cls, path: Path | str | None, exc: OSError, *, replacing: bool = False) -> OutputError:
        """The error of writing `path` (None: stdout); `replacing`: the new file was whole,
        putting it in the old one's place failed (on Windows, what a file open in Excel does)."""
        error = cls(path, os_reason(exc, writing=True, replacing=replacing, path=path))
        error.replacing = replacing
        return error


# Windows error codes that mean "another process has this file": ERROR_SHARING_VIOLATION and
# ERROR_LOCK_VIOLATION. A rename over a file Excel has open fails with ERROR_ACCESS_DENIED (5).
_HELD = {32, 33}


def os_reason(
    exc: OSError, *, writing: bool | None, replacing: bool = False, path: Path | str | None = None
) -> str:
    """What an operating-system error means for the person running fpservice, and what to do:
    one clause in Chinese, without the path (the caller names it). `writing`: True or False when
    known, None when the error could come from either."""
    code, winerror = exc.errno, getattr(exc, "winerror", None)
    if winerror in _HELD or (replacing and sys.platform == "win32" and code == errno.EACCES):
        return "文件正被其他程序（如 Excel、WPS）打开，无法替换；请关闭该文件后重试"
    if code == errno.EISDIR or (replacing and path is not None and Path(path).is_dir()):
        return "这是一个目录；请给出文件名，或另选一个路径"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "磁盘已满（或超出配额）；请腾出空间后重试"
    if code == errno.EROFS:
        return "所在位置只读；请换一个可以写入的目录"
    if code in (errno.EACCES, errno.EPERM):
        if writing:
            return "没有写入权限；请换一个目录，或请管理员开放写入权限"
        if writing is None:
            return "权限不够；请用有权限的账户运行，或请管理员开放权限"
        return "没有读取权限；请用有权限的账户运行，或请管理员开放读取权限"
    if code == errno.ENOENT:
        return "所在目录不存在；请先建立该目录，或换一个路径" if writing else "文件或目录不存在"
    if code == errno.ENOTDIR:
        return "路径中有一段不是目录；请检查路径"
    if code == errno.ENAMETOOLONG:
        return "路径太长；请换一个短一些的路径"
    if code == errno.ELOOP:
        return "符号链接循环指向自己"
    if code == errno.EIO:
        return "磁盘读写出错；请检查磁盘或存储设备"
    return exc.strerror or str(exc) or type(exc).__name__


def describe_os_error(exc: OSError) -> str:
    """An OSError that reached the command line with nobody to name its path: the path the
    operating system gave, and the reason."""
    reason = os_reason(exc, writing=None)
    return f"{exc.filename}：{reason}" if exc.filename else reason
