"""Helpers for building small ledger directories and running the real CLI on them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fpservice.cli import cli

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# GB 11643 check digit, written out independently of fpservice.idnumber.
_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(birth: str = "19800101", female: bool = True, addr: str = "340102", seq: int = 1) -> str:
    sex_digit = (seq * 2) % 10 + (0 if female else 1)
    body = f"{addr}{birth}{seq % 100:02d}{sex_digit}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _W)) % 11]


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


UNITS = ["代码", "名称", "层级", "上级代码"]


def write_units(d: Path, rows: list[list]) -> Path:
    """`units.csv` at the root of a ledger directory: rows of code, name, level, parent."""
    return write_csv(d / "units.csv", UNITS, rows)


PERSONS = [
    "村居代码",
    "身份证号",
    "姓名",
    "性别",
    "婚姻状况",
    "流入日期",
    "离开日期",
    "避孕措施",
    "计划怀孕",
    "档案材料",
]
SERVICES = ["村居代码", "身份证号", "服务日期", "服务项目", "是否免费", "服务地点"]
V1, V2, V3 = "330205001001", "330205001002", "330205002001"
T1, T2, C = "330205001000", "330205002000", "330205000000"


def person(
    unit=V1,
    id_=None,
    sex="女",
    marital="已婚",
    arrived="2011-01-01",
    left="",
    contraception="",
    planning="",
    files="",
    name="王芳",
):
    return [unit, id_ or make_id(), name, sex, marital, arrived, left, contraception, planning, files]


def service(id_, date, item="孕检", unit=V1, free="是", place="现居住地"):
    return [unit, id_, date, item, free, place]


def run(args: list[str], env: dict | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def report_rows(ledger_dir: Path, quarter: str = "2011Q3", plan: str = "000", *extra) -> list[dict]:
    result = run(["report", ledger_dir, "--quarter", quarter, "--plan", plan, "--format", "json", *extra])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def pick(rows: list[dict], unit: str, indicator: str, period: str) -> dict:
    found = [r for r in rows if r["unit"] == unit and r["indicator"] == indicator and r["period"] == period]
    assert len(found) == 1, (unit, indicator, period, len(found))
    return found[0]
