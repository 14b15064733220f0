"""The Dask engine (`--engine dask`): a province's or the nation's ledgers on a cluster, each
worker holding a partition of the persons, never the whole (docs/partitioned.md). Ledgers small
enough for one worker are one partition, read and counted there, with no shuffle.

    reads (on the workers, where the files are)         ledger files -> validated rows
    Dask's P2P shuffle (on the workers)                 the rows of persons' ledgers into K
                                                        partitions by the ID number
    partitions (on the workers)                         frames, partial counts, checks across rows
    the client                                          accounts and findings of every file; the
                                                        sum of the partial counts -> the report

Every person's rows meet in one partition, so distinct-person counts, rows and the checks
across rows add up over the partitions (`counting`, `consistency`). The client reads only
units.csv and the directory listing; the ledger directory must be at the same path on every
worker (a shared filesystem). Dask retries the tasks of a worker that dies; what cannot be
finished is one message, never a partial report.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from fpservice import cluster, consistency, shufflecodes
from fpservice import counting as counting_mod
from fpservice.cluster import EngineError
from fpservice.engine import Engine  # noqa: F401  (the engine a run is given, named here too)
from fpservice.headers import Headers
from fpservice.read import assemble, chunks
from fpservice.read.ledgerset import LedgerSet, ReadResult
from fpservice.read.loader import Reads, reads_of
from fpservice.read.sheets import is_workbook
from fpservice.schema import LEDGER_TYPES
from fpservice.workdays import Calendar

GROUP_BYTES = 32 << 20  # ledger bytes a read task takes at once: well under a worker's memory
PARTITION_BYTES = 100 << 20  # ledger bytes per partition: about 200,000 persons, ~0.25 GB computed
ONE_PARTITION_BYTES = 512 << 20  # at most this is one partition (about a million persons)
WORKBOOK_EXPANSION = 8  # a workbook's rows take about this many times its (zipped) bytes as CSV
READ_THREADS = 2  # files a read task parses at once


@dataclass
class Gathered:
    """What the cluster gives the report: the ledgers' accounts and findings (no frames), what
    was counted and the sum of its partial counts, the checks across rows, what the calendar had
    to say."""

    ledgers: LedgerSet
    counts: list[counting_mod.Count]
    hierarchy: object
    total: counting_mod.Partial
    cross_file: list
    notes: list[str]


def count(
    ledger_dir: Path,
    engine: Engine,
    *,
    counts_for,
    hierarchy_of,
    plan_start: dt.date,
    encoding: str | None,
    headers: Headers,
    cache_dir: str | None,
    today: dt.date,
) -> Gathered:
    """Read and count the ledgers of `ledger_dir` on the cluster. `counts_for(latest, units)` says what
    to count once the latest event date is known (check judges as of it); `hierarchy_of(units)`
    gives the report's hierarchy once the units are (units seen count without a units.csv)."""
    # Workers open the files by path, from a working directory of their own: paths are absolute
    reads = reads_of(Path(ledger_dir).absolute(), encoding)
    cache_dir = str(Path(cache_dir).absolute()) if cache_dir else None
    with cluster.connected(engine) as client:
        try:
            k = engine.partitions or partitions_for(_csv_bytes(reads), cluster.worker_memory(client))
            shared = _kept(client, reads)  # the file list once, not in every task
            common = dict(reads=shared, encoding=encoding, today=today, cache_dir=cache_dir, headers=headers)
            readings = _read_whole(client, reads, common) if k == 1 else _start_reading(client, reads, common)
            per_job, latest = _gathered(client, reads, readings, common)
            counts = counts_for(latest, reads.units)
            accounts, found, _, rels = reads.gathered(per_job)  # in the reads' order
            ledgers = LedgerSet(Path(ledger_dir), {}, reads.units, reads.findings + found, accounts)
            rank = {rel: i for i, rel in enumerate(rels)}
            report_hierarchy = hierarchy_of(reads.units)
            hierarchy = _kept(client, report_hierarchy)
            lost = consistency.lost_persons(ledgers)
            any_persons = any(a.ledger == "persons" and a.used for a in ledgers.accounts)
            results = _counted(
                client,
                readings,
                k,
                rank,
                counts=counts,
                hierarchy=hierarchy,
                plan_start=plan_start,
                lost=lost,
                any_persons=any_persons,
            )
            del readings
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"Dask 集群连接中断，或计算节点读写失败：{exc}") from None
        except Exception as exc:
            said = cluster.failed(exc)
            if said is None:
                raise
            raise said from None
    total = results[0][0]
    for partial, *_ in results[1:]:
        total = total + partial
    cross = consistency.finish([r[1] for r in results], reads.units, rank)
    calendar = Calendar()
    calendar.outside_years |= set().union(*(r[2] for r in results))
    return Gathered(ledgers, counts, report_hierarchy, total, cross, calendar.notes())


