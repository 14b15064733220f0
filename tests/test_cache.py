"""Reading large directories. The cache of parsed ledgers: a warm run says exactly what a cold one
says, a changed byte is always seen, the cache stays private and outside the ledger directory, and
a damaged cache only costs a re-read. The progress display: on a terminal only."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import pty
import random
import shutil
import stat
import struct
import subprocess
import sys
import time

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest
import xxhash

from fpservice import api
from fpservice.read import cache as cache_mod
from fpservice.read import contents, load, sealed
from fpservice.read.cache import LedgerCache
from fpservice.schema import LEDGER_TYPES
from scripts.make_ledgers import generate
from tests.ledgerkit import (
    PERSONS,
    REPO,
    SERVICES,
    V1,
    V2,
    V3,
    make_id,
    person,
    run,
    service,
    write_csv,
    write_units,
)


@pytest.fixture
def sample(tmp_path):
    d = tmp_path / "ledgers"
    shutil.copytree(REPO / "sample_data", d)
    return d


def snapshot(d):
    return {p.relative_to(d): (p.read_bytes(), p.stat().st_mtime_ns) for p in d.rglob("*") if p.is_file()}


def outputs(d, cache, *extra):
    where = ["--cache-dir", cache] if cache else ["--no-cache"]
    report = run([*where, "report", d, "-q", "2011Q3", "-f", "json", "--details", *extra])
    check = run([*where, "check", d, "-f", "json", "--as-of", "2011-09-30"])
    return report.exit_code, report.stdout, check.exit_code, check.stdout


def test_warm_run_says_exactly_what_a_cold_run_says(sample, tmp_path):
    cache = tmp_path / "cache"
    before = snapshot(sample)
    uncached = outputs(sample, None)
    cold = outputs(sample, cache)
    assert any(cache.rglob("*.arrow")), "the cold run fills the cache"
    warm = outputs(sample, cache)
    assert cold == warm == uncached
    assert snapshot(sample) == before  # nothing written into the ledger directory


def test_a_warm_run_reads_from_the_cache(sample, tmp_path):
    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    cold = load(sample, cache=cache)
    reads = cache.misses  # a file, a batch of small files with one header, or a workbook
    files = len([p for p in sample.rglob("*") if p.suffix in (".csv", ".xlsx", ".xls")]) - 1  # not units.csv
    assert cache.hits == 0 and 1 < reads < files
    cache.close()  # entries are written in the background until then
    entries = len(list((tmp_path / "cache").rglob("*.arrow")))
    # A read's rows are stored once, in the set: a note says where (see setentry.point). Reads
    # without rows have an entry of their own, and a workbook's entry lists its sheets, each an
    # entry of its own.
    in_set = len(list((tmp_path / "cache").rglob("*.rows")))
    assert in_set > 1 and entries + in_set == reads + 3 + 3
    parts = len(list((tmp_path / "cache").rglob("*.set")))  # the whole set, a part per ledger type
    assert parts == len(LEDGER_TYPES)
    # Nothing changed: the whole set, as joined, in one entry per ledger type
    again = LedgerCache(tmp_path / "cache", min_bytes=0)
    warm = load(sample, cache=again)
    assert (again.hits, again.misses) == (parts, 0)
    assert_same_ledgers(warm, cold)
    # One file changed: the set is read again, every other read from its rows in the old set
    with (sample / "services" / "服务登记簿_2011Q4.csv").open("ab") as fh:
        fh.write(b"\r\n")  # a blank line more: skipped, and counted
    changed = LedgerCache(tmp_path / "cache", min_bytes=0)
    after = load(sample, cache=changed)
    assert changed.misses == 1 and changed.hits > reads
    assert_same_ledgers(after, load(sample), key=False)


def test_the_rows_of_unchanged_files_move_to_the_newest_set(sample, tmp_path):
    """A read's rows are stored once, in the whole set. When a file changes, the other reads'
    rows are taken from the set they are in and stored with the new set: the old one is then
    used no more, and goes when entries unused for months are removed."""
    where = tmp_path / "cache"
    first = LedgerCache(where, min_bytes=0)
    load(sample, cache=first)
    first.close()
    first_set = set(where.rglob("*.set"))
    with (sample / "services" / "服务登记簿_2011Q4.csv").open("ab") as fh:
        fh.write(b"\r\n")
    second = LedgerCache(where, min_bytes=0)
    load(sample, cache=second)
    second.close()
    for path in first_set:  # as pruning removes it
        path.unlink()
    with (sample / "services" / "服务登记簿_2011Q3.csv").open("ab") as fh:
        fh.write(b"\r\n")
    third = LedgerCache(where, min_bytes=0)
    after = load(sample, cache=third)
    assert third.misses == 1 and third.hits > 1 and not third.damaged  # only the file changed is read
    assert_same_ledgers(after, load(sample), key=False)


def test_the_whole_set_without_units_csv_knows_the_villages_seen(ledger_dir, tmp_path):
    """Without units.csv the units are those written on rows, rejected ones too (a village is
    seen even if its rows are bad): the whole set brings them back as the files' reads did."""
    a = make_id(seq=1)
    rows = [service(a, "2011-08-01"), service(a, "2011-13-01", unit=V3)]  # V3 only on a rejected row
    write_csv(ledger_dir / "s.csv", SERVICES, rows)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=a), person(id_=make_id(seq=2), unit=V2)])
    cold_cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    cold = load(ledger_dir, cache=cold_cache)
    cold_cache.close()  # entries are written in the background until then
    assert V3 in cold.units.table.index
    warm_cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    warm = load(ledger_dir, cache=warm_cache)
    assert warm_cache.hits == len(LEDGER_TYPES)
    assert_same_ledgers(warm, cold)


