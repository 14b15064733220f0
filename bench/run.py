"""Benchmark: fpservice report/check end to end at several district sizes, beside the bare
pyarrow parse of the same files (the floor no CSV reader beats).

    python bench/run.py                                  # 125k, 250k, 500k, 1M persons
    python bench/run.py --sizes 125000 --no-write        # a quick look, docs left alone

Ledgers are generated once per size under bench/out/ (deterministic, see scripts/make_ledgers.py)
and reused. Each measurement runs in a fresh process; peak memory is that process's max RSS.
Results are written to docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))

from make_ledgers import generate  # noqa: E402

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, done.returncode)
"""

PARSE_FLOOR = """
import sys, pathlib, pyarrow.csv as pc
rows = 0
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.csv")):
    data = p.read_bytes()
    try:
        data.decode("utf-8")
        enc = "utf8"
    except UnicodeDecodeError:
        enc = "gb18030"
    rows += pc.read_csv(p, read_options=pc.ReadOptions(encoding=enc)).num_rows
print(rows)
"""


def measure(args: list[str]) -> tuple[float, float, int]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, check=True)
    seconds, peak_mib, code = out.stdout.split()
    return float(seconds), float(peak_mib), int(code)


def ledgers_for(persons: int) -> Path:
    d = HERE / "out" / f"persons_{persons}"
    if not (d / ".complete").exists():
        villages = max(12, persons // 500)  # a village or community keeps a few hundred floating persons
        townships = max(3, villages // 15)
        generate(d, persons, townships=townships, villages_per=max(3, villages // townships), seed=2011)
        (d / ".complete").write_text("ok")
    return d


def count_rows(d: Path) -> dict:
    counts = {}
    for p in d.rglob("*.csv"):
        with p.open("rb") as fh:
            counts[p] = sum(1 for _ in fh) - 1
    services = sum(n for p, n in counts.items() if p.name.startswith("服务登记簿"))
    persons = sum(n for p, n in counts.items() if p.name == "流入人口信息登记簿.csv")
    return {
        "persons": persons,
        "services": services,
        "rows": sum(counts.values()),
        "mb": sum(p.stat().st_size for p in d.rglob("*.csv")) / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="125000,250000,500000,1000000")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not touch docs/")
    args = ap.parse_args()
    fp = [sys.executable, "-m", "fpservice"]
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        d = ledgers_for(size)
        info = count_rows(d)
        floor = measure([sys.executable, "-c", PARSE_FLOOR, str(d)])
        report = measure(fp + ["report", str(d), "-q", "2011Q3", "-f", "json"])
        check = measure(fp + ["check", str(d), "-f", "json"])
        results.append({"size": size, **info, "floor": floor, "report": report, "check": check})
        print(json.dumps(results[-1]), flush=True)
    table = render(results)
    print(table)
    if not args.no_write:
        write_doc(table)


def render(results: list[dict]) -> str:
    head = (
        "| persons | all rows | CSV MB | parse floor s | report s | check s | report / floor | "
        "report s per M rows | report peak MiB | check peak MiB |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        f, rep, chk = r["floor"][0], r["report"], r["check"]
        lines.append(
            f"| {r['persons']:,} | {r['rows']:,} | {r['mb']:.0f} | {f:.1f} | {rep[0]:.1f} | {chk[0]:.1f} | "
            f"{rep[0] / f:.1f}× | {rep[0] / (r['rows'] / 1e6):.1f} | {rep[1]:.0f} | {chk[1]:.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def write_doc(table: str) -> None:
    import pandas  # for the record: the versions measured
    import pyarrow

    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    machine = (
        f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"pandas {pandas.__version__}, pyarrow {pyarrow.__version__}"
    )
    doc = REPO / "docs" / "performance.md"
    text = doc.read_text(encoding="utf-8")
    start, end = "<!-- results -->", "<!-- /results -->"
    block = f"{start}\nMeasured {dt.date.today()} on {machine}.\n\n{table}{end}"
    text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