def partitions_for(total: int, worker_memory: int) -> int:
    """The default number of partitions for ledgers of `total` bytes (as CSV). Ledgers within a
    quarter of a worker's memory, and no larger than ONE_PARTITION_BYTES, are one partition, read
    and counted whole by one worker as the local engine does (whose peak is about twice the
    ledgers' bytes): a million persons on 2 GiB workers. Beyond, partitions of PARTITION_BYTES,
    shuffled: the shuffle's cost (its passes over every row, its tasks) buys a bounded memory
    that ledgers so small do not need, and more ledgers keep more workers busy."""
    if total <= min(worker_memory // 4, ONE_PARTITION_BYTES):
        return 1
    return max(2, -(-total // PARTITION_BYTES))


def _csv_bytes(reads: Reads) -> int:
    """The ledgers' bytes as CSV would hold them: a workbook's are zipped."""
    return sum(size * (WORKBOOK_EXPANSION if is_workbook(p.name) else 1) for p, size in reads.sizes.items())


def _kept(client, value):
    """`value` on the cluster as the result of a task, not scattered: a task's result that a
    dying worker takes with it is computed again from the task, while scattered data is lost
    for good (and every task that needs it with it)."""
    return client.submit(_same, value, pure=False)


def _same(value):
    return value


def _release_arrow_memory() -> None:
    """Give back to the system what Arrow's allocator keeps of the memory a task freed: kept, it
    is memory Dask cannot spill, and at 10 million persons it held workers at their limit."""
    import pyarrow

    pyarrow.default_memory_pool().release_unused()


@dataclass
class _Reading:
    """A read task (`read`, its result a _Group on a worker), the task of its metas (no rows), and
    the reads (jobs) it was given, in order: a group of them read whole, or one piece of a large
    file (`piece`)."""

    read: object
    meta: object
    jobs: list[int]
    piece: bool = False
    shape: dict | None = None  # per ledger type, each frame's categories of text (from its meta)


def _reading(client, read, jobs: list[int], piece: bool = False) -> _Reading:
    """A read and the task of its metas, ahead of any other read (`priority`): taken while the
    read's rows are in memory, not after they were spilled to disk (and back, whole, for it)."""
    return _Reading(read, client.submit(_meta_of, read, pure=False, priority=1), jobs, piece)


def _read_whole(client, reads: Reads, common: dict) -> list[_Reading]:
    """One partition: every read by one task on its threads, as the local loader reads them, no
    file in pieces. Its rows stay on that worker, where the partition is counted: nothing is
    shuffled or sent."""
    jobs = list(range(len(reads.jobs)))
    read = client.submit(_read_group, reads.jobs, **common, pure=False)
    return [_reading(client, read, jobs)]


def _start_reading(client, reads: Reads, common: dict) -> list[_Reading]:
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


def _gathered(client, reads: Reads, readings: list[_Reading], common: dict):
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
class _Group:
    """A read task's results on its worker: per read, what the client needs (no rows), and the
    rows, per ledger type a frame per file (or piece) in the order read."""

    metas: list[list[tuple[ReadResult, None]]] | None
    frames: dict[str, list[pd.DataFrame]]
    latest: object  # the latest event date of its rows (a Timestamp, as LedgerSet.latest_date)

    def __sizeof__(self) -> int:
        """The bytes of its rows: what Dask counts to spill to disk in time (without it, a
        worker's read groups seemed a few hundred bytes each)."""
        return sum(int(f.memory_usage(index=False).sum()) for fs in self.frames.values() for f in fs)


def _read_group(jobs, *, reads: Reads, encoding, today, cache_dir, headers) -> _Group:
    from fpservice.read.cache import LedgerCache

    cache = LedgerCache(cache_dir) if cache_dir else None
    reader = reads.reader(encoding, today, cache, headers, share=float("inf"), workbook_processes=False)
    sizes = [sum(reads.sizes.get(path, 0) for path in job) for job in jobs]
    # Files on two threads, as the local loader reads them on two cores: pyarrow parses without
    # the GIL while the other thread checks values (one thread alone left half of it idle: 6 s against 3.5 s
    # for a million persons). The largest first, so that none starts last; results in order.
    # Each file is parsed on one core: splitting one over both was slower (3.8 s against 3.2 s
    # for a million persons read by one task), with the other thread parsing too.
    with reader.workbooks, ThreadPoolExecutor(READ_THREADS) as pool:
        largest_first = sorted(range(len(jobs)), key=sizes.__getitem__, reverse=True)
        submitted = {i: pool.submit(reader.read, jobs[i]) for i in largest_first}
        per_job = [[got for got, _ in submitted[i].result()] for i in range(len(jobs))]
    if cache is not None:
        cache.close()
    return _grouped(per_job)


def _grouped(per_job: list[list[ReadResult]]) -> _Group:
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
    _release_arrow_memory()
    known = [d for d in days if d is not None and d == d]  # NaT: a file without dates
    return _Group(metas, frames, max(known, default=None))


def _plan(path: Path, *, headers, size: int):
    """On a worker: the pieces of a large file (read.chunks), or None to read it whole."""
    try:
        return chunks.plan(path, headers, size)
    except (OSError, ValueError):  # read whole: what is wrong is said as for any file
        return None


def _read_piece(path: Path, piece, *, reads: Reads, encoding, today, cache_dir, headers) -> _Group:
    """One piece of a large file: a worker holds a piece's rows, never the whole file's. Its
    metas are None when the file is to be read whole."""
    try:
        got = chunks.read_piece(path, piece, reads.rel(path), reads.units, encoding, today, headers)
    except (chunks.Whole, OSError, ValueError):
        return _Group(None, {}, None)
    return _grouped([[got]])


def _meta_of(group: _Group):
    """A read's metas, latest date, and per ledger type its frames' categories of text (which the
    shuffle's codes need; of a ledger not shuffled, its frames only: a request number is text)."""
    shape = {ledger: shufflecodes.categories_of(ledger, frames) for ledger, frames in group.frames.items()}
    return group.metas, group.latest, shape


def _counted(client, readings: list[_Reading], k: int, rank: dict[str, int], **counting) -> list:
    """Every partition counted (`_count_partition`): -> per partition, its partial counts, its
    checks across rows, the years the calendar did not cover."""
    import dask

    shuffled, direct, texts = _partitioned(client, readings, k, rank)
    count_one = dask.delayed(_count_partition, pure=False)
    parts = [
        count_one(
            {ledger: frames[p] for ledger, frames in shuffled.items()},
            direct[p],
            texts=texts,
            rank=rank,
            **counting,
        )
        for p in range(k)
    ]
    counted = client.compute(parts)
    # The graph holds the reads by key: let go of them here, so that each is released once the
    # shuffle and the partitions have taken its rows, not at the end of the run
    readings.clear()
    del shuffled, direct, parts
    return client.gather(counted)


def _partitioned(client, readings: list[_Reading], k: int, rank: dict[str, int]):
    """The rows of every read, in K partitions: of a ledger of persons, by Dask's P2P shuffle on
    the ID number (every row of a person in one partition; shards wait on the workers' disks, not
    in their memory); of a ledger without persons (surveys, requests, staff), each file's (or
    piece's) rows whole to one partition, in turn. -> per ledger type, the K partitions (tasks)
    of a shuffled ledger; per partition, the frames of the other ledgers dealt to it (tasks, one
    per read); the categories of text of every shuffled ledger (a task). One partition needs no
    shuffle: every read's frames go to it as they are, the reads themselves (a task that dealt
    them would hold them a second time, as far as Dask counts, and have them spilled).

    A shuffled frame's categories of text go as codes among every read's (shufflecodes)."""
    import dask

    texts = shufflecodes.united([reading.shape for reading in readings], rank) if k > 1 else {}
    shared = _kept(client, texts)
    if k == 1:
        return {}, [[reading.read for reading in readings]], shared
    # Tasks of the graph the shuffle is part of, not futures of their own: Dask then takes a read's
    # rows just before the shuffle does, not every read's at once (which at 10 million persons
    # held all the rows twice and killed the workers)
    rows_of = dask.delayed(_rows, pure=False)
    dealt_of = dask.delayed(_dealt, pure=False)
    inputs: dict[str, list] = {}
    direct: list[list] = [[] for _ in range(k)]
    dealt: dict[str, int] = {}  # frames of each ledger dealt so far: frame after frame, in turn
    for reading in readings:  # in the reads' order: a file's pieces stay in line order
        picks: list[dict[str, list[int]]] = [{} for _ in range(k)]
        for ledger, frames in reading.shape.items():
            if ledger in texts:  # a read's frames of the ledger, joined: one input of the shuffle
                inputs.setdefault(ledger, []).append(rows_of(reading.read, ledger, shared))
                continue
            first = dealt.get(ledger, 0)
            dealt[ledger] = first + len(frames)
            for i in range(len(frames)):
                picks[(first + i) % k].setdefault(ledger, []).append(i)
        for p, chosen in enumerate(picks):
            if chosen:
                direct[p].append(dealt_of(reading.read, chosen))
    if not inputs:
        return {}, direct, shared
    import dask.dataframe as dd  # only for a shuffle: importing it takes 0.4 s

    shuffled = {}
    for ledger, frames in inputs.items():
        meta = shufflecodes.coded(assemble.empty_frame(ledger), texts[ledger])
        rows = dd.from_delayed(frames, meta=meta, verify_meta=False)
        shuffled[ledger] = rows.shuffle(on="pid", npartitions=k, shuffle_method="p2p").to_delayed()
    return shuffled, direct, shared


def _rows(group: _Group, ledger: str, texts: dict) -> pd.DataFrame:
    """A read's rows of a ledger of persons, its files' frames joined, its text as codes."""
    coded = [shufflecodes.coded(frame, texts[ledger]) for frame in group.frames[ledger]]
    return coded[0] if len(coded) == 1 else pd.concat(coded, ignore_index=True)


def _dealt(group: _Group, picks: dict[str, list[int]]) -> dict[str, list[pd.DataFrame]]:
    """A read's frames dealt to one partition, per ledger type."""
    return {ledger: [group.frames[ledger][i] for i in at] for ledger, at in picks.items()}


def _count_partition(shuffled, direct, *, texts, counts, hierarchy, rank, plan_start, lost, any_persons):
    """One partition: its frames (persons numbered within it), the partial counts, the checks
    across rows, the years the calendar did not cover. The hierarchy is the worker's shared copy:
    its codings of this partition's frames are let go with them."""
    hierarchy = hierarchy.fresh()
    parts: dict[str, list] = {key: [] for key in assemble.LEDGER_TYPES}
    for ledger, frame in shuffled.items():
        if len(frame):
            parts[ledger].append(shufflecodes.as_read(frame, ledger, texts[ledger]))
    for dealt in direct:  # per read, its frames dealt to this partition (or the whole read)
        for ledger, frames in (dealt.frames if isinstance(dealt, _Group) else dealt).items():
            parts[ledger] += frames
    del shuffled, direct
    frames = assemble.frames(parts, rank)
    calendar = Calendar()
    total = counting_mod.partial(frames, hierarchy, counts, plan_start, calendar)
    checks = consistency.partial(frames, lost, any_persons)
    del frames, parts, hierarchy
    _release_arrow_memory()
    return total, checks, calendar.outside_years
