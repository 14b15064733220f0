"""Workbooks (SPEC §8): `.xlsx`, `.xlsm`, `.xls`, `.ods` -> each sheet's cells as the text Excel
shows them, for the same reading and checking as a CSV file.

python-calamine (Rust) reads them, in worker processes: it holds the GIL while it parses, so a
process per core is what uses both cores, and a workbook that makes it fail hard (a damaged file,
a sheet larger than memory) ends a worker, not the run. Before calamine sees an xlsx, its zip
directory and each sheet's declared range are looked at, so that a zip bomb or a sheet spanning
XFD1048576 is a finding instead of an allocation that cannot succeed. calamine gives a formula's
error value (#REF!, #DIV/0!) as a blank cell; for xlsx the sheet's XML says which cells hold one,
and they are shown as Excel shows them.

This module imports neither pandas nor pyarrow: a worker starts in a tenth of a second.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fpservice.privacy import mask_text

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
MAX_CELLS = 20_000_000  # a sheet's range (rows x columns); a ledger of a million rows has 15 million
MAX_UNZIPPED = 1 << 30  # what a workbook may unpack to
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # an OOXML file with a password is an OLE file


@dataclass
class Grid:
    """One sheet: its cells as shown, row by row ("" for a blank cell), from Excel row `first_row`
    (1-based) on."""

    name: str
    first_row: int
    rows: list[list[str]]


def is_workbook(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def looks_like_workbook(raw: bytes) -> bool:
    """A zip (xlsx, xlsm, ods) or an OLE file (xls). Anything else named .xls is often a CSV or
    tab-separated text that a web system exported under that name."""
    return raw.startswith((_ZIP, _OLE))


def grids_of(raw: bytes) -> list[Grid] | tuple[str, str]:
    """Every sheet of a workbook, or (finding code, detail) when the workbook cannot be read.
    Runs in a worker process."""
    import python_calamine as calamine

    errors: dict[str, dict[tuple[int, int], str]] = {}
    if raw.startswith(_ZIP):
        problem = _zip_problem(raw, errors)
        if problem:
            return problem
    elif _ENCRYPTED in raw[: 1 << 20]:
        return "file.encrypted", "工作簿设有打开密码"
    try:
        book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except calamine.PasswordError:
        return "file.encrypted", "工作簿设有打开密码"
    except Exception as exc:  # calamine's errors are many and untyped: any is an unreadable file
        return "file.not_workbook", f"{type(exc).__name__}: {mask_text(str(exc), 200)}"
    grids = []
    for meta in book.sheets_metadata:
        try:
            sheet = book.get_sheet_by_name(meta.name)
            rows = sheet.to_python()
        except Exception as exc:
            if meta.typ != calamine.SheetTypeEnum.WorkSheet:  # a chart or dialog sheet: no cells
                grids.append(Grid(meta.name, 1, []))
                continue
            return "file.not_workbook", f"工作表“{meta.name}”无法读取：{mask_text(str(exc), 200)}"
        start = sheet.start or (0, 0)
        shown = [[v if v.__class__ is str else _shown(v) for v in row] for row in rows]  # mostly text
        for (r, c), text in errors.get(meta.name, {}).items():
            i, j = r - start[0], c - start[1]
            if 0 <= i < len(shown) and 0 <= j < len(shown[i]) and not shown[i][j]:
                shown[i][j] = text
        grids.append(Grid(meta.name, start[0] + 1, shown))
    return grids


def _shown(value) -> str:
    """A cell as Excel shows it in the General format, for the checks a CSV cell goes through: a
    whole number as its digits, a number too long for 15 digits as Excel shows it (4.52123E+17,
    which the ID check recognises), a date as a date, TRUE/FALSE as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else f"{value:.5E}"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value)) if abs(value) < 1e15 else f"{value:.5E}"
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ", "seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_SHEET = re.compile(rb'<sheet\b[^>]*?name="([^"]*)"[^>]*?r:id="([^"]*)"')
_TARGET = re.compile(rb'<Relationship\b[^>]*?Id="([^"]*)"[^>]*?Target="([^"]*)"')
_TARGET_FIRST = re.compile(rb'<Relationship\b[^>]*?Target="([^"]*)"[^>]*?Id="([^"]*)"')
_ERROR_CELL = re.compile(
    rb'<c r="([A-Z]+)(\d+)"[^>]*?t="e"[^>]*>(?:<f[^>]*(?:/>|>.*?</f>))?<v>([^<]*)</v>', re.S
)


