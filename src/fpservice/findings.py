"""Data-quality findings: typed, with a stable code, a position and a masked value.

Each code has one severity and one message template (Chinese, for the statisticians who fix the
ledger). An error finding on a row means the row was rejected; a warning never changes a number.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"  # info: said for the record, never a problem

# code -> (severity, message template). Codes are stable: tests, scripts and users grep them.
CODES: dict[str, tuple[str, str]] = {
    # the file as a whole
    "file.undecodable": (ERROR, "文件编码无法识别（不是 UTF-8 或 GB18030），第一个无法解码的字节在此行"),
    "file.mixed_encoding": (
        ERROR,
        "文件是 UTF-8 编码，但此行夹有其他编码（如 GBK）的字节；请整个文件另存为同一种编码",
    ),
    "file.unreadable": (ERROR, "文件无法读取：{detail}"),
    "file.not_regular": (ERROR, "不是普通文件（{detail}），未读取：台帐应是 CSV 文件或 Excel/WPS 工作簿"),
    "file.empty": (ERROR, "文件为空，没有表头"),
    "file.unknown_type": (ERROR, "无法识别台帐类型：表头中没有任何台帐的标志列（{detail}）"),
    "file.ambiguous_type": (ERROR, "表头同时含有多种台帐的标志列，无法判断类型：{detail}"),
    "file.missing_column": (ERROR, "缺少必填列“{column}”（{detail}）"),
    "file.duplicate_column": (ERROR, "两列都表示“{column}”：{detail}"),
    "file.unparsable": (ERROR, "CSV 结构无法解析：{detail}"),
    "file.not_workbook": (ERROR, "不是可读的 Excel/WPS 工作簿：{detail}"),
    "file.encrypted": (ERROR, "{detail}，无法读取：请在 Excel/WPS 中取消打开密码后另存"),
    "file.too_large": (ERROR, "工作簿过大，未读取：{detail}；请删除多余的行和列后另存"),
    "sheet.skipped": (INFO, "工作表前 20 行中没有任何台帐的表头（说明、图表或汇总表？），已跳过"),
    # one row
    "row.ragged": (ERROR, "本行有 {detail} 个字段，与表头的列数不同"),
    "row.repeated_header": (WARNING, "重复的表头行（多个文件拼接而成？），已跳过"),
    "value.required": (ERROR, "必填项为空"),
    "value.control_chars": (ERROR, "含有不可见的控制字符（如 NUL）：{value}"),
    "value.date": (
        ERROR,
        "日期无法识别或不存在：{value}（可写作 2011-05-19、2011/5/19、20110519、2011年5月19日）",
    ),
    "value.yes_no": (ERROR, "应为 是/否（或 Y/N、1/0、√/×）：{value}"),
    "value.vocabulary": (ERROR, "不是允许的取值：{value}（允许：{detail}）"),
    "value.id_malformed": (ERROR, "身份证号格式错误：{value}（{detail}）"),
    "value.id_checksum": (WARNING, "身份证号校验位不符：{value}（行保留）"),
    "id.excel_number": (
        ERROR,
        "身份证号被 Excel 存成了数字（显示为 {value}），只剩 15 位有效数字、无法还原："
        "请把这一列设为“文本”格式，再重新录入这些身份证号",
    ),
    "unit.excel_number": (
        ERROR,
        "单位代码被存成了科学计数法（{value}），无法还原：请把这一列设为“文本”格式，再重新填写代码",
    ),
    "value.excel_error": (ERROR, "单元格是公式的错误值 {value}（引用失效、除以零等）：请改正公式或直接填写"),
    "value.unit_malformed": (ERROR, "单位代码应为12位数字：{value}"),
    "value.unit_unknown": (ERROR, "单位代码不在 units.csv 中：{value}"),
    "value.unit_not_village": (ERROR, "台帐行的单位应为村/社区，此代码是{detail}级：{value}"),
    "value.sex_mismatch": (ERROR, "性别“{value}”与身份证号不符"),
    "value.birth_mismatch": (ERROR, "出生日期 {value} 与身份证号不符"),
    "row.left_before_arrived": (ERROR, "离开日期 {value} 早于流入日期"),
    "row.returned_before_left": (ERROR, "返回日期 {value} 早于流出日期"),
    "row.answered_before_issued": (ERROR, "反馈日期 {value} 早于下发日期"),
    "row.male_pregnancy_check": (ERROR, "身份证号为男性，不能登记孕检：{value}"),
    "row.male_birth": (ERROR, "母亲身份证号为男性：{value}"),
    "row.duplicate_id": (WARNING, "同一登记簿中重复登记（同一单位、时间重叠）：{value}，首次见 {detail}"),
    "row.two_units": (WARNING, "同一人在两个单位同时登记（时间重叠）：{value}，另见 {detail}"),
    "row.service_unknown_person": (WARNING, "服务对象不在任何流入人口登记簿中：{value}"),
    # the ledger set
    "unit.no_rows": (WARNING, "units.csv 列出的村/社区没有任何台帐行：{value}"),
    "units.invalid": (ERROR, "units.csv 此行无效：{detail}"),
}


@dataclass(frozen=True)
class Finding:
    """One problem found in the input, at a place a person can go and fix."""

    code: str
    file: str
    line: int | None = None
    column: str | None = None
    value: str | None = None  # already masked
    detail: str | None = None

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    @property
    def message(self) -> str:
        template = CODES[self.code][1]
        return template.format(value=self.value or "", detail=self.detail or "", column=self.column or "")

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }
