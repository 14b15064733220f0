"""Rule files: the bundled plans load and trace to their seeds; broken rule files fail clearly."""

import re
import shutil
from pathlib import Path

import pytest

from fpservice import rules
from fpservice.errors import RuleError
from tests.ledgerkit import REPO, V1, run, write_csv

SEEDS = REPO.parent / "shared" / "seeds"


def test_bundled_rules_hold_five_plans():
    book = rules.load()
    assert sorted(p.aliases[0] for p in book.plans.values()) == ["000", "001", "002", "003", "004"]
    assert book.plan("江北区").id == "jiangbei-2011" and book.plan("002").id == "rongxian-2008"


@pytest.mark.parametrize(
    "plan,key,year,expected",
    [
        ("000", "policy_awareness", 2011, 0.90),
        ("000", "satisfaction", 2011, 0.95),
        ("001", "pregnancy_check", 2011, 0.95),
        ("001", "pregnancy_check", 2013, 0.98),
        ("001", "pregnancy_check", 2010, None),
        ("003", "free_contraceptive", 2011, 1.0),
        ("004", "birth_in_policy", 2009, None),
        ("004", "birth_in_policy", 2011, 0.85),
        ("002", "six_ones", 2008, 1.0),
        ("002", "certificate", 2011, 0.95),
        ("002", "staffing", 2011, "required"),
    ],
)
def test_targets_per_year(plan, key, year, expected):
    assert rules.load().plan(plan).target(key, year) == expected


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seeds live beside the repository")
def test_every_quoted_sentence_is_in_its_seed():
    """Each quote in a plan file (comments and `quote:` fields) must appear in the seed it names,
    or in the seed of the plan the line cites ("plan 002")."""

    def seed_text(name):
        return re.sub(r"\s", "", (SEEDS / name).read_text(encoding="utf-8"))

    checked = 0
    for path in sorted((REPO / "rules" / "plans").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        own = seed_text(re.search(r"^seed: (\S+)", text, re.M).group(1))
        for cited in re.findall(r"(?:#|quote:)(.*)$", text, re.M):
            other = re.search(r"plan (\d{3})", cited)
            source = seed_text(next(SEEDS.glob(f"{other.group(1)}_*.txt")).name) if other else own
            for quote in re.findall(r"\"([^\"]*[\u4e00-\u9fff][^\"]*)\"", cited):
                for piece in re.split(r"……", re.sub(r"\s", "", quote)):
                    if len(piece) >= 6:
                        assert piece in source, f"{path.name}: {piece}"
                        checked += 1
    assert checked >= 30


def rule_copy(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(rules.default_directory(), d)
    return d


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BROKEN = [
    (
        "plans/000_jiangbei_2011.yaml",
        "  satisfaction: 95%",
        "  satisfactoin: 95%",
        "未知的指标：satisfactoin",
    ),
    ("plans/000_jiangbei_2011.yaml", "  satisfaction: 95%", "  satisfaction: 195%", "0%–100%"),
    ("plans/000_jiangbei_2011.yaml", "  satisfaction: 95%", "  satisfaction: 0.95", "百分数"),
    ("plans/000_jiangbei_2011.yaml", "    start: 2011-06-01", "    start: 2011-03-01", "早于方案开始"),
    ("plans/000_jiangbei_2011.yaml", "    end: 2011-05-31", "    end: 2011-03-31", "结束早于开始"),
    ("plans/000_jiangbei_2011.yaml", "issuer:", "isuer:", "未知的键：isuer"),
    ("plans/000_jiangbei_2011.yaml", "    start: 2011-06-01", "    start: 2011-06-31", "日期“2011-06-31”"),
    ("plans/000_jiangbei_2011.yaml", "targets:\n", "targets:\n  x: [1\n", "YAML 语法错误"),
    ("indicators.yaml", "      - sex: 女\n", "      - gender: 女\n", "没有字段 `gender`"),
    ("indicators.yaml", "            - item: 孕检\n", "            - item: 孕简\n", "不能取值“孕简”"),
    (
        "indicators.yaml",
        "      - arrived: {on_or_before: end}",
        "      - arrived: {__import__: os}",
        "未知的条件运算",
    ),
]


@pytest.mark.parametrize("file,old,new,message", BROKEN)
def test_broken_rule_file_names_file_and_line(tmp_path, file, old, new, message):
    d = rule_copy(tmp_path)
    edit(d / file, old, new)
    with pytest.raises(RuleError) as err:
        rules.load(d)
    assert message in str(err.value)
    assert err.value.file.endswith(Path(file).name) and err.value.line


def test_yaml_aliases_are_refused(tmp_path):
    """A billion-laughs file must fail at once, not expand."""
    d = rule_copy(tmp_path)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b]\n"
    (d / "plans" / "bomb.yaml").write_text(bomb, encoding="utf-8")
    with pytest.raises(RuleError, match="别名"):
        rules.load(d)


def test_broken_rules_exit_3_through_the_cli(tmp_path, ledger_dir):
    d = rule_copy(tmp_path)
    edit(d / "plans/000_jiangbei_2011.yaml", "  satisfaction: 95%", "  satisfaction: 195%")
    write_csv(ledger_dir / "staff.csv", ["村居代码", "岗位"], [[V1, "专职"]])
    result = run(["--rules", d, "report", ledger_dir, "--quarter", "2011Q3", "--plan", "000"])
    assert result.exit_code == 3
    assert "000_jiangbei_2011.yaml:" in result.stderr and "Traceback" not in result.output + result.stderr


def test_a_county_can_add_an_indicator_without_python(tmp_path, ledger_dir):
    d = rule_copy(tmp_path)
    text = (d / "indicators.yaml").read_text(encoding="utf-8")
    text += """
  ring_check:
    name: 环检率
    count: persons
    ledger: persons
    denominator:
      - cohort: target_women
    numerator:
      - has:
          ledger: services
          where:
            - cohort: free_here
            - item: 环检
"""
    (d / "indicators.yaml").write_text(text, encoding="utf-8")
    edit(d / "plans/000_jiangbei_2011.yaml", "  satisfaction: 95%", "  satisfaction: 95%\n  ring_check: 50%")
    book = rules.load(d)
    assert book.plan("000").target("ring_check", 2011) == 0.5


def test_an_alias_is_refused_at_the_line_that_uses_it(tmp_path):
    d = rule_copy(tmp_path)
    (d / "plans" / "alias.yaml").write_text("a: &a [x]\nb: 1\nc: *a\n", encoding="utf-8")
    with pytest.raises(RuleError, match="别名") as err:
        rules.load(d)
    assert err.value.file.endswith("alias.yaml") and err.value.line == 3
