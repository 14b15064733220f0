"""Benchmark: fpservice report/check end to end at several district sizes, beside the bare
pyarrow parse of the same files (the floor no CSV reader beats).

    python bench/run.py                                  # 125k … 1M persons; 1M, 2M in UTF-8
    python bench/run.py --sizes 125000 --village-sizes '' --no-write   # a quick look

Ledgers are generated once per size under bench/out/ (deterministic, see scripts/make_ledgers.py)
and reused; 1M and 2M are also measured with every file in UTF-8 (`utf8_layout`), 250k and 1M
split a file per village (`per_village`). Each
measurement runs in a fresh process, three times; the median is kept. Peak memory
is that process's max RSS. Each layout's table is written to its own block of
docs/performance.md; a layout left out of a run (its sizes empty) keeps the table it had.
"""

from __future__ import annotations

import argparse
import codecs
import datetime as dt
import json
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))

import office_files  # noqa: E402
from make_ledgers import generate  # noqa: E402

from fpservice.cli.report import DETAILED  # noqa: E402  (the formats --details is for)

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
with open(sys.argv[1], "wb") as out:
    done = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, done.returncode)
"""

# The floor: the fastest parse pyarrow does of the same bytes, every column, in a fresh process
# (interpreter and pyarrow's import included, as fpservice's are). Two ways, both measured and the
# faster kept: files one after another, each parsed on every core (pyarrow's threads), or a file
# per core at once, each parsed on one. A file's encoding is told from its first 64 KB; GB18030
# is transcoded by pyarrow as it parses (it has to be: its parser reads UTF-8).
PARSE_FLOOR = """
import os, sys, pathlib, pyarrow.csv as pc
from concurrent.futures import ThreadPoolExecutor

def encoding(path):
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    head = head[: head.rfind(b"\\n") + 1] or head
    try:
        head.decode("utf-8")
        return "utf8"
    except UnicodeDecodeError:
        return "gb18030"

files = sorted(pathlib.Path(sys.argv[1]).rglob("*.csv"), key=lambda p: -p.stat().st_size)
if sys.argv[2] == "files-in-turn":
    parse = lambda p: pc.read_csv(p, read_options=pc.ReadOptions(encoding=encoding(p))).num_rows
    print(sum(map(parse, files)))
else:  # "file-per-core"
    options = lambda p: pc.ReadOptions(encoding=encoding(p), use_threads=False)
    parse = lambda p: pc.read_csv(p, read_options=options(p)).num_rows
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        print(sum(pool.map(parse, files)))
"""
FLOOR_WAYS = ("files-in-turn", "file-per-core")


def measure(args: list[str], out: Path = Path("/dev/null")) -> tuple[float, float]:
    """(seconds, peak MiB) of one command in a fresh process; its stdout goes to `out`."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(out), *args], capture_output=True, text=True, check=True
    )
    seconds, peak_mib, code = done.stdout.split()
    if int(code) not in (0, 1, 2):
        raise SystemExit(f"{' '.join(args)} exited {code}")
    return float(seconds), float(peak_mib)


