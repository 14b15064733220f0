"""`fpservice report`: the quarterly compliance report."""

from __future__ import annotations

from pathlib import Path

import click

from fpservice import api, render
from fpservice.cli import cli, options


@cli.command()
@options.ledger_dir
@click.option(
    "--quarter", "-q", required=True, help="季度，如 2011Q3（本期为该季度，累计为 1 月 1 日至季末）。"
)
@options.plan
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["table", "markdown", "csv", "json"]),
    default="table",
    show_default=True,
    help="输出格式。csv 带 BOM，Excel 可直接打开。",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写入文件（先写临时文件再改名，中断不会留下半个文件）。",
)
@click.option("--no-phases", is_flag=True, help="不输出方案阶段的结果。")
@options.all_indicators
@options.encoding
@click.option("--quiet", is_flag=True, help="只输出错误信息（结果照常写出）。")
@click.pass_obj
def report(obj, ledger_dir, quarter, plan, fmt, output, no_phases, all_indicators, encoding, quiet):
    """季度达标报告：每个单位、每个指标的本期与累计数值、目标和状态。"""
    outcome = api.report(
        ledger_dir, quarter, plan, obj["rules_dir"], encoding, all_indicators, phases=not no_phases
    )
    if fmt == "json":
        options.emit(render.to_json(outcome.report), output)
    elif fmt == "csv":
        options.emit(render.to_csv(outcome.report), output, bom=True)
    else:
        options.emit(render.report_tables(outcome.report, fmt), output)
    if not quiet:
        for note in outcome.notes:
            click.echo(note, err=True)
        if outcome.findings:
            click.echo(
                render.findings_summary(outcome.findings, outcome.ledgers.rejected_rows)
                + " 详情请运行 fpservice check。",
                err=True,
            )
    return outcome.exit_code
