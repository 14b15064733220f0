"""`fpservice check`: are the ledgers valid, and are the targets met?"""

from __future__ import annotations

import json

import click

from fpservice import periods
from fpservice.cli import cli, options


@cli.command()
@options.ledger_dir
@options.plan
@click.option("--as-of", help="截至日期，如 2011-09-30（默认：台帐中最晚的日期）。")
@click.option(
    "--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@options.all_indicators
@options.encoding
@click.pass_obj
def check(obj, ledger_dir, plan, as_of, fmt, all_indicators, encoding):
    """检查台帐：逐行校验（文件、行、列、脱敏后的值），统计每个文件的行数，再判断截至某日的达标情况。"""
    from fpservice import api
    from fpservice.output import rows, tables

    day = periods.parse_date(as_of) if as_of else None
    outcome = api.check(
        ledger_dir,
        plan=plan,
        as_of=day,
        rules_dir=obj["rules_dir"],
        encoding=encoding,
        all_indicators=all_indicators,
        equity=fmt == "table",
        loading=options.loading(obj),
    )
    if fmt == "json":
        doc = {
            "as_of": outcome.as_of.isoformat(),
            "findings": [f.as_dict() for f in outcome.findings],
            "files": [vars(a) for a in outcome.ledgers.accounts],
            "rows": rows.records(outcome.report),
        }
        options.emit(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", None)  # data: UTF-8
    else:
        click.echo("== 台帐问题 ==")
        click.echo(tables.findings_text(outcome.findings), nl=False)
        click.echo(tables.findings_summary(outcome.findings, outcome.ledgers.rejected_rows))
        click.echo("\n== 文件与行数（读入 = 使用 + 拒绝 + 跳过）==")
        click.echo(tables.accounts_table(outcome.ledgers.accounts), nl=False)
        click.echo("\n== 达标情况 ==")
        click.echo(tables.report_tables(outcome.report), nl=False)
    for note in outcome.notes:
        click.echo(note, err=True)
    return outcome.exit_code
