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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpservice import cluster, clusterreads, consistency, shufflecodes
from fpservice import counting as counting_mod
from fpservice.cluster import EngineError
from fpservice.clusterreads import Group, Reading
from fpservice.engine import Engine  # noqa: F401  (the engine a run is given, named here too)
from fpservice.headers import Headers
from fpservice.read import assemble
from fpservice.read.ledgerset import LedgerSet
from fpservice.read.loader import Reads, reads_of
from fpservice.read.sheets import is_workbook
from fpservice.workdays import Calendar

PARTITION_BYTES = 100 << 20  # ledger bytes per partition: about 200,000 persons, ~0.25 GB computed
ONE_PARTITION_BYTES = 512 << 20  # at most this is one partition (about a million persons)
WORKBOOK_EXPANSION = 8  # a workbook's rows take about this many times its (zipped) bytes as CSV
SUM_FAN_IN = 4  # partitions' counts a task sums at once


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
            reading = clusterreads.read_whole if k == 1 else clusterreads.start_reading
            readings = reading(client, reads, common)
            per_job, latest = clusterreads.gathered(client, reads, readings, common)
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
    total, checks, outside_years = results
    cross = consistency.finish([checks], reads.units, rank)
    calendar = Calendar()
    calendar.outside_years |= outside_years
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


def _counted(client, readings: list[Reading], k: int, rank: dict[str, int], **counting) -> tuple:
    """Every partition counted (`_count_partition`) and the counts summed on the workers (`_summed`):
    -> the partial counts of every partition summed, their checks across rows, the years the
    calendar did not cover."""
    import dask

    count_one = dask.delayed(_count_partition, pure=False)
    if k == 1:  # no shuffle: counted from the reads themselves, on the worker that read them
        parts = [count_one({}, [], [r.read for r in readings], texts={}, rank=rank, **counting)]
    else:
        shuffled, direct, texts = _partitioned(client, readings, k, rank)
        parts = [
            count_one(
                {ledger: frames[p] for ledger, frames in shuffled.items()},
                direct[p],
                [],
                texts=texts,
                rank=rank,
                **counting,
            )
            for p in range(k)
        ]
    counted = client.compute(_summed(parts))
    # The graph holds the reads by key: let go of them here, so that each is released once the
    # shuffle and the partitions have taken its rows, not at the end of the run
    readings.clear()
    del parts
    return client.gather(counted)


def _summed(parts: list):
    """The partitions' counts summed as a tree of tasks, SUM_FAN_IN at a time, in the
    partitions' order (findings keep it). A partition's counts are arrays over every unit, and
    units grow with the ledgers as partitions do: held until the end and sent to the client,
    at 10 million persons they were most of a gigabyte on each worker."""
    import dask

    add = dask.delayed(_sum, pure=False)
    while len(parts) > 1:
        parts = [add(*parts[i : i + SUM_FAN_IN]) for i in range(0, len(parts), SUM_FAN_IN)]
    return parts[0]


def _sum(*counted: tuple) -> tuple:
    """Counts of partitions (partial counts, checks across rows, years outside the calendar) as one."""
    total, checks, years = counted[0]
    for partial, more, outside in counted[1:]:
        total, checks, years = total + partial, checks + more, years | outside
    return total, checks, years


def _partitioned(client, readings: list[Reading], k: int, rank: dict[str, int]):
    """The rows of every read, in K partitions: of a ledger of persons, by Dask's P2P shuffle on
    the ID number (every row of a person in one partition; shards wait on the workers' disks, not
    in their memory); of a ledger without persons (surveys, requests, staff), each file's (or
    piece's) rows whole to one partition, in turn. -> per ledger type, the K partitions (tasks)
    of a shuffled ledger; per partition, the frames of the other ledgers dealt to it (tasks, one
    per read); the categories of text of every shuffled ledger (a task).

    A shuffled frame's categories of text go as codes among every read's (shufflecodes)."""
    import dask

    texts = shufflecodes.united([reading.shape for reading in readings], rank)
    shared = _kept(client, texts)
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

    # Every worker imports it too before a task of the shuffle reaches it. A worker's task thread
    # and the thread that reads its messages importing it at once find it half made, and the
    # worker prints a traceback (dask/distributed#8759; seen once in a Dask run of sample_data).
    client.run(_import_dataframe)
    shuffled = {}
    for ledger, frames in inputs.items():
        meta = shufflecodes.coded(assemble.empty_frame(ledger), texts[ledger])
        rows = dd.from_delayed(frames, meta=meta, verify_meta=False)
        shuffled[ledger] = rows.shuffle(on="pid", npartitions=k, shuffle_method="p2p").to_delayed()
    return shuffled, direct, shared


def _import_dataframe() -> None:
    import dask.dataframe  # noqa: F401


def _rows(group: Group, ledger: str, texts: dict) -> pd.DataFrame:
    """A read's rows of a ledger of persons, its files' frames joined, its text as codes."""
    coded = [shufflecodes.coded(frame, texts[ledger]) for frame in group.frames[ledger]]
    return coded[0] if len(coded) == 1 else pd.concat(coded, ignore_index=True)


def _dealt(group: Group, picks: dict[str, list[int]]) -> dict[str, list[pd.DataFrame]]:
    """A read's frames dealt to one partition, per ledger type."""
    return {ledger: [group.frames[ledger][i] for i in at] for ledger, at in picks.items()}


def _count_partition(
    shuffled, direct, whole, *, texts, counts, hierarchy, rank, plan_start, lost, any_persons
):
    """One partition: its frames (persons numbered within it), the partial counts, the checks
    across rows, the years the calendar did not cover. Its rows: the shuffled ledgers' partition,
    per read the frames of the others dealt to it, and reads that are all its own (`whole`: one
    partition; a task dealing their frames would hold them a second time, as far as Dask counts,
    and have them spilled). The hierarchy is the worker's shared copy: its codings of this
    partition's frames are let go with them."""
    hierarchy = hierarchy.fresh()
    parts: dict[str, list] = {key: [] for key in assemble.LEDGER_TYPES}
    for ledger, frame in shuffled.items():
        if len(frame):
            parts[ledger].append(shufflecodes.as_read(frame, ledger, texts[ledger]))
    for dealt in [*direct, *(group.frames for group in whole)]:
        for ledger, frames in dealt.items():
            parts[ledger] += frames
    del shuffled, direct, whole
    frames = assemble.frames(parts, rank, threads=1)
    calendar = Calendar()
    # one thread: a worker has one, and the cluster a worker per core
    total = counting_mod.partial(frames, hierarchy, counts, plan_start, calendar, threads=1)
    checks = consistency.partial(frames, lost, any_persons)
    del frames, parts, hierarchy
    cluster.release_arrow_memory()
    return total, checks, calendar.outside_years