def median(runs: list[dict], key: str) -> tuple[float, float]:
    """The run with the median time (and its peak memory)."""
    ordered = sorted((r[key] for r in runs), key=lambda m: m[0])
    return ordered[len(ordered) // 2]


def numbers(path: Path) -> dict:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {
        (r["unit"], r["indicator"], r["period"]): (r["numerator"], r["denominator"])
        for r in rows
        if r["denominator"] or r["numerator"]
    }


def ledgers_for(persons: int) -> Path:
    d = HERE / "out" / f"persons_{persons}"
    if not (d / ".complete").exists():
        villages = max(12, persons // 500)  # a village or community keeps a few hundred floating persons
        # a unit code holds three digits for the township and three for the village
        townships = min(999, max(3, villages // 15))
        generate(d, persons, townships=townships, villages_per=max(3, villages // townships), seed=2011)
        (d / ".complete").write_text("ok")
    return d


def count_rows(d: Path) -> dict:
    if d.name.endswith("_workbooks"):  # the rows are those of the CSV files it was made from
        files = [p for p in d.rglob("*") if p.suffix in (".csv", ".xlsx")]
        info = count_rows(d.with_name(d.name.removesuffix("_workbooks")))
        return {**info, "files": len(files), "mb": sum(p.stat().st_size for p in files) / 1e6}
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
        "files": len(counts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="125000,250000,500000,1000000")
    ap.add_argument(
        "--village-sizes", default="250000,1000000", help="sizes also measured with a file per village"
    )
    ap.add_argument(
        "--utf8-sizes", default="1000000,2000000", help="sizes also measured with every file in UTF-8"
    )
    ap.add_argument(
        "--workbook-sizes", default="125000,1000000", help="sizes also measured with a workbook per village"
    )
    ap.add_argument(
        "--engine", choices=["local", "dask"], default="local", help="dask: the Dask engine's run"
    )
    ap.add_argument(
        "--dask-sizes", default="1000000,4000000,10000000", help="sizes the Dask engine is run at"
    )
    ap.add_argument(
        "--local-up-to", type=int, default=10_000_000, help="the largest size also run with the local engine"
    )
    ap.add_argument("--no-write", action="store_true", help="print the tables, do not touch docs/")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    ap.add_argument(
        "--outputs-size",
        type=int,
        default=125000,
        help="size whose report is timed in every format (0: none)",
    )
    args = ap.parse_args()
    if args.engine == "dask":
        return dask_main([int(s) for s in args.dask_sizes.split(",") if s], args)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    village_sizes = [int(s) for s in args.village_sizes.split(",") if s]
    utf8_sizes = [int(s) for s in args.utf8_sizes.split(",") if s]
    workbook_sizes = [int(s) for s in args.workbook_sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = [measure_set(ledgers_for(size), tmp, args.repeat) for size in sizes]
        in_utf8 = [measure_set(utf8_layout(ledgers_for(size)), tmp, args.repeat) for size in utf8_sizes]
        by_village = [measure_set(per_village(ledgers_for(size)), tmp, args.repeat) for size in village_sizes]
        by_workbook = [
            measure_set(per_workbook(ledgers_for(size)), tmp, args.repeat) for size in workbook_sizes
        ]
        outputs = measure_outputs(args.outputs_size, tmp) if args.outputs_size else ""
    # A layout not measured in this run (no sizes) keeps its table in the docs, with its own date
    tables = {
        "mixed": render(results) if results else "",
        "utf8": render(in_utf8) if in_utf8 else "",
        "villages": render(by_village) if by_village else "",
        "workbooks": render_workbooks(by_workbook, results) if by_workbook else "",
        "outputs": outputs,
    }
    print(*(t for t in tables.values() if t), sep="\n")
    if not args.no_write:
        write_doc(tables, " ".join(["python bench/run.py", *map(shlex.quote, sys.argv[1:])]))


def dask_main(sizes: list[int], args) -> None:
    import engines

    with tempfile.TemporaryDirectory() as tmp:
        results = engines.measure(ledgers_for, count_rows, sizes, Path(tmp), args.local_up_to)
    table, projected = engines.render(results), engines.projection(results)
    print(table, projected, sep="\n")
    if not args.no_write:
        engines.write_doc(table, projected, machine_line())


def measure_set(d: Path, tmp: Path, repeat: int) -> dict:
    """Every measurement over one ledger directory, `repeat` times; the medians. The DuckDB script
    reads a directory split a file per village far too slowly to time (41 s for 1,200 files of
    125k persons): there the report must equal the one over the same rows in whole files."""
    fp = [sys.executable, "-m", "fpservice"]
    split = d.name.endswith(DERIVED)
    info = count_rows(d)
    measure([sys.executable, "-c", PARSE_FLOOR, str(d), FLOOR_WAYS[0]])  # the files into the page cache
    runs = []
    for i in range(repeat):
        report = [*fp, "--cache-dir", str(tmp / f"cache_{d.name}_{i}"), "report", str(d), "-q", "2011Q3"]
        run = {way: measure([sys.executable, "-c", PARSE_FLOOR, str(d), way]) for way in FLOOR_WAYS}
        if not split:
            duckdb = [sys.executable, str(HERE / "duckdb_report.py"), str(d)]
            run["duckdb"] = measure(duckdb, tmp / "duck.json")
        run["cold"] = measure([*report, "-f", "json"], tmp / "cold.json")  # an empty cache
        run["warm"] = measure([*report, "-f", "json"], tmp / "warm.json")  # the same cache again
        if not split:  # no cache at all, as the issue that set the goals measured "cold"
            nocache = [*fp, "--no-cache", "report", str(d), "-q", "2011Q3", "-f", "json"]
            run["nocache"] = measure(nocache, tmp / "nocache.json")
        run["check"] = measure([*fp, "--no-cache", "check", str(d), "-f", "json"])
        runs.append(run)
    ours = numbers(tmp / "cold.json")
    if split:
        whole = d.with_name(d.name.removesuffix("_villages").removesuffix("_workbooks"))
        measure([*fp, "--no-cache", "report", str(whole), "-q", "2011Q3", "-f", "json"], tmp / "duck.json")
    others = ["duck.json", "warm.json", *([] if split else ["nocache.json"])]
    if any(numbers(tmp / name) != ours for name in others):
        other = "whole files" if split else "the DuckDB script"
        raise SystemExit(f"{d.name}: fpservice and {other} disagree")
    result = {**info, **{k: median(runs, k) for k in runs[0]}}
    result["floor_way"] = min(FLOOR_WAYS, key=lambda way: result[way][0])
    result["floor"] = result[result["floor_way"]]
    print(d.name, json.dumps(result), f"{len(ours)} rows equal", flush=True)
    return result


DERIVED = ("_villages", "_workbooks")  # the same rows in other files: equal to the whole files' report


def utf8_layout(d: Path) -> Path:
    """The same ledgers with every file in UTF-8 (with a BOM, as Excel's "CSV UTF-8" writes),
    what most exports give: the layout where the parse floor is fastest."""
    out = d.with_name(d.name + "_utf8")
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(d, out, ignore=lambda _, names: [n for n in names if n == ".complete"])
    for path in out.rglob("*.csv"):
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            path.write_bytes(codecs.BOM_UTF8 + raw.decode("gb18030").encode("utf-8"))
    (out / ".complete").write_text("ok")
    return out


OUTPUTS = ["table", "markdown", "csv", "json", "xlsx", "html"]


def measure_outputs(persons: int, tmp: Path) -> str:
    """Every output format of the fullest report (trend, details, every indicator), from the
    cache: what each format adds to a run. A table of format, seconds, MB and peak memory."""
    d = ledgers_for(persons)
    cache = ["--cache-dir", str(tmp / f"cache_{d.name}_outputs")]
    report = [sys.executable, "-m", "fpservice", *cache, "report", str(d), "-q", "2011Q3"]
    report += ["--trend", "--all-indicators"]
    measure([*report, "-f", "json"])  # fills the cache
    lines = []
    for fmt in OUTPUTS:
        out = tmp / f"report.{fmt}"
        details = ["--details"] if fmt in DETAILED else []  # the others refuse it: they show it always
        seconds, peak = measure([*report, *details, "-f", fmt, "-o", str(out)])
        lines.append(f"| {fmt} | {seconds:.1f} | {out.stat().st_size / 1e6:.1f} | {peak:.0f} |")
    print(d.name, "outputs", *lines, sep="\n", flush=True)
    caption = (
        "Each output format of the fullest report (`--trend --all-indicators`, and `--details` for json "
        f"and csv: every unit, indicator and window), from a warm cache, at {persons:,} persons "
        "(one run each):\n\n"
    )
    head = "| format | report warm s | output MB | peak MiB |\n|---|---|---|---|\n"
    return caption + head + "\n".join(lines) + "\n"


def per_village(d: Path) -> Path:
    """The same ledgers as village offices keep them: the persons and services ledgers a file per
    village (and quarter), each in its file's encoding and header; the other ledgers as they are."""
    out = d.with_name(d.name + "_villages")
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    split = re.compile(r"流入人口信息登记簿\.csv|服务登记簿.*\.csv")
    skipped = lambda _, names: [n for n in names if split.fullmatch(n) or n == ".complete"]  # noqa: E731
    shutil.copytree(d, out, ignore=skipped)
    for path in sorted(d.rglob("*.csv")):
        if not split.fullmatch(path.name):
            continue
        frame, encoding = office_files.read_csv(path)
        for village, rows in frame.groupby("村居代码"):
            target = out / path.parent.relative_to(d) / village / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            rows.to_csv(target, index=False, encoding=encoding)
    (out / ".complete").write_text("ok")
    return out


def per_workbook(d: Path) -> Path:
    """The same ledgers a workbook per village, as offices keep them (scripts/office_files.py):
    persons and services sheets with titles, merged headers, typed cells and footers, a 说明
    sheet; the other ledgers as the CSV files they are."""
    out = d.with_name(d.name + "_workbooks")
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    office_files.workbook_per_village(d, out)
    (out / ".complete").write_text("ok")
    return out


def render(results: list[dict]) -> str:
    head = (
        "| persons | files | service rows | all rows | CSV MB | parse floor s | DuckDB s | report cold s "
        "| report --no-cache s | report warm s | check s | cold / floor | --no-cache / floor "
        "| warm / floor | cold / DuckDB | warm / DuckDB | cold s per M rows | cold s per added M rows "
        "| peak MiB: DuckDB, cold, --no-cache, warm |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines, before = [], None
    for r in results:
        f, cold, warm, chk = (r[k] for k in ("floor", "cold", "warm", "check"))
        duck = r.get("duckdb")
        # The slope from the size before: the cost of more rows, without the fixed start-up.
        added = (cold[0] - before["cold"][0]) / ((r["rows"] - before["rows"]) / 1e6) if before else None
        duck_s, cold_duck, warm_duck, duck_mib = ("—",) * 4
        if duck:
            duck_s, duck_mib = f"{duck[0]:.1f}", f"{duck[1]:.0f}"
            cold_duck, warm_duck = f"{cold[0] / duck[0]:.2f}×", f"{warm[0] / duck[0]:.2f}×"
        way = "¹" if r.get("floor_way") == FLOOR_WAYS[0] else "²"
        nocache = r.get("nocache")
        nocache_s, nocache_floor, nocache_mib = (
            (f"{nocache[0]:.2f}", f"{nocache[0] / f[0]:.2f}×", f"{nocache[1]:.0f}") if nocache else ("—",) * 3
        )
        lines.append(
            f"| {r['persons']:,} | {r['files']:,} | {r['services']:,} | {r['rows']:,} | {r['mb']:.0f} "
            f"| {f[0]:.2f}{way} | {duck_s} | {cold[0]:.2f} | {nocache_s} | {warm[0]:.2f} | {chk[0]:.1f} "
            f"| {cold[0] / f[0]:.2f}× | {nocache_floor} | {warm[0] / f[0]:.2f}× | {cold_duck} | {warm_duck} "
            f"| {cold[0] / (r['rows'] / 1e6):.2f} | {'—' if added is None else f'{added:.2f}'} "
            f"| {duck_mib}, {cold[1]:.0f}, {nocache_mib}, {warm[1]:.0f} |"
        )
        before = r
    return head + "\n".join(lines) + "\n"


def render_workbooks(results: list[dict], csv_results: list[dict]) -> str:
    """The workbook layout beside the same rows in CSV files, measured in the same run."""
    head = (
        "| persons | workbooks and CSV files | report cold s | report warm s | check s | cold / CSV cold "
        "| warm / CSV warm | peak MiB: cold, warm |\n|---|---|---|---|---|---|---|---|\n"
    )
    by_persons = {r["persons"]: r for r in csv_results}
    lines = []
    for r in results:
        same = by_persons.get(r["persons"])
        cold, warm, chk = r["cold"], r["warm"], r["check"]
        ratios = (
            (f"{cold[0] / same['cold'][0]:.1f}×", f"{warm[0] / same['warm'][0]:.1f}×") if same else ("—", "—")
        )
        lines.append(
            f"| {r['persons']:,} | {r['files']:,} | {cold[0]:.1f} | {warm[0]:.1f} | {chk[0]:.1f} "
            f"| {ratios[0]} | {ratios[1]} | {cold[1]:.0f}, {warm[1]:.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def machine_line() -> str:
    import pandas
    import pyarrow

    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"pandas {pandas.__version__}, pyarrow {pyarrow.__version__}"
    )


def write_doc(tables: dict[str, str], command: str) -> None:
    """Each measured table into its own block of docs/performance.md (`<!-- results:NAME -->`),
    stamped with the day, the machine and the command; the blocks of layouts not measured in this
    run are left as they were."""
    import duckdb  # for the record: the versions measured

    machine = machine_line() + f", duckdb {duckdb.__version__}"
    doc = REPO / "docs" / "performance.md"
    text = doc.read_text(encoding="utf-8")
    for name, table in tables.items():
        if not table:
            continue
        start, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
        block = f"{start}\nMeasured {dt.date.today()} on {machine}, by `{command}`.\n\n{table}{end}"
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
