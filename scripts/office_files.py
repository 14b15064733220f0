"""Ledgers as village offices keep them (SPEC §8), made from a generated district: a workbook per
village, a sheet per ledger laid out as offices lay it out (a title, a 填报单位 line, a header
merged down over two rows, typed cells, a blank row and 合计 / 填表人 / 审核人 footers, a 说明
sheet), and services ledgers saved from WPS as CSV with the same title and footer lines.

Used by scripts/make_ledgers.py (a few villages of the sample district) and bench/run.py (the
whole district a workbook per village). Moving a village's rows out of the CSV files and into
its office files changes no number of the report: the rows are the same.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
from pathlib import Path

import pandas as pd

PERSONS_FILE, SERVICES_PREFIX = "流入人口信息登记簿.csv", "服务登记簿"
GROUP = {"流入日期": "流入登记", "现居住地登记日期": "流入登记", "离开日期": "流入登记"}
FILLED = "填报单位：{name}    填报时间：2011年10月1日"
NOTES = [
    ["填表说明"],
    ["1. 本工作簿每张工作表为一种台帐，请勿修改表头。"],
    ["2. 身份证号一列须设为“文本”格式。"],
]


def read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """A generated ledger file as text, and the encoding to write it back in."""
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        encoding = "gb18030"
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding=encoding)
    return frame, encoding


def write_csv(frame: pd.DataFrame, path: Path, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")


def ledger_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*.csv") if p.name == PERSONS_FILE or p.name.startswith(SERVICES_PREFIX))


def take_villages(d: Path, villages: set[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """Remove the villages' rows from the persons and services files under `d` (each file keeps
    its encoding and headers) and return them: village -> ledger title -> rows."""
    taken: dict[str, dict[str, list[pd.DataFrame]]] = {}
    for path in ledger_files(d):
        frame, encoding = read_csv(path)
        mine = frame["村居代码"].isin(villages)
        if not mine.any():
            continue
        title = "流入人口信息登记簿" if path.name == PERSONS_FILE else "服务登记簿"
        for village, rows in frame[mine].groupby("村居代码"):
            taken.setdefault(village, {}).setdefault(title, []).append(rows)
        write_csv(frame[~mine], path, encoding)
    return {
        v: {t: pd.concat(parts, ignore_index=True) for t, parts in ledgers.items()}
        for v, ledgers in taken.items()
    }


def _typed(column: str, value: str):
    """A cell as an office types it into Excel: codes and yes/no as numbers, dates as dates."""
    if value == "":
        return None
    if column in ("村居代码", "单位代码"):
        return int(value)
    if column in ("计划怀孕", "计划生育意愿"):
        return 1 if value == "是" else 0
    if column in ("是否免费", "免费"):
        return value == "是"
    if "日期" in column:
        return dt.date.fromisoformat(value.replace("/", "-"))
    return value


def sheet_rows(title: str, name: str, frame: pd.DataFrame) -> tuple[list[list], list[tuple]]:
    """A ledger's cells as an office lays them out, and the merged ranges (row, col, row, col)."""
    header = list(frame.columns)
    grouped = [i for i, h in enumerate(header) if h in GROUP]
    width = len(header)
    rows: list[list] = [[f"{name}{title}"], [FILLED.format(name=name)]]
    merges = [(0, 0, 0, width - 1)]
    if grouped:  # a row of group labels; the other headers merged down over both rows
        rows.append([GROUP[h] if i in grouped else h for i, h in enumerate(header)])
        rows.append([h if i in grouped else "" for i, h in enumerate(header)])
        merges.append((2, grouped[0], 2, grouped[-1]))
        merges += [(2, i, 3, i) for i in range(width) if i not in grouped]
    else:
        rows.append(header)
    for values in frame.itertuples(index=False):
        rows.append([_typed(h, v) for h, v in zip(header, values)])
    rows += [[], [f"合计：{len(frame)} 条"], ["填表人：张秀英", None, None, "审核人：李建国"]]
    merges.append((len(rows) - 2, 0, len(rows) - 2, width - 1))
    return rows, merges


