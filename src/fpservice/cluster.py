"""The Dask cluster a run is counted on (`--engine dask`): a scheduler at an address, or a local
cluster of worker processes started for the run; its workers' memory settings; what Dask's
failures say to the user (docs/partitioned.md)."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from typing import TYPE_CHECKING

from fpservice.engine import Engine
from fpservice.errors import FpserviceError, UsageError

if TYPE_CHECKING:
    from distributed import Client

WORKER_MEMORY = "2GiB"  # a local cluster's limit per worker
# Rows waiting for their partition are spilled to disk past 40 % of the limit, so that a partition
# being counted (rows joined, masks) has the rest: with Dask's default (60 %) the workers reached
# the limit at 10 million persons and were killed
# The shuffle's buffers (Dask's defaults: 1 GiB of shards waiting to be sent, 100 MiB to be
# written) are held besides: at 2 GiB per worker, 10 million persons killed the workers as the
# shuffle began. Smaller buffers send and write more often, in smaller messages.
# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, to give freed memory back to the
# system at once. Setting it also fixes glibc's mmap threshold at 128 KiB: every larger array
# pandas makes is then mapped afresh and its pages faulted in, which doubled the CPU time of
# reading and counting (a million persons read in 5.0 s instead of 2.5 s). Unset, glibc keeps
# its own thresholds, and the workers hold more: at 10 million persons 1.4 GiB at the peak
# instead of 1.1. Two arenas instead of glibc's eight per core kept less of it (1.3 GiB), at no
# cost in time; past the spill threshold, the workers give what glibc keeps back (heaptrim).
WORKER_MEMORY_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 2,
    "distributed.worker.memory.target": 0.4,
    "distributed.worker.memory.spill": 0.5,
    "distributed.p2p.comm.buffer": "128 MiB",
    "distributed.p2p.storage.buffer": "64 MiB",
}
# A local cluster's workers inherit the command's environment, which puts Arrow on glibc's
# allocator for the command's own process (cli.PROCESS_SETTINGS), and a variable in the
# environment wins over Dask's config. A worker needs an allocator that gives back what a task
# freed when asked (release_arrow_memory): Arrow's own, unless the user chose another of those.
ARROW_POOL, WORKER_ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL", "mimalloc"
WAIT_FOR_WORKERS = 60  # seconds a scheduler may take to have a worker


def worker_memory(client: Client) -> int:
    """The memory limit of the cluster's smallest worker, in bytes (a worker without a limit is
    taken to have a local one's)."""
    from dask.utils import parse_bytes

    local = parse_bytes(WORKER_MEMORY)
    limits = [w.get("memory_limit") or local for w in client.scheduler_info()["workers"].values()]
    return min(limits, default=local)


def release_arrow_memory() -> None:
    """Give back to the system what Arrow's allocator keeps of the memory a task freed: kept, it
    is memory Dask cannot spill, and at 10 million persons it held workers at their limit."""
    import pyarrow

    pyarrow.default_memory_pool().release_unused()


class EngineError(FpserviceError):
    """The cluster could not run the job: no scheduler at the address, workers lost for good."""


def failed(exc: Exception) -> EngineError | None:
    """What a run that Dask could not finish says (no report is written), or None when `exc` is
    not Dask's: a shuffle it gave up on, with the cause it wraps; workers lost for good."""
    if _shuffle_failed(exc):
        cause = exc.__cause__ or exc  # Dask's wrapper says only which phase failed
        said = str(cause).strip().split("\n")[0]
        return EngineError(
            f"Dask 按人重分数据（P2P shuffle）失败，未写出任何报告：{type(cause).__name__}: {said}"
        )
    if type(exc).__name__ in ("KilledWorker", "FutureCancelledError", "CancelledError"):
        return EngineError(
            f"Dask 计算节点多次中断，任务未能完成（{type(exc).__name__}）：未写出任何报告。"
            "请检查各节点的内存与日志后重试。"
        )
    return None


def _shuffle_failed(exc: Exception) -> bool:
    """A P2P shuffle Dask gave up on (it starts one again when a worker leaves)."""
    if type(exc).__name__ in ("P2PConsistencyError", "ShuffleClosedError", "P2PIllegalStateError"):
        return True
    return isinstance(exc, RuntimeError) and str(exc).startswith("P2P ")


class connected:
    """A client to the scheduler at `engine.scheduler`, or to a local cluster of worker processes
    started for the run (and stopped after it)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.cluster = self.client = self.scratch = self.config = self.environ = None

    def __enter__(self):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("--engine dask 需要 Dask：pip install 'fpservice[dask]'") from None
        import dask

        # for the run only (restored on exit): Dask's own log lines are not for the user
        self.config = dask.config.set({"logging.distributed": "error", **WORKER_MEMORY_CONFIG})
        if self.engine.scheduler:
            try:
                self.client = Client(self.engine.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise EngineError(f"无法连接 Dask 调度器 {self.engine.scheduler}：{exc}") from None
            try:
                self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
            except TimeoutError:
                self.client.close()
                raise EngineError(
                    f"Dask 调度器 {self.engine.scheduler} 在 {WAIT_FOR_WORKERS} 秒内没有任何计算节点"
                    "（dask worker）接入"
                ) from None
            return self.client
        workers = self.engine.workers or os.cpu_count() or 1
        # Spilled reads and the shuffle's shards hold ID numbers: in a directory of the run's own
        # (0700), removed after it
        self.scratch = tempfile.mkdtemp(prefix="fpservice-dask-")
        # A nanny puts its workers' variables in this process's environment too, before it starts
        # them (OMP_NUM_THREADS=1 and the like), and so does this for Arrow's allocator (once
        # this process's own is chosen): they are put back as they were after the run
        import pyarrow

        pyarrow.default_memory_pool()
        self.environ = dict(os.environ)
        if os.environ.get(ARROW_POOL, "system") == "system":
            os.environ[ARROW_POOL] = WORKER_ARROW_POOL
        try:
            with warnings.catch_warnings():  # "port 8787 in use" and the like: nothing for the user
                warnings.simplefilter("ignore")
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    memory_limit=WORKER_MEMORY,
                    dashboard_address=":0",  # None still binds 8787 (dask/distributed#8136)
                    silence_logs=50,
                    local_directory=self.scratch,
                )
            self.client = Client(self.cluster)
            from fpservice.heaptrim import HeapTrim

            self.client.register_plugin(HeapTrim())
        except Exception as exc:  # ports, processes, memory: the cluster could not start
            self.__exit__()
            raise EngineError(f"无法启动本机 Dask 集群：{type(exc).__name__}: {exc}") from None
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.environ is not None:
            for name in set(os.environ) - set(self.environ):
                del os.environ[name]
            os.environ.update(self.environ)
        if self.config is not None:
            self.config.__exit__(None, None, None)
