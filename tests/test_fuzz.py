"""Fuzzing `check`: random bytes, random CSV-shaped text and real ledger files damaged at random.
Whatever arrives, `check` finishes with a result (exit 0 or 1), findings (2) or one line (3):
never a traceback, and every file's rows add up, read = used + rejected + skipped."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpservice.schema import LEDGER_TYPES
from tests.ledgerkit import REPO, make_id, run

SAMPLE = REPO / "sample_data"
REAL = sorted(p for p in SAMPLE.rglob("*") if p.suffix in (".csv", ".xlsx", ".xls") and p.name != "units.csv")
HEADERS = sorted({alias for t in LEDGER_TYPES.values() for c in t.columns for alias in c.aliases})
CELLS = st.one_of(
    st.text(max_size=12),  # anything, commas, quotes, line breaks, NUL and all
    st.sampled_from(
        ["2011-08-01", "2011/5/19", "20110230", "是", "否", "女", "已婚", "孕检", "现居住地", ""]
    ),
    st.sampled_from(["330205001001", "330205001", "3.30205E+11", make_id(seq=1), make_id(seq=2)[:-1] + "0"]),
)


@st.composite
def csv_text(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(HEADERS) | st.text(max_size=6), min_size=1, max_size=10))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), max_size=30))
    quote = draw(st.booleans())
    lines = [
        ",".join(f'"{c}"' if quote and i % 2 else c for i, c in enumerate(row)) for row in [header, *rows]
    ]
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])), "replace")


@st.composite
def damaged_real_file(draw) -> tuple[str, bytes]:
    path = draw(st.sampled_from(REAL))
    data = bytearray(path.read_bytes()[: draw(st.sampled_from([4096, 65536, 1 << 30]))])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
    return path.name, bytes(data)


inputs = st.one_of(
    st.tuples(st.sampled_from(["台帐.csv", "台帐.xlsx", "台帐.xls"]), st.binary(max_size=2048)),
    st.tuples(st.just("台帐.csv"), csv_text()),
    damaged_real_file(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs, st.booleans())
def test_check_finishes_on_anything(file, with_units):
    name, data = file
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / name).write_bytes(data)
        if with_units:
            shutil.copy(SAMPLE / "units.csv", d / "units.csv")
        result = run(["--no-cache", "check", d, "-p", "000", "-f", "json", "--as-of", "2011-09-30"])
    said = result.output + result.stderr
    assert "Traceback" not in said and "内部错误" not in said, said
    assert result.exit_code in (0, 1, 2, 3)
    if result.exit_code == 3:
        assert result.stderr.startswith("fpservice: ") and result.stderr.count("\n") == 1
        return
    doc = json.loads(result.stdout)
    assert doc["files"]
    for a in doc["files"]:
        assert a["read"] == a["used"] + a["rejected"] + a["skipped"], a
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert bool(errors) == (result.exit_code == 2)
