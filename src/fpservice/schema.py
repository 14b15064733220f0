"""The ledger contract of SPEC §2: ledger types, their columns, header aliases and vocabularies.

This is the one place that maps the SPEC's keys (used in code and rule files) to the Chinese
headers and values people type into ledgers.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds decide how a value is parsed, validated and masked.
CODE, ID, TEXT, NAME, SEX, DATE, YES_NO, CHOICE, ITEMS = (
    "code",
    "id",
    "text",
    "name",
    "sex",
    "date",
    "yes_no",
    "choice",
    "items",
)

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "sex": ("男", "女"),
    "marital": ("未婚", "初婚", "再婚", "已婚", "离婚", "丧偶"),
    "pop_type": ("流动", "户籍"),
    "contraception": ("上环", "结扎", "皮埋", "药具", "无"),
    "item": (
        "孕检",
        "环检",
        "病检",
        "避孕药具",
        "孕前优生咨询",
        "孕前优生健康检查",
        "计生手术",
        "生殖健康检查",
        "宣传品",
        "培训",
    ),
    "place": ("现居住地", "户籍地", "其他"),
    "survey": ("政策知晓", "生殖健康知识", "行政服务满意"),
    "role": ("专职", "兼职", "协管员"),
    "file_items": ("婚育证明", "管理合同书", "信息通报单", "避孕节育报告单", "维权宣传材料"),
    "six_items": ("孕检", "长效节育", "婚育证明", "联系方式", "管理协议", "回寄证明", "协查函"),
}


@dataclass(frozen=True)
class Column:
    key: str
    kind: str
    aliases: tuple[str, ...]
    required: bool = False

    @property
    def label(self) -> str:
        """The Chinese header users know this column by."""
        return self.aliases[0]

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return VOCABULARIES.get(self.key, ())


def _col(key, kind, *aliases, required=False) -> Column:
    return Column(key, kind, tuple(aliases) + (key,), required)


UNIT = _col("unit", CODE, "村居代码", "单位代码", "村(居)代码", "区划代码", required=True)
PERSON_ID = _col("id", ID, "身份证号", "公民身份号码", "身份证号码", "证件号码", required=True)
NAME_ = _col("name", NAME, "姓名")
SEX_ = _col("sex", SEX, "性别")
BIRTH = _col("birth", DATE, "出生日期")
MARITAL = _col("marital", CHOICE, "婚姻状况")


@dataclass(frozen=True)
class NotBefore:
    """A row check between two date columns: `later`, when written, is not before `earlier`."""

    code: str  # the finding (see findings.CODES)
    later: str
    earlier: str


@dataclass(frozen=True)
class WomenOnly:
    """A row check against the ID number: the row (or, with `column`, a row holding `value` there)
    is about a woman, so an ID that is a man's is an error."""

    code: str
    column: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class LedgerType:
    key: str
    title: str
    signature: str  # the column whose presence names the type
    columns: tuple[Column, ...]
    event_date: str | None = None  # the date that records something happening (not planned or reported)
    row_checks: tuple[NotBefore | WomenOnly, ...] = ()

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


LEDGER_TYPES: dict[str, LedgerType] = {
    t.key: t
    for t in (
        LedgerType(
            "persons",
            "流入人口信息登记簿",
            "arrived",
            (
                UNIT,
                PERSON_ID,
                NAME_,
                SEX_,
                BIRTH,
                MARITAL,
                _col("pop_type", CHOICE, "人口类型", "户籍类型"),
                _col("arrived", DATE, "流入日期", "现居住地登记日期", required=True),
                _col("left", DATE, "离开日期", "流出日期"),
                _col("contraception", CHOICE, "避孕措施", "节育措施"),
                _col("planning_pregnancy", YES_NO, "计划怀孕", "计划生育意愿"),
                _col("file_items", ITEMS, "档案材料"),
            ),
            event_date="arrived",
            row_checks=(NotBefore("row.left_before_arrived", "left", "arrived"),),
        ),
        LedgerType(
            "services",
            "服务登记簿",
            "item",
            (
                UNIT,
                PERSON_ID,
                _col("date", DATE, "服务日期", required=True),
                _col("item", CHOICE, "服务项目", required=True),
                _col("free", YES_NO, "是否免费", "免费"),
                _col("place", CHOICE, "服务地点"),
            ),
            event_date="date",
            row_checks=(WomenOnly("row.male_pregnancy_check", "item", "孕检"),),
        ),
        LedgerType(
            "surveys",
            "调查问卷登记",
            "survey",
            (
                UNIT,
                _col("survey", CHOICE, "调查类型", required=True),
                _col("date", DATE, "调查日期", required=True),
                _col("result", YES_NO, "调查结果", required=True),
            ),
            event_date="date",
        ),
        LedgerType(
            "outflow",
            "流出人口信息登记簿",
            "left_on",
            (
                UNIT,
                PERSON_ID,
                NAME_,
                SEX_,
                BIRTH,
                MARITAL,
                _col("left_on", DATE, "流出日期", required=True),
                _col("returned", DATE, "返回日期"),
                _col("destination", TEXT, "流入地"),
                _col("six_items", ITEMS, "六个一"),
                _col("certificate_on", DATE, "婚育证明办证日期"),
            ),
            event_date="left_on",
            row_checks=(NotBefore("row.returned_before_left", "returned", "left_on"),),
        ),
        LedgerType(
            "births",
            "流入人口出生登记簿",
            "in_policy",
            (
                UNIT,
                PERSON_ID,
                _col("birth_on", DATE, "出生日期", required=True),
                _col("in_policy", YES_NO, "政策内", "政策符合", required=True),
                _col("registered_on", DATE, "登记日期"),
            ),
            event_date="birth_on",
            row_checks=(WomenOnly("row.male_birth"),),
        ),
        LedgerType(
            "requests",
            "协查台帐",
            "request_no",
            (
                UNIT,
                _col("request_no", TEXT, "协查编号", required=True),
                _col("issued_on", DATE, "下发日期", required=True),
                _col("answered_on", DATE, "反馈日期"),
            ),
            event_date="issued_on",
            row_checks=(NotBefore("row.answered_before_issued", "answered_on", "issued_on"),),
        ),
        LedgerType(
            "staff",
            "工作人员登记",
            "role",
            (
                UNIT,
                _col("role", CHOICE, "岗位", required=True),
            ),
        ),
    )
}


def all_fields() -> dict[str, dict[str, Column]]:
    """ledger type -> column key -> column: the fields rule files may name."""
    return {t.key: {c.key: c for c in t.columns} for t in LEDGER_TYPES.values()}
