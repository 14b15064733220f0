"""Write every output fpservice gives for some ledger directories, so that a refactor can be
checked byte for byte: run it before and after, then `diff -r BEFORE AFTER`.

    python scripts/snapshot_outputs.py /tmp/before sample_data tests/corpus/* bench/out/persons_125000

For each directory: `report` in every format (plain, and with --trend --details --all-indicators),
`check` as a table and as JSON, `due` with the directory; once, `rules` and `--help` of every
command. Workbooks are compared by the XML of their sheets (XlsxWriter stamps the time it wrote
them into docProps). Each file ends with the command's exit code and what it wrote on stderr.
Runs without the cache, then the JSON report again through a fresh cache, twice (cold and warm).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

QUARTER = "2011Q3"
FORMATS = ["table", "markdown", "csv", "json", "xlsx", "html"]
FULL = ["--trend", "--details", "--all-indicators"]


def run(args: list[str], cache: list[str]) -> tuple[bytes, str]:
    """stdout and (exit code, stderr) of one fpservice command in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "fpservice", *cache, *args],
        capture_output=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    return done.stdout, f"\n== exit {done.returncode}\n{done.stderr.decode('utf-8', 'replace')}"


def sheets(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return b"".join(
            name.encode() + b"\n" + z.read(name) + b"\n"
            for name in sorted(z.namelist())
            if not name.startswith("docProps/")
        )


def snapshot(ledgers: Path, out: Path, tmp: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plain = ["--no-cache"]
    for fmt in FORMATS:
        for name, extra in (("plain", []), ("full", FULL)):
            target = tmp / f"report.{fmt}"
            target.unlink(missing_ok=True)
            args = ["report", str(ledgers), "-q", QUARTER, "-f", fmt, "-o", str(target), *extra]
            stdout, tail = run(args, plain)
            body = (sheets(target) if fmt == "xlsx" else target.read_bytes()) if target.exists() else b""
            (out / f"report_{name}.{fmt}").write_bytes(body + stdout + tail.replace(str(tmp), "TMP").encode())
    for fmt in ("table", "json"):
        stdout, tail = run(["check", str(ledgers), "-f", fmt], plain)
        (out / f"check.{fmt}").write_bytes(stdout + tail.encode())
    stdout, tail = run(["due", str(ledgers), "--date", "2011-10-01"], plain)
    (out / "due.txt").write_bytes(stdout + tail.encode())
    cache = ["--cache-dir", str(tmp / f"cache-{ledgers.name}")]
    for name in ("cold", "warm"):
        stdout, tail = run(["report", str(ledgers), "-q", QUARTER, "-f", "json", *FULL], cache)
        (out / f"cache_{name}.json").write_bytes(stdout + tail.encode())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("ledgers", type=Path, nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for ledgers in args.ledgers:
            name = "_".join(ledgers.resolve().parts[-2:])
            snapshot(ledgers, args.out / name, Path(tmp))
            print(name, flush=True)
        for command in ("check", "report", "due", "rules"):
            stdout, tail = run([command, "--help"], [])
            (args.out / f"help_{command}.txt").write_bytes(stdout + tail.encode())
        stdout, tail = run(["rules"], [])
        (args.out / "rules.txt").write_bytes(stdout + tail.encode())


if __name__ == "__main__":
    main()
