"""`fpservice report`: the quarterly compliance report."""

from __future__ import annotations

import datetime as dt
from functools import partial

import click

from fpservice import periods
from fpservice.cli import cli, options
from fpservice.errors import UsageError

FORMATS = ["table", "markdown", "csv", "json", "xlsx", "html"]
DETAILED = ("json", "csv")  # the formats whose rows are the SPEC's, where --details adds columns


@cli.command()
@options.ledger_dir
@click.option("--quarter", "-q", help="季度，如 2011Q3（本期为该季度，累计为 1 月 1 日至季末）。")
@click.option("--due", "due_next", is_flag=True, help="报告下一个季报期限所对应的季度（供 cron 使用）。")
@options.date("与 --due 一起用：以这一天为准（默认今天）。")
@options.plan
@options.formats(
    FORMATS,
    "table，或 -o 文件的扩展名",
    "输出格式：table、markdown、csv（带 BOM，Excel 可直接打开）、json、"
    "xlsx（Excel 工作簿）、html（带图表的网页）。",
)
@click.option(
    "--layout",
    type=click.Choice(["long", "form"]),
    default="long",
    show_default=True,
    help="long：每个单位×指标一行（json/csv 即 SPEC 的结果行）；form：报表式样，每个单位一行、"
    "指标横排（table、markdown、csv、xlsx、html），xlsx 中为第一张可直接打印的工作表。",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(),  # as typed: a trailing slash names a directory
    help="写入文件（先写临时文件再改名，中断不会留下半个文件），格式可由扩展名决定；"
    "以 / 结尾或已有的目录：在其中写 方案_季度.扩展名（报表式样为 方案_季度_报表.扩展名）。",
)
@click.option("--no-phases", is_flag=True, help="不输出方案阶段的结果。")
@click.option("--trend", is_flag=True, help="同时列出本年此前各季度末的累计值（走势）。")
@click.option(
    "--details",
    is_flag=True,
    help="json/csv 也输出 95% 区间、样本少、未达标是否确定、户籍比率与均等化差距"
    "（表格、xlsx、html 总是列出）。",
)
@options.all_indicators
@options.encoding
@options.quiet
@options.wide
@options.engine
@click.pass_obj
def report(
    obj,
    ledger_dir,
    quarter,
    due_next,
    date_,
    plan,
    fmt,
    layout,
    output,
    no_phases,
    trend,
    details,
    all_indicators,
    encoding,
    quiet,
    wide,
    engine,
    scheduler,
    workers,
    partitions,
):
    """季度达标报告：每个单位、每个指标的本期与累计数值、目标和状态。"""
    from fpservice import api

    if bool(quarter) == due_next:
        raise UsageError("请给出 --quarter 2011Q3 或 --due（二者选一）")
    if date_ and not due_next:
        raise UsageError("--date 只能与 --due 一起使用")
    cluster = options.engine_of(engine, scheduler, workers, partitions)
    goal = options.target(fmt, output, "table")
    fmt = goal.fmt
    if details and fmt not in DETAILED:
        raise UsageError(f"--details 只用于 json 和 csv：{fmt} 报告总是列出区间、样本少与均等化差距")
    if layout == "form" and fmt == "json":
        raise UsageError("json 只有 long 布局（SPEC 的结果行）；报表式样请用 -f table/markdown/csv/xlsx/html")
    notes = []
    if due_next:
        today = periods.parse_date(date_) if date_ else dt.date.today()
        quarter = api.due_quarter(today, ledger_dir, plan=plan, rules_dir=obj["rules_dir"])
        notes.append(f"按 {today} 下一个季报期限，报告 {quarter}")
    outcome = api.report(
        ledger_dir,
        quarter,
        plan=plan,
        rules_dir=obj["rules_dir"],
        encoding=encoding,
        all_indicators=all_indicators,
        phases=not no_phases,
        trend=trend,
        equity=details or fmt not in DETAILED,  # only outputs that show the gap compute it
        change=layout == "form" or fmt in ("table", "markdown"),  # 环比: the form and the summary
        loading=options.loading(obj),
        engine=cluster,
        wait=False,
    )
    from fpservice.output import rows, tables  # pandas: loaded once there are ledgers to show

    # Laid out while the checks across files run (api.report's `wait`), written once they are
    # done: a run they stop writes nothing, not even the directory of -o DIR/
    if layout == "form":
        write = _form(outcome.report, fmt)
    elif fmt == "json":
        write = partial(options.emit_bytes, rows.json_parts(outcome.report, details))
    elif fmt == "csv":
        write = partial(options.emit, rows.to_csv(outcome.report, details), bom=True)
    elif fmt == "xlsx":
        from fpservice.output import workbook  # xlsxwriter: imported only when a workbook is asked for

        write = partial(options.emit_bytes, workbook.to_xlsx(outcome.report))
    elif fmt == "html":
        from fpservice.output import html

        write = partial(options.emit, html.to_html(outcome.report))
    else:  # text for people: the console's encoding on stdout
        width = options.terminal_width(wide) if fmt == "table" and goal.stdout else None
        write = partial(options.emit_text, tables.report_tables(outcome.report, fmt, width, summary=True))
    findings = outcome.wait().findings
    form = "_报表" if layout == "form" else ""
    output = goal.path(f"{outcome.report.plan.id}_{periods.parse_quarter_label(quarter)}{form}")
    write(output)

    if not quiet:
        if output is not None:
            click.echo(f"已写入 {output}", err=True)
        for note in notes + outcome.notes:
            click.echo(note, err=True)
    if findings and (not quiet or outcome.has_errors):
        quality = tables.findings_summary(findings, outcome.ledgers.rejected_rows)
        click.echo(quality + " 详情请运行 fpservice check。", err=True)
    return outcome.exit_code


def _form(report, fmt: str):
    """The form layout (output/form.py) in each format for people: -> what writes it where it is
    told."""
    from fpservice.output import formtext

    if fmt == "csv":
        return partial(options.emit, formtext.form_csv(report), bom=True)
    if fmt == "xlsx":
        from fpservice.output import workbook

        return partial(options.emit_bytes, workbook.to_xlsx(report, form=True))
    if fmt == "html":
        from fpservice.output import html

        return partial(options.emit, html.form_page(report))
    return partial(options.emit_text, formtext.form_text(report, fmt))  # the console's encoding on stdout
