"""The Dask engine against the local one: a real scheduler and two worker processes on
localhost (a LocalCluster), the same rows, findings and exit code, byte for byte; a worker
killed in the middle of a run; a scheduler that is not there."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402

from fpservice import api, clusterreads, partitioned  # noqa: E402
from fpservice.output import rows  # noqa: E402
from fpservice.partitioned import Engine  # noqa: E402
from scripts import office_files  # noqa: E402
from scripts.make_ledgers import generate  # noqa: E402
from tests.ledgerkit import REPO, run  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        Client(local) as client,
    ):
        yield local, client


@pytest.fixture(scope="module")
def movers(tmp_path_factory):
    """A district whose persons move: a hundred registered again in a village of another
    township (some while still registered in the first: two units at once), with services there."""
    d = tmp_path_factory.mktemp("movers") / "ledgers"
    generate(d, 6000, townships=3, villages_per=3, seed=5)
    towns = sorted(p for p in d.iterdir() if (p / office_files.PERSONS_FILE).is_file())
    first, _ = office_files.read_csv(towns[0] / office_files.PERSONS_FILE)
    target, encoding = office_files.read_csv(towns[1] / office_files.PERSONS_FILE)
    village = target["村居代码"].iloc[0]
    moved = first.head(100).rename(columns=dict(zip(first.columns, target.columns)))  # its headers
    moved["村居代码"] = village
    arrived = next(c for c in ("流入日期", "现居住地登记日期") if c in target)
    moved[arrived] = ["2011-06-01" if i % 2 else "2010-12-01" for i in range(len(moved))]
    office_files.write_csv(
        office_files.pd.concat([target, moved]), towns[1] / office_files.PERSONS_FILE, encoding
    )
    return d


def both(d, cluster_address, partitions=5, **kw):
    local = api.report(d, "2011Q3", trend=True, all_indicators=True, change=True, **kw)
    dask = api.report(
        d,
        "2011Q3",
        trend=True,
        all_indicators=True,
        change=True,
        engine=Engine("dask", cluster_address, None, partitions),
        **kw,
    )
    return local, dask


def same(local, dask):
    assert rows.to_json(local.report, True) == rows.to_json(dask.report, True)
    assert [f.as_dict() for f in local.findings] == [f.as_dict() for f in dask.findings]
    assert [vars(a) for a in local.ledgers.accounts] == [vars(a) for a in dask.ledgers.accounts]
    assert local.exit_code == dask.exit_code and local.notes == dask.notes
    assert local.report.previous.equals(dask.report.previous)


@pytest.mark.parametrize("partitions", [None, 5], ids=["one partition", "five"])
@pytest.mark.parametrize(
    "directory", ["sample_data", "tests/corpus/excel_mangled_cells", "tests/corpus/ragged_rows"]
)
def test_both_engines_give_the_same_report(cluster, directory, partitions):
    local, dask = both(REPO / directory, cluster[0].scheduler_address, partitions, plan="000")
    same(local, dask)


def test_persons_who_move_between_villages_and_townships(cluster, movers):
    local, dask = both(movers, cluster[0].scheduler_address)
    same(local, dask)
    codes = {f.code for f in dask.findings}
    assert "row.two_units" in codes  # registered in two villages at once: found across partitions


def test_the_partitions_counts_are_summed_on_the_workers_in_their_order(cluster, movers, monkeypatch):
    """Seven partitions summed two at a time: three levels of sums, the findings across rows
    (found in every partition) still in the local engine's order."""
    monkeypatch.setattr(partitioned, "SUM_FAN_IN", 2)
    counted = [(p, [f"finding of {p}"], {2000 + p}) for p in range(7)]  # counts, checks, years
    summed = partitioned._summed(counted).compute(scheduler="sync")  # (((0 1) (2 3)) ((4 5) 6))
    assert summed == (21, [f"finding of {p}" for p in range(7)], set(range(2000, 2007)))
    local, dask = both(movers, cluster[0].scheduler_address, partitions=7)
    same(local, dask)
    assert sum(f.code == "row.two_units" for f in dask.findings) > 1


