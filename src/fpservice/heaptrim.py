"""A local cluster's workers give back to the system the heap glibc keeps after a task frees it,
once they hold more than Dask's spill threshold (docs/partitioned.md).

A local cluster's workers start without Dask's MALLOC_TRIM_THRESHOLD_, which would give every
freed array back at once but doubled the CPU time of reading (`cluster.WORKER_MEMORY_CONFIG`).
glibc then keeps what the reads freed, for the next task to reuse without faulting pages in: at
10 million persons 400-600 MiB of a worker's heap while partitions are shuffled, memory Dask
cannot spill. Past the spill threshold, where Dask itself starts freeing memory, a thread gives
that heap back (`malloc_trim`); below it, nothing is given back and nothing costs time.
"""

from __future__ import annotations

import threading

import psutil
from distributed.diagnostics.plugin import WorkerPlugin

from fpservice import glibc

EVERY = 0.5  # seconds between looks at a worker's resident memory


class HeapTrim(WorkerPlugin):
    """On each worker, a thread that trims glibc's heap while the worker's resident memory is
    above `above` bytes (by default Dask's spill threshold: that fraction of its memory limit)."""

    name = "fpservice-heap-trim"

    def __init__(self, above: int | None = None, every: float = EVERY):
        self.above, self.every = above, every
        self.stop = threading.Event()

    def setup(self, worker=None) -> None:
        above = self.above
        if above is None:
            memory = worker.memory_manager
            if not memory.memory_limit or not memory.memory_spill_fraction:
                return  # no limit, or never spilled: nothing to hold memory under
            above = int(memory.memory_limit * memory.memory_spill_fraction)
        trim = glibc.function("malloc_trim")
        if trim is not None:
            threading.Thread(target=self._watch, args=(trim, above), name=self.name, daemon=True).start()

    def teardown(self, worker=None) -> None:
        self.stop.set()

    def _watch(self, trim, above: int) -> None:
        process = psutil.Process()
        while not self.stop.wait(self.every):
            if process.memory_info().rss > above:
                trim(0)

    def __getstate__(self):  # sent to the workers: each makes its own event
        return {"above": self.above, "every": self.every}

    def __setstate__(self, state):
        self.__init__(**state)


def dask_setup(worker) -> None:
    """`dask worker --preload fpservice.heaptrim`: the workers of a cluster of your own give glibc's
    kept heap back as a local cluster's do."""
    HeapTrim().setup(worker)