def test_a_file_replaced_while_it_is_read_leaves_no_whole_set(sample, tmp_path, monkeypatch):
    """The whole set is keyed by the files' bytes as hashed before reading: when a file's bytes
    then read are other bytes (replaced in between), the set read is not kept under that key."""
    from fpservice.read import loader

    real = loader.contents_of

    def hashed_before_a_change(paths, threads, hashing=None):
        contents = real(paths, threads, hashing)
        return ["0" * 32 if i == 0 else c for i, c in enumerate(contents)]  # what the first file was

    monkeypatch.setattr(loader, "contents_of", hashed_before_a_change)
    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    read = load(sample, cache=cache)
    cache.close()
    assert read.key is None and not list((tmp_path / "cache").rglob("*.set"))
    monkeypatch.setattr(loader, "contents_of", real)
    again = LedgerCache(tmp_path / "cache", min_bytes=0)
    load(sample, cache=again)
    again.close()
    assert len(list((tmp_path / "cache").rglob("*.set"))) == len(LEDGER_TYPES)
    # the reads were stored whole instead, as they were read (not as the set numbered them)
    assert again.hits > 0 and not again.damaged


def assert_same_ledgers(a, b, key=True):
    assert a.frames.keys() == b.frames.keys()
    for ledger, frame in a.frames.items():
        pd.testing.assert_frame_equal(frame, b.frames[ledger], check_exact=True)
        assert frame.dtypes.equals(b.frames[ledger].dtypes), ledger
    assert a.accounts == b.accounts and a.findings == b.findings and a.valid_days == b.valid_days
    assert a.units.table.equals(b.units.table) and (a.key == b.key or not key)


def test_a_changed_byte_is_read_again_even_with_the_same_size_and_time(ledger_dir, tmp_path):
    cache = tmp_path / "cache"
    a = make_id(seq=1)
    leaflets = [service(make_id(seq=2), "2011-08-01", "宣传品")] * 2000  # large enough to be cached
    path = write_csv(ledger_dir / "s.csv", SERVICES, [service(a, "2011-08-01")] + leaflets)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=a), person(id_=make_id(seq=2), sex="男")])
    rows = json.loads(
        run(["--cache-dir", cache, "report", ledger_dir, "-q", "2011Q3", "-f", "json", "-p", "000"]).stdout
    )
    assert {
        r["numerator"] for r in rows if r["indicator"] == "pregnancy_check" and r["period"] == "2011Q3"
    } == {1}
    assert len(list(cache.rglob("*.rows"))) == 1  # s.csv is in the cache (its rows in the whole set)

    stat_before = path.stat()
    path.write_bytes(path.read_bytes().replace("孕检".encode(), "环检".encode()))  # same length
    os.utime(path, ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))
    assert path.stat().st_size == stat_before.st_size

    rows = json.loads(
        run(["--cache-dir", cache, "report", ledger_dir, "-q", "2011Q3", "-f", "json", "-p", "000"]).stdout
    )
    assert {
        r["numerator"] for r in rows if r["indicator"] == "pregnancy_check" and r["period"] == "2011Q3"
    } == {0}