def test_ledgers_within_a_worker_are_one_partition_never_shuffled(cluster, movers, monkeypatch):
    """By default, ledgers within a quarter of a worker's memory (these are a few MB) are one
    partition: read by one task and counted where they were read, with no pieces and no
    shuffle. The report is the local engine's; with partitions asked for, the rows are shuffled."""
    import dask.dataframe as dd

    shuffles, shuffle, start_reading = [], dd.DataFrame.shuffle, clusterreads.start_reading
    monkeypatch.setattr(dd.DataFrame, "shuffle", lambda *a, **kw: shuffles.append(1) or shuffle(*a, **kw))
    monkeypatch.setattr(clusterreads, "start_reading", lambda *a: shuffles.append(0) or start_reading(*a))
    local, dask = both(movers, cluster[0].scheduler_address, partitions=None)
    same(local, dask)
    assert shuffles == []
    _, dask = both(movers, cluster[0].scheduler_address, partitions=2)
    same(local, dask)
    assert shuffles == [0, 1, 1, 1, 1]  # reads in groups, the four ledgers of persons shuffled


def test_the_default_partitions_follow_the_ledgers_and_the_workers():
    from types import SimpleNamespace

    gib = 1 << 30
    assert partitioned.partitions_for(483_000_000, 2 * gib) == 1  # a million persons, read whole
    assert partitioned.partitions_for(2 * gib // 4 + 1, 2 * gib) == 6  # of PARTITION_BYTES each
    assert partitioned.partitions_for(300_000_000, gib) == 3  # a smaller worker's quarter
    assert partitioned.partitions_for(5_400_000_000, 2 * gib) == 52
    # however large the workers, a large district keeps them all busy: not one task on one of them
    assert partitioned.partitions_for(5_400_000_000, 64 * gib) == 52
    zipped = SimpleNamespace(sizes={Path("村.xlsx"): 10, Path("服务.csv"): 5})
    assert partitioned._csv_bytes(zipped) == 10 * partitioned.WORKBOOK_EXPANSION + 5


def test_the_memory_of_the_smallest_worker_decides():
    from fpservice import cluster

    class Client:
        def __init__(self, *limits):
            self.limits = limits

        def scheduler_info(self):
            return {"workers": {f"tcp://w{i}": {"memory_limit": m} for i, m in enumerate(self.limits)}}

    assert cluster.worker_memory(Client(8 << 30, 4 << 30)) == 4 << 30
    assert cluster.worker_memory(Client(8 << 30, 0)) == 2 << 30  # one without a limit: a local one's
    assert cluster.worker_memory(Client(1 << 30, 0)) == 1 << 30
    assert cluster.worker_memory(Client()) == 2 << 30


def test_a_local_clusters_workers_keep_glibcs_thresholds_and_arrows_allocator(monkeypatch):
    """Dask's MALLOC_TRIM_THRESHOLD_ fixes glibc's mmap threshold, which doubled the time of
    reading: a local cluster's workers start without it, and with Arrow's own allocator."""
    from fpservice import cluster

    # A Dask nanny puts its variables in its own process's environment before it starts a worker:
    # the module's cluster left the value here, where a new cluster's workers would inherit it (a
    # command's process starts without it)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")  # as the command line sets it
    with cluster.connected(Engine("dask", None, 1, None)) as client:
        assert list(client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == [None]
        assert list(client.run(os.environ.get, "MALLOC_ARENA_MAX").values()) == ["2"]
        # Arrow's own allocator, whatever the command line chose for itself (release_arrow_memory)
        pools = client.run(lambda: __import__("pyarrow").default_memory_pool().backend_name)
        assert list(pools.values()) == ["mimalloc"]
        assert list(client.run(os.environ.get, "OMP_NUM_THREADS").values()) == ["1"]  # Dask's others
    # what the nanny put in this process's environment for its workers is taken back
    assert "MALLOC_ARENA_MAX" not in os.environ and "OMP_NUM_THREADS" not in os.environ
    assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"


def in_pieces(monkeypatch, size):
    """Pieces of `size` bytes; -> (file, number of pieces) of each file put together, and whether
    each read task the client started was a piece."""
    from fpservice.read import chunks

    merged, whole_merged, tasks, reading = [], chunks.merged, [], clusterreads._reading
    monkeypatch.setattr(chunks, "CHUNK_BYTES", size)

    def merging(parts):
        merged.append((parts[0].accounts[0].file, len(parts)))
        return whole_merged(parts)

    monkeypatch.setattr(chunks, "merged", merging)
    monkeypatch.setattr(
        clusterreads, "_reading", lambda *a, **kw: tasks.append(kw.get("piece", False)) or reading(*a, **kw)
    )
    return merged, tasks


def test_large_files_read_in_pieces_on_the_workers(cluster, movers, monkeypatch):
    """Workers read files larger than a piece in pieces, a task each, so that none holds a whole
    file's rows (a quarter's services at 10 million persons is 1 GB); here pieces of 20 kB."""
    merged, tasks = in_pieces(monkeypatch, 20_000)
    local, dask = both(movers, cluster[0].scheduler_address)
    same(local, dask)
    assert len(merged) >= 3 and all(n > 1 for _, n in merged)
    assert sum(tasks) == sum(n for _, n in merged)  # each piece a task of its own


def test_a_large_file_its_pieces_cannot_take_is_read_whole(cluster, movers, tmp_path, monkeypatch):
    """A lone carriage return in the middle of a large file: only the exact reader ends a line
    there, so the piece that holds it cannot say what the file says; the file is read whole by
    a task of its own, and the report is the local engine's."""
    d = tmp_path / "ledgers"
    shutil.copytree(movers, d)
    from fpservice.read import chunks
    from fpservice.read.loader import reads_of

    alone = [job[0] for job in reads_of(d, None).jobs if len(job) == 1 and job[0].suffix == ".csv"]
    largest = max((p for p in alone if chunks.plan(p, chunk_bytes=20_000)), key=lambda p: p.stat().st_size)
    data = largest.read_bytes()
    middle = data.index(b"\n", len(data) // 2)
    largest.write_bytes(data[:middle] + b"\r,extra" + data[middle:])
    merged, tasks = in_pieces(monkeypatch, 20_000)
    local, dask = both(d, cluster[0].scheduler_address)
    same(local, dask)
    name = largest.relative_to(d).as_posix()
    assert merged and name not in {file for file, _ in merged}  # read whole instead
    assert sum(tasks) > sum(n for _, n in merged)  # its pieces were read, then let go


def test_the_cli_through_a_scheduler_and_a_local_cluster(cluster, tmp_path):
    args = [
        "--no-cache",
        "report",
        REPO / "sample_data",
        "-q",
        "2011Q3",
        "-f",
        "json",
        "--details",
        "--trend",
    ]
    local = run(args)
    remote = run(
        [*args, "--engine", "dask", "--scheduler", cluster[0].scheduler_address, "--partitions", "3"]
    )
    started = run([*args, "--engine", "DASK", "--workers", "2"])
    assert local.stdout == remote.stdout == started.stdout and local.exit_code == remote.exit_code == 1
    check = ["--no-cache", "check", REPO / "sample_data", "-f", "json", "--date", "2011-09-30"]
    assert (
        run(check).stdout
        == run([*check, "--engine", "dask", "--scheduler", cluster[0].scheduler_address]).stdout
    )


@pytest.mark.parametrize(
    "every, partitions",
    [(False, 12), (True, 12), (False, None)],
    ids=["one worker", "every worker at once", "the worker of the one partition"],
)
def test_a_worker_killed_in_the_middle_gives_the_same_result(cluster, movers, every, partitions):
    """Dask runs the lost worker's tasks again (its read groups from the files): the result is the
    one a run without the kill gives, or there is none. With every worker killed at once, nothing
    the tasks need may have lived only on them (the file list, the hierarchy): it is made again.
    With one partition, the busy worker is the one reading every file: all of it is read again."""
    local_cluster, client = cluster
    expected = api.report(movers, "2011Q3")
    got, killed = {}, []

    def go():
        got["outcome"] = api.report(
            movers, "2011Q3", engine=Engine("dask", local_cluster.scheduler_address, None, partitions)
        )

    worker = threading.Thread(target=go)
    worker.start()
    deadline = time.monotonic() + 60
    while worker.is_alive() and not killed and time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if partitions is None:  # the worker reading every file
            busy = [w for w in busy if any("_read_group" in str(t) for t in client.processing()[w])]
        if busy:
            victims = list(client.scheduler_info()["workers"]) if every else busy[:1]
            for pid in client.run(os.getpid, workers=victims).values():
                os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; its tasks are lost
                killed.append(pid)
        time.sleep(0.01)
    worker.join(120)
    assert killed, "the run ended before a worker could be killed"
    assert rows.to_json(got["outcome"].report) == rows.to_json(expected.report)
    client.wait_for_workers(2, timeout=60)


def test_a_scheduler_that_is_not_there_is_one_line(tmp_path):
    d = tmp_path / "ledgers"
    shutil.copytree(REPO / "sample_data", d)
    result = run(["report", d, "-q", "2011Q3", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 3 and result.stderr.startswith(
        "fpservice: 无法连接 Dask 调度器 tcp://127.0.0.1:9"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    wrong = run(["report", d, "-q", "2011Q3", "--workers", "2"])
    assert wrong.exit_code == 3 and "只用于 --engine dask" in wrong.stderr
    assert json.loads(run(["report", d, "-q", "2011Q3", "-f", "json"]).stdout)  # the local engine as ever


def test_a_scheduler_without_workers_is_one_line(tmp_path, monkeypatch):
    from fpservice import cluster

    monkeypatch.setattr(cluster, "WAIT_FOR_WORKERS", 1)
    with LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        address = empty.scheduler_address
        result = run(["check", REPO / "sample_data", "--engine", "dask", "--scheduler", address])
    assert result.exit_code == 3 and "没有任何计算节点" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_partitions_with_services_and_no_persons_of_their_own(cluster, tmp_path):
    """Many partitions over few persons: most have services only, for IDs in no persons ledger;
    their warnings are the local engine's."""
    from tests.ledgerkit import PERSONS, SERVICES, make_id, person, service, write_csv

    d = tmp_path / "ledgers"
    write_csv(d / "流入人口.csv", PERSONS, [person(id_=make_id(seq=i)) for i in range(2)])
    write_csv(d / "服务.csv", SERVICES, [service(make_id(seq=i), "2011-08-01") for i in range(40)])
    local = api.check(d, plan="000")
    dask = api.check(d, plan="000", engine=Engine("dask", cluster[0].scheduler_address, None, 16))
    unknown = [f for f in local.findings if f.code == "row.service_unknown_person"]
    assert len(unknown) == 38
    assert [f.as_dict() for f in dask.findings] == [f.as_dict() for f in local.findings]


def test_a_relative_ledger_directory_is_found_by_the_workers(cluster, tmp_path, monkeypatch):
    shutil.copytree(REPO / "sample_data", tmp_path / "ledgers")
    monkeypatch.chdir(tmp_path)
    local = api.report("ledgers", "2011Q3")
    dask = api.report("ledgers", "2011Q3", engine=Engine("dask", cluster[0].scheduler_address, None, 3))
    assert rows.to_json(dask.report) == rows.to_json(local.report)
    assert not any(f.code == "file.unreadable" for f in dask.findings)


def test_more_unit_codes_than_one_file_holds_cross_the_shuffle(cluster, tmp_path):
    """Each township's file has 60 villages; the county's 180 do not fit the 8-bit dictionary a
    file's categories become in Arrow, which the shuffle's tables cannot unite: the rows cross it
    as codes among the county's units, and come out as the local engine joins them."""
    d = tmp_path / "ledgers"
    generate(d, 3000, townships=3, villages_per=60, seed=7)
    local, dask = both(d, cluster[0].scheduler_address)
    same(local, dask)


def test_a_shuffle_dask_gives_up_on_is_one_line(cluster, monkeypatch):
    """Dask wraps what went wrong in a shuffle's task as "P2P … failed": one line that names the
    cause, exit 3, no report."""

    def failing(*args, **kwargs):
        try:
            raise ValueError("disk full on worker 2")
        except ValueError as cause:
            raise RuntimeError("P2P 4f2a failed during transfer phase") from cause

    monkeypatch.setattr(partitioned, "_counted", failing)
    address = cluster[0].scheduler_address
    result = run(["report", REPO / "sample_data", "-q", "2011Q3", "--engine", "dask", "--scheduler", address])
    assert result.exit_code == 3 and not result.stdout
    assert result.stderr.strip() == (
        "fpservice: Dask 按人重分数据（P2P shuffle）失败，未写出任何报告：ValueError: disk full on worker 2"
    )
