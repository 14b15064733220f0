"""A local cluster's workers give glibc's kept heap back past their spill threshold (heaptrim)."""

import subprocess
import sys
import textwrap
import threading

import pytest

pytest.importorskip("distributed")

from fpservice import cluster, glibc  # noqa: E402
from fpservice.engine import Engine  # noqa: E402
from fpservice.heaptrim import HeapTrim  # noqa: E402

pytestmark = pytest.mark.skipif(glibc.function("malloc_trim") is None, reason="glibc's malloc_trim only")

# 300 MiB in blocks glibc puts on its heap (below its mmap threshold), one in sixteen kept: the
# freed ones lie between kept ones, so glibc cannot shrink its heap by itself
FRAGMENTED_HEAP = textwrap.dedent(
    """
    import sys, time, psutil
    from fpservice.heaptrim import HeapTrim

    process = psutil.Process()
    blocks = [bytearray(64 << 10) for _ in range(4800)]
    kept = blocks[::16]
    del blocks
    before = process.memory_info().rss
    plugin = HeapTrim(above=int(sys.argv[1]), every=0.05)
    plugin.setup()
    time.sleep(0.5)
    plugin.teardown()
    print((before - process.memory_info().rss) >> 20)
    """
)


def given_back(above: int) -> int:
    """MiB a process gives back of its fragmented heap within half a second, trimming past `above`."""
    done = subprocess.run([sys.executable, "-c", FRAGMENTED_HEAP, str(above)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_past_the_threshold_the_freed_heap_is_given_back():
    assert given_back(0) > 200  # of the 281 MiB freed


def test_below_the_threshold_glibc_keeps_it():
    assert given_back(1 << 40) < 50


def test_a_local_clusters_workers_trim_past_their_spill_threshold(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with cluster.connected(Engine("dask", None, 2, None)) as client:
        watching = client.run(lambda: any(t.name == HeapTrim.name for t in threading.enumerate()))
    assert list(watching.values()) == [True, True]


def test_workers_of_a_cluster_of_your_own_trim_with_the_preload():
    """`dask worker --preload fpservice.heaptrim`, as the README says to start them."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            processes=True,
            memory_limit="2GiB",
            dashboard_address=":0",
            preload=["fpservice.heaptrim"],
        ) as local,
        Client(local) as client,
    ):
        watching = client.run(lambda: any(t.name == HeapTrim.name for t in threading.enumerate()))
    assert list(watching.values()) == [True]


def test_a_worker_without_a_memory_limit_is_left_alone():
    class Memory:
        memory_limit, memory_spill_fraction = None, 0.5

    class Worker:
        memory_manager = Memory()

    before = threading.active_count()
    HeapTrim().setup(Worker())
    assert threading.active_count() == before
