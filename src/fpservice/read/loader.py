"""`load()`: every ledger under a directory, read on a thread pool (pyarrow and numpy let go of
the GIL while they parse), each read through the cache when there is one, then put together."""

from __future__ import annotations

import datetime as dt
import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fpservice import units as units_mod
from fpservice.errors import InputError, os_reason
from fpservice.findings import Finding
from fpservice.headers import DEFAULT, Headers
from fpservice.read import assemble, discover, setentry
from fpservice.read.cache import LedgerCache, finding_fields, finding_from
from fpservice.read.contents import Hashing, contents_of, digest
from fpservice.read.headstart import HeadStart
from fpservice.read.ledgerfile import read_batch, read_ledger_file, read_workbook
from fpservice.read.ledgerset import FileAccount, LedgerSet, Progress, ReadResult, account_from
from fpservice.read.sheets import WorkbookReader, is_workbook, looks_like_workbook
from fpservice.read.unitsfile import load_units_file


def load(
    root: Path | str,
    *,
    encoding: str | None = None,
    today: dt.date | None = None,
    cache: LedgerCache | None = None,
    progress: Progress | None = None,
    headers: Headers = DEFAULT,
    columns: dict[str, set[str]] | None = None,
    hashing: Hashing | None = None,
    head: HeadStart | None = None,
) -> LedgerSet:
    """Read every ledger under `root`. Raises InputError when there is nothing to read.
    `progress` hears of the bytes read as files finish; `headers` holds the county's own aliases.
    `columns`, per ledger type, are all a caller reads: a set served whole from the cache then
    loads only those (`LedgerSet.columns`), as read-only views of its entries; a set read from
    the files has every column.
    `hashing`: the files' digests, made ahead by the caller (with a cache), who stops it.
    `head`: a file read and parsed ahead by the caller (without a cache)."""
    today = today or dt.date.today()
    reads = reads_of(root, encoding)
    # Each read is parsed on one core, unless it is so large that the others could not keep the
    # rest busy meanwhile (two parses splitting their blocks over all cores make each other wait).
    workers = discover.read_threads()
    reader = reads.reader(encoding, today, cache, headers, share=reads.total / workers, head=head)
    ledgers = LedgerSet(reads.root, {}, reads.units, list(reads.findings))
    key = contents = None
    # The whole set as the last run left it, when not one file has changed since
    if cache and cache.worth_it(reads.total):
        files = [None if p in reads.unusable else p for p in reads.files]
        contents = contents_of(files, workers, hashing)
        key = setentry.key_of(cache, list(map(reader.rel, reads.files)), contents, reader.context)
        if key and setentry.get(cache, key, ledgers, today, columns):
            if progress:
                progress.start(reads.total)
                progress.advance(reads.total)
                progress.finish()
            cache.prune()
            return ledgers
        if key:  # the reads' rows will be stored with the set, not each in an entry of its own
            reader.kept = []
    jobs, job_sizes = reads.jobs, reads.job_sizes
    with reader.workbooks, ThreadPoolExecutor(max_workers=workers) as pool:
        # The largest reads first, so that none starts last while the other cores idle; results
        # stay in the order of the jobs.
        submitted = {i: pool.submit(reader.read, jobs[i]) for i in np.argsort(job_sizes)[::-1].tolist()}
        if progress:
            size_of = {future: job_sizes[i] for i, future in submitted.items()}
            progress.start(sum(job_sizes))
            for done in as_completed(size_of):
                progress.advance(size_of[done])
            progress.finish()
        per_job = [submitted[i].result() for i in range(len(jobs))]
    results = [pair for pairs in per_job for pair in pairs]
    accounts, found, parts, rels = reads.gathered(per_job)
    if cache:
        cache.prune()
    ledgers.frames = assemble.frames(parts, {rel: i for i, rel in enumerate(rels)})
    ledgers.findings, ledgers.accounts = ledgers.findings + found, accounts
    ledgers.valid_days = assemble.common_days([got.valid_days for got, _ in results])
    # Kept only when the bytes read are those the key was made of: a file replaced or unreadable
    # in between is no state to keep under that key
    read = ["-" if p in reads.unusable else reader.digests.get(p) for p in reads.files]
    whole = reader.kept or []
    if key and read == contents:
        ledgers.key = key
        setentry.put(cache, key, ledgers, found, set().union(*(got.villages for got, _ in results)))
        whole = setentry.point(cache, key, ledgers, whole)
    for entry in whole:  # no set to find them in
        cache.put(*entry)
    return ledgers


