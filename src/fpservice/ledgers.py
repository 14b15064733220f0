"""Read a ledger directory (SPEC §1–2) into typed frames, findings and per-file row accounts.

discover -> decode -> recognise the ledger type by its header -> parse and validate each known
column -> keep the rows without errors. Every row read is either used or rejected with a finding.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from fpservice import cache as cache_mod
from fpservice import csvfile, idnumber, schema
from fpservice import units as units_mod
from fpservice.cache import LedgerCache
from fpservice.csvfile import Cells, lookup
from fpservice.errors import InputError
from fpservice.findings import CODES, ERROR, Finding
from fpservice.privacy import mask_id, mask_name, mask_text
from fpservice.schema import LEDGER_TYPES, LedgerType
from fpservice.values import items_in, parse_dates, parse_yes_no

UNITS_FILE = "units.csv"


@dataclass
class FileAccount:
    """Rows of one file: read = used + rejected. Blank rows and repeated header rows are skipped
    and counted apart."""

    file: str
    ledger: str | None
    encoding: str | None
    read: int = 0
    used: int = 0
    rejected: int = 0
    skipped: int = 0


@dataclass
class Reading:
    """What one read gave: the accounts of its files (one file, or a batch of small files read
    as one), their used rows, their findings file by file, and the village codes written on any
    of their rows (rejected ones too: a village is seen even if its rows are bad)."""

    accounts: list[FileAccount]
    frame: pd.DataFrame | None = None
    findings: list[Finding] = field(default_factory=list)
    villages: set = field(default_factory=set)
    valid_days: tuple[str | None, str | None] = (None, None)  # see cache.holds_on


@dataclass
class LedgerSet:
    root: Path
    frames: dict[str, pd.DataFrame]
    units: units_mod.Units
    findings: list[Finding] = field(default_factory=list)
    accounts: list[FileAccount] = field(default_factory=list)
    key: str | None = None  # content key of all the files (with a cache)
    valid_days: tuple[str | None, str | None] = (None, None)

    @property
    def rejected_rows(self) -> int:
        return sum(a.rejected for a in self.accounts)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    # Dates that record something happening, as opposed to planned or reported later.
    EVENT_DATES = (
        ("services", "date"),
        ("surveys", "date"),
        ("persons", "arrived"),
        ("births", "birth_on"),
        ("requests", "issued_on"),
        ("outflow", "left_on"),
    )

    def latest_date(self) -> pd.Timestamp | None:
        """The latest event date in any ledger: the default 'as of' for `check`."""
        latest = [self.frames[ledger][col].max() for ledger, col in self.EVENT_DATES]
        latest = [d for d in latest if pd.notna(d)]
        return max(latest) if latest else None

    def villages_without_events(self, start, end) -> list[tuple[str, str]]:
        """Villages (listed, or seen) with no event dated in [start, end] in any ledger."""
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        active = set()
        for ledger, col in self.EVENT_DATES:
            frame = self.frames[ledger]
            active.update(frame.loc[(frame[col] >= lo) & (frame[col] <= hi), "unit"].unique().tolist())
        table = self.units.table
        villages = table.index[table["level"] == units_mod.VILLAGE]
        return [(c, table.at[c, "name"]) for c in sorted(villages) if c not in active]


class Progress(Protocol):
    """Hears how far a load has come (the CLI shows a bar on terminals)."""

    def start(self, total_bytes: int) -> None: ...
    def advance(self, done_bytes: int) -> None: ...
    def finish(self) -> None: ...


def discover(root: Path) -> list[Path]:
    """CSV files at any depth, in a stable order. Symlinked directories are not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".csv") and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def load(
    root: Path | str,
    encoding: str | None = None,
    today: dt.date | None = None,
    cache: LedgerCache | None = None,
    progress: Progress | None = None,
) -> LedgerSet:
    """Read every ledger under `root`. Raises InputError when there is nothing to read.
    `progress` hears of the bytes read as files finish."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"台帐目录不存在或不是目录：{root}")
    today = today or dt.date.today()
    units_path = next((p for p in root.iterdir() if p.name.lower() == UNITS_FILE and p.is_file()), None)
    units = (
        units_mod.load_units_file(units_path, units_path.name, encoding) if units_path else units_mod.empty()
    )
    findings = list(units.findings)
    files = [p for p in discover(root) if p != units_path]
    if not files:
        raise InputError(f"{root} 中没有 CSV 台帐文件")
    # pyarrow and numpy release the GIL while they parse and compute: files overlap on two cores.
    # Each read is parsed on one core, unless it is so large that the others could not keep the
    # rest busy meanwhile (two parses splitting their blocks over all cores make each other wait).
    workers = min(4, os.cpu_count() or 1)
    sizes = {path: _size(path) for path in files}
    reader = _Reader(root, units, encoding, today, cache, sum(sizes.values()) / workers)
    jobs = _jobs(files, sizes, encoding is None)
    job_sizes = [sum(sizes[path] for path in job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # The largest reads first, so that none starts last while the other cores idle; results
        # stay in the order of the jobs.
        submitted = {i: pool.submit(reader.read, jobs[i]) for i in np.argsort(job_sizes)[::-1].tolist()}
        if progress:
            size_of = {future: job_sizes[i] for i, future in submitted.items()}
            progress.start(sum(job_sizes))
            for done in as_completed(size_of):
                progress.advance(size_of[done])
            progress.finish()
        results = [pair for i in range(len(jobs)) for pair in submitted[i].result()]

    rels = [reader.rel(path) for path in files]
    accounts, found, parts, seen = _by_file(results, rels)
    if cache:
        cache.prune()
    frames = _frames(parts, {rel: i for i, rel in enumerate(rels)})
    if not units.listed:
        units.add_seen(sorted(seen))
    ledgers = LedgerSet(root, frames, units, findings + found, accounts)
    ledgers.key = cache_mod.digest("".join(k or "-" for _, k in results).encode()) if cache else None
    ledgers.valid_days = _common_days([got.valid_days for got, _ in results])
    return ledgers


class _Reader:
    """Reads a file, or a batch of small files, through the cache when there is one."""

    def __init__(self, root: Path, units, encoding: str | None, today: dt.date, cache, share: float):
        self.root, self.units, self.encoding, self.today, self.cache = root, units, encoding, today, cache
        self.share = share  # bytes per core: a larger read is parsed on all cores
        self.context = json.dumps([encoding, units.listed, units.fingerprint])

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def read(self, paths: list[Path]) -> list[tuple[Reading, str | None]]:
        """-> (what was read, its cache key) for the files: one, or several read as one."""
        return self._many(paths) if len(paths) > 1 else [self._one(paths[0])]

    def _one(
        self, path: Path, raw: bytes | None = None, digest: str | None = None
    ) -> tuple[Reading, str | None]:
        """One file; `raw` and its `digest` when a batch has read and hashed it already."""
        rel = self.rel(path)
        if raw is None:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                finding = Finding("file.unreadable", rel, None, None, None, exc.strerror)
                return Reading([FileAccount(rel, None, None)], findings=[finding]), None
        key = self.cache.key(digest or cache_mod.digest(raw), rel, self.context) if self.cache else None
        threads = len(raw) > self.share
        return self._cached(
            key, len(raw), lambda: read_ledger_file(raw, rel, self.units, self.encoding, self.today, threads)
        )

    def _many(self, paths: list[Path]) -> list[tuple[Reading, str | None]]:
        try:
            raws = [path.read_bytes() for path in paths]
        except OSError:
            return [self._one(path) for path in paths]
        rels = [self.rel(path) for path in paths]
        key, digests = None, [None] * len(raws)
        if self.cache:
            digests = [cache_mod.digest(raw) for raw in raws]
            key = self.cache.key(cache_mod.digest("".join(digests).encode()), "\n".join(rels), self.context)
        size = sum(map(len, raws))
        got, key = self._cached(
            key, size, lambda: read_batch(raws, rels, self.units, self.today, size > self.share)
        )
        if got is None:  # not plain enough to read as one: file by file
            return [self._one(*file) for file in zip(paths, raws, digests)]
        return [(got, key)]

    def _cached(self, key: str | None, size: int, read) -> tuple[Reading | None, str | None]:
        """`read()` or its entry. A batch that had to be read file by file (None) is remembered
        as such, so that a warm run does not try it again."""
        cache = self.cache
        use = cache is not None and cache.worth_it(size)
        hit = cache.get(key, self.today) if use else None
        if hit is not None:
            return (None if hit[1].get("alone") else _from_cache(hit)), key
        got = read()
        if use:
            frame = got.frame if got is not None and got.frame is not None else pd.DataFrame()
            meta = _meta(got) if got is not None else {"alone": True, "valid_days": [None, None]}
            cache.put(key, frame, meta)
        return got, key


def _by_file(results: list[tuple[Reading, str | None]], rels: list[str]):
    """-> accounts and findings file by file in the order the files were found, the frames of
    each ledger type in the order of the reads, and the villages seen."""
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in LEDGER_TYPES}
    account_of, findings_of, seen = {}, {}, set()
    for got, _ in results:
        for account in got.accounts:
            account_of[account.file] = account
        for finding in got.findings:
            findings_of.setdefault(finding.file, []).append(finding)
        seen |= got.villages
        if got.frame is not None:
            parts[got.accounts[0].ledger].append(got.frame)
    found = [f for rel in rels for f in findings_of.pop(rel, [])]
    found += [f for rest in findings_of.values() for f in rest]
    return [account_of[rel] for rel in rels], found, parts, seen


def _frames(parts: dict[str, list[pd.DataFrame]], rank: dict[str, int]) -> dict[str, pd.DataFrame]:
    """One frame per ledger type, rows in file order, every person numbered (`person`)."""
    orders = {k: _file_order(v, rank) for k, v in parts.items()}
    with_id = [k for k in parts if "pid" in (parts[k][0] if parts[k] else _empty_frame(k))]
    # Persons are numbered on a thread of their own while the frames are joined (pandas hashes
    # without the GIL), from the ID numbers in the order the joined frames will have.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpservice-persons") as pool:
        ids = {k: _ids_in_order(parts[k], orders[k]) for k in with_id}
        numbering = pool.submit(_person_numbers, list(ids.values()))
        frames = {k: _concat(k, v, orders[k], rank, ids.get(k)) for k, v in parts.items()}
        for k, numbers in zip(with_id, numbering.result()):
            frames[k]["person"] = numbers
    return frames


# Files below BATCH_FILE bytes whose first lines are the same bytes (one header, as in a file per
# village) are read together, up to BATCH_BYTES at a time: reading a file costs a few
# milliseconds besides its bytes (building columns and frames), which thousands of small files
# would otherwise pay each.
BATCH_FILE = 4 << 20
BATCH_BYTES = 16 << 20


def _jobs(files: list[Path], sizes: dict[Path, int], batching: bool) -> list[list[Path]]:
    """The files in reads: a batch of small files with one header, or a file alone. In the order
    of each read's first file."""
    groups: dict[bytes, list[Path]] = {}
    first: dict[int, list[Path]] = {}
    for i, path in enumerate(files):
        head = _header_line(path) if batching and sizes[path] < BATCH_FILE else None
        if head is None:
            first[i] = [path]
        else:
            groups.setdefault(head, []).append(path)
    index = {path: i for i, path in enumerate(files)}
    for paths in groups.values():
        batch, size = [], 0
        for path in paths:
            if batch and size + sizes[path] > BATCH_BYTES:
                first[index[batch[0]]] = batch
                batch, size = [], 0
            batch.append(path)
            size += sizes[path]
        first[index[batch[0]]] = batch
    return [first[i] for i in sorted(first)]


