"""Reports as terminal tables: the width is the terminal's (COLUMNS when set); columns are left out
least needed first, with --wide for everything; a pipe, markdown and -o files keep every column."""

from __future__ import annotations

from wcwidth import wcswidth

from tests.ledgerkit import REPO, run

SAMPLE = REPO / "sample_data"
ALL = ["代码", "单位", "层级", "指标", "本期 2011Q3", "本期比率", "累计 2011Q1-2011Q3", "累计比率", "95%区间"]


def widest(text: str) -> int:
    return max(wcswidth(line) for line in text.splitlines())


def header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("代码"))
    cells = [c.strip() for c in line.split("  ") if c.strip()]
    return [h for h in ALL + ["目标", "累计状态"] if h in cells]


def test_the_default_report_fits_120_columns():
    result = run(["report", SAMPLE, "-q", "2011Q3", "--trend"], env={"COLUMNS": "120"})
    assert result.exit_code == 1 and widest(result.stdout) <= 120
    kept = header(result.stdout)
    assert {"单位", "指标", "累计比率", "目标", "累计状态"} <= set(kept) and "95%区间" not in kept
    assert "加 --wide 显示全部列" in result.stdout


def test_wide_pipes_markdown_and_files_keep_every_column(tmp_path):
    wide = run(["report", SAMPLE, "-q", "2011Q3", "--wide"], env={"COLUMNS": "80"}).stdout
    piped = run(["report", SAMPLE, "-q", "2011Q3"]).stdout  # no COLUMNS, not a terminal
    assert wide == piped and header(piped)[:9] == ALL and widest(piped) > 150
    out = tmp_path / "r.txt"
    run(["report", SAMPLE, "-q", "2011Q3", "-o", out], env={"COLUMNS": "80"})
    assert out.read_text(encoding="utf-8") == piped
    markdown = run(["report", SAMPLE, "-q", "2011Q3", "-f", "markdown"], env={"COLUMNS": "80"}).stdout
    assert "| 95%区间" in markdown


def test_check_fits_the_terminal_too():
    result = run(["check", SAMPLE, "--date", "2011-09-30"], env={"COLUMNS": "120"})
    table = result.stdout.split("== 达标情况 ==", 1)[1]
    assert widest(table) <= 120
