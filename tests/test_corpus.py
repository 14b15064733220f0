"""Hostile inputs: every case in tests/corpus/ through the real CLI.

Each case directory holds the ledger files and `expected.yaml`: the exit code, the exact findings
(code, file, line and, where given, column), and per-file row accounts [read, used, rejected,
skipped]. For every case: no traceback, bounded time, read = used + rejected + skipped for every file,
and the input files byte-for-byte unchanged.
"""

import csv
import io
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from fpservice import rules
from fpservice.errors import RuleError
from tests.ledgerkit import PERSONS, V1, make_id, person, run, write_csv

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.yaml").is_file())


def snapshot(d: Path) -> dict:
    return {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def check(d: Path, *extra):
    started = time.monotonic()
    result = run(["check", d, "-p", "000", "-f", "json", *extra])
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.output + result.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s"
    return result


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case, tmp_path):
    d = tmp_path / case
    shutil.copytree(CORPUS / case, d)
    (d / "expected.yaml").unlink()
    expected = yaml.safe_load((CORPUS / case / "expected.yaml").read_text(encoding="utf-8"))
    before = snapshot(d)
    result = check(d)
    assert result.exit_code == expected["exit"], result.output + result.stderr
    assert snapshot(d) == before
    if expected["exit"] == 3:
        assert result.stderr.startswith("fpservice: ")
        return
    doc = json.loads(result.stdout)
    found = {
        (f["code"], f["file"], f["line"]) + ((f["column"],) if len(e) > 3 else ())
        for f in doc["findings"]
        for e in [next((x for x in expected["findings"] if x[0] == f["code"] and x[2] == f["line"]), ())]
    }
    assert found == {tuple(e) for e in expected["findings"]}
    for account in doc["files"]:
        assert account["read"] == account["used"] + account["rejected"] + account["skipped"]
    accounts = {a["file"]: [a["read"], a["used"], a["rejected"], a["skipped"]] for a in doc["files"]}
    for file, numbers in (expected.get("accounts") or {}).items():
        assert accounts[file] == numbers, file
    if "distinct_persons" in expected:
        rows = json.loads(run(["report", d, "-q", "2011Q3", "-p", "000", "-f", "json"]).stdout)
        village = [r for r in rows if r["unit"] == V1 and r["indicator"] == "free_service"]
        assert village[0]["denominator"] == expected["distinct_persons"]


def test_formula_cells_are_neutralised_in_csv(tmp_path):
    d = tmp_path / "formula"
    shutil.copytree(CORPUS / "formula_cells", d)
    out = tmp_path / "r.csv"
    run(["report", d, "-q", "2011Q3", "-p", "000", "-f", "csv", "-o", out])
    text = out.read_text(encoding="utf-8-sig")
    assert ",'=cmd|' /C calc'!A0," in text and ",'+甲街道," in text and ",'@乙社区," in text
    assert ",=cmd" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(not r[k].startswith("'") for r in rows for k in ("numerator", "denominator", "rate"))
    assert {r["numerator"] for r in rows} <= {str(n) for n in range(10_000)}  # numbers untouched


def test_ten_megabyte_field_is_read_in_bounded_time(ledger_dir):
    header = ",".join(PERSONS + ["备注"])
    rows = [
        ",".join(person(id_=make_id(seq=1))) + ",短",
        ",".join(person(id_=make_id(seq=2))) + ',"' + "长" * 3_500_000 + '"',
    ]
    (ledger_dir / "p.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = check(ledger_dir)
    assert result.exit_code == 1
    assert [f["read"] for f in json.loads(result.stdout)["files"]] == [2]


def test_ten_megabyte_field_runs_in_bounded_memory(ledger_dir):
    """Peak memory of a whole run on a file with a 10 MB cell, measured by a wrapper process that
    has that run as its only child."""
    import subprocess
    import sys

    write_csv(ledger_dir / "p.csv", PERSONS, [person(name="长" * 3_500_000), person(id_=make_id(seq=2))])
    wrapper = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(done.returncode, peak, b'Traceback' in done.stderr)"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            sys.executable,
            "-m",
            "fpservice",
            "check",
            str(ledger_dir),
            "-p",
            "000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, peak_kib, traceback = out.stdout.split()
    assert (int(code), traceback) == (1, "False")
    assert int(peak_kib) / 1024 < 1024


def test_ten_megabyte_field_in_a_checked_column_is_shown_truncated(ledger_dir):
    write_csv(ledger_dir / "p.csv", PERSONS, [person(arrived="9" * 10_000_000)])
    result = check(ledger_dir)
    assert result.exit_code == 2 and len(result.stdout) < 10_000


def test_symlink_loop_does_not_hang(ledger_dir):
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    (ledger_dir / "sub").mkdir()
    (ledger_dir / "sub" / "up").symlink_to(ledger_dir, target_is_directory=True)
    assert check(ledger_dir).exit_code == 1


RULE_CASES = {
    "syntax_error": (
        "plans/000_jiangbei_2011.yaml",
        "targets:\n",
        "targets:\n  policy_awareness: [90%\n",
        "YAML 语法错误",
    ),
    "unknown_key": ("plans/000_jiangbei_2011.yaml", "issuer:", "isuer:", "未知的键"),
    "python_import": (
        "indicators.yaml",
        "      - pop_type: 流动\n",
        "      - pop_type: {__import__: os}\n",
        "未知的条件运算",
    ),
    "attribute_access": (
        "indicators.yaml",
        "      - pop_type: 流动\n",
        "      - pop_type.__class__: 流动\n",
        "没有字段",
    ),
    "call": ("indicators.yaml", "      - pop_type: 流动\n", "      - \"eval('1')\": 流动\n", "没有字段"),
    "python_tag": (
        "indicators.yaml",
        "      - pop_type: 流动\n",
        "      - pop_type: !!python/object/apply:os.system [id]\n",
        "YAML 标签",
    ),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_hostile_rule_files(case, tmp_path, ledger_dir):
    file, old, new, message = RULE_CASES[case]
    d = tmp_path / "rules"
    shutil.copytree(rules.default_directory(), d)
    text = (d / file).read_text(encoding="utf-8")
    assert old in text
    (d / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RuleError, match=message) as err:
        rules.load(d)
    assert err.value.line
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    result = run(["--rules", d, "check", ledger_dir, "-p", "000"])
    assert result.exit_code == 3 and f"{Path(file).name}:{err.value.line}:" in result.stderr


def test_billion_laughs_is_refused_quickly(tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(rules.default_directory(), d)
    lol = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lol += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (d / "plans" / "lol.yaml").write_text("\n".join(lol) + "\n", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(RuleError, match="别名"):
        rules.load(d)
    assert time.monotonic() - started < 2