def test_a_new_units_file_means_the_ledgers_are_checked_again(ledger_dir, tmp_path):
    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=make_id(seq=1))])
    write_units(ledger_dir, [["330205000000", "江北区", "县", ""]])
    assert [f.code for f in load(ledger_dir, cache=cache).findings] == ["value.unit_unknown"]
    write_units(
        ledger_dir,
        [
            ["330205000000", "江北区", "县", ""],
            ["330205001000", "中马街道", "乡镇", ""],
            [V1, "甲社区", "村", ""],
        ],
    )
    result = load(ledger_dir, cache=cache)
    assert result.findings == [] and result.accounts[0].used == 1


def test_an_id_born_after_today_is_judged_again_once_that_day_has_come(ledger_dir, tmp_path):
    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    write_csv(
        ledger_dir / "p.csv", PERSONS, [person(id_=make_id("20110601", seq=1)), person(id_=make_id(seq=2))]
    )
    early = load(ledger_dir, today=dt.date(2011, 3, 1), cache=cache)
    assert [f.code for f in early.findings] == ["value.id_malformed"]

    still_early = load(ledger_dir, today=dt.date(2011, 5, 31), cache=cache)  # the whole set, unchanged
    assert cache.hits == len(LEDGER_TYPES)
    assert [f.code for f in still_early.findings] == ["value.id_malformed"]

    born = load(ledger_dir, today=dt.date(2011, 6, 1), cache=cache)
    assert cache.misses == 2 and born.findings == [] and born.accounts[0].used == 2


def test_the_cache_is_private(sample, tmp_path):
    cache = tmp_path / "cache"
    outputs(sample, cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    entries = list(cache.rglob("*.arrow")) + list(cache.rglob("*.json"))
    assert entries and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in entries)
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600) for p in cache.iterdir())


def test_a_damaged_cache_only_costs_a_re_read(sample, tmp_path):
    cache = tmp_path / "cache"
    cold = outputs(sample, cache)
    for p in list(cache.rglob("*.arrow"))[::2] + list(cache.rglob("*.json")):
        p.write_bytes(p.read_bytes()[:50])
    assert outputs(sample, cache) == cold


# Damage as a failing disk, a copy cut short or a backup tool does it: each trial damages every
# entry of a filled cache (8 Arrow entries of reads without rows, workbooks and their sheets; 5
# notes of where the other reads' rows are in the whole set; the findings across files; and the
# whole set: its document and a part per ledger type), then a run
# must give exactly what a run without the cache gives, say once that it read the ledgers again,
# and leave the cache whole for the next run.


def entries(cache):
    return sorted(p for p in cache.rglob("*") if p.suffix in (".arrow", ".json", ".set", ".rows"))


def without_whole_set(cache):
    """Only the files' own entries: a run then reads each from its entry."""
    for path in cache.rglob("*.set"):
        path.unlink()


