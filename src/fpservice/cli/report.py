"""`fpservice report`: the quarterly compliance report."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from fpservice import periods
from fpservice.cli import cli, options
from fpservice.errors import UsageError

EXTENSIONS = {"table": "txt", "markdown": "md", "csv": "csv", "json": "json", "xlsx": "xlsx", "html": "html"}


@cli.command()
@options.ledger_dir
@click.option("--quarter", "-q", help="季度，如 2011Q3（本期为该季度，累计为 1 月 1 日至季末）。")
@click.option("--due", "due_next", is_flag=True, help="报告下一个季报期限所对应的季度（供 cron 使用）。")
@click.option("--date", "date_", help="与 --due 一起用：以这一天为准（默认今天），如 2011-10-01。")
@options.plan
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(list(EXTENSIONS)),
    default="table",
    show_default=True,
    help="输出格式。csv 带 BOM，Excel 可直接打开；xlsx 为 Excel 工作簿；html 为带图表的单个网页。",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="写入文件（先写临时文件再改名，中断不会留下半个文件）；给出目录时文件名为 方案_季度.扩展名。",
)
@click.option("--no-phases", is_flag=True, help="不输出方案阶段的结果。")
@click.option("--trend", is_flag=True, help="同时列出本年此前各季度末的累计值（走势）。")
@click.option(
    "--details", is_flag=True, help="json/csv 也输出 95% 区间、样本少、未达标是否确定、户籍比率与均等化差距。"
)
@options.all_indicators
@options.encoding
@click.option("--quiet", is_flag=True, help="只输出错误信息（结果照常写出）。")
@click.pass_obj
def report(
    obj,
    ledger_dir,
    quarter,
    due_next,
    date_,
    plan,
    fmt,
    output,
    no_phases,
    trend,
    details,
    all_indicators,
    encoding,
    quiet,
):
    """季度达标报告：每个单位、每个指标的本期与累计数值、目标和状态。"""
    from fpservice import api
    from fpservice.output import rows, tables

    if bool(quarter) == due_next:
        raise UsageError("请给出 --quarter 2011Q3 或 --due（二者选一）")
    if date_ and not due_next:
        raise UsageError("--date 只能与 --due 一起使用")
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise UsageError("xlsx 是二进制文件，请用 -o 指定文件名")
    if due_next:
        today = periods.parse_date(date_) if date_ else dt.date.today()
        quarter = api.due_quarter(today, ledger_dir, plan=plan, rules_dir=obj["rules_dir"])
    outcome = api.report(
        ledger_dir,
        quarter,
        plan=plan,
        rules_dir=obj["rules_dir"],
        encoding=encoding,
        all_indicators=all_indicators,
        phases=not no_phases,
        trend=trend,
        equity=details or fmt not in ("json", "csv"),  # only outputs that show the gap compute it
        loading=options.loading(obj),
    )
    if output is not None and output.is_dir():
        output = output / f"{outcome.report.plan.id}_{quarter.upper()}.{EXTENSIONS[fmt]}"

    quality = tables.findings_summary(outcome.findings, outcome.ledgers.rejected_rows)
    if fmt == "json":
        options.emit(rows.to_json(outcome.report, details), output)
    elif fmt == "csv":
        options.emit(rows.to_csv(outcome.report, details), output, bom=True)
    elif fmt == "xlsx":
        from fpservice.output import workbook  # xlsxwriter: imported only when a workbook is asked for

        options.emit_bytes(workbook.to_xlsx(outcome.report), output)
    elif fmt == "html":
        from fpservice.output import html

        options.emit(html.to_html(outcome.report, quality), output)
    else:  # text for people: the console's encoding on stdout
        options.emit_text(tables.report_tables(outcome.report, fmt), output)

    if not quiet:
        if output is not None:
            click.echo(f"已写入 {output}", err=True)
        for note in outcome.notes:
            click.echo(note, err=True)
    if outcome.findings and (not quiet or outcome.has_errors):
        click.echo(quality + " 详情请运行 fpservice check。", err=True)
    return outcome.exit_code
