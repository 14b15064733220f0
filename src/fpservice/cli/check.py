"""`fpservice check`: are the ledgers valid, and are the targets met?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from fpservice import periods
from fpservice.cli import cli, options
from fpservice.errors import UsageError


@cli.command()
@options.ledger_dir
@options.plan
@options.date("截至这一天判断达标（默认：台帐中最晚的日期）。")
@options.formats(
    ["table", "json", "xlsx", "csv"],
    "table",
    "输出格式。xlsx/csv：与 -o 一起，为每个有问题的村/社区写一份问题清单（另有县级清单）。",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="xlsx/csv：问题清单写入的目录（不存在时创建），文件名为 代码_名称_问题清单.扩展名。",
)
@click.option("--all", "show_all", is_flag=True, help="逐条列出全部问题（默认超过一屏时按规则汇总）。")
@options.all_indicators
@options.encoding
@options.quiet
@options.wide
@options.engine
@click.pass_obj
def check(
    obj,
    ledger_dir,
    plan,
    date_,
    fmt,
    output,
    show_all,
    all_indicators,
    encoding,
    quiet,
    wide,
    engine,
    scheduler,
    workers,
    partitions,
):
    """检查台帐：逐行校验（文件、行、列、脱敏后的值），统计每个文件的行数，再判断截至某日的达标情况。"""
    from fpservice import api

    fmt = (fmt or "table").lower()
    if fmt in ("xlsx", "csv") and output is None:
        raise UsageError(f"-f {fmt} 为各村写问题清单，请用 -o 指定目录")
    if output is not None and fmt not in ("xlsx", "csv"):
        raise UsageError("-o 目录只用于 -f xlsx 或 -f csv（各村的问题清单）")
    day = periods.parse_date(date_) if date_ else None
    cluster = options.engine_of(engine, scheduler, workers, partitions)
    outcome = api.check(
        ledger_dir,
        plan=plan,
        as_of=day,
        rules_dir=obj["rules_dir"],
        encoding=encoding,
        all_indicators=all_indicators,
        equity=fmt == "table",
        loading=options.loading(obj),
        engine=cluster,
    )
    from fpservice.output import problems, rows, tables  # pandas: loaded once there are ledgers to show

    if output is not None:
        _write_problem_lists(outcome, fmt, output)
    elif fmt == "json":
        doc = {
            "as_of": outcome.as_of.isoformat(),
            "findings": [f.as_dict() for f in outcome.findings],
            "files": [vars(a) for a in outcome.ledgers.accounts],
            "rows": rows.records(outcome.report),
        }
        options.emit(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", None)  # data: UTF-8
    else:
        click.echo("== 台帐问题 ==")
        if show_all or len(outcome.findings) <= problems.SCREENFUL:
            click.echo(tables.findings_text(outcome.findings, None), nl=False)
        else:  # more than a screenful: by rule, with counts
            click.echo(problems.grouped_text(outcome.findings), nl=False)
        click.echo(tables.findings_summary(outcome.findings, outcome.ledgers.rejected_rows))
        click.echo("\n== 文件与行数（读入 = 使用 + 拒绝 + 跳过）==")
        click.echo(tables.accounts_table(outcome.ledgers.accounts), nl=False)
        click.echo("\n== 达标情况 ==")
        click.echo(tables.report_tables(outcome.report, width=options.terminal_width(wide)), nl=False)
    if not quiet:
        for note in outcome.notes:
            click.echo(note, err=True)
    return outcome.exit_code


def _write_problem_lists(outcome, fmt: str, directory: Path) -> None:
    """A problem list per village office with findings, and the county's (output/problems.py).
    Lists left in the directory by an earlier run, for units that have none now, are named on
    stderr rather than deleted: the directory is the user's."""
    from fpservice.output import problems

    directory.mkdir(parents=True, exist_ok=True)
    lists = problems.problem_lists(outcome.findings, outcome.ledgers.units)
    written = []
    for pl in lists:
        path = directory / pl.file_name(fmt)
        if fmt == "xlsx":
            options.emit_bytes(problems.to_xlsx(pl), path)
        else:
            options.emit(problems.to_csv(pl), path, bom=True)
        written.append(path)
    villages = sum(pl.village for pl in lists)
    click.echo(f"已写入 {len(written)} 份问题清单（{villages} 个村/社区）到 {directory}", err=True)
    for path in written:
        click.echo(f"  {path.name}", err=True)
    stale = sorted(p.name for p in directory.glob(f"*_{problems.SUFFIX}.{fmt}") if p not in written)
    if stale:
        click.echo(
            f"目录中还有之前的问题清单（这些单位本次没有问题），请勿再发：{'、'.join(stale)}", err=True
        )
