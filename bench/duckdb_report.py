"""The 2011Q3 report of plan jiangbei-2011 as a data-savvy user would write it in DuckDB SQL,
without fpservice: the benchmark's yardstick, and an independent check of fpservice's numbers.

    python bench/duckdb_report.py LEDGER_DIR > rows.json

Written for the benchmark's ledgers (scripts/make_ledgers.py), as such a user would: header
aliases are coalesced, GB18030 files are transcoded to UTF-8 first (DuckDB reads UTF-8 and
UTF-16 only, and its encodings extension needs a download), dates come in two spellings, a
blank sex or birth date is taken from the ID number. It does not validate anything.
Prints JSON rows: unit, indicator, period, numerator, denominator.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import duckdb

# period, start, end: the phases run from the plan's start to the phase's end, and a phase still
# under way at the quarter's end (the second, to 2011-10-31) is counted up to that end only
WINDOWS = [
    ("2011Q3", "2011-07-01", "2011-09-30"),
    ("2011Q1-2011Q3", "2011-01-01", "2011-09-30"),
    ("第一阶段 宣传动员", "2011-04-01", "2011-05-31"),
    ("第二阶段 全面实施", "2011-04-01", "2011-09-30"),
]

DATE = "try_strptime(nullif(trim({}), ''), ['%Y-%m-%d', '%Y/%m/%d'])::DATE"

SQL = """
CREATE TABLE windows (period VARCHAR, ws DATE, we DATE);
INSERT INTO windows VALUES {windows};

CREATE TABLE units AS SELECT trim(代码) AS code, trim(层级) AS level, trim(上级代码) AS parent
    FROM read_csv('{units}', all_varchar = true, header = true);
CREATE TABLE villages AS
    SELECT v.code AS village, t.code AS township, t.parent AS county
    FROM units v JOIN units t ON v.parent = t.code WHERE v.level = '村';

CREATE TABLE persons AS
WITH raw AS (
    SELECT trim(村居代码) AS unit, upper(trim(coalesce(身份证号, 公民身份号码))) AS id, *
    FROM read_csv({persons}, union_by_name = true, all_varchar = true, header = true)
)
SELECT unit, id,
    coalesce(nullif(trim(性别), ''), CASE WHEN substr(id, 17, 1)::INT % 2 = 1 THEN '男' ELSE '女' END) AS sex,
    coalesce({birth}, strptime(substr(id, 7, 8), '%Y%m%d')::DATE) AS birth,
    trim(婚姻状况) AS marital,
    coalesce(nullif(trim(人口类型), ''), '流动') AS pop_type,
    {arrived} AS arrived,
    {left} AS left_on,
    trim(coalesce(避孕措施, 节育措施)) AS contraception,
    trim(计划怀孕) = '是' AS planning
FROM raw;

CREATE TABLE services AS
SELECT upper(trim(身份证号)) AS id, {served} AS day, trim(服务项目) AS item,
    trim(是否免费) = '是' AS free, trim(服务地点) AS place
FROM read_csv({services}, union_by_name = true, all_varchar = true, header = true);

CREATE TABLE surveys AS
SELECT trim(村居代码) AS unit, trim(调查类型) AS survey, {surveyed} AS day, trim(调查结果) = '是' AS yes
FROM read_csv('{surveys}', all_varchar = true, header = true);

-- 流动已婚育龄妇女 present in each window, with the services that count for each indicator
CREATE TABLE women AS
SELECT w.period, p.unit, p.id, p.contraception = '药具' AS pill_user, p.planning
FROM persons p JOIN windows w
  ON p.pop_type = '流动' AND p.arrived <= w.we AND (p.left_on IS NULL OR p.left_on >= w.ws)
 AND p.sex = '女' AND p.marital IN ('初婚', '再婚', '已婚')
 AND date_sub('year', p.birth, w.we) BETWEEN 15 AND 49;

-- per window and person: which free services at the place of residence they had
CREATE TABLE served AS
SELECT w.period, s.id,
    bool_or(s.item IN ('孕检', '环检', '病检', '避孕药具', '孕前优生咨询', '孕前优生健康检查',
                       '计生手术', '生殖健康检查')) AS any_free,
    bool_or(s.item = '避孕药具') AS pills,
    bool_or(s.item = '孕检') AS pregnancy_check,
    bool_or(s.item = '孕前优生咨询') AS counsel
