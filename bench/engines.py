"""The Dask engine measured beside the local one (`python bench/run.py --engine dask`): at each
size, the report cold (no cache) in a fresh process, its time, the peak memory of the client and
of each worker process (sampled over the process tree), and the report checked equal to the
local engine's where that fits in memory; the medians of three runs at every size.
Written to docs/performance.md between <!-- dask --> markers, with a projection for the nation
from the measured costs."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

WORKERS = 2  # this machine's cores: one single-threaded worker process each


def measure_tree(args: list[str], out: Path) -> dict:
    """Seconds, and peak resident memory of the command (the client) and of its descendants
    (the local cluster's scheduler, nannies and workers), sampled every 0.1 s."""
    started = time.perf_counter()
    with out.open("wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.DEVNULL)
        top = psutil.Process(proc.pid)
        peaks: dict[int, tuple[str, int]] = {}
        total = 0
        while proc.poll() is None:
            try:
                tree = [top, *top.children(recursive=True)]
                now = 0
                for p in tree:
                    rss = p.memory_info().rss
                    now += rss
                    name = " ".join(p.cmdline()[-3:])
                    if rss > peaks.get(p.pid, ("", 0))[1]:
                        peaks[p.pid] = (name, rss)
                total = max(total, now)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
            time.sleep(0.1)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1, 2):
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}")
    client = peaks.get(proc.pid, ("", 0))[1]
    workers = [rss for pid, (name, rss) in peaks.items() if pid != proc.pid and "spawn" in name]
    return {
        "seconds": seconds,
        "client_mib": client / 2**20,
        "worker_mib": max(workers, default=0) / 2**20,
        "total_mib": total / 2**20,
    }


def rows_of(path: Path) -> dict:
    return {(r["unit"], r["indicator"], r["period"]): r for r in json.loads(path.read_text(encoding="utf-8"))}


REPEATS = 3  # runs at each size (the medians): this machine's runs spread by ±20 %, 10M's by more


def measure(ledgers_for, count_rows, sizes: list[int], tmp: Path, local_up_to: int) -> list[dict]:
    fp = [sys.executable, "-m", "fpservice", "--no-cache", "report"]
    results = []
    for size in sizes:
        d = ledgers_for(size)
        info = count_rows(d)
        report = [*fp, str(d), "-q", "2011Q3", "-f", "json"]
        dask_runs, local_runs = [], []
        for _ in range(REPEATS):
            dask_runs.append(
                measure_tree([*report, "--engine", "dask", "--workers", str(WORKERS)], tmp / "dask.json")
            )
            if size <= local_up_to:
                local_runs.append(measure_tree(report, tmp / "local.json"))
                if (tmp / "local.json").read_bytes() != (tmp / "dask.json").read_bytes():
                    raise SystemExit(f"{d.name}: the Dask and local engines disagree")
        dask, local = _medians(dask_runs), _medians(local_runs) if local_runs else None
        result = {**info, "dask": dask, "local": local}
        print(d.name, json.dumps(result), flush=True)
        results.append(result)
    return results


def _medians(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def render(results: list[dict]) -> str:
    head = (
        "| persons | all rows | CSV MB | dask s | dask peak MiB per worker | dask client MiB "
        "| dask total MiB | dask s per M rows | dask s per added M rows | local s | local peak MiB "
        "| dask / local |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines, before = [], None
    for r in results:
        d, loc = r["dask"], r["local"]
        added = (
            (d["seconds"] - before["dask"]["seconds"]) / ((r["rows"] - before["rows"]) / 1e6)
            if before
            else None
        )
        local_s, local_mib, ratio = ("—", "—", "—")
        if loc:
            local_s, local_mib = f"{loc['seconds']:.1f}", f"{loc['total_mib']:.0f}"
            ratio = f"{d['seconds'] / loc['seconds']:.2f}×"
        lines.append(
            f"| {r['persons']:,} | {r['rows']:,} | {r['mb']:.0f} | {d['seconds']:.1f} "
            f"| {d['worker_mib']:.0f} | {d['client_mib']:.0f} | {d['total_mib']:.0f} "
            f"| {d['seconds'] / (r['rows'] / 1e6):.2f} "
            f"| {'—' if added is None else f'{added:.2f}'} | {local_s} | {local_mib} | {ratio} |"
        )
        before = r
    return head + "\n".join(lines) + "\n"


def projection(results: list[dict]) -> str:
    """The nation (376 million persons) on N workers, from the largest measured run: the cost of a
    worker-second per million rows, and the volume the shuffle moves."""
    big = results[-1]
    rows_per_person = big["rows"] / big["persons"]
    worker_seconds_per_m_rows = big["dask"]["seconds"] * WORKERS / (big["rows"] / 1e6)
    mb_per_m_persons = big["mb"] / (big["persons"] / 1e6)
    nation = 376e6
    rows = nation * rows_per_person
    lines = [
        f"From the largest run ({big['persons']:,} persons): {worker_seconds_per_m_rows:.2f} worker-seconds "
        f"per million rows, reading, validating, shuffling and counting together; {rows_per_person:.1f} rows "
        f"and {mb_per_m_persons:.0f} MB of CSV per million persons. Assumed: that cost stays flat per row "
        "(each worker's partitions stay the same size as the data grows), the ledgers are on storage that "
        "feeds every worker as fast as this machine's page cache fed two, and the shuffle (about the "
        "ledgers' size once, as in-memory rows) crosses a network no slower than the workers read. The "
        "client's part — listing the files, summing the counts, laying out the report — is left out "
        "(seconds here; at the nation, a directory listing of a few hundred thousand files).",
        "",
        "| workers | nation (376M persons) time | ledger data per worker |",
        "|---|---|---|",
    ]
    for n in (16, 64, 256, 1024):
        hours = rows / 1e6 * worker_seconds_per_m_rows / n / 3600
        per_worker = nation / 1e6 * mb_per_m_persons / n / 1e3
        minutes = hours * 60
        took = f"{minutes:.1f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"
        lines.append(f"| {n:,} | {took} | {per_worker:.1f} GB |")
    return "\n".join(lines) + "\n"


def write_doc(table: str, projected: str, machine: str) -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
    text = doc.read_text(encoding="utf-8")
    start, end = "<!-- dask -->", "<!-- /dask -->"
    block = f"{start}\nMeasured {dt.date.today()} on {machine}.\n\n{table}\n{projected}{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n## The Dask engine\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