def flip_three_bits(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(3):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def reseal(path, payload: bytes, version: int = sealed.FORMAT, key: str | None = None) -> bytes:
    """An entry that is whole and checksummed, as another writer would make it."""
    key = key or path.name.rsplit(".", 1)[0]
    kind = sealed.JSON if path.suffix in (".json", ".rows") else sealed.ARROW
    checksum = xxhash.xxh3_128(key.encode() + payload).digest()
    head = struct.pack("<8sIIQ16s", b"FPSVCACH", version, kind, len(payload), checksum)
    return head.ljust(sealed.HEADER_SIZE, b"\0") + payload


def payload(data: bytes) -> bytes:
    return data[sealed.HEADER_SIZE :]


DAMAGES = {  # name -> (damage(entry bytes, rng), seed)
    **{f"three bit flips, trial {seed}": (flip_three_bits, seed) for seed in range(6)},
    "cut at a random length": (lambda data, rng: data[: rng.randrange(len(data))], 7),
    "cut to nothing": (lambda data, rng: b"", 0),
    "zero-filled": (lambda data, rng: bytes(len(data)), 0),
    "the bare Arrow file of the format before": (lambda data, rng: payload(data), 0),
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """The sample district, what a run without the cache says, and a cache filled by a run."""
    base = tmp_path_factory.mktemp("filled")
    d = base / "ledgers"
    shutil.copytree(REPO / "sample_data", d)
    cache = base / "cache"
    uncached = damaged_run(d, None)
    assert damaged_run(d, cache) == uncached
    assert len(entries(cache)) == 8 + 5 + 1 + 1 + len(LEDGER_TYPES)
    return d, cache, uncached


def damaged_run(d, cache):
    """(exit code, stdout) of check as JSON, with the cache's warnings as a third part."""
    where = ["--cache-dir", cache] if cache else ["--no-cache"]
    result = run([*where, "check", d, "-f", "json", "--as-of", "2011-09-30"])
    return result.exit_code, result.stdout, result.stderr.count(cache_mod.DAMAGED)


@pytest.mark.parametrize("how", list(DAMAGES))
def test_a_damaged_entry_never_changes_a_number_nor_crashes(filled, how):
    d, cache, (code, stdout, _) = filled
    damage, seed = DAMAGES[how]
    rng = random.Random(seed)
    for path in entries(cache):
        path.write_bytes(damage(path.read_bytes(), rng))
    assert damaged_run(d, cache) == (code, stdout, 1)  # the same result, said once
    assert damaged_run(d, cache) == (code, stdout, 0)  # and the cache is whole again


def test_a_damaged_part_of_the_whole_set_only_costs_a_re_read(filled):
    """One part of the whole set damaged, the files' entries whole: the set is read from them,
    said once, and stored anew; a part swapped for another is no better."""
    d, cache, (code, stdout, _) = filled
    parts = sorted(cache.rglob("*.set"), key=lambda p: p.stat().st_size)
    largest = parts[-1]
    largest.write_bytes(flip_three_bits(largest.read_bytes(), random.Random(11)))
    assert damaged_run(d, cache) == (code, stdout, 1)
    assert damaged_run(d, cache) == (code, stdout, 0)
    parts = sorted(cache.rglob("*.set"), key=lambda p: p.stat().st_size)
    small, large = parts[0].read_bytes(), parts[-1].read_bytes()
    parts[0].write_bytes(reseal(parts[0], payload(large)))  # whole and checksummed, another part
    parts[-1].write_bytes(reseal(parts[-1], payload(small)))
    assert damaged_run(d, cache) == (code, stdout, 1)
    assert damaged_run(d, cache) == (code, stdout, 0)


def test_an_entry_of_another_format_or_of_another_file_is_not_trusted(filled):
    """Whole and checksummed, but not what this key holds: another format version, another
    file's entry (a backup tool restoring under the wrong names), rows without a column."""
    d, cache, (code, stdout, _) = filled
    paths = entries(cache)
    arrows = [p for p in paths if p.suffix == ".arrow"]
    for path in paths:
        path.write_bytes(reseal(path, payload(path.read_bytes()), version=sealed.FORMAT + 1))
    assert damaged_run(d, cache) == (code, stdout, 1)
    without_whole_set(cache)
    first, second = arrows[0].read_bytes(), arrows[1].read_bytes()
    arrows[0].write_bytes(second)
    arrows[1].write_bytes(first)
    assert damaged_run(d, cache) == (code, stdout, 1)
    largest = max(arrows, key=lambda p: p.stat().st_size)
    table = feather.read_table(pa.BufferReader(payload(largest.read_bytes())))
    sink = pa.BufferOutputStream()
    feather.write_feather(table.drop_columns([table.column_names[-1]]), sink, compression="uncompressed")
    largest.write_bytes(reseal(largest, sink.getvalue().to_pybytes()))
    without_whole_set(cache)
    assert damaged_run(d, cache) == (code, stdout, 1)
    assert damaged_run(d, cache) == (code, stdout, 0)


def test_an_unwritable_cache_directory_does_not_stop_a_report(sample, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    result = run(["--cache-dir", blocked / "cache", "report", sample, "-q", "2011Q3", "-f", "json"])
    assert result.exit_code in (0, 1) and json.loads(result.stdout)
    assert result.stderr.count("无法写入") == 1 and "--no-cache" in result.stderr


def test_a_full_disk_under_the_cache_is_said_once_and_the_run_goes_on(sample, tmp_path, monkeypatch):
    uncached = outputs(sample, None)

    def full(fh, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(feather, "write_feather", full)
    result = run(["--cache-dir", tmp_path / "cache", "check", sample, "-f", "json", "--as-of", "2011-09-30"])
    assert (result.exit_code, result.stdout) == uncached[2:]
    assert result.stderr.count("磁盘已满") == 1
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".arrow", ".set", ".json", ".tmp")]


def test_the_default_cache_directory_on_windows_is_under_local_app_data(monkeypatch, tmp_path):
    monkeypatch.delenv("FPSERVICE_CACHE")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    assert cache_mod.default_dir() == tmp_path / "AppData" / "Local" / "fpservice"
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.default_dir() == tmp_path / "xdg" / "fpservice"


def test_a_changed_masking_function_reaches_the_next_run(tmp_path):
    """The key covers all the code that shapes an entry: a masked value stored in a cached
    finding changes as soon as the masking does, with the ledgers unchanged."""
    d = tmp_path / "ledgers"
    d.mkdir()
    bad = make_id(seq=1)[:-1] + ("0" if make_id(seq=1)[-1] != "0" else "1")  # a wrong check digit
    rows = [person(id_=bad)] + [person(id_=make_id(seq=i, addr=f"34{i:04d}")) for i in range(2, 1500)]
    write_csv(d / "p.csv", PERSONS, rows)
    assert (d / "p.csv").stat().st_size > LedgerCache.MIN_BYTES  # large enough to be cached
    patched = tmp_path / "patched"
    shutil.copytree(
        REPO / "src" / "fpservice", patched / "fpservice", ignore=shutil.ignore_patterns("__pycache__")
    )
    privacy = patched / "fpservice" / "privacy.py"
    privacy.write_text(privacy.read_text(encoding="utf-8").replace('"*" * (n - 10)', '"#" * (n - 10)'))

    def masked(package_dir):
        env = {**os.environ, "PYTHONPATH": str(package_dir), "FPSERVICE_RULES": str(REPO / "rules")}
        args = ["--cache-dir", tmp_path / "cache", "check", d, "-p", "000", "-f", "json"]
        done = subprocess.run(
            [sys.executable, "-m", "fpservice", *map(str, args)], capture_output=True, env=env, timeout=120
        )
        doc = json.loads(done.stdout)
        return {f["value"] for f in doc["findings"] if f["code"] == "value.id_checksum"}

    assert masked(REPO / "src") == {bad[:6] + "********" + bad[-4:]}
    assert any((tmp_path / "cache").rglob("*.rows"))  # the file's findings, with its rows in the set
    assert masked(patched) == {bad[:6] + "########" + bad[-4:]}


class Recorder:
    def __init__(self):
        self.total, self.done, self.finished = None, 0, False

    def start(self, total):
        self.total = total

    def advance(self, n):
        self.done += n

    def finish(self):
        self.finished = True


def test_progress_hears_of_every_byte_read(sample):
    progress = Recorder()
    api.load_ledgers(sample, loading=api.LoadOptions(progress=progress))
    size = (
        sum(p.stat().st_size for p in sample.rglob("*") if p.suffix in (".csv", ".xlsx", ".xls"))
        - (sample / "units.csv").stat().st_size
    )
    assert progress.total == progress.done == size and progress.finished


def test_no_progress_display_when_stderr_is_not_a_terminal(sample):
    result = run(["report", sample, "-q", "2011Q3", "-f", "json"])
    assert "读取台帐" not in result.stderr


def test_entries_unused_for_months_are_removed_and_used_ones_kept(sample, tmp_path):
    cache = tmp_path / "cache"
    outputs(sample, cache)
    entries = sorted(cache.rglob("*.arrow"))
    old = time.time() - 200 * 86400
    for p in entries[:2]:
        os.utime(p, (old, old))
    (cache / ".pruned").unlink()
    stale = tmp_path / "stale"
    stale.mkdir()
    write_csv(stale / "p.csv", PERSONS, [person(id_=make_id(seq=1))])
    load(stale, cache=LedgerCache(cache))  # another directory: the sample's entries are not read
    assert not entries[0].exists() and not entries[1].exists() and entries[2].exists()


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A district of about 24 MB: above the size at which loading shows a progress bar."""
    d = tmp_path_factory.mktemp("large") / "ledgers"
    generate(d, 50000, townships=6, villages_per=10, seed=7)
    return d


def _stderr_of_report(ledgers, on_terminal: bool) -> str:
    command = [
        sys.executable,
        "-m",
        "fpservice",
        "--no-cache",
        "report",
        str(ledgers),
        "-q",
        "2011Q3",
        "-f",
        "json",
    ]
    if not on_terminal:
        return subprocess.run(command, capture_output=True, text=True, timeout=120).stderr
    controller, terminal = pty.openpty()
    try:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=terminal, timeout=120)
    finally:
        os.close(terminal)
    out = b""
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        out += chunk
    os.close(controller)
    return out.decode("utf-8", errors="replace")


def test_a_large_load_shows_progress_on_a_terminal_and_nothing_under_cron(large):
    assert "读取台帐" in _stderr_of_report(large, on_terminal=True)
    assert "读取台帐" not in _stderr_of_report(large, on_terminal=False)


def test_the_cli_asks_numpy_and_pyarrow_for_ordinary_pages():
    """Huge pages cost a cold run a tenth of its CPU here (see cli/__init__): the settings must
    reach the allocators of the numpy and pyarrow installed, before they load."""
    probe = (
        "import sys, contextlib\n"
        "sys.argv = ['fpservice', '--help']\n"
        "import fpservice.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None):\n"
        "    fpservice.cli.main()  # the command sets them; importing fpservice does not\n"
        "import numpy, pyarrow\n"
        "pyarrow.allocate_buffer(1 << 22)\n"
        "thp = [l.split()[1] for l in open('/proc/self/status') if l.startswith('THP_enabled')]\n"
        "print(numpy._core.multiarray._get_madvise_hugepage(), thp)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False"
    if "'" in out:  # the kernel says whether the process may have huge pages (Linux 6.x)
        assert out.split(None, 1)[1].strip() == "['0']"


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 5, 64 * 5 + 7])
def test_a_file_hashed_block_by_block_is_keyed_as_its_bytes(tmp_path, size):
    """A warm run keys the whole set by each file's digest, read 64-byte blocks at a time here:
    the same digest as the file's bytes at once, at every edge of a block (a digest of its own
    would miss the entries the cold run wrote)."""
    path = tmp_path / "ledger.csv"
    data = random.Random(size).randbytes(size)
    path.write_bytes(data)
    assert contents.digest_file(path, block=64) == contents.digest(data)
    assert contents.digest_file(path) == contents.digest(data)


def test_a_warm_run_loads_only_the_columns_asked_for(sample, tmp_path):
    """A set served whole from the cache converts only the columns a run reads; a set read from
    the files has them all. Those it has are the whole set's."""
    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    wanted = {key: {"unit", "person"} for key in LEDGER_TYPES}
    wanted["services"] |= {"date", "item"}
    cold = load(sample, cache=cache, columns=wanted)
    cache.close()
    assert cold.columns is None and "pid" in cold.frames["services"]
    warm = load(sample, cache=LedgerCache(tmp_path / "cache", min_bytes=0), columns=wanted)
    assert warm.columns == wanted and warm.key == cold.key
    for key, frame in warm.frames.items():
        assert set(frame.columns) == wanted[key] & set(cold.frames[key].columns)
        pd.testing.assert_frame_equal(frame, cold.frames[key][list(frame.columns)])


def test_checks_across_files_lost_from_the_cache_are_made_again_from_every_column(sample, tmp_path):
    """The checks across files read columns that counting does not (ID numbers, files, lines):
    when their entry is gone, a warm run that loaded only counting's columns loads the rest."""
    twice = person(id_=make_id(seq=77))  # one person in two files: found across files, by line
    write_csv(sample / "甲" / "流入人口信息登记簿.csv", PERSONS, [twice])
    write_csv(sample / "乙" / "流入人口信息登记簿.csv", PERSONS, [twice])
    cache = tmp_path / "cache"
    cold = outputs(sample, cache)
    assert '"row.duplicate_id"' in cold[3] or '"row.two_units"' in cold[3]
    lost = list(cache.rglob("*.consistency.json"))
    assert lost
    for path in lost:
        path.unlink()
    assert outputs(sample, cache) == cold
    assert list(cache.rglob("*.consistency.json"))  # and are kept again


def test_files_hashed_while_the_run_starts_are_keyed_as_files_hashed_then(sample, tmp_path):
    """A run hashes its files on a thread from its start (`Hashing`); what the loader takes from
    it, and hashes itself after `stop`, are the digests of the files' bytes. A named pipe among
    them is never opened (it would wait for a writer for ever), nor a file that cannot be read."""
    from fpservice.read import discover

    os.mkfifo(sample / "管道.csv")
    locked = sample / "锁定.csv"
    locked.write_bytes(b"x")
    locked.chmod(0)
    files = discover.discover(sample)
    paths = [None if discover.unusable(p) else p for p in files]
    expected = [contents.content(p) for p in paths]
    assert "-" in expected and len(set(expected)) > 2
    hashing = contents.Hashing(sample)
    deadline = time.monotonic() + 60
    while hashing._thread.is_alive() and time.monotonic() < deadline:  # done, unless stuck on the pipe
        time.sleep(0.01)
    assert not hashing._thread.is_alive()
    done = hashing.stop()
    assert set(done) == {p for p in files if p is not None and not discover.unusable(p)}
    stopped_at_once = contents.Hashing(sample)
    assert contents.contents_of(paths, 2, stopped_at_once) == expected  # the rest hashed then
    if os.geteuid() != 0:  # root reads it all the same
        assert expected[files.index(locked)] is None


def test_an_entry_is_one_record_batch(tmp_path):
    """Entries are written as one Arrow record batch, not Feather's 64K-row ones: a column of one
    chunk reaches numpy without being joined first (what a warm run does with every column)."""
    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    frame = pd.DataFrame({"n": range(200_000), "s": pd.Categorical(["a", "b"] * 100_000)})
    cache.put("k" * 64, frame, {"valid_days": [None, None]})
    cache.close()
    (path,) = (tmp_path / "cache").rglob("*.arrow")
    table = feather.read_table(pa.BufferReader(path.read_bytes()[sealed.HEADER_SIZE :]))
    assert [table.column(name).num_chunks for name in table.column_names] == [1, 1]
    got, _ = LedgerCache(tmp_path / "cache", min_bytes=0).get("k" * 64, dt.date.today())
    pd.testing.assert_frame_equal(got, frame)


def test_the_key_of_an_entry_follows_the_libraries_that_made_it(monkeypatch, tmp_path):
    """A library upgrade misses every entry: its version is in every key, or, for a library
    that tells none (python-calamine), the digest of its module's file."""
    import pandas

    before = LedgerCache("/nonexistent").key("c", "f.csv", "ctx")
    cache_mod._code_fingerprint.cache_clear()
    monkeypatch.setattr(pandas, "__version__", "0.0.1")
    try:
        assert LedgerCache("/nonexistent").key("c", "f.csv", "ctx") != before
    finally:
        cache_mod._code_fingerprint.cache_clear()
    module = tmp_path / "unversioned_library.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = cache_mod._version("unversioned_library")
    sys.modules.pop("unversioned_library")
    module.write_text("X = 2\n")
    assert cache_mod._version("unversioned_library") != first
    assert cache_mod._version("no_such_module") == "-"


def test_an_entry_holds_the_rows_as_they_were_when_put(tmp_path):
    """Entries are converted and written on the cache's own thread, after `put` has returned:
    what a caller does to its frame meanwhile never reaches the entry."""
    import threading

    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    frame = pd.DataFrame({"n": range(100_000), "s": pd.Categorical(["a", "b"] * 50_000)})
    kept = frame.copy()
    gate = threading.Event()
    cache._queue(tmp_path / "gate", lambda path: gate.wait(60))  # the writer waits until the frame changed
    cache.put("k" * 64, frame, {"valid_days": [None, None]})
    frame.loc[0, "n"] = -1
    frame.iloc[1:3, 0] = -2
    frame["s"] = frame["s"].cat.rename_categories(["x", "y"])
    frame["extra"] = 1
    gate.set()
    cache.close()
    got, _ = LedgerCache(tmp_path / "cache", min_bytes=0).get("k" * 64, dt.date.today())
    pd.testing.assert_frame_equal(got, kept)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="where memory is mapped: Linux's /proc")
