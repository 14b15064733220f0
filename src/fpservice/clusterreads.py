"""The ledgers read on the cluster's workers, for the Dask engine (partitioned.py): a task per
group of files (~32 MB), a task per piece of a file too large for a worker (read.chunks), or one
task for every file when the ledgers are one partition. The rows stay on the workers; the client
gets each read's metas (accounts, findings, the latest date, the categories of text), put
together as the local loader puts its reads together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from fpservice import cluster, shufflecodes
from fpservice.read import chunks
from fpservice.read.ledgerset import ReadResult
from fpservice.read.loader import Reads
from fpservice.read.sheets import is_workbook
from fpservice.schema import LEDGER_TYPES

GROUP_BYTES = 32 << 20  # ledger bytes a read task takes at once: well under a worker's memory
READ_THREADS = 2  # files a read task parses at once


@dataclass
class Reading:
    """A read task (`read`, its result a Group on a worker), the task of its metas (no rows), and
    the reads (jobs) it was given, in order: a group of them read whole, or one piece of a large
    file (`piece`)."""

    read: object
    meta: object
    jobs: list[int]
    piece: bool = False
    shape: dict | None = None  # per ledger type, each frame's categories of text (from its meta)


def _reading(client, read, jobs: list[int], piece: bool = False) -> Reading:
    """A read and the task of its metas, ahead of any other read (`priority`): taken while the
    read's rows are in memory, not after they were spilled to disk (and back, whole, for it)."""
    return Reading(read, client.submit(_meta_of, read, pure=False, priority=1), jobs, piece)


def read_whole(client, reads: Reads, common: dict) -> list[Reading]:
    """One partition: every read by one task on its threads, as the local loader reads them, no
    file in pieces. Its rows stay on that worker, where the partition is counted: nothing is
    shuffled or sent."""
    jobs = list(range(len(reads.jobs)))
    read = client.submit(_read_group, reads.jobs, **common, pure=False)
    return [_reading(client, read, jobs)]


def start_reading(client, reads: Reads, common: dict) -> list[Reading]:
    """A task per group of reads, and a task per piece of each CSV file too large to hold whole
    on a worker (a quarter's services of a province is several GB): its worker plans the pieces
    first (read.chunks) while the groups are read. A file the plan says to read whole is a group
    of its own."""
    large = [
        i
        for i, job in enumerate(reads.jobs)
        if len(job) == 1
        and job[0] not in reads.unusable
        and not is_workbook(job[0].name)
        and reads.sizes.get(job[0], 0) > chunks.CHUNK_BYTES
    ]
    plans = client.map(
        _plan, [reads.jobs[i][0] for i in large], headers=common["headers"], size=chunks.CHUNK_BYTES
    )
    readings = []
    for group in _groups(reads, set(large)):
        read = client.submit(_read_group, [reads.jobs[i] for i in group], **common, pure=False)
        readings.append(_reading(client, read, group))
    for i, plan in zip(large, client.gather(plans)):
        path = reads.jobs[i][0]
        if not plan:
            read = client.submit(_read_group, [reads.jobs[i]], **common, pure=False)
            readings.append(_reading(client, read, [i]))
            continue
        for read in client.map(_read_piece, [path] * len(plan), plan, **common, pure=False):
            readings.append(_reading(client, read, [i], piece=True))
    return readings


def gathered(client, reads: Reads, readings: list[Reading], common: dict):
    """-> what each read gave (no rows), in the reads' order, and the latest event date. A large
    file's pieces are put together as the file read whole says it (chunks.merged); one whose
    pieces cannot say that is read whole by a task of its own, which takes the pieces' place."""
    metas = client.gather([r.meta for r in readings])
    per_job: list = [None] * len(reads.jobs)
    pieces: dict[int, list] = {}
    for reading, (got, _, shape) in zip(readings, metas):
        reading.shape = shape
        if reading.piece:
            pieces.setdefault(reading.jobs[0], []).append(got)
        else:
            for i, pairs in zip(reading.jobs, got):
                per_job[i] = pairs
    again = []
    for i, parts in pieces.items():
        try:
            if any(part is None for part in parts):
                raise chunks.Whole(str(i))
            per_job[i] = [(chunks.merged([part[0][0][0] for part in parts]), None)]
        except chunks.Whole:  # what is wrong with it is said as for any file
            again.append(i)
    # What is used: a file read whole again may reject rows its pieces kept (the latest date too)
    used = [not (r.piece and r.jobs[0] in again) for r in readings]
    days = [day for keep, (_, day, _) in zip(used, metas) if keep]
    if again:
        readings[:] = [r for keep, r in zip(used, readings) if keep]
        whole = [
            _reading(client, client.submit(_read_group, [reads.jobs[i]], **common, pure=False), [i])
            for i in again
        ]
        more = client.gather([r.meta for r in whole])
        for reading, (got, _, shape) in zip(whole, more):
            per_job[reading.jobs[0]] = got[0]
            reading.shape = shape
        readings += whole
        days += [day for _, day, _ in more]
    latest = max((day for day in days if day is not None), default=None)
    return per_job, latest


