"""A ledger's type from its header (SPEC §2): the signature column, then the required columns."""

from fpservice import read
from tests.ledgerkit import V1, make_id, write_csv


def test_type_by_signature_and_errors_naming_candidates(ledger_dir):
    write_csv(ledger_dir / "a.csv", ["村居代码", "身份证号", "流入日期", "服务项目"], [])
    write_csv(ledger_dir / "b.csv", ["村居代码", "备注"], [])
    write_csv(ledger_dir / "c.csv", ["村居代码", "身份证号", "服务项目"], [[V1, make_id(), "孕检"]])
    result = read.load(ledger_dir)
    by_file = {f.file: f for f in result.findings}
    assert by_file["a.csv"].code == "file.ambiguous_type"
    assert "流入人口信息登记簿" in by_file["a.csv"].message and "服务登记簿" in by_file["a.csv"].message
    assert by_file["b.csv"].code == "file.unknown_type"
    assert by_file["c.csv"].code == "file.missing_column" and by_file["c.csv"].column == "服务日期"
    account = {a.file: a for a in result.accounts}["c.csv"]
    assert (account.read, account.used, account.rejected) == (1, 0, 1)


def test_persons_file_with_liuchu_date_is_persons_not_outflow(ledger_dir):
    write_csv(
        ledger_dir / "p.csv",
        ["村居代码", "身份证号", "流入日期", "流出日期"],
        [[V1, make_id(), "2011-01-01", "2011-05-01"]],
    )
    result = read.load(ledger_dir)
    assert result.accounts[0].ledger == "persons"
    assert str(result.frames["persons"]["left"].iloc[0].date()) == "2011-05-01"