def _header_line(path: Path) -> bytes | None:
    """A file's first line, when it can head a batch (see _plain_head)."""
    try:
        with path.open("rb") as fh:
            return _plain_head(fh.read(4096))
    except OSError:
        return None


def _plain_head(data: bytes) -> bytes | None:
    """The first line of a file's bytes with its line break, when files can be joined under it:
    no quote in it (a quoted header may go on over several lines), not UTF-16."""
    end = data.find(b"\n")
    if end < 0 or b'"' in data[:end] or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    return data[: end + 1]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _meta(got: Reading) -> dict:
    return {
        "accounts": [vars(a) for a in got.accounts],
        "findings": [cache_mod.finding_fields(f) for f in got.findings],
        "villages": sorted(got.villages),
        "valid_days": list(got.valid_days),
        "has_frame": got.frame is not None,
    }


def _from_cache(hit) -> Reading | None:
    if hit is None:
        return None
    frame, meta = hit
    for name in frame.columns:  # an empty category list comes back from Arrow as object dtype
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.dtype != "str":
            frame[name] = pd.Categorical.from_codes(
                column.cat.codes, dtype=_text_dtype(column.cat.categories)
            )
    return Reading(
        [FileAccount(**a) for a in meta["accounts"]],
        frame if meta["has_frame"] else None,
        [Finding(*f) for f in meta["findings"]],
        set(meta["villages"]),
        tuple(meta["valid_days"]),
    )