def _groups(reads: Reads, apart: set[int]) -> list[list[int]]:
    """The reads (jobs) in groups of about GROUP_BYTES, in order, so that a few hundred tasks read
    a province's files: each group one task. Jobs in `apart` (read in pieces) are left out."""
    groups, current, size = [], [], 0
    for i, job_size in enumerate(reads.job_sizes):
        if i in apart:
            continue
        if current and size + job_size > GROUP_BYTES:
            groups.append(current)
            current, size = [], 0
        current.append(i)
        size += job_size
    return [*groups, current] if current else groups


@dataclass
class Group:
    """A read task's results on its worker: per read, what the client needs (no rows), and the
    rows, per ledger type a frame per file (or piece) in the order read."""

    metas: list[list[tuple[ReadResult, None]]] | None
    frames: dict[str, list[pd.DataFrame]]
    latest: object  # the latest event date of its rows (a Timestamp, as LedgerSet.latest_date)

    def __sizeof__(self) -> int:
        """The bytes of its rows: what Dask counts to spill to disk in time (without it, a
        worker's read groups seemed a few hundred bytes each)."""
        return sum(int(f.memory_usage(index=False).sum()) for fs in self.frames.values() for f in fs)


def _read_group(jobs, *, reads: Reads, encoding, today, cache_dir, headers) -> Group:
    from fpservice.read.cache import LedgerCache

    cache = LedgerCache(cache_dir) if cache_dir else None
    reader = reads.reader(
        encoding, today, cache, headers, share=float("inf"), workbook_processes=False, rows_in_sets=False
    )
    sizes = list(map(reads.size_of, jobs))
    # Files on two threads, as the local loader reads them on two cores: pyarrow parses without
    # the GIL while the other thread checks values (one thread alone left half of it idle: 6 s
    # against 3.5 s for a million persons). Each file on one core (splitting one over both, with
    # the other thread parsing too, was slower: 3.8 s against 3.2 s); the largest first, so that
    # none starts last; results in order.
    with reader.workbooks, ThreadPoolExecutor(READ_THREADS) as pool:
        largest_first = sorted(range(len(jobs)), key=sizes.__getitem__, reverse=True)
        submitted = {i: pool.submit(reader.read, jobs[i]) for i in largest_first}
        per_job = [[got for got, _ in submitted[i].result()] for i in range(len(jobs))]
    if cache is not None:
        cache.close()
    return _grouped(per_job)


def _grouped(per_job: list[list[ReadResult]]) -> Group:
    """What a read task gives of its reads (a list per job): their metas (no rows), their rows
    per ledger type, the latest event date among them."""
    metas, frames, days = [], {}, []
    for results in per_job:
        for got in results:
            if got.frame is not None and len(got.frame):
                ledger = got.accounts[0].ledger
                event = LEDGER_TYPES[ledger].event_date
                days.append(got.frame[event].max() if event else None)
                frames.setdefault(ledger, []).append(got.frame)
        metas.append([(replace(got, frame=None), None) for got in results])
    del per_job
    cluster.release_arrow_memory()
    known = [d for d in days if d is not None and d == d]  # NaT: a file without dates
    return Group(metas, frames, max(known, default=None))


def _plan(path: Path, *, headers, size: int):
    """On a worker: the pieces of a large file (read.chunks), or None to read it whole."""
    try:
        return chunks.plan(path, headers, size)
    except (OSError, ValueError):  # read whole: what is wrong is said as for any file
        return None


def _read_piece(path: Path, piece, *, reads: Reads, encoding, today, cache_dir, headers) -> Group:
    """One piece of a large file: a worker holds a piece's rows, never the whole file's. Its
    metas are None when the file is to be read whole."""
    try:
        got = chunks.read_piece(path, piece, reads.rel(path), reads.units, encoding, today, headers)
    except (chunks.Whole, OSError, ValueError):
        return Group(None, {}, None)
    return _grouped([[got]])


def _meta_of(group: Group):
    """A read's metas, latest date, and per ledger type its frames' categories of text (which the
    shuffle's codes need; of a ledger not shuffled, its frames only: a request number is text)."""
    shape = {ledger: shufflecodes.categories_of(ledger, frames) for ledger, frames in group.frames.items()}
    return group.metas, group.latest, shape
