"""One ledger file, or a batch of small files with one header read as one: bytes -> recognised
type -> parsed columns -> validated rows, findings and each file's row account
(read = used + rejected; blank rows and repeated header rows are skipped and counted apart)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from fpservice import schema
from fpservice import units as units_mod
from fpservice.findings import Finding
from fpservice.read import csvparse
from fpservice.read.discover import plain_head
from fpservice.read.encodings import Source, open_source
from fpservice.read.ledgerset import FileAccount, FileProblem, ReadResult
from fpservice.read.recognise import recognise
from fpservice.read.validate import validate
from fpservice.schema import LedgerType


def read_ledger_file(
    raw: bytes, rel: str, units: units_mod.Units, encoding: str | None, today: dt.date, threads: bool = True
) -> ReadResult:
    """Read and validate one file. A file-level problem rejects every row. `threads`: parse it on
    all cores (see csvparse.read_table)."""
    account = FileAccount(rel, None, None)
    try:
        source = open_source(raw, encoding)
        account.encoding = source.encoding
        if not source.header:
            raise FileProblem("file.empty", 1)
    except FileProblem as p:
        return ReadResult([account], findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    header = source.header

    problem, ltype, mapping = recognise(header)
    if problem:
        code, column, detail = problem
        if ltype is not None:
            account.ledger = ltype.key
        try:
            table = csvparse.read_table(source, list(range(len(header))))
            account.encoding = table.encoding
            account.read = len(table) + len(table.ragged)
            account.rejected, account.skipped = account.read, len(table.blank_lines)
        except FileProblem:
            pass
        return ReadResult([account], findings=[Finding(code, rel, 1, column, None, detail)])

    account.ledger = ltype.key
    try:
        rows = _read_rows(source, rel, ltype, mapping, units, today, threads)
    except FileProblem as p:
        return ReadResult([account], findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    return _split(rows, ltype.key, [rel], np.array([2]))


def read_batch(
    raws: list[bytes], rels: list[str], units: units_mod.Units, today: dt.date, threads: bool = True
) -> ReadResult | None:
    """Files with the same first line (their header) read as one: their bodies are joined under
    the header, parsed and checked once, and rows, findings and accounts are given back to each
    file by line. None when the files are not plain enough for that (a problem with the header,
    an encoding to work out, rows the exact reader must find, a quote left open at a file's end):
    they are then read one by one, which says what is wrong with each."""
    head = plain_head(raws[0])
    if head is None or not all(raw.startswith(head) for raw in raws):  # a file changed meanwhile
        return None
    parts, starts, line = [head], [], 2
    for raw in raws:
        if raw.count(b'"', len(head)) % 2:  # quotes must close within each file
            return None
        starts.append(line)
        line += raw.count(b"\n", len(head))
        parts.append(memoryview(raw)[len(head) :])  # joined below without a copy of its own
        if len(raw) > len(head) and not raw.endswith(b"\n"):
            parts.append(b"\n")
            line += 1
    try:
        source = open_source(b"".join(parts))
        problem, ltype, mapping = recognise(source.header) if source.header else (True, None, {})
        if problem:
            return None
        rows = _read_rows(source, rels[0], ltype, mapping, units, today, threads)
    except FileProblem:
        return None
    if not rows.fast or any(f.line is None or f.line < 2 for f in rows.findings):
        return None
    return _split(rows, ltype.key, rels, np.asarray(starts, dtype=np.int64))


@dataclass
class _Rows:
    """The rows of a read before they are given back to files: lines are physical lines in the
    bytes read (one file, or files joined)."""

    columns: dict[str, np.ndarray]  # used rows, typed (see validate)
    findings: list[Finding]
    lines: np.ndarray  # line of each row read (blank rows and repeated headers left out)
    rejected: np.ndarray  # per row read
    ragged: list[tuple[int, int]]
    skipped: np.ndarray  # lines of blank rows and of repeated header rows
    villages: set
    valid_days: tuple[str | None, str | None]
    encoding: str
    fast: bool


def _read_rows(
    source: Source,
    rel: str,
    ltype: LedgerType,
    mapping: dict[int, str],
    units: units_mod.Units,
    today: dt.date,
    threads: bool,
) -> _Rows:
    # ID numbers and names are nearly all distinct: read a value per row, not dictionary-encoded.
    distinct = frozenset(i for i, k in mapping.items() if ltype.column(k).kind in (schema.ID, schema.NAME))
    table = csvparse.read_table(source, sorted(mapping), distinct, threads)
    columns = {mapping[i]: cells for i, cells in table.columns.items()}
    header = source.header
    labels = {k: header[i] for i, k in mapping.items()}
    lines = table.lines
    repeated = np.ones(len(lines), dtype=bool)
    for key, label in labels.items():
        cells = columns[key]
        is_label = np.asarray(pc.fill_null(pc.equal(cells.values, label), False), dtype=bool)
        if not is_label.any():  # the usual case: no row repeats the header
            repeated = np.zeros(len(lines), dtype=bool)
            break
        repeated &= cells.per_value(is_label, False)
    skipped = [Finding("row.repeated_header", rel, int(line)) for line in lines[repeated]]
    skipped_lines = np.concatenate([table.blank_lines, lines[repeated]])
    if repeated.any():
        keep = np.flatnonzero(~repeated)
        columns, lines = {k: c.take(keep).compact() for k, c in columns.items()}, lines[keep]
    out, check = validate(ltype, rel, columns, lines, labels, units, today)
    ragged = [Finding("row.ragged", rel, line, None, None, str(n)) for line, n in table.ragged]
    return _Rows(
        out,
        ragged + skipped + check.findings,
        lines,
        check.reject,
        table.ragged,
        skipped_lines,
        check.villages,
        check.valid_days,
        table.encoding,
        table.fast,
    )


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
    accounts = [
        FileAccount(
            rel,
            ledger,
            rows.encoding,
            read=int(counted[i] + ragged[i]),
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
            Finding(f.code, rels[i], f.line - int(shifts[i]), f.column, f.value, f.detail)
            for f, i in zip((findings[k] for k in order), at[order].tolist())
        ]
        line = line - shifts[file]
    frame = pd.DataFrame(
        {"file": pd.Categorical.from_codes(file, rels), **rows.columns, "line": line}, copy=False
    )
    return ReadResult(accounts, frame, findings, rows.villages, rows.valid_days)