def _zip_problem(raw: bytes, errors: dict) -> tuple[str, str] | None:
    """Whether an xlsx (or ods) can be handed to calamine: a zip whose members unpack to a sane
    size and whose sheets span a sane range. Fills `errors` with the formula error cells of each
    sheet (by name: {(row, column): "#REF!"}, 0-based)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
        members = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return "file.not_workbook", mask_text(str(exc), 200)
    if sum(m.file_size for m in members) > MAX_UNZIPPED:
        return "file.too_large", f"解压后超过 {MAX_UNZIPPED >> 20} MB"
    sheets = _sheet_members(z)
    for name, member in sheets.items():
        try:
            with z.open(member) as fh:
                # Bounded: never more than the member says it holds (a forged size cannot make a
                # bomb unpack here), and a sheet larger than that limit is refused above.
                xml = fh.read(min(z.getinfo(member).file_size, MAX_UNZIPPED) + 1)
        except (KeyError, zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
            return "file.not_workbook", mask_text(str(exc), 200)
        if len(xml) > z.getinfo(member).file_size:
            return "file.not_workbook", f"工作表“{name}”的压缩数据与其声明的大小不符"
        m = _DIMENSION.search(xml, 0, 4096)
        if m and m.group(3):
            rows = int(m.group(4)) - int(m.group(2)) + 1
            cols = _column(m.group(3)) - _column(m.group(1)) + 1
            if rows * cols > MAX_CELLS:
                ref = m.group(0).decode().split('"')[1]
                return "file.too_large", f"工作表“{name}”的范围 {ref} 超过 {MAX_CELLS // 10**4} 万个单元格"
        if b't="e"' in xml:
            errors[name] = {
                (int(r) - 1, _column(c) - 1): v.decode("utf-8", "replace")
                for c, r, v in _ERROR_CELL.findall(xml)
            }
    return None


def _sheet_members(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the zip member holding its cells (xlsx and xlsm; none for ods)."""
    try:
        book = z.read("xl/workbook.xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    except (KeyError, zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
        return {}
    targets = dict(_TARGET.findall(rels)) | {i: t for t, i in _TARGET_FIRST.findall(rels)}
    names = set(z.namelist())
    out = {}
    for name, rid in _SHEET.findall(book):
        target = targets.get(rid, b"").decode("utf-8", "replace").lstrip("/")
        member = target if target.startswith("xl/") else f"xl/{target}"
        if member in names:
            out[_unescape(name.decode("utf-8", "replace"))] = member
    return out


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


class WorkbookReader:
    """Workbooks read in worker processes, started when the first workbook is read. A worker
    that ends abruptly (calamine aborted on a damaged file) breaks the pool: every workbook that
    was waiting is read again in a process of its own, so that only the culprit fails, and the
    pool is started anew for the ones after. With `workers=0` workbooks are read in this process:
    a Dask worker is a process of its own already (Dask retries what a lost worker held)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, read, raw: bytes, *args):
        """`read(raw, *args)` in a worker process: a function that reads a workbook whole (its
        cells and their checks, `ledgerfile.read_workbook`), so that only its rows come back —
        sending every cell back as text cost more than reading them. (finding code, detail) when
        the workbook cannot be read."""
        if self.workers == 0:
            return read(raw, *args)
        from concurrent.futures.process import BrokenProcessPool  # (it loads multiprocessing: only here)

        pool = self._shared()
        try:
            return pool.submit(read, raw, *args).result()
        except BrokenProcessPool:
            self._replace(pool)
        with _process(1) as alone:
            try:
                return alone.submit(read, raw, *args).result()
            except BrokenProcessPool:
                return (
                    "file.not_workbook",
                    "读取时读取程序异常退出（文件已损坏，或一张工作表大得无法读入内存）",
                )

    def _shared(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = _process(self.workers)
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> WorkbookReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _process(workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter, as on Windows; forking a process whose threads are reading
    # other files could copy a lock held by one of them.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