def _common_days(windows) -> tuple[str | None, str | None]:
    firsts = [a for a, _ in windows if a]
    untils = [b for _, b in windows if b]
    return (max(firsts) if firsts else None, min(untils) if untils else None)


def _concat(
    key: str, frames: list[pd.DataFrame], order: np.ndarray | None, rank: dict[str, int], pid=None
) -> pd.DataFrame:
    """One frame per ledger type, its rows taken in `order` (see _file_order), its file categories
    in the order the files were found (`rank`); `pid`, when given, is that column joined already.
    Categorical columns (file, unit, …) keep their codes: the categories of all files are united
    first, so pandas does not fall back to strings. Text categories are sorted in every file and
    stay sorted when united: how files were grouped into reads does not show."""
    if not frames:
        return _empty_frame(key).copy()
    if len(frames) == 1 and order is None:
        return frames[0]
    columns = {}
    for name in frames[0].columns:
        if name == "pid" and pid is not None:
            columns[name] = pid
            continue
        parts = [f[name].array for f in frames]
        first = parts[0]
        if isinstance(first.dtype, pd.CategoricalDtype):
            # A vocabulary's categories are the same, in the same order, in every file: the codes
            # line up as they are. Unit codes differ from file to file and are united first.
            if all(p.dtype is first.dtype or p.categories.equals(first.categories) for p in parts):
                codes = np.concatenate([p.codes for p in parts])
                column = pd.Categorical.from_codes(codes, dtype=first.dtype)
            else:
                column = union_categoricals(parts, sort_categories=True)
        else:  # arrays of one type: no index to align, unlike pd.concat
            column = type(first)._concat_same_type(parts)
        columns[name] = column if order is None else column.take(order)
    file = columns["file"]
    columns["file"] = file.reorder_categories(sorted(file.categories, key=rank.__getitem__))
    return pd.DataFrame(columns, copy=False)  # no copy into 2-D blocks: columns stay as built


