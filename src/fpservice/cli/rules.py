"""`fpservice rules`: the plans, their phases and targets, and the indicators."""

from __future__ import annotations

import click

from fpservice import rules as rules_mod
from fpservice.cli import cli, options
from fpservice.output.labels import target_text, text_table


@cli.command("rules")
@click.option("--plan", "-p", metavar="方案", help="只显示这个方案。")
@options.quiet
@click.pass_obj
def rules_command(obj, plan, quiet):
    """列出方案（阶段、目标、报送日期）和指标定义。"""
    book = rules_mod.load(obj["rules_dir"])
    plans = [book.plan(plan)] if plan else list(book.plans.values())
    for p in plans:
        click.echo(f"{p.id}  {p.name}")
        click.echo(
            f"  别名：{'、'.join(p.aliases) or '—'}  发布：{p.issuer or '—'} {p.document or ''}"
            f"  开始：{p.start}  依据：{p.seed}"
        )
        if p.deadlines:
            click.echo("  季报日期：" + "、".join(f"{m}月{d}日" for m, d in p.deadlines))
        for ph in p.phases:
            click.echo(f"  阶段 {ph.name}：{ph.start} 至 {ph.end}")
        body = []
        for key, entries in p.targets.items():
            name = book.indicators[key].name
            text = "；".join(
                (f"{y}年起 " if y else "") + target_text(v, book.indicators[key].count)
                if v != rules_mod.REQUIRED
                else (f"{y}年起 " if y else "") + "按公式配备"
                for y, v in entries
            )
            body.append([key, name, text])
        click.echo(text_table(body, ["指标", "名称", "目标"], numparse=True))
        click.echo()
    if not plan:
        click.echo("指标定义（rules/indicators.yaml）：")
        body = [[k, i.name, i.count, i.ledger, ",".join(i.sources)] for k, i in book.indicators.items()]
        click.echo(text_table(body, ["指标", "名称", "计数", "台帐", "依据"], numparse=True))
    return 0
