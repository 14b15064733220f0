"""One ledger file, a batch of small files with one header read as one, or one sheet of a
workbook: bytes (or a sheet's cells) -> recognised type -> parsed columns -> validated rows,
findings and each file's row account: read = used + rejected + skipped, where rows above the
header, blank rows, footers and rows repeating the header are the skipped ones."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fpservice import units as units_mod
from fpservice.findings import Finding
from fpservice.headers import DEFAULT, Headers
from fpservice.read import csvparse
from fpservice.read.arrowparse import Parsed, delimiter_of
from fpservice.read.cells import Cells
from fpservice.read.csvparse import CsvTable
from fpservice.read.discover import plain_head
from fpservice.read.encodings import Source, newlines_in, open_source
from fpservice.read.header import find_header, is_footer
from fpservice.read.ledgerset import FileAccount, ReadResult
from fpservice.read.problem import FileProblem
from fpservice.read.recognise import distinct_columns, recognise
from fpservice.read.sheets import Grid, grids_of
from fpservice.read.validate import validate
from fpservice.schema import LedgerType


def read_ledger_file(
    raw: bytes,
    rel: str,
    units: units_mod.Units,
    encoding: str | None,
    today: dt.date,
    threads: bool = True,
    headers: Headers = DEFAULT,
    fast_only: bool = False,
    parsed: Parsed | None = None,
) -> ReadResult | None:
    """Read and validate one CSV file. A file-level problem rejects every row. `threads`: parse
    it on all cores (see csvparse.read_table); `fast_only`: None when the exact reader had to
    read it (a piece of a file: chunks); `parsed`: its bytes parsed already (see headstart)."""
    account = FileAccount(rel, None, None)
    try:
        source = open_source(raw, encoding, headers)
        account.encoding = source.encoding
        if not source.header:
            raise FileProblem("file.empty", 1)
    except FileProblem as p:
        return ReadResult([account], findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    problem, ltype, mapping = recognise(source.header, headers)
    if problem:
        try:
            table = csvparse.read_table(source, list(range(len(source.header))))
        except FileProblem:
            table = None
        return _unusable(account, problem, ltype, table, source.first_line)
    account.ledger = ltype.key
    try:
        distinct = distinct_columns(ltype, mapping)
        table = csvparse.read_table(source, sorted(mapping), distinct, threads, parsed)
        if fast_only and not table.fast:  # before its rows are checked: they would be thrown away
            return None
        line_cells = _csv_line_cells(source, table)
        rows = _rows_of(table, source.header, mapping, ltype, rel, units, today, line_cells)
    except FileProblem as p:
        return ReadResult([account], findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    return _split(rows, ltype.key, [rel], np.array([2]))


def read_workbook(
    raw: bytes, rel: str, units: units_mod.Units, today: dt.date, kind: str, headers: Headers = DEFAULT
) -> list[tuple[str, ReadResult]] | tuple[str, str]:
    """Every sheet of a workbook, by name, read and validated as a file of its own
    (`台帐.xlsx[流入人口信息登记簿]`); or (finding code, detail) when the workbook cannot be read.
    Runs in a worker process (sheets.WorkbookReader)."""
    grids = grids_of(raw)
    if isinstance(grids, tuple):
        return grids
    return [(g.name, read_sheet(g, f"{rel}[{g.name}]", units, today, kind, headers)) for g in grids]


def read_sheet(
    grid: Grid, rel: str, units: units_mod.Units, today: dt.date, kind: str, headers: Headers = DEFAULT
) -> ReadResult:
    """Read and validate one sheet of a workbook (`rel` names the file and the sheet, `kind` its
    format). A sheet without a header in its first rows (notes, a chart) is skipped and listed."""
    found = find_header(grid.rows, headers)
    if found is None:
        rows = sum(1 for row in grid.rows if any(c.strip() for c in row))
        account = FileAccount(rel, None, kind, read=rows, skipped=rows)
        return ReadResult([account], findings=[Finding("sheet.skipped", rel)])
    account = FileAccount(rel, None, kind)
    problem, ltype, mapping = recognise(found.labels, headers)
    line = grid.first_row + found.row
    positions = sorted(mapping) if not problem else list(range(len(found.labels)))
    distinct = distinct_columns(ltype, mapping) if ltype else frozenset()
    table = _sheet_table(grid, found.row, positions, distinct)
    table.encoding = kind
    if problem:
        return _unusable(account, problem, ltype, table, line)
    account.ledger = ltype.key

    def line_cells(lines) -> list[list[str]]:
        return [grid.rows[n - grid.first_row] for n in np.asarray(lines).tolist()]

    rows = _rows_of(table, found.labels, mapping, ltype, rel, units, today, line_cells)
    return _split(rows, ltype.key, [rel], np.array([2]))


def _unusable(account: FileAccount, problem, ltype, table, line: int) -> ReadResult:
    """A file or sheet whose header names no ledger, or lacks a column: every row is rejected."""
    code, column, detail = problem
    if ltype is not None:
        account.ledger = ltype.key
    if table is not None:
        account.encoding = table.encoding
        account.rejected = len(table) + len(table.ragged)
        account.skipped = len(table.blank_lines) + table.above
        account.read = account.rejected + account.skipped
    return ReadResult([account], findings=[Finding(code, account.file, line, column, None, detail)])


def _sheet_table(grid: Grid, header_row: int, positions: list[int], distinct: frozenset[int]) -> CsvTable:
    """A sheet's rows under its header as the parser gives a CSV file's: columns by position and
    the row number Excel shows for each."""
    body = grid.rows[header_row + 1 :]
    columns = {}
    for p in positions:
        values = pa.array([row[p] if p < len(row) else "" for row in body], pa.string())
        columns[p] = Cells.each(values) if p in distinct else Cells.of(values)
    lines = np.arange(len(body), dtype=np.int64) + grid.first_row + header_row + 1
    table = csvparse.drop_blank_rows(CsvTable(columns, lines, fast=True, above=header_row))
    return table


def read_batch(
    raws: list[bytes],
    rels: list[str],
    units: units_mod.Units,
    today: dt.date,
    threads: bool = True,
    headers: Headers = DEFAULT,
) -> ReadResult | None:
    """Files with the same first line (their header) read as one: their bodies are joined under
    the header, parsed and checked once, and rows, findings and accounts are given back to each
    file by line. None when the files are not plain enough for that (a problem with the header,
    a title above it, an encoding to work out, rows the exact reader must find, a quote left open
    at a file's end): they are then read one by one, which says what is wrong with each."""
    head = plain_head(raws[0])
    if head is None or not all(raw.startswith(head) for raw in raws):  # a file changed meanwhile
        return None
    parts, starts, line = [head], [], 2
    for raw in raws:
        # quotes must close within each file (most files have none: `find` runs at memchr's speed)
        if raw.find(b'"', len(head)) >= 0 and raw.count(b'"', len(head)) % 2:
            return None
        starts.append(line)
        line += newlines_in(raw, len(head))
        parts.append(memoryview(raw)[len(head) :])  # joined below without a copy of its own
        if len(raw) > len(head) and not raw.endswith(b"\n"):
            parts.append(b"\n")
            line += 1
    try:
        source = open_source(b"".join(parts), headers=headers)
        if source.first_line != 1:  # the first line is a title, not the header
            return None
        source.counted = line - 1  # the header's line break and every file's, counted above
        problem, ltype, mapping = recognise(source.header, headers) if source.header else (True, None, {})
        if problem:
            return None
        table = csvparse.read_table(source, sorted(mapping), distinct_columns(ltype, mapping), threads)
        line_cells = _csv_line_cells(source, table)
        rows = _rows_of(table, source.header, mapping, ltype, rels[0], units, today, line_cells)
    except FileProblem:
        return None
    if not rows.fast or any(f.line is None or f.line < 2 for f in rows.findings):
        return None
    return _split(rows, ltype.key, rels, np.asarray(starts, dtype=np.int64))


@dataclass
class _Rows:
    """The rows of a read before they are given back to files: lines are physical lines in the
    bytes read (one file, or files joined), or a sheet's row numbers."""

    columns: dict[str, np.ndarray]  # used rows, typed (see validate)
    findings: list[Finding]
    lines: np.ndarray  # line of each data row (blank, footer and repeated header rows left out)
    rejected: np.ndarray  # per data row
    ragged: list[tuple[int, int]]
    skipped: np.ndarray  # lines of blank, footer and repeated header rows
    above: int  # rows above the header: skipped too
    villages: set
    valid_days: tuple[str | None, str | None]
    encoding: str
    fast: bool
    checks: tuple = ()  # (code, column) of the checks run, in order (see ReadResult.checks)


def _rows_of(
    table: CsvTable,
    header: list[str],
    mapping: dict[int, str],
    ltype: LedgerType,
    rel: str,
    units: units_mod.Units,
    today: dt.date,
    line_cells,
) -> _Rows:
    """Validate a parsed file or sheet: rows that repeat the header and footer rows are skipped,
    every other row is checked, and rejected when a check finds an error. `line_cells` gives the
    cells of whole lines (or sheet rows) again, for the few rows looked at as a whole."""
    columns = {mapping[i]: cells for i, cells in table.columns.items()}
    labels = {k: header[i] for i, k in mapping.items()}
    lines = table.lines
    repeated = _repeats_header(columns, labels, len(lines))
    footer = _footers(columns, lines, line_cells)
    notes = [Finding("row.repeated_header", rel, int(line)) for line in lines[repeated]]
    skip = repeated | footer
    ragged, short = _short_rows(table.ragged, mapping, line_cells)
    skipped_lines = np.concatenate([table.blank_lines, short, lines[skip]])
    if skip.any():
        keep = np.flatnonzero(~skip)
        columns, lines = {k: c.take(keep).compact() for k, c in columns.items()}, lines[keep]
    out, check = validate(ltype, rel, columns, lines, labels, units, today)
    villages = _villages_on(line_cells, [line for line, _ in ragged], mapping, units)
    wrong_width = [
        Finding("row.ragged", rel, line, None, None, str(n), village)
        for (line, n), village in zip(ragged, villages)
    ]
    return _Rows(
        out,
        wrong_width + notes + check.findings,
        lines,
        check.reject,
        ragged,
        skipped_lines,
        table.above,
        check.villages,
        check.valid_days,
        table.encoding,
        table.fast,
        tuple(check.checks),
    )


def _repeats_header(columns: dict[str, Cells], labels: dict[str, str], n: int) -> np.ndarray:
    """Rows whose every kept cell is its column's header (two exports pasted together)."""
    repeated = np.ones(n, dtype=bool)
    for key, label in labels.items():
        cells = columns[key]
        is_label = np.asarray(pc.fill_null(pc.equal(cells.values, label), False), dtype=bool)
        if not is_label.any():  # the usual case: no row repeats the header
            return np.zeros(n, dtype=bool)
        repeated &= cells.per_value(is_label, False)
    return repeated


def _villages_on(line_cells, lines: list[int], mapping: dict[int, str], units: units_mod.Units) -> list:
    """The village code in the unit column of rows that were not parsed (ragged rows), where it
    is one: the village's problem list gets them too."""
    if not lines:
        return []
    at = next((i for i, key in mapping.items() if key == "unit"), None)
    out = []
    for cells in line_cells(lines):
        code = units_mod.normalize_code(cells[at]) if at is not None and at < len(cells) else None
        out.append(code if code and units_mod.is_village_code(code, units) else None)
    return out


def _footers(columns: dict[str, Cells], lines: np.ndarray, line_cells) -> np.ndarray:
    """Rows whose unit and ID are blank and whose first non-blank cell is a 合计, 填表人 … (SPEC §8).
    Where the unit or ID column comes first, the footer's words stand in it (`合计,,,`, a
    `填表人：…` cell merged across the row): a unit or ID cell holding such words counts as blank.
    Only these rows (a handful at a sheet's end) are looked at as a whole."""
    at = np.arange(len(lines))
    for key in ("unit", "id"):  # the unit column first: a few hundred distinct codes for all rows
        if key in columns and len(at):
            cells = columns[key]
            if len(at) == len(lines):  # every row: every value (none is held by no row)
                codes, held, texts = cells.codes, range(len(cells.values)), cells.values.to_pylist()
            else:  # the values these rows hold, each once
                codes = cells.codes[at]
                held = np.flatnonzero(np.bincount(codes + 1)[1:])
                texts = cells.values.take(pa.array(held)).to_pylist()
                held = held.tolist()
            worded = [code for code, text in zip(held, texts) if is_footer(text)]
            at = at[(codes < 0) | np.isin(codes, worded)] if worded else at[codes < 0]
    footer = np.zeros(len(lines), dtype=bool)
    if len(at):
        footer[at] = [is_footer(_first_filled(cells)) for cells in line_cells(lines[at])]
    return footer


def _short_rows(ragged: list[tuple[int, int]], mapping: dict[int, str], line_cells):
    """-> (rows of the wrong width that are data, lines of those that are blank or footers).
    A footer typed by hand has fewer cells than the header (`合计：120人` alone on its line, a
    line of a few commas): skipped as every blank and footer row is (SPEC §8), not rejected."""
    if not ragged:
        return ragged, np.zeros(0, np.int64)
    at = [i for i, key in mapping.items() if key in ("unit", "id")]
    kept, short = [], []
    for (line, n), cells in zip(ragged, line_cells([line for line, _ in ragged])):
        first = _first_filled(cells)
        unnamed = all(i >= len(cells) or not cells[i].strip() or is_footer(cells[i]) for i in at)
        if first is None or (unnamed and is_footer(first)):
            short.append(line)
        else:
            kept.append((line, n))
    return kept, np.asarray(short, dtype=np.int64)


def _first_filled(cells: list[str]) -> str | None:
    return next((c.strip() for c in cells if c.strip()), None)


def _csv_line_cells(source: Source, table: CsvTable):
    """The cells of whole physical lines of a CSV file, read again from its bytes. Lines end
    where the reader that read the table ended them: the exact reader (Python's csv module) at
    a carriage return on its own too, the fast one only at a line feed."""

    def line_cells(lines) -> list[list[str]]:
        data = np.frombuffer(source.text, np.uint8)
        breaks = data == 10
        if not table.fast:
            lone_cr = data == 13
            lone_cr[:-1] &= data[1:] != 10
            breaks |= lone_cr
        ends = np.flatnonzero(breaks)
        starts = np.concatenate(([0], ends + 1))
        delim = delimiter_of(source)
        out = []
        for line in np.asarray(lines).tolist():
            a = int(starts[line - 1])
            b = int(ends[line - 1]) if line - 1 < len(ends) else len(source.text)
            text = source.text[a:b].decode(source.native or "utf-8", "replace")
            out.append(next(csv.reader([text], delimiter=delim), []))
        return out

    return line_cells


def _split(rows: _Rows, ledger: str, rels: list[str], starts: np.ndarray) -> ReadResult:
    """Give rows, findings and accounts back to the files they came from. File i's rows start
    at line starts[i] of what was read, where its own line 2 (under its header) was; one file
    read alone starts at 2 and keeps its lines."""
    shifts = starts - 2

    def file_of(lines) -> np.ndarray:
        if len(rels) == 1:
            return np.zeros(len(lines), np.intp)
        return np.searchsorted(starts, np.asarray(lines, dtype=np.int64), side="right") - 1

    def per_file(lines) -> np.ndarray:
        return np.bincount(file_of(lines), minlength=len(rels))

    counted, rejected = per_file(rows.lines), per_file(rows.lines[rows.rejected])
    ragged, skipped = per_file([line for line, _ in rows.ragged]), per_file(rows.skipped)
    skipped[0] += rows.above  # a batch has none: its files' headers are on their first lines
    accounts = [
        FileAccount(
            rel,
            ledger,
            rows.encoding,
            read=int(counted[i] + ragged[i] + skipped[i]),
            used=int(counted[i] - rejected[i]),
            rejected=int(rejected[i] + ragged[i]),
            skipped=int(skipped[i]),
        )
        for i, rel in enumerate(rels)
    ]
    findings = rows.findings
    line = rows.columns["line"]
    file = file_of(line)
    if len(rels) > 1:
        at = file_of([f.line for f in findings])
        order = np.argsort(at, kind="stable")  # file by file, each in the order it was found
        findings = [
            replace(f, file=rels[i], line=f.line - int(shifts[i]))
            for f, i in zip((findings[k] for k in order), at[order].tolist())
        ]
        line = line - shifts[file]
    frame = pd.DataFrame(
        {"file": pd.Categorical.from_codes(file, rels), **rows.columns, "line": line}, copy=False
    )
    return ReadResult(accounts, frame, findings, rows.villages, rows.valid_days, rows.checks)
