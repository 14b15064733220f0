"""Rule conditions compiled to a tree: what the equity gap rewrites, and what the compiler refuses."""

import pytest

from fpservice import conditions, yamlfile
from fpservice.conditions import AllOf, Cohort, Compiler, Has
from fpservice.errors import RuleError


def compiled(node, ledger="persons", cohorts=None):
    return Compiler("rules.yaml", cohorts).conditions(node, ledger)


def test_replace_value_reaches_into_cohorts_and_other_ledgers():
    women = compiled([{"pop_type": "流动"}, {"sex": "女"}])
    tree = AllOf(
        (
            Cohort("target_women", women),
            Has("services", AllOf((conditions.Test("item", "eq", "孕检"),))),
            conditions.Test("pop_type", "in", ("流动",)),  # only `eq` tests are the cohort's own words
        )
    )
    got = conditions.replace_value(tree, "pop_type", "流动", "户籍")
    assert got.parts[0].body.parts[0] == conditions.Test("pop_type", "eq", "户籍")
    assert got.parts[0].body.parts[1] == conditions.Test("sex", "eq", "女")
    assert got.parts[1:] == tree.parts[1:]


@pytest.mark.parametrize(
    "text,message",
    [
        ("sexx: 女", "没有字段 `sexx`"),
        ("sex: F", "不能取值“F”"),
        ("sex: {on_or_before: end}", "只能用于日期字段"),
        ("arrived: {on_or_before: tomorrow}", "日期应是"),
        ("birth: {age_between: [15]}", "age_between"),
        ("has: {ledger: surveys}", "只能连接有身份证号的台帐"),
    ],
)
def test_the_compiler_names_what_is_wrong_at_its_line(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text("where:\n  - sex: 女\n  - " + text + "\n", encoding="utf-8")
    with pytest.raises(RuleError) as err:
        compiled(yamlfile.load(path)["where"])
    assert message in str(err.value) and err.value.line == 3