@dataclass
class Reads:
    """What a ledger directory holds and how it is read: units.csv, the files (each found once),
    and the reads they are grouped into (a file, a batch of small files, a workbook). The local
    loader runs the reads on threads; the Dask engine on workers."""

    root: Path
    units: units_mod.Units
    findings: list[Finding]  # units.csv's own
    files: list[Path]
    unusable: dict[Path, str]  # what is not a regular file: never opened, a finding each
    jobs: list[list[Path]]
    sizes: dict[Path, int]

    def rel(self, path: Path) -> str:
        """A file's name in findings and accounts."""
        return _relative(self.root)(path)

    def size_of(self, job: list[Path]) -> int:
        return sum(self.sizes.get(path, 0) for path in job)

    @property
    def job_sizes(self) -> list[int]:
        return list(map(self.size_of, self.jobs))

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def reader(
        self,
        encoding,
        today: dt.date,
        cache,
        headers: Headers,
        share: float,
        workbook_processes: bool = True,
        rows_in_sets: bool = True,
        head: HeadStart | None = None,
    ) -> _Reader:
        """How the reads are read. `workbook_processes`: workbooks in processes of their own (not
        in a Dask worker, which is one, and whose crash Dask survives). `rows_in_sets`: a read
        without an entry of its own may be served from the whole set its rows were stored in
        (not on a Dask worker: a task reads a few files, and would load every row of the set's
        part for them)."""
        reads = (self.root, self.units, encoding, today, cache, share, headers, self.unusable)
        return _Reader(*reads, workbook_processes, rows_in_sets, head)

    def gathered(self, per_job: list[list[tuple[ReadResult, str | None]]]):
        """-> accounts and findings file by file in the order the files were found (a workbook's
        sheets in its own order, each read as a file), the frames of each ledger type, the files
        by name in that order. Units seen are added when there is no units.csv."""
        results = [pair for pairs in per_job for pair in pairs]
        sheets = {
            job[0]: [a.file for got, _ in pairs for a in got.accounts]
            for job, pairs in zip(self.jobs, per_job)
        }
        rel = _relative(self.root)
        rels = [r for path in self.files for r in (sheets[path] if is_workbook(path.name) else [rel(path)])]
        accounts, found, parts, seen = assemble.by_file(results, rels)
        if not self.units.listed:
            self.units.add_seen(sorted(seen))
        return accounts, found, parts, rels


def reads_of(root: Path | str, encoding: str | None) -> Reads:
    """The files under `root` and their reads. Raises InputError when there is nothing to read."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"台帐目录不存在或不是目录：{root}")
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise InputError(f"无法读取台帐目录 {root}：{os_reason(exc, writing=False)}") from exc
    units_path = next((p for p in entries if p.name.lower() == discover.UNITS_FILE and p.is_file()), None)
    units = units_mod.empty()
    if units_path:
        units = load_units_file(units_path, discover.display_name(units_path.name), encoding)
    files = [p for p in discover.discover(root) if p != units_path]
    if not files:
        raise InputError(f"{root} 中没有台帐文件（CSV 或 Excel/WPS 工作簿）")
    unusable = {p: problem for p in files if (problem := discover.unusable(p))}
    usable = [p for p in files if p not in unusable]
    sizes = {path: discover.file_size(path) for path in usable}
    jobs = discover.jobs(usable, sizes, encoding is None) + [[path] for path in unusable]
    return Reads(root, units, list(units.findings), files, unusable, jobs, sizes)


def _relative(root: Path):
    """A file's name in findings and accounts: its path under the ledger directory."""
    return lambda path: discover.display_name(path.relative_to(root).as_posix())


