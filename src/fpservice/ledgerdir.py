"""A ledger directory as a run starts from it: that it is a directory, and what its
`fpservice.yaml` says (the plan, the encoding, the county's own header aliases)."""

from __future__ import annotations

from pathlib import Path

from fpservice import headers as headers_mod
from fpservice import yamlfile
from fpservice.errors import InputError, RuleError
from fpservice.headers import Headers
from fpservice.rules import RuleBook

CONFIG_FILE = "fpservice.yaml"


def read_config(ledger_dir: Path) -> dict:
    path = Path(ledger_dir) / CONFIG_FILE
    if not path.is_file():
        return {}
    doc = yamlfile.load(path)
    if not isinstance(doc, dict):
        raise RuleError("配置文件应是映射，如 `plan: jiangbei-2011`", str(path))
    for key in doc:
        if key not in ("plan", "encoding", "aliases"):
            raise RuleError(
                f"配置文件中未知的键：{key}（可用：plan, encoding, aliases）", str(path), doc.lines[key]
            )
    config = dict(doc)
    config["aliases"] = headers_mod.aliases_from(doc.get("aliases"), str(path))
    if "encoding" in config:
        _known_encoding(config["encoding"], str(path), doc.lines["encoding"])
    plan = config.get("plan")
    if isinstance(plan, int) and not isinstance(plan, bool):
        # `plan: 000` unquoted is the number 0 to YAML: the seed numbers are written with 3 digits
        config["plan"] = f"{plan:03d}"
    return config


def _known_encoding(name, file: str, line: int) -> None:
    import codecs

    try:
        codecs.lookup(str(name))
    except LookupError:
        raise RuleError(f"未知的编码：{name}（可用如 utf-8、gb18030、gbk）", file, line) from None


def ledger_directory(ledger_dir: Path | str) -> Path:
    """The ledger directory, or a plain answer when it is not one (before anything asks for a plan)."""
    d = Path(ledger_dir)
    if not d.exists():
        raise InputError(f"台帐目录不存在：{d}")
    if not d.is_dir():
        raise InputError(f"{d} 是文件，不是台帐目录：请给出存放台帐的目录")
    return d


def headers_of(rules: RuleBook, config: dict) -> Headers:
    """Header spellings: the schema's, the rule directory's aliases.yaml, the ledger directory's."""
    extra = headers_mod.merged(rules.aliases, config.get("aliases") or {})
    return Headers(extra) if extra else headers_mod.DEFAULT