def write_workbook(path: Path, name: str, ledgers: dict[str, pd.DataFrame]) -> None:
    """A village's workbook: a 说明 sheet, then a sheet per ledger (xlsx or xls by the name)."""
    sheets = {"说明": (NOTES, [])} | {
        t: sheet_rows(t, name, f) for t, f in sorted(ledgers.items(), reverse=True)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xls":
        _xls(path, sheets)
    else:
        _xlsx(path, sheets)


def _xlsx(path: Path, sheets: dict) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(str(path), {"constant_memory": False}) as wb:
        wb.set_properties({"created": dt.datetime(2011, 10, 1)})  # the same bytes on every run
        day, bold = (
            wb.add_format({"num_format": "yyyy年m月d日"}),
            wb.add_format({"bold": True, "align": "center"}),
        )
        for title, (rows, merges) in sheets.items():
            ws = wb.add_worksheet(title)
            for r0, c0, r1, c1 in merges:
                ws.merge_range(r0, c0, r1, c1, rows[r0][c0] if c0 < len(rows[r0]) else "", bold)
            merged = {
                (r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
            }
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if value is None or value == "" or (r, c) in merged:
                        continue
                    if isinstance(value, bool):
                        ws.write_boolean(r, c, value)
                    elif isinstance(value, int):
                        ws.write_number(r, c, value)
                    elif isinstance(value, dt.date):
                        ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), day)
                    else:
                        ws.write_string(r, c, value)


def _xls(path: Path, sheets: dict) -> None:
    import xlwt  # Excel 97-2003, as older offices still keep: pip install -e '.[test]'

    wb = xlwt.Workbook(encoding="utf-8")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for title, (rows, merges) in sheets.items():
        ws = wb.add_sheet(title)
        merged = {(r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
        for r0, c0, r1, c1 in merges:
            ws.write_merge(r0, r1, c0, c1, rows[r0][c0] if c0 < len(rows[r0]) else "")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "" or (r, c) in merged:
                    continue
                if isinstance(value, dt.date):
                    ws.write(r, c, dt.datetime.combine(value, dt.time()), day)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))


def write_titled_csv(path: Path, name: str, title: str, frame: pd.DataFrame, encoding: str) -> None:
    """A sheet saved as CSV by WPS: the title and 填报单位 lines above, blank and footer lines below."""
    width = len(frame.columns)

    def line(*cells) -> list:
        return list(cells) + [""] * (width - len(cells))

    head = pd.DataFrame([line(f"{name}{title}"), line(FILLED.format(name=name)), list(frame.columns)])
    foot = pd.DataFrame(
        [line(), line(f"合计：{len(frame)} 条"), line("填表人：张秀英", "", "", "审核人：李建国")]
    )
    body = pd.DataFrame(frame.to_numpy())
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([head, body, foot]).to_csv(
        path, index=False, header=False, encoding=encoding, lineterminator="\r\n"
    )


def workbook_per_village(src: Path, out: Path) -> None:
    """The district `src` as a prefecture whose villages each keep a workbook (persons and
    services sheets, laid out as offices do); the other ledgers stay the CSV files they are."""
    import shutil

    skip = {p.relative_to(src) for p in ledger_files(src)}
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.relative_to(src) not in skip and not path.name.startswith("."):
            (out / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, out / path.relative_to(src))
    names = dict(zip(*read_csv(src / "units.csv")[0][["代码", "名称"]].to_numpy().T))
    by_village: dict[str, dict[str, list[pd.DataFrame]]] = {}
    for path in ledger_files(src):
        frame, _ = read_csv(path)
        title = "流入人口信息登记簿" if path.name == PERSONS_FILE else "服务登记簿"
        for village, rows in frame.groupby("村居代码"):
            by_village.setdefault(village, {}).setdefault(title, []).append(rows)
    for village, ledgers in sorted(by_village.items()):
        # Alias headers differ between townships' files: a village's rows share one header.
        frames = {t: pd.concat(parts, ignore_index=True) for t, parts in ledgers.items()}
        township = names.get(village[:9] + "000", village[:9])
        write_workbook(
            out / township / f"{names.get(village, village)}台帐2011.xlsx",
            names.get(village, village),
            frames,
        )