class _Reader:
    """Reads a file, a batch of small files, or a workbook, through the cache when there is one."""

    def __init__(
        self,
        root: Path,
        units,
        encoding: str | None,
        today: dt.date,
        cache,
        share: float,
        headers,
        unusable,
        workbook_processes: bool = True,
        rows_in_sets: bool = True,
        head: HeadStart | None = None,
    ):
        self.root, self.units, self.encoding, self.today, self.cache = root, units, encoding, today, cache
        self.share = share  # bytes per core: a larger read is parsed on all cores
        self.headers = headers
        self.unusable = unusable  # path -> (finding code, detail): not a file to open
        self.context = json.dumps([encoding, units.listed, units.fingerprint, headers.fingerprint])
        self.workbooks = WorkbookReader((os.cpu_count() or 1) if workbook_processes else 0)
        self.digests: dict[Path, str] = {}  # of the bytes each file was read from (with a cache)
        # (key, frame, meta) of the reads whose rows go into the set stored after them, when one
        # is (see setentry.point); None: each read is stored whole as soon as it is read
        self.kept: list | None = None
        self.stored = setentry.Stored() if rows_in_sets else None  # sets reads' rows are taken from
        self.head = head

    def rel(self, path: Path) -> str:
        return _relative(self.root)(path)

    def read(self, paths: list[Path]) -> list[tuple[ReadResult, str | None]]:
        """-> (what was read, its cache key) for the files: one, several read as one, or each
        sheet of a workbook."""
        if len(paths) > 1:
            return self._many(paths)
        if paths[0] in self.unusable:
            code, detail = self.unusable[paths[0]]
            rel = self.rel(paths[0])
            finding = Finding(code, rel, detail=detail)
            return [(ReadResult([FileAccount(rel, None, None)], findings=[finding]), None)]
        return self._workbook(paths[0]) if is_workbook(paths[0].name) else [self._one(paths[0])]

    def _workbook(self, path: Path) -> list[tuple[ReadResult, str | None]]:
        """Each sheet of a workbook, as a file of its own (`台帐.xlsx[流入人口信息登记簿]`). The cache
        keeps an entry per sheet and one for the workbook that lists them; workbooks are always
        cached, since reading one takes far longer than reading its entries back."""
        rel = self.rel(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return [(ReadResult([FileAccount(rel, None, None)], findings=[_unreadable(rel, exc)]), None)]
        if path.suffix.lower() == ".xls" and not looks_like_workbook(raw):
            return [self._one(path, raw)]  # a CSV or tab-separated file that a web system named .xls
        cache, kind = self.cache, path.suffix.lower().lstrip(".")
        key = cache.key(self._digest(path, raw), rel, self.context) if cache else None
        hit = self._entry(key) if cache else None
        if isinstance(hit, ReadResult):  # a workbook that could not be read at all
            return [(hit, key)]
        if isinstance(hit, list):  # its sheets' names: an entry each
            keys = [cache.key(key, name, self.context) for name in hit]
            got = [self._entry(k) for k in keys]
            if all(isinstance(g, ReadResult) for g in got):
                return [(g, k) for g, k in zip(got, keys)]
        sheets = self.workbooks.run(read_workbook, raw, rel, self.units, self.today, kind, self.headers)
        if isinstance(sheets, tuple):  # the workbook as a whole cannot be read
            code, detail = sheets
            got = ReadResult(
                [FileAccount(rel, None, kind)], findings=[Finding(code, rel, None, None, None, detail)]
            )
            if cache:
                cache.put(key, pd.DataFrame(), _meta(got))
            return [(got, key)]
        out = []
        for name, sheet in sheets:
            sheet_key = cache.key(key, name, self.context) if cache else None
            if cache:
                cache.put(sheet_key, sheet.frame if sheet.frame is not None else pd.DataFrame(), _meta(sheet))
            out.append((sheet, sheet_key))
        if cache:
            names = [name for name, _ in sheets]
            cache.put(key, pd.DataFrame(), {"sheets": names, "valid_days": [None, None]})
        return out

    def _one(
        self, path: Path, raw: bytes | None = None, content: str | None = None
    ) -> tuple[ReadResult, str | None]:
        """One file; `raw` and its digest (`content`) when a batch has read and hashed it already."""
        rel = self.rel(path)
        ahead = self.head.take(path) if self.head and raw is None else None
        raw, parsed = ahead or (raw, None)
        if raw is None:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                return ReadResult([FileAccount(rel, None, None)], findings=[_unreadable(rel, exc)]), None
        key = self.cache.key(self._digest(path, raw, content), rel, self.context) if self.cache else None
        threads = len(raw) > self.share
        args = (raw, rel, self.units, self.encoding, self.today, threads, self.headers)
        return self._cached(key, len(raw), lambda: read_ledger_file(*args, parsed=parsed))

    def _many(self, paths: list[Path]) -> list[tuple[ReadResult, str | None]]:
        try:
            raws = [path.read_bytes() for path in paths]
        except OSError:
            return [self._one(path) for path in paths]
        rels = [self.rel(path) for path in paths]
        key, digests = None, [None] * len(raws)
        if self.cache:
            digests = [self._digest(path, raw) for path, raw in zip(paths, raws)]
            key = self.cache.key(digest("".join(digests).encode()), "\n".join(rels), self.context)
        size = sum(map(len, raws))
        got, key = self._cached(
            key, size, lambda: read_batch(raws, rels, self.units, self.today, size > self.share, self.headers)
        )
        if got is None:  # not plain enough to read as one: file by file
            return [self._one(*file) for file in zip(paths, raws, digests)]
        return [(got, key)]

    def _digest(self, path: Path, raw: bytes, known: str | None = None) -> str:
        """The digest of the bytes `path` is read from, remembered (see `load`)."""
        self.digests[path] = known or digest(raw)
        return self.digests[path]

    def _cached(self, key: str | None, size: int, read) -> tuple[ReadResult | None, str | None]:
        """`read()` or its entry. A batch that had to be read file by file (None) is remembered
        as such, so that a warm run does not try it again."""
        cache = self.cache
        use = cache is not None and cache.worth_it(size)
        hit, in_set = self._read_entry(key) if use else (None, False)
        if hit is ALONE or isinstance(hit, ReadResult):
            if in_set and isinstance(hit, ReadResult) and self.kept is not None:  # into the new set
                self.kept.append((key, hit.frame, _meta(hit)))
            return (None if hit is ALONE else hit), key
        got = read()
        if use:
            frame = got.frame if got is not None and got.frame is not None else pd.DataFrame()
            meta = _meta(got) if got is not None else {"alone": True, "valid_days": [None, None]}
            if self.kept is not None and got is not None and got.frame is not None:
                self.kept.append((key, frame, meta))
            else:
                cache.put(key, frame, meta)
        return got, key

    def _entry(self, key: str):
        """The cache's entry for `key`, checked against what a read gives: a ReadResult, the
        sheet names of a workbook (a list), ALONE (a batch to read file by file), or None. An
        entry that is none of these, or whose rows have not the columns and types its ledger's
        have, is discarded as damaged (and the file read again)."""
        return self._checked(self.cache.get(key, self.today), lambda: self.cache.discard(key))

    def _read_entry(self, key: str) -> tuple[object, bool]:
        """A read's entry: its own, or its rows in the set they were stored with (see
        setentry.point). -> (the entry as `_entry` gives it, whether it came from a set)."""
        if self.stored is None or self.cache.has(key):
            got = self._entry(key)
            if got is not None or self.stored is None:
                return got, False
        # (an entry of its own that is for other days, or damaged, may be from before its rows
        # went into a set)
        hit = self.stored.rows_of(self.cache, key, self.today)
        note = setentry.rows_key(self.cache, key)
        return self._checked(hit, lambda: self.cache.discard_document(note, setentry.ROWS)), True

    @staticmethod
    def _checked(hit, discard):
        if hit is None:
            return None
        frame, meta = hit
        try:
            return _from_cache(frame, meta)
        except (ValueError, KeyError, TypeError, AttributeError):
            discard()
            return None


ALONE = "alone"  # a batch's entry when its files must be read one by one


def _unreadable(rel: str, exc: OSError) -> Finding:
    return Finding("file.unreadable", rel, None, None, None, os_reason(exc, writing=False))


def _meta(got: ReadResult) -> dict:
    return {
        "accounts": [vars(a) for a in got.accounts],
        "findings": [finding_fields(f) for f in got.findings],
        "villages": sorted(got.villages),
        "valid_days": list(got.valid_days),
        "has_frame": got.frame is not None,
    }


def _from_cache(frame: pd.DataFrame, meta: dict):
    """What an entry holds (see `_Reader._entry`), each part checked. Raises ValueError, KeyError
    or TypeError when a part is not what `_meta` wrote."""
    if "sheets" in meta:
        sheets = meta["sheets"]
        if not isinstance(sheets, list) or not all(isinstance(n, str) for n in sheets):
            raise ValueError("sheets")
        return sheets
    if meta.get("alone") is True:
        return ALONE
    accounts = [account_from(a) for a in meta["accounts"]]
    findings = [finding_from(f) for f in meta["findings"]]
    villages = meta["villages"]
    if not accounts or not isinstance(villages, list) or not all(isinstance(v, str) for v in villages):
        raise ValueError("villages")
    if meta["has_frame"] is not True:
        frame = None
    else:
        assemble.text_categories(frame)
        assemble.check_frame(frame, accounts[0].ledger, {a.file for a in accounts})
    return ReadResult(accounts, frame, findings, set(villages), tuple(meta["valid_days"]))
