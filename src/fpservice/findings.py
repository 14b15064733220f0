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
    "file.services_without_persons": (
        WARNING,
        "本文件有 {detail} 条服务记录的对象不在已读入的流入人口登记簿中：有流入人口登记簿"
        "整个未能读入（见上），请先改正它；逐条的提示从略",
    ),
    # the ledger set
    "unit.no_rows": (WARNING, "units.csv 列出的村/社区没有任何台帐行：{value}"),
    "units.invalid": (ERROR, "units.csv 此行无效：{detail}"),
}


# code -> what the office that keeps the ledger does about it (a village's problem list says it
# beside each rule). Every code has one: tests check the two tables name the same codes.
REMEDIES: dict[str, str] = {
    "file.undecodable": "用 Excel/WPS 打开后另存为“CSV UTF-8”或 Excel 工作簿",
    "file.mixed_encoding": "整个文件另存为同一种编码（CSV UTF-8），不要从其他文件粘贴文字",
    "file.unreadable": "检查文件是否被占用或损坏，另存一份后再交",
    "file.empty": "补上表头和数据，或删除这个空文件",
    "file.unknown_type": "按台帐式样填写表头（如 流入日期、服务项目），或把非台帐文件移出目录",
    "file.ambiguous_type": "一个文件只放一种台帐，把不同台帐拆成不同文件或工作表",
    "file.missing_column": "按台帐式样补上缺少的列并填写",
    "file.duplicate_column": "删除或改名重复的列，每项内容只留一列",
    "file.unparsable": "用 Excel/WPS 打开检查引号和分隔符，另存为 CSV 或工作簿",
    "file.not_workbook": "用 Excel/WPS 打开后另存为 .xlsx",
    "file.not_regular": "这不是普通文件（管道、设备等）：把它移出台帐目录",
    "file.encrypted": "取消打开密码后另存",
    "file.too_large": "删除多余的空行空列后另存",
    "sheet.skipped": "无需处理（说明页、图表不是台帐）",
    "row.ragged": "检查该行是否多了或少了逗号、单元格，与表头对齐",
    "row.repeated_header": "删除夹在数据中间的表头行",
    "value.required": "补填这一项",
    "value.control_chars": "删除单元格中的不可见字符后重新填写",
    "value.date": "按 2011-05-19 的格式填写真实存在的日期",
    "value.yes_no": "填写 是 或 否",
    "value.vocabulary": "改为允许的取值之一",
    "value.id_malformed": "核对证件，重新填写18位身份证号",
    "value.id_checksum": "核对证件，改正身份证号中填错的数字",
    "id.excel_number": "把身份证号列设为“文本”格式，再按证件重新录入",
    "unit.excel_number": "把代码列设为“文本”格式，再重新填写12位代码",
    "value.excel_error": "改正公式，或直接填写数值",
    "value.unit_malformed": "填写12位统计用区划代码",
    "value.unit_unknown": "核对单位代码；新设的村/社区请县里加入 units.csv",
    "value.unit_not_village": "填写本村/社区的12位代码，不要填乡镇或县的代码",
    "value.sex_mismatch": "核对证件，改正性别或身份证号",
    "value.birth_mismatch": "核对证件，改正出生日期或身份证号",
    "row.left_before_arrived": "核对并改正流入日期或离开日期",
    "row.returned_before_left": "核对并改正流出日期或返回日期",
    "row.answered_before_issued": "核对并改正下发日期或反馈日期",
    "row.male_pregnancy_check": "核对服务对象的身份证号和服务项目",
    "row.male_birth": "核对母亲的身份证号",
    "row.duplicate_id": "同一人重复登记：删除多余的一行，或改正日期",
    "row.two_units": "与另一单位核实此人现住哪里，不在本地的办理离开登记",
    "row.service_unknown_person": "把服务对象补登到流入人口登记簿，或核对身份证号",
    "file.services_without_persons": "先改正未能读入的流入人口登记簿（见其错误），再核对其余服务对象",
    "unit.no_rows": "报送该村/社区的台帐；已撤并的单位请从 units.csv 删除",
    "units.invalid": "按 代码,名称,层级,上级代码 改正 units.csv 的这一行",
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
    # the village whose row it is about (the row's own unit code), None for a file as a whole,
    # units.csv or a row without a valid village code; not part of `as_dict` (check's JSON)
    unit: str | None = None

    @property
    def remedy(self) -> str:
        return REMEDIES[self.code]

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
