"""Generate a realistic, deterministic ledger directory for fpservice.

    python scripts/make_ledgers.py sample_data              # the bundled sample district (needs xlwt:
                                                            #   pip install -e '.[test]')
    python scripts/make_ledgers.py /tmp/big --persons 1000000 --townships 60 --villages-per 20

The district is 宁波市江北区-like: townships (街道/镇) with villages (社区/村), floating and
registered (户籍) persons, services, surveys, outflow, births, case-assistance requests and staff
for the year 2011. Villages differ in how well they serve people, so a report shows met, missed
and no-data units. Some files are GB18030 and some use alias headers, as real offices' files do.
Run from the command line, three villages keep their ledgers as offices do (workbooks, a WPS
export with title and footer lines; scripts/office_files.py). All names and ID numbers are
synthetic.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from fpservice.idnumber import check_chars

try:
    import office_files  # run as a script, or from bench/ with scripts/ on the path
except ImportError:  # imported as scripts.make_ledgers (by the tests)
    from scripts import office_files

YEAR = 2011
COUNTY = "330205"
ORIGINS = np.array(
    [
        "340102",
        "340824",
        "510104",
        "513030",
        "430111",
        "431102",
        "360102",
        "411302",
        "522101",
        "330782",
        "332522",
        "610103",
    ]
)
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余")
GIVEN = list("秀英华玉兰芳丽敏静燕红霞梅琴云莲娟丹萍婷建国明军平志伟强磊洋勇杰涛超波辉刚")
TOWNSHIP_NAMES = [
    "中马街道",
    "白沙街道",
    "孔浦街道",
    "文教街道",
    "甬江街道",
    "庄桥街道",
    "洪塘街道",
    "慈城镇",
]
VILLAGE_SUFFIX = ["社区", "社区", "村"]
TECH = ["孕检", "环检", "病检", "避孕药具", "孕前优生咨询", "孕前优生健康检查", "计生手术", "生殖健康检查"]
FILE_ITEMS = ["婚育证明", "管理合同书", "信息通报单", "避孕节育报告单", "维权宣传材料"]
SIX = ["孕检", "长效节育", "婚育证明", "联系方式", "管理协议", "回寄证明"]


def make_units(townships: int, villages_per: int, rng) -> pd.DataFrame:
    if townships > 999 or villages_per > 998:  # three digits each in a 12-digit unit code
        raise ValueError(f"{townships} townships of {villages_per} villages do not fit 12-digit unit codes")
    rows = [(COUNTY + "000000", "江北区", "县", "")]
    for t in range(townships):
        tcode = f"{COUNTY}{t + 1:03d}000"
        tname = TOWNSHIP_NAMES[t] if t < len(TOWNSHIP_NAMES) else f"第{t + 1}街道"
        rows.append((tcode, tname, "乡镇", COUNTY + "000000"))
        n = villages_per + (1 if t == 0 else 0)
        for v in range(n):
            vname = "".join(rng.choice(GIVEN, 2)) + VILLAGE_SUFFIX[v % 3]
            rows.append((f"{COUNTY}{t + 1:03d}{v + 1:03d}", vname, "村", tcode))
    return pd.DataFrame(rows, columns=["代码", "名称", "层级", "上级代码"])


def make_ids(n: int, female: np.ndarray, births: np.ndarray, rng) -> np.ndarray:
    """Valid 18-digit IDs, unique, with the sex digit matching `female`."""
    addr = rng.choice(ORIGINS, n)
    ymd = pd.to_datetime(births).strftime("%Y%m%d").to_numpy()
    seq = rng.permutation(np.arange(n) % 500)  # with the address and birth date: unique enough
    sexd = np.where(female, 0, 1) + 2 * rng.integers(0, 5, n)
    body = np.char.add(
        np.char.add(addr.astype("U6"), ymd.astype("U8")),
        np.char.add(np.char.zfill(seq.astype("U2"), 2), sexd.astype("U1")),
    )
    digits = np.frombuffer("".join(body.tolist()).encode(), np.uint8).reshape(n, 17) - 48
    ids = np.char.add(body, check_chars(digits).astype("U1"))
    return _dedupe(ids, rng)


def _dedupe(ids: np.ndarray, rng) -> np.ndarray:
    # Collisions are rare; give a colliding ID another origin until all are distinct.
    s = pd.Series(ids)
    while s.duplicated().any():
        dup = s.duplicated().to_numpy()
        body = s[dup].str.slice(6, 17).to_numpy().astype("U11")
        body = np.char.add(rng.choice(ORIGINS, dup.sum()).astype("U6"), body)
        digits = np.frombuffer("".join(body.tolist()).encode(), np.uint8).reshape(-1, 17) - 48
        s[dup] = np.char.add(body, check_chars(digits).astype("U1"))
    return s.to_numpy()


def _dates(rng, start: str, end: str, n: int) -> np.ndarray:
    lo, hi = np.datetime64(start), np.datetime64(end)
    return lo + rng.integers(0, (hi - lo).astype(int) + 1, n).astype("timedelta64[D]")


def _fmt(d: np.ndarray, style: int = 0) -> np.ndarray:
    s = pd.to_datetime(d).strftime("%Y-%m-%d" if style == 0 else "%Y/%m/%d").to_numpy(dtype=object)
    s[pd.isna(d)] = ""
    return s


def make_persons(units: pd.DataFrame, n: int, rng) -> tuple[pd.DataFrame, np.ndarray]:
    villages = units.loc[units["层级"] == "村", "代码"].to_numpy()
    # The last village of the first township is listed but keeps no ledger (completeness).
    active = villages[:-1] if len(villages) > 12 else villages
    weights = rng.uniform(0.5, 1.5, len(active))
    unit = rng.choice(active, n, p=weights / weights.sum())
    female = rng.random(n) < 0.62
    age_days = rng.integers(17 * 365, 56 * 365, n)
    births = np.datetime64(f"{YEAR}-06-30") - age_days.astype("timedelta64[D]")
    ids = make_ids(n, female, births, rng)
    married = rng.choice(
        ["已婚", "初婚", "再婚", "未婚", "离婚", "丧偶"], n, p=[0.45, 0.25, 0.06, 0.18, 0.04, 0.02]
    )
    pop_type = np.where(rng.random(n) < 0.12, "户籍", "流动")
    arrived = _dates(rng, "2006-01-01", f"{YEAR}-11-30", n)
    left = np.where(
        rng.random(n) < 0.1, _dates(rng, f"{YEAR}-01-01", f"{YEAR}-12-31", n), np.datetime64("NaT")
    )
    left = np.where(left < arrived, arrived + np.timedelta64(30, "D"), left)
    contraception = rng.choice(["上环", "结扎", "皮埋", "药具", "无"], n, p=[0.35, 0.15, 0.05, 0.3, 0.15])
    planning = np.where(rng.random(n) < 0.1, "是", "否")
    complete = rng.random(n) < 0.9
    files = np.where(complete, ";".join(FILE_ITEMS), ";".join(FILE_ITEMS[:3]))
    names = np.char.add(rng.choice(SURNAMES, n), rng.choice(GIVEN, n))
    names = np.char.add(names, np.where(rng.random(n) < 0.6, rng.choice(GIVEN, n), ""))
    phones = np.char.add("13", rng.integers(100000000, 999999999, n).astype("U9"))
    persons = pd.DataFrame(
        {
            "村居代码": unit,
            "身份证号": ids,
            "姓名": names,
            "性别": np.where(female, "女", "男"),
            "出生日期": "",
            "婚姻状况": married,
            "人口类型": pop_type,
            "流入日期": _fmt(arrived),
            "离开日期": _fmt(left),
            "避孕措施": contraception,
            "计划怀孕": planning,
            "档案材料": files,
            "联系电话": phones,
        }
    )
    return persons, arrived


def make_services(persons: pd.DataFrame, quality: dict, rng) -> pd.DataFrame:
    n = len(persons)
    q = persons["村居代码"].map(quality).to_numpy()
    women = (persons["性别"] == "女").to_numpy()
    parts = []

    def add(mask, item, start, end, free_p=0.97, home_p=0.96):
        idx = np.flatnonzero(mask)
        m = len(idx)
        parts.append(
            pd.DataFrame(
                {
                    "服务日期": _fmt(_dates(rng, start, end, m), style=rng.integers(0, 2)),
                    "村居代码": persons["村居代码"].to_numpy()[idx],
                    "身份证号": persons["身份证号"].to_numpy()[idx],
                    "服务项目": item,
                    "是否免费": np.where(rng.random(m) < free_p, "是", "否"),
                    "服务地点": np.where(
                        rng.random(m) < home_p, "现居住地", rng.choice(["户籍地", "其他"], m)
                    ),
                }
            )
        )

    r = rng.random
    add(women & (r(n) < q), "孕检", f"{YEAR}-01-01", f"{YEAR}-06-30")
    add(women & (r(n) < q * 0.95), "孕检", f"{YEAR}-07-01", f"{YEAR}-12-31")
    add(women & (r(n) < 0.3), "环检", f"{YEAR}-01-01", f"{YEAR}-12-31")
    add(women & (r(n) < 0.15), "病检", f"{YEAR}-01-01", f"{YEAR}-12-31")
    drug = (persons["避孕措施"] == "药具").to_numpy()
    for q_start, q_end in (("01-01", "03-31"), ("04-01", "06-30"), ("07-01", "09-30"), ("10-01", "12-31")):
        add(drug & (r(n) < q), "避孕药具", f"{YEAR}-{q_start}", f"{YEAR}-{q_end}")
    plan = (persons["计划怀孕"] == "是").to_numpy()
    add(plan & (r(n) < q * 0.9), "孕前优生咨询", f"{YEAR}-01-01", f"{YEAR}-12-31")
    add(plan & (r(n) < q * 0.8), "孕前优生健康检查", f"{YEAR}-01-01", f"{YEAR}-12-31")
    add(r(n) < q * 0.9, "宣传品", f"{YEAR}-01-01", f"{YEAR}-12-31", free_p=1.0)
    add(r(n) < q * 0.85, "培训", f"{YEAR}-01-01", f"{YEAR}-12-31", free_p=1.0)
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=int(rng.integers(1 << 30)))


def make_surveys(villages: np.ndarray, quality: dict, per_quarter: int, rng) -> pd.DataFrame:
    parts = []
    for kind, bonus in (("政策知晓", 0.02), ("生殖健康知识", -0.03), ("行政服务满意", 0.03)):
        for i, v in enumerate(villages):
            if kind == "行政服务满意" and i % 7 == 3:
                continue  # some villages ran no satisfaction survey: no data
            m = per_quarter * 4
            p = min(0.995, quality[v] + bonus)
            parts.append(
                pd.DataFrame(
                    {
                        "村居代码": v,
                        "调查类型": kind,
                        "调查日期": _fmt(_dates(rng, f"{YEAR}-01-01", f"{YEAR}-12-31", m)),
                        "调查结果": np.where(rng.random(m) < p, "是", "否"),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def make_outflow(villages: np.ndarray, n: int, rng) -> pd.DataFrame:
    female = rng.random(n) < 0.7
    births = np.datetime64(f"{YEAR}-06-30") - rng.integers(18 * 365, 50 * 365, n).astype("timedelta64[D]")
    left_on = _dates(rng, "2008-01-01", f"{YEAR}-12-31", n)
    returned = np.where(
        rng.random(n) < 0.2, left_on + rng.integers(30, 400, n).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    returned = np.where(returned > np.datetime64(f"{YEAR}-12-31"), np.datetime64("NaT"), returned)
    cert = np.where(
        rng.random(n) < 0.93, left_on - rng.integers(1, 60, n).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    six = np.where(rng.random(n) < 0.85, ";".join(SIX), ";".join(SIX[:4]))
    return pd.DataFrame(
        {
            "村居代码": rng.choice(villages, n),
            "身份证号": make_ids(n, female, births, rng),
            "姓名": np.char.add(rng.choice(SURNAMES, n), rng.choice(GIVEN, n)),
            "性别": np.where(female, "女", "男"),
            "婚姻状况": rng.choice(["已婚", "初婚", "未婚"], n, p=[0.6, 0.25, 0.15]),
            "流出日期": _fmt(left_on),
            "返回日期": _fmt(returned),
            "流入地": rng.choice(["广东东莞", "上海", "江苏苏州"], n),
            "六个一": six,
            "婚育证明办证日期": _fmt(cert),
        }
    )


def make_births(persons: pd.DataFrame, n: int, rng) -> pd.DataFrame:
    mothers = persons[(persons["性别"] == "女") & (persons["婚姻状况"] != "未婚")].sample(
        n, replace=False, random_state=int(rng.integers(1 << 30))
    )
    born = _dates(rng, f"{YEAR}-01-01", f"{YEAR}-12-31", n)
    return pd.DataFrame(
        {
            "村居代码": mothers["村居代码"].to_numpy(),
            "身份证号": mothers["身份证号"].to_numpy(),
            "出生日期": _fmt(born),
            "政策符合": np.where(rng.random(n) < 0.92, "是", "否"),
            "登记日期": _fmt(born + rng.integers(1, 40, n).astype("timedelta64[D]")),
        }
    )


def make_requests(villages: np.ndarray, n: int, rng) -> pd.DataFrame:
    issued = _dates(rng, f"{YEAR}-01-04", f"{YEAR}-12-20", n)
    delay = rng.choice([1, 2, 3, 4, 6, 10], n, p=[0.3, 0.3, 0.25, 0.08, 0.04, 0.03])
    answered = np.where(rng.random(n) < 0.95, issued + delay.astype("timedelta64[D]"), np.datetime64("NaT"))
    return pd.DataFrame(
        {
            "村居代码": rng.choice(villages, n),
            "协查编号": [f"XC{YEAR}{i:05d}" for i in range(n)],
            "下发日期": _fmt(issued),
            "反馈日期": _fmt(answered),
        }
    )


def make_staff(villages: np.ndarray, persons: pd.DataFrame, rng) -> pd.DataFrame:
    size = persons["村居代码"].value_counts()
    rows = []
    for v in villages:
        full = int(size.get(v, 0) // 480) + int(rng.random() < 0.8)
        rows += [(v, "专职")] * full + [(v, "兼职")] * int(rng.integers(0, 3)) + [(v, "协管员")]
    return pd.DataFrame(rows, columns=["村居代码", "岗位"])


def write(frame: pd.DataFrame, path: Path, encoding: str = "utf-8-sig") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")


def generate(
    out: Path,
    persons_n: int = 3000,
    townships: int = 4,
    villages_per: int = 3,
    seed: int = 2011,
    surveys_per_quarter: int = 12,
    split_by_village: bool = True,
    offices: bool = False,
) -> None:
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    units = make_units(townships, villages_per, rng)
    villages = units.loc[units["层级"] == "村", "代码"].to_numpy()
    active = villages[:-1] if len(villages) > 12 else villages
    quality = dict(zip(villages, rng.choice([0.99, 0.97, 0.93, 0.88, 0.8], len(villages))))

    write(units, out / "units.csv")
    (out / "fpservice.yaml").write_text(
        "# 本目录台帐适用的方案（fpservice report 的默认 --plan）\nplan: jiangbei-2011\n", encoding="utf-8"
    )
    persons, _ = make_persons(units, persons_n, rng)
    services = make_services(persons, quality, rng)
    towns = units[units["层级"] == "乡镇"]
    township_names = dict(zip(towns["代码"].str.slice(0, 9), towns["名称"]))
    townships_of = persons["村居代码"].str.slice(0, 9).map(township_names)
    for i, (tname, part) in enumerate(persons.groupby(townships_of, sort=False)):
        if i % 2 == 1:
            # Some offices use the alias headers and save from Chinese Windows (GB18030).
            part = part.rename(
                columns={"身份证号": "公民身份号码", "流入日期": "现居住地登记日期", "避孕措施": "节育措施"}
            )
            write(part, out / tname / "流入人口信息登记簿.csv", "gb18030")
        else:
            write(part, out / tname / "流入人口信息登记簿.csv")
    if split_by_village:
        for q, part in services.groupby(
            services["服务日期"].str.slice(5, 7).str.replace("/", "").astype(int).sub(1) // 3
        ):
            write(
                part,
                out / "services" / f"服务登记簿_{YEAR}Q{q + 1}.csv",
                "gb18030" if q == 1 else "utf-8-sig",
            )
    else:
        write(services, out / "services" / "服务登记簿.csv")
    write(make_surveys(active, quality, surveys_per_quarter, rng), out / "调查问卷登记.csv")
    write(make_outflow(active, max(20, persons_n // 8), rng), out / "流出人口信息登记簿.csv", "gb18030")
    write(make_births(persons, max(10, persons_n // 30), rng), out / "流入人口出生登记簿.csv")
    write(make_requests(active, max(10, persons_n // 20), rng), out / "协查台帐.csv")
    write(make_staff(active, persons, rng), out / "工作人员登记.csv")
    if offices:
        keep_as_offices(out, units)


def keep_as_offices(out: Path, units: pd.DataFrame) -> None:
    """Three villages keep their ledgers as offices do (SPEC §8): one in an .xlsx workbook, one
    in an .xls workbook (persons and services sheets, titles, merged headers, footers, typed
    cells, a 说明 sheet), and one whose services ledger is a WPS export with its title and
    footer lines (GB18030). Their rows leave the CSV files: the report's numbers stay the same."""
    villages = units[units["层级"] == "村"].reset_index(drop=True)
    towns = dict(zip(units["代码"], units["名称"]))
    picks = {villages.at[1, "代码"]: ".xlsx", villages.at[4, "代码"]: ".xls", villages.at[7, "代码"]: ".csv"}
    moved = office_files.take_villages(out, set(picks) - {villages.at[7, "代码"]})
    for code, suffix in picks.items():
        name = dict(zip(villages["代码"], villages["名称"]))[code]
        folder = out / towns[code[:9] + "000"]
        if suffix == ".csv":
            services = office_files.take_villages(out / "services", {code})[code]["服务登记簿"]
            office_files.write_titled_csv(
                folder / f"{name}服务登记簿.csv", name, "服务登记簿", services, "gb18030"
            )
        else:
            office_files.write_workbook(folder / f"{name}台帐{YEAR}{suffix}", name, moved[code])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--persons", type=int, default=3000)
    ap.add_argument("--townships", type=int, default=4)
    ap.add_argument("--villages-per", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2011)
    args = ap.parse_args()
    generate(args.out, args.persons, args.townships, args.villages_per, args.seed, offices=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