def test_an_entry_s_numbers_and_dates_are_not_copied_for_counting(tmp_path):
    """Loading only the columns counting reads (a warm run) leaves an entry's numbers and dates
    where the entry's map has them: copying them into pandas' blocks was tens of MB of fresh
    memory at a million persons. A load of every column is a frame of its own, free to change."""
    import numpy as np

    cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    n = 100_000
    days = np.arange(n).astype("datetime64[s]").astype("datetime64[ns]")
    frame = pd.DataFrame({"n": np.arange(n), "d": days, "s": pd.Categorical(["a", "b"] * (n // 2))})
    cache.put("k" * 64, frame, {"valid_days": [None, None]})
    cache.close()
    (path,) = (tmp_path / "cache").rglob("*.arrow")

    def mapped(column: pd.Series) -> bool:
        at = column.to_numpy().__array_interface__["data"][0]
        with open("/proc/self/maps") as maps:
            spans = [line.split()[0].split("-") for line in maps if line.rstrip().endswith(str(path))]
        return any(int(a, 16) <= at < int(b, 16) for a, b in spans)

    counted, _ = LedgerCache(tmp_path / "cache", min_bytes=0).get(
        "k" * 64, dt.date.today(), columns={"n", "d"}
    )
    pd.testing.assert_frame_equal(counted, frame[["n", "d"]])
    assert mapped(counted["n"]) and mapped(counted["d"])
    whole, _ = LedgerCache(tmp_path / "cache", min_bytes=0).get("k" * 64, dt.date.today())
    pd.testing.assert_frame_equal(whole, frame)
    assert not mapped(whole["n"]) and not mapped(whole["d"])
    whole.loc[0, "n"] = -1
    assert whole["n"][0] == -1 and frame["n"][0] == 0


def test_a_dask_task_never_loads_a_whole_set_for_a_few_files(sample, tmp_path):
    """A local run stores its reads' rows in the whole set. The local loader takes a read's rows
    from there again; a Dask task, which reads a few files, parses them instead of loading every
    row of the set's part (and stores them in an entry of their own)."""
    from fpservice.headers import DEFAULT
    from fpservice.read import loader

    first = LedgerCache(tmp_path / "cache", min_bytes=0)
    load(sample, cache=first)
    first.close()
    reads = loader.reads_of(sample, None)
    job = max((j for j in reads.jobs if j[0].suffix == ".csv"), key=reads.size_of)
    today = dt.date.today()
    local_cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    local = reads.reader(None, today, local_cache, DEFAULT, share=float("inf"))
    ((from_set, _),) = local.read(job)
    assert local_cache.hits == 2 and local_cache.misses == 0  # the set's part and the read's note
    task_cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    task = reads.reader(
        None, today, task_cache, DEFAULT, share=float("inf"), workbook_processes=False, rows_in_sets=False
    )
    ((parsed, _),) = task.read(job)
    task_cache.close()
    assert task_cache.hits == 0 and task_cache.misses == 1
    pd.testing.assert_frame_equal(parsed.frame, from_set.frame)
    assert parsed.accounts == from_set.accounts and parsed.findings == from_set.findings


def test_a_note_of_rows_that_is_whole_but_wrong_only_costs_a_re_read(sample, tmp_path):
    """A `.rows` note checksummed and whole, but naming its file by something that is not a name
    (another writer, a backup tool's doing): discarded and said once, never a crash."""
    cache = tmp_path / "cache"
    damaged_run(sample, cache)
    notes = list(cache.rglob("*.rows"))
    assert notes
    for path in notes:
        doc = json.loads(payload(path.read_bytes()))
        doc["rows"] = [[[rel], start, stop] for rel, start, stop in doc["rows"]] or [[["x"], 0, 0]]
        path.write_bytes(reseal(path, json.dumps(doc, ensure_ascii=False).encode("utf-8")))
    with (sample / "services" / "服务登记簿_2011Q4.csv").open("ab") as fh:
        fh.write(b"\r\n")  # a change: the other reads are served from their notes
    code, stdout, _ = damaged_run(sample, None)
    assert damaged_run(sample, cache) == (code, stdout, 1)
    assert damaged_run(sample, cache) == (code, stdout, 0)


def test_an_unusable_entry_of_a_read_s_own_falls_back_to_its_rows_in_the_set(sample, tmp_path, monkeypatch):
    """A read may still have an entry of its own from before its rows went into a set (a Dask
    run, a run that stored no set): when that entry cannot be used, the read's rows come from
    the set all the same, and it is not parsed again."""
    from fpservice.read import loader

    first = LedgerCache(tmp_path / "cache", min_bytes=0)
    load(sample, cache=first)
    first.close()
    with (sample / "services" / "服务登记簿_2011Q4.csv").open("ab") as fh:
        fh.write(b"\r\n")  # a change: the set is read again, read by read
    parsed = []
    for name in ("read_ledger_file", "read_batch"):
        real = getattr(loader, name)
        monkeypatch.setattr(loader, name, lambda *a, real=real, **k: parsed.append(a[1]) or real(*a, **k))
    monkeypatch.setattr(LedgerCache, "has", lambda self, key, suffix=".arrow": True)  # an own entry, unusable
    again = LedgerCache(tmp_path / "cache", min_bytes=0)
    got = load(sample, cache=again)
    assert len(parsed) == 1 and "services/服务登记簿_2011Q4.csv" in parsed[0]  # the read changed only
    assert_same_ledgers(got, load(sample), key=False)