def _file_order(frames: list[pd.DataFrame], rank: dict[str, int]) -> np.ndarray | None:
    """Positions that put the joined rows of the frames file by file in the order the files were
    found, or None when they are in it already (as they are unless a batch and a file read alone,
    or two batches, interleave). A file's rows are together and in line order in its frame."""
    if not frames:
        return None
    at = [np.array([rank[c] for c in f["file"].cat.categories], dtype=np.int64) for f in frames]
    row_rank = np.concatenate([a[f["file"].cat.codes.to_numpy()] for a, f in zip(at, frames)])
    if (row_rank[1:] >= row_rank[:-1]).all():
        return None
    return np.argsort(row_rank, kind="stable")


def has_person(persons: np.ndarray, people: np.ndarray) -> np.ndarray:
    """For rows with `persons` numbers (see _person_numbers): is the person among `people`?"""
    size = max(int(persons.max(initial=-1)), int(people.max(initial=-1))) + 1
    mark = np.zeros(size, dtype=bool)
    mark[people] = True
    return mark[persons]


def _ids_in_order(frames: list[pd.DataFrame], order: np.ndarray | None) -> np.ndarray:
    """The ID numbers (int64 keys) of the frames joined, in `order`."""
    if len(frames) == 1 and order is None:
        return frames[0]["pid"].to_numpy()
    ids = np.concatenate([f["pid"].to_numpy() for f in frames] or [np.zeros(0, np.int64)])
    return ids if order is None else ids[order]


def _person_numbers(ids: list[np.ndarray]) -> list[np.ndarray]:
    """Every person one dense number across all ledgers, from the ID numbers of each ledger:
    whether a person has a service, or how many distinct persons a unit has, is then a bitmap
    over these numbers."""
    keys = np.concatenate(ids)
    numbers, _ = pd.factorize(keys, size_hint=len(keys))  # sized once: no rehashing as it grows
    bounds = np.cumsum([0, *map(len, ids)])
    return [numbers[a:b].astype(np.int32) for a, b in zip(bounds[:-1], bounds[1:])]


@functools.cache
def _empty_frame(key: str) -> pd.DataFrame:
    """A ledger type with no file: no rows, but every column with its type."""
    columns = _validate(
        LEDGER_TYPES[key], "", {}, np.zeros(0, np.int64), {}, units_mod.empty(), dt.date.today()
    )[0]
    return pd.DataFrame({"file": pd.Categorical.from_codes([], ["-"]), **columns}, copy=False)


