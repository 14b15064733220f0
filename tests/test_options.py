"""One vocabulary of options across commands, and mistakes answered plainly (issue: right on the
first try): -o writes what its name says or refuses with the fix, dates in every spelling,
choices in any case, group options anywhere, click's own texts in Chinese."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fpservice.cli import options
from fpservice.errors import UsageError
from tests.ledgerkit import REPO, run

SAMPLE = REPO / "sample_data"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("opts") / "ledgers"
    shutil.copytree(SAMPLE, d)
    return d


@pytest.mark.parametrize(
    "name,magic",
    [
        ("r.xlsx", b"PK\x03\x04"),
        ("r.html", b"<!DOCTYPE html>"),
        ("r.json", b"[\n{"),
        ("r.csv", b"\xef\xbb\xbfunit,"),
    ],
)
def test_the_format_follows_the_file_name(sample, tmp_path, name, magic):
    out = tmp_path / name
    assert run(["report", sample, "-q", "2011Q3", "-o", out]).exit_code == 1
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize(
    "args,message",
    [
        (["-o", "r.pdf"], "不认识 -o r.pdf 的扩展名"),
        (["-f", "csv", "-o", "r.xlsx"], "-f csv 与文件名 r.xlsx 不符：去掉 -f，或把文件名改为 r.csv"),
        (["-o", "/nonexistent/sub/r.csv"], "目录 /nonexistent/sub 不存在"),
        (["--details"], "--details 只用于 json 和 csv"),
        (["--encoding", "nosuch"], "未知的编码：nosuch"),
        (["-f", "pdf"], "的值无效"),
    ],
)
def test_wrong_options_are_one_plain_line(sample, tmp_path, args, message):
    result = run(["report", sample, "-q", "2011Q3", *args])
    assert result.exit_code == 3 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args",
    [
        ["report", "-q", "0000Q1"],
        ["report", "--due", "--date", "9999-12-31"],
        ["due", "--date", "9999-12-31"],
        ["check", "--as-of", "0001-01-01"],
    ],
)
def test_a_year_no_report_is_for_is_one_plain_line(sample, args):
    result = run([args[0], sample, *args[1:]])
    assert result.exit_code == 3 and "年份应在 1900–2099 年之间" in result.stderr, result.stderr
    assert "内部错误" not in result.stderr


def test_a_binary_format_is_not_poured_onto_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    with pytest.raises(UsageError, match="不能输出到终端"):
        options.target("xlsx", None, "table")
    assert options.target("XLSX", Path("r.xlsx"), "table").fmt == "xlsx"


def test_a_directory_to_write_into_is_made_and_named(sample, tmp_path):
    reports = tmp_path / "reports"
    for quarter in ("2011Q2", "2011Q3"):
        result = run(["report", sample, "-q", quarter.lower(), "-f", "csv", "-o", f"{reports}/"])
        assert result.exit_code == 1 and not result.stderr.startswith("fpservice:")
    assert sorted(p.name for p in reports.iterdir()) == [
        "jiangbei-2011_2011Q2.csv",
        "jiangbei-2011_2011Q3.csv",
    ]
    again = run(["report", sample, "-q", "2011Q1", "-o", reports])  # an existing directory, no slash
    assert again.exit_code in (0, 1) and (reports / "jiangbei-2011_2011Q1.txt").is_file()


def test_dates_in_every_spelling_and_check_takes_date(sample):
    days = ["2011-09-30", "2011/9/30", "2011.9.30", "20110930", "2011年9月30日"]
    docs = [json.loads(run(["check", sample, "--date", d, "-f", "json"]).stdout)["as_of"] for d in days]
    assert set(docs) == {"2011-09-30"}
    assert (
        json.loads(run(["check", sample, "--as-of", "2011-06-30", "-f", "JSON"]).stdout)["as_of"]
        == "2011-06-30"
    )
    bad = run(["check", sample, "--date", "2011-02-30"])
    assert bad.exit_code == 3 and "日期无法识别或不存在：2011-02-30" in bad.stderr


def test_group_options_anywhere_and_quiet_everywhere(sample):
    late = run(["check", sample, "-f", "json", "--no-cache", "--verbose", "--quiet"])
    assert late.exit_code in (1, 2) and late.stderr == ""
    assert run(["due", sample, "--date", "2030-09-20", "--quiet"]).stderr == ""
    assert "不在节假日日历范围内" in run(["due", sample, "--date", "2030-09-20"]).stderr
    assert run(["due", "--date", "2011-10-01", "-f", "TABLE"]).exit_code == 0
    assert (
        run(["due", "--date", "2011-10-01", "-f", "text"]).stdout
        == run(["due", "--date", "2011-10-01"]).stdout
    )
    assert run(["rules", "--quiet"]).exit_code == 0


def test_clicks_own_messages_are_chinese(sample):
    result = run(["check", sample, "--bogus"])
    assert result.exit_code == 3 and "没有选项 '--bogus'" in result.stderr and "用法：" in result.stderr
    assert "No such option" not in result.stderr


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda d: None, "台帐目录不存在"),
        (lambda d: d.write_text("x"), "是文件，不是台帐目录"),
    ],
)
def test_a_missing_directory_is_said_so_before_any_plan(tmp_path, make, message):
    d = tmp_path / "ledgers"
    make(d)
    for args in (["report", d, "-q", "2011Q3"], ["check", d], ["due", d], ["report", d, "--due"]):
        result = run(args)
        assert result.exit_code == 3 and message in result.stderr and "--plan" not in result.stderr, args


def test_plan_written_as_a_number_is_the_plan(tmp_path):
    d = tmp_path / "ledgers"
    shutil.copytree(SAMPLE, d)
    (d / "fpservice.yaml").write_text("plan: 000\n", encoding="utf-8")
    result = run(["report", d, "-q", "2011Q3", "-f", "json"])
    assert result.exit_code == 1 and json.loads(result.stdout)


def test_quarters_the_ledgers_or_the_plan_do_not_cover_are_warned_of(sample, tmp_path):
    early = run(["report", sample, "-q", "2010Q4"])
    assert "在方案开始（2011-04-01）之前" in early.stderr
    late = run(["report", sample, "-q", "2012Q3"])
    assert "台帐中最晚的日期是 2011-12-" in late.stderr and "2012Q3 里没有任何台帐记录" in late.stderr
    due = run(["report", sample, "--due", "--date", "2026-12-02", "-f", "json"])
    assert "按 2026-12-02 下一个季报期限，报告 2026Q4" in due.stderr and "没有任何台帐记录" in due.stderr
    bare = tmp_path / "bare"
    shutil.copytree(sample, bare)
    (bare / "units.csv").unlink()
    assert "没有 units.csv" in run(["report", bare, "-q", "2011Q3"]).stderr
    assert "没有 units.csv" not in run(["report", sample, "-q", "2011Q3"]).stderr


def test_a_directory_without_dates_says_so(tmp_path):
    d = tmp_path / "ledgers"
    d.mkdir()
    (d / "staff.csv").write_text("村居代码,岗位\n330205001001,专职\n", encoding="utf-8")
    result = run(["check", d, "-p", "000"])
    assert "台帐中没有日期，按今天" in result.stderr and "台帐中最晚的日期" not in result.stderr


def test_the_message_catalogue_is_compiled_from_its_source():
    from scripts import compile_messages

    catalogue = compile_messages.entries(compile_messages.PO.read_text(encoding="utf-8"))
    assert compile_messages.PO.with_suffix(".mo").read_bytes() == compile_messages.mo(catalogue)
    assert catalogue["Usage:"] == "用法："