FROM services s JOIN windows w ON s.day BETWEEN w.ws AND w.we
WHERE s.free AND s.place = '现居住地'
GROUP BY ALL;

CREATE TABLE person_rows AS
WITH m AS (
    SELECT women.*, coalesce(any_free, false) AS any_free, coalesce(pills, false) AS pills,
        coalesce(pregnancy_check, false) AS pregnancy_check, coalesce(counsel, false) AS counsel
    FROM women LEFT JOIN served USING (period, id)
)
SELECT period, unit, id, 'free_service' AS indicator, any_free AS served FROM m
UNION ALL SELECT period, unit, id, 'free_contraceptive', pills FROM m WHERE pill_user
UNION ALL SELECT period, unit, id, 'pregnancy_check', pregnancy_check FROM m
UNION ALL SELECT period, unit, id, 'preconception_counsel', counsel FROM m WHERE planning;

-- distinct persons, recounted at each level (one row per person and unit first: DuckDB counts
-- that faster than count(DISTINCT id))
CREATE TABLE person_counts AS
WITH placed AS (
    SELECT r.*, v.township, v.county FROM person_rows r JOIN villages v ON r.unit = v.village
), per_unit AS (
    SELECT unit, indicator, period, id, bool_or(served) AS served FROM placed GROUP BY ALL
    UNION ALL SELECT township, indicator, period, id, bool_or(served) FROM placed GROUP BY ALL
    UNION ALL SELECT county, indicator, period, id, bool_or(served) FROM placed GROUP BY ALL
)
SELECT unit, indicator, period, count(*) FILTER (WHERE served) AS numerator, count(*) AS denominator
FROM per_unit GROUP BY ALL;

-- survey rows, summed up the hierarchy
CREATE TABLE survey_counts AS
WITH placed AS (
    SELECT w.period, s.yes, v.*,
        CASE s.survey WHEN '政策知晓' THEN 'policy_awareness' ELSE 'satisfaction' END AS indicator
    FROM surveys s JOIN windows w ON s.day BETWEEN w.ws AND w.we
    JOIN villages v ON s.unit = v.village
    WHERE s.survey IN ('政策知晓', '行政服务满意')
)
SELECT village AS unit, indicator, period, count(*) FILTER (WHERE yes) AS numerator, count(*) AS denominator
FROM placed GROUP BY ALL
UNION ALL
SELECT township, indicator, period, count(*) FILTER (WHERE yes), count(*) FROM placed GROUP BY ALL
UNION ALL
SELECT county, indicator, period, count(*) FILTER (WHERE yes), count(*) FROM placed GROUP BY ALL;
"""


def utf8_copies(paths: list[Path], tmp: Path) -> list[str]:
    """The files DuckDB can read: UTF-8 ones as they are, GB18030 ones transcoded."""
    out = []
    for i, path in enumerate(paths):
        data = path.read_bytes()
        try:
            data.decode("utf-8")
            out.append(str(path))
        except UnicodeDecodeError:
            copy = tmp / f"{i}_{path.name}"
            copy.write_bytes(data.decode("gb18030").encode("utf-8"))
            out.append(str(copy))
    return out


def report(root: Path) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        persons = utf8_copies(sorted(root.rglob("流入人口信息登记簿.csv")), Path(tmp))
        services = utf8_copies(sorted(root.rglob("服务登记簿*.csv")), Path(tmp))
        windows = ", ".join(f"('{p}', DATE '{s}', DATE '{e}')" for p, s, e in WINDOWS)
        sql = SQL.format(
            windows=windows,
            units=root / "units.csv",
            persons=persons,
            services=services,
            surveys=root / "调查问卷登记.csv",
            birth=DATE.format("出生日期"),
            arrived=DATE.format("coalesce(流入日期, 现居住地登记日期)"),
            left=DATE.format("离开日期"),
            served=DATE.format("服务日期"),
            surveyed=DATE.format("调查日期"),
        )
        con = duckdb.connect()
        con.execute(sql)
        rows = con.execute(
            "SELECT * FROM person_counts UNION ALL SELECT * FROM survey_counts ORDER BY ALL"
        ).fetchall()
    return [
        {"unit": u, "indicator": i, "period": p, "numerator": int(n), "denominator": int(d)}
        for u, i, p, n, d in rows
    ]


if __name__ == "__main__":
    json.dump(report(Path(sys.argv[1])), sys.stdout, ensure_ascii=False)