def read_ledger_file(
    raw: bytes, rel: str, units: units_mod.Units, encoding: str | None, today: dt.date, threads: bool = True
) -> Reading:
    """Read and validate one file. A file-level problem rejects every row. `threads`: parse it on
    all cores (see csvfile.read_table)."""
    account = FileAccount(rel, None, None)
    try:
        source = csvfile.open_source(raw, encoding)
        account.encoding = source.encoding
        if not source.header:
            raise csvfile.CsvProblem("file.empty", 1)
    except csvfile.CsvProblem as p:
        return Reading([account], findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    header = source.header

    problem, ltype, mapping = _recognise(header)
    if problem:
        code, column, detail = problem
        if ltype is not None:
            account.ledger = ltype.key
        try:
            table = csvfile.read_table(source, list(range(len(header))))
            account.encoding = table.encoding
            account.read = len(table) + len(table.ragged)
            account.rejected, account.skipped = account.read, len(table.blank_lines)
        except csvfile.CsvProblem:
            pass
        return Reading([account], findings=[Finding(code, rel, 1, column, None, detail)])

    account.ledger = ltype.key
    try:
        rows = _read_rows(source, rel, ltype, mapping, units, today, threads)
    except csvfile.CsvProblem as p:
        return Reading([account], findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    return _split(rows, ltype.key, [rel], np.array([2]))


def read_batch(
    raws: list[bytes], rels: list[str], units: units_mod.Units, today: dt.date, threads: bool = True
) -> Reading | None:
    """Files with the same first line (their header) read as one: their bodies are joined under
    the header, parsed and checked once, and rows, findings and accounts are given back to each
    file by line. None when the files are not plain enough for that (a problem with the header,
    an encoding to work out, rows the exact reader must find, a quote left open at a file's end):
    they are then read one by one, which says what is wrong with each."""
    head = _plain_head(raws[0])
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
        source = csvfile.open_source(b"".join(parts))
        problem, ltype, mapping = _recognise(source.header) if source.header else (True, None, {})
        if problem:
            return None
        rows = _read_rows(source, rels[0], ltype, mapping, units, today, threads)
    except csvfile.CsvProblem:
        return None
    if not rows.fast or any(f.line is None or f.line < 2 for f in rows.findings):
        return None
    return _split(rows, ltype.key, rels, np.asarray(starts, dtype=np.int64))


@dataclass
class _Rows:
    """The rows of a read before they are given back to files: lines are physical lines in the
    bytes read (one file, or files joined)."""

    columns: dict[str, np.ndarray]  # used rows, typed (see _validate)
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
    source: csvfile.Source,
    rel: str,
    ltype: LedgerType,
    mapping: dict[int, str],
    units: units_mod.Units,
    today: dt.date,
    threads: bool,
) -> _Rows:
    # ID numbers and names are nearly all distinct: read a value per row, not dictionary-encoded.
    distinct = frozenset(i for i, k in mapping.items() if ltype.column(k).kind in (schema.ID, schema.NAME))
    table = csvfile.read_table(source, sorted(mapping), distinct, threads)
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
    out, check = _validate(ltype, rel, columns, lines, labels, units, today)
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


def _split(rows: _Rows, ledger: str, rels: list[str], starts: np.ndarray) -> Reading:
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
    return Reading(accounts, frame, findings, rows.villages, rows.valid_days)


def _recognise(header: list[str]):
    """-> (problem or None, ledger type or None, {position: column key})."""
    types = schema.candidate_types(header)
    if not types:
        known = "、".join(f"{t.title}:{t.column(t.signature).label}" for t in LEDGER_TYPES.values())
        return ("file.unknown_type", None, known), None, {}
    if len(types) > 1:
        names = "、".join(
            f"{LEDGER_TYPES[t].title}({LEDGER_TYPES[t].column(LEDGER_TYPES[t].signature).label})"
            for t in types
        )
        return ("file.ambiguous_type", None, names), None, {}
    ltype = LEDGER_TYPES[types[0]]
    mapping = schema.map_headers(ltype, header)
    by_key: dict[str, list[int]] = {}
    for pos, key in mapping.items():
        by_key.setdefault(key, []).append(pos)
    for key, positions in by_key.items():
        if len(positions) > 1:
            col = ltype.column(key).label
            return ("file.duplicate_column", col, "、".join(header[p] for p in positions)), ltype, {}
    for col in ltype.columns:
        if col.required and col.key not in by_key:
            return ("file.missing_column", col.label, ltype.title), ltype, {}
    return None, ltype, mapping


class _Checker:
    """Collects findings for bad cells and marks rows with errors as rejected."""

    def __init__(self, rel: str, lines: np.ndarray, labels: dict[str, str]):
        self.rel, self.lines, self.labels = rel, lines, labels
        self.reject = np.zeros(len(lines), dtype=bool)
        self.findings: list[Finding] = []
        self.villages: set[str] = set()  # well-formed village codes on any row
        self.valid_days: tuple[str | None, str | None] = (None, None)  # what `today` allows

    def flag(self, code: str, mask, key: str, shown=None, masker=mask_text, detail=None) -> None:
        """Flag the rows in `mask`. `shown` and `detail` (if arrays) give a value per row; they
        are only looked at for the flagged rows."""
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        if CODES[code][0] == ERROR:
            self.reject |= mask
        values = list(shown[idx]) if shown is not None else [None] * len(idx)
        details = list(detail[idx]) if isinstance(detail, _PerRow) else [detail] * len(idx)
        label = self.labels.get(key, key)
        for i, v, d in zip(idx.tolist(), values, details):
            shown_value = masker(str(v)) if v is not None and not pd.isna(v) else None
            self.findings.append(Finding(code, self.rel, int(self.lines[i]), label, shown_value, d))

    def flag_values(self, code: str, bad: np.ndarray, cells: Cells, key: str, shown=None, **kw) -> None:
        """Flag the rows whose value is marked in the per-value mask `bad`; `shown` (per value)
        is what the finding shows, by default the value as written."""
        if bad.any():
            shown = cells.values if shown is None else shown
            self.flag(code, cells.per_value(bad, False), key, _PerRow(shown, cells.codes), **kw)


class _PerRow:
    """A per-row view of per-value data, looked up only for the rows a finding is about. The
    data is an array, an arrow array, or a function of value positions (for text made on demand)."""

    def __init__(self, values, codes: np.ndarray):
        self.values, self.codes = values, codes

    def __getitem__(self, idx):
        codes = self.codes[idx]
        if isinstance(self.values, np.ndarray | list):
            return lookup(np.asarray(self.values, dtype=object), codes, None)
        present = np.flatnonzero(codes >= 0)
        if isinstance(self.values, pa.Array):
            found = self.values.take(pa.array(codes[present])).to_pylist()
        else:
            found = self.values(codes[present])
        out = [None] * len(codes)
        for i, v in zip(present.tolist(), found):
            out[i] = v
        return out


class _Shown:
    """Per-row values for findings, made only for the flagged rows: `make(rows)` -> list."""

    def __init__(self, make):
        self.make = make

    def __getitem__(self, idx):
        return self.make(idx)


def _days(values: np.ndarray) -> _Shown:
    """Dates as YYYY-MM-DD."""
    return _Shown(lambda idx: np.datetime_as_string(values[idx].astype("datetime64[D]"), unit="D").tolist())


def _ids(keys: np.ndarray) -> _Shown:
    """ID numbers as text, back from their int64 keys."""
    return _Shown(lambda idx: idnumber.text_of(keys[idx]))


def _validate(
    ltype: LedgerType,
    rel: str,
    columns: dict[str, Cells],
    lines: np.ndarray,
    labels: dict[str, str],
    units: units_mod.Units,
    today: dt.date,
):
    """Parse and check each column, one distinct value at a time.
    -> (typed columns of the used rows, the checker: findings, rejected rows, villages seen,
    valid days)."""
    n = len(lines)
    check = _Checker(rel, lines, labels)
    out: dict[str, object] = {"line": np.asarray(lines, dtype=np.int64)}
    id_sex = id_birth = None

    for col in ltype.columns:
        cells = columns.get(col.key) or Cells.blank(n)
        if col.required:
            check.flag("value.required", ~cells.present, col.key)
        control = _has_control(cells.values)
        if control.any():
            check.flag_values(
                "value.control_chars", control, cells, col.key, masker=_MASKERS.get(col.kind, mask_text)
            )
            cells = cells.without(control)
        if col.kind == schema.CODE:
            out[col.key] = _check_units(check, cells, col.key, units)
        elif col.kind == schema.ID:
            out["pid"], id_sex, id_birth = _check_ids(check, cells, col.key, today)
        elif col.kind == schema.DATE:
            values, bad = parse_dates(cells.text())
            check.flag_values("value.date", bad, cells, col.key)
            out[col.key] = cells.per_value(values, np.datetime64("NaT"))
        elif col.kind == schema.YES_NO:
            values, bad = parse_yes_no(cells.text())
            check.flag_values("value.yes_no", bad, cells, col.key)
            coded = cells.per_value(values, -1)
            out[col.key] = pd.arrays.BooleanArray(coded == 1, coded < 0)
        elif col.kind in (schema.CHOICE, schema.SEX):
            words = col.vocabulary
            where = _positions(words)
            position = np.array([where.get(v, -1) for v in cells.text().tolist()], dtype=np.int64)
            check.flag_values("value.vocabulary", position < 0, cells, col.key, detail="/".join(words))
            out[col.key] = _categorical(cells, position, _vocabulary_dtype(words))
        elif col.kind == schema.ITEMS:
            out[col.key] = _item_bits(check, cells, col)
        elif col.kind == schema.TEXT:
            position, distinct = pd.factorize(cells.text(), sort=True)  # as units: in any read
            out[col.key] = _categorical(cells, position, _text_dtype(distinct))
        # NAME: checked above, never kept (no computation needs a name).

    if "id" in ltype.keys:
        _derive_from_id(check, ltype, out, id_sex, id_birth)
    if "pop_type" in ltype.keys:
        out["pop_type"] = out["pop_type"].fillna("流动")
    _check_row_relations(check, ltype.key, out, id_sex)

    keep = np.flatnonzero(~check.reject) if check.reject.any() else slice(None)
    return {key: value[keep] for key, value in out.items()}, check


_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_MASKERS = {schema.ID: lambda v: mask_text(mask_id(v)), schema.NAME: lambda v: mask_text(mask_name(v))}


def _has_control(values: pa.Array) -> np.ndarray:
    if len(values) == 0 or not _control_bytes(values):
        return np.zeros(len(values), dtype=bool)
    return np.asarray(pc.fill_null(pc.match_substring_regex(values, _CONTROL), False), dtype=bool)


def _control_bytes(values: pa.Array) -> bool:
    """Whether any byte of the values could be a control character: one pass over arrow's
    bytes instead of a regular expression per value. (In UTF-8 a byte below 0x80 is always a
    character of its own.)"""
    offsets, data = csvfile.value_bytes(values)
    data = data[offsets[0] : offsets[-1]]
    low = data < 32
    return bool(low.any() and (low & (data != 9) & (data != 10) & (data != 13)).any() or (data == 127).any())


def _check_ids(check: _Checker, cells: Cells, key: str, today: dt.date):
    """-> (int64 key, male 1 / female 0 / -1, birth date) per row, from each distinct ID once."""
    ids = idnumber.parse_values(cells.values, today)
    malformed = np.not_equal(ids.problem, None)
    check.flag_values(
        "value.id_malformed", malformed, cells, key, masker=mask_id, detail=_PerRow(ids.problem, cells.codes)
    )
    wrong_check_digit = ~ids.checksum_ok & (ids.key >= 0)
    if wrong_check_digit.any():

        def canonical(positions: np.ndarray) -> list[str]:  # shown masked, made for flagged rows only
            return idnumber.text_of(ids.key[positions])

        check.flag_values("value.id_checksum", wrong_check_digit, cells, key, canonical, masker=mask_id)
    check.valid_days = tuple(None if np.isnat(d) else str(d) for d in (ids.first_day, ids.until_day))
    return (
        cells.per_value(ids.key, -1),
        cells.per_value(ids.male, -1),
        cells.per_value(ids.birth, np.datetime64("NaT")),
    )


@functools.cache
def _positions(words: tuple[str, ...]) -> dict[str, int]:
    return {w: i for i, w in enumerate(words)}


@functools.cache
def _vocabulary_dtype(words: tuple[str, ...]) -> pd.CategoricalDtype:
    """One dtype per vocabulary, shared by every file: concatenation keeps the codes."""
    return _text_dtype(words)


def _text_dtype(categories) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(pd.Index(categories, dtype="str"))


def _categorical(cells: Cells, position: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """Rows as categories, from each value's position among the categories (-1: missing)."""
    return pd.Categorical.from_codes(cells.per_value(position, -1), dtype=dtype)


def _check_units(check: _Checker, cells: Cells, key: str, units: units_mod.Units):
    """-> the normalised unit codes (categorical). A file holds a few hundred distinct codes: each
    is looked at once."""
    codes = np.array([units_mod.normalize_code(v) for v in cells.text().tolist()], dtype=object)
    listed = units.levels if units.listed else None
    level = np.full(len(codes), None, dtype=object)
    malformed, unknown = np.zeros(len(codes), bool), np.zeros(len(codes), bool)
    for i, code in enumerate(codes.tolist()):
        if code is None:
            continue
        if not (len(code) == 12 and code.isascii() and code.isdigit()):
            malformed[i] = True
        elif listed is None:
            level[i] = units_mod.level_of_code(code)
        elif code in listed:
            level[i] = listed[code]
        else:
            unknown[i] = True
    check.flag_values("value.unit_malformed", malformed, cells, key)
    check.flag_values("value.unit_unknown", unknown, cells, key, codes)
    is_village = level == units_mod.VILLAGE
    not_village = np.not_equal(level, None) & ~is_village
    used = np.bincount(cells.codes[cells.present], minlength=len(level)) > 0
    check.villages = set(codes[is_village & used].tolist())
    check.flag_values(
        "value.unit_not_village", not_village, cells, key, codes, detail=_PerRow(level, cells.codes)
    )
    categories, position = np.unique(
        np.where(np.equal(codes, None), "", codes).astype(str), return_inverse=True
    )
    return _categorical(cells, position, _text_dtype(categories))


def _item_bits(check: _Checker, cells: Cells, col: schema.Column) -> np.ndarray:
    """`;`-separated items -> an int bitmask over the column's vocabulary (bit i = item i)."""
    position = {item: i for i, item in enumerate(col.vocabulary)}
    bits, unknown = [], []
    for text in cells.text().tolist():
        items = items_in(text)
        bits.append(sum(1 << position[i] for i in items if i in position))
        unknown.append("、".join(sorted(i for i in items if i not in position)) or None)
    unknown = np.array(unknown, dtype=object)
    check.flag_values(
        "value.vocabulary",
        np.not_equal(unknown, None),
        cells,
        col.key,
        unknown,
        detail="/".join(col.vocabulary),
    )
    return cells.per_value(np.array(bits, dtype=np.int64), 0)


def _derive_from_id(check: _Checker, ltype: LedgerType, out: dict, id_sex, id_birth) -> None:
    """Sex and birth date: blank cells come from the ID; written ones must agree with it.
    Sex is coded as the vocabulary 男, 女 (0, 1); the ID gives male 1 / female 0."""
    from_id = np.where(id_sex == 1, 0, np.where(id_sex == 0, 1, -1))
    sexes = _vocabulary_dtype(schema.VOCABULARIES["sex"])
    if "sex" in ltype.keys:
        given = out["sex"]
        codes = given.codes
        differs = (codes >= 0) & (from_id >= 0) & (codes != from_id)
        check.flag("value.sex_mismatch", differs, "sex", _Shown(lambda idx: given[idx].tolist()))
        out["sex"] = pd.Categorical.from_codes(np.where(codes >= 0, codes, from_id), dtype=sexes)
    else:
        out["sex"] = pd.Categorical.from_codes(from_id, dtype=sexes)
    if "birth" in ltype.keys:
        given = out["birth"]
        differs = ~np.isnat(given) & ~np.isnat(id_birth) & (given != id_birth)
        check.flag("value.birth_mismatch", differs, "birth", _days(given))
        out["birth"] = np.where(np.isnat(given), id_birth, given)
    else:
        out["birth"] = id_birth


def _check_row_relations(check: _Checker, ledger: str, out: dict, id_sex) -> None:
    if ledger == "persons":
        check.flag("row.left_before_arrived", out["left"] < out["arrived"], "left", _days(out["left"]))
    elif ledger == "outflow":
        check.flag(
            "row.returned_before_left",
            out["returned"] < out["left_on"],
            "returned",
            _days(out["returned"]),
        )
    elif ledger == "requests":
        check.flag(
            "row.answered_before_issued",
            out["answered_on"] < out["issued_on"],
            "answered_on",
            _days(out["answered_on"]),
        )
    elif ledger == "services":
        pregnancy = np.asarray(out["item"] == "孕检")
        check.flag("row.male_pregnancy_check", pregnancy & (id_sex == 1), "id", _ids(out["pid"]), mask_id)
    elif ledger == "births":
        check.flag("row.male_birth", id_sex == 1, "id", _ids(out["pid"]), mask_id)
