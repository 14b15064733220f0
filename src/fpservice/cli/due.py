"""`fpservice due`: the next quarterly reporting deadline, and what is still missing for it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from fpservice import api, periods
from fpservice.cli import cli, options

WEEKDAYS = "一二三四五六日"
FIELDS = ("quarter", "nominal", "deadline", "last_working_day", "working_days_left")


def _day(d: dt.date) -> str:
    return f"{d.isoformat()}（星期{WEEKDAYS[d.weekday()]}）"


@cli.command()
@click.argument("ledger_dir", required=False, type=click.Path(path_type=Path))
@options.date("以这一天为准（默认今天）。")
@options.plan
@options.formats(["table", "json", "text"], "table", "输出格式（text 是 table 的旧名）。")
@click.option(
    "--print",
    "field",
    type=click.Choice(FIELDS),
    help="只打印一项（供脚本和 crontab 使用），如 --print last_working_day。",
)
@options.encoding
@options.quiet
@click.pass_obj
def due(obj, ledger_dir, date_, plan, fmt, field, encoding, quiet):
    """下一个季报期限：所报季度、规定日期、顺延后的期限、放假前最后一个工作日、剩余工作日。
    给出台帐目录时，还列出该季度尚无台帐行的村/社区。"""
    today = periods.parse_date(date_) if date_ else dt.date.today()
    loading = options.loading(obj) if ledger_dir is not None else None
    result = api.due(
        today,
        ledger_dir=ledger_dir,
        plan=plan,
        rules_dir=obj["rules_dir"],
        encoding=encoding,
        loading=loading,
    )
    d = result.deadline
    doc = {
        "date": today.isoformat(),
        "quarter": d.label,
        "nominal": d.nominal.isoformat(),
        "deadline": d.due.isoformat(),
        "last_working_day": (d.last_workday_before or d.due).isoformat(),
        "working_days_left": result.workdays_left,
        "units_without_rows": None
        if result.units_without_rows is None
        else [{"unit": c, "unit_name": n} for c, n in result.units_without_rows],
    }
    if field:
        click.echo(doc[field])
    elif fmt == "json":
        options.emit(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", None)  # data: UTF-8
    else:
        start, end = periods.quarter_bounds(d.year, d.quarter)
        lines = [
            f"截至 {_day(today)}，下一个季报：",
            f"  所报季度：{d.label}（{start} 至 {end}）",
            f"  规定日期：{_day(d.nominal)}" + ("，休息日" if d.moved else ""),
        ]
        if d.moved:
            lines.append(f"  报送期限：{_day(d.due)}，顺延至下一个工作日")
            lines.append(f"  放假前最后一个工作日：{_day(d.last_workday_before)}")
        else:
            lines.append(f"  报送期限：{_day(d.due)}")
        lines.append(f"  剩余工作日：{result.workdays_left} 天（含当天）")
        if result.units_without_rows is not None:
            if result.units_without_rows:
                names = "、".join(f"{n}（{c}）" for c, n in result.units_without_rows)
                lines.append(f"  本季度尚无台帐行的村/社区（{len(result.units_without_rows)}）：{names}")
            else:
                lines.append("  每个村/社区本季度都已有台帐行。")
        click.echo("\n".join(lines))
    for note in [] if quiet else result.notes:
        click.echo(note, err=True)
    return 0
