"""Where a run computes. A module of its own, so that the options can name an engine without
loading what computes (a usage error is said before pandas or Dask is imported)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    """Where a run computes: `local` (this process), or `dask` on a cluster at `scheduler`, or
    on a local cluster of `workers` processes; `partitions` of persons (default: from the size)."""

    kind: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    partitions: int | None = None

    @property
    def distributed(self) -> bool:
        return self.kind == "dask"
