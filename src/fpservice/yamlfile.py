"""Safe YAML for rule files: plain data only, no aliases, and every mapping and list remembers the
line it starts on, so a rule error can name the file and line to fix."""

from __future__ import annotations

from pathlib import Path

import yaml

from fpservice.errors import RuleError


class Map(dict):
    """A YAML mapping with `line` (its own) and `lines` (each key's)."""

    line: int = 0
    lines: dict


class Seq(list):
    line: int = 0


# libyaml's parser where PyYAML has it (its wheels do): five times faster than the pure-Python
# one on the rule files, which every run reads.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ALIAS = "规则文件中不允许使用 YAML 别名（*name）"


_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")
}


def _convert(loader, node, file: str, seen: set[int]):
    """Nodes to Map/Seq/scalars. An alias is the node it names, met a second time (`seen`):
    refused there, before anything is expanded."""
    if id(node) in seen:
        raise RuleError(_ALIAS, file, node.start_mark.line + 1)
    seen.add(id(node))
    if node.tag not in _PLAIN_TAGS:
        raise RuleError(f"规则文件中不允许使用 YAML 标签：{node.tag}", file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = Map()
        out.line, out.lines = node.start_mark.line + 1, {}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge":
                raise RuleError("规则文件中不允许使用 YAML 合并键（<<）", file, k.start_mark.line + 1)
            key = _convert(loader, k, file, seen)
            if isinstance(key, (Map, Seq)):
                raise RuleError("映射的键必须是简单值", file, k.start_mark.line + 1)
            if key in out:
                raise RuleError(f"重复的键：{key}", file, k.start_mark.line + 1)
            if id(v) in seen:
                raise RuleError(_ALIAS, file, k.start_mark.line + 1)
            out[key] = _convert(loader, v, file, seen)
            out.lines[key] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Seq(_convert(loader, v, file, seen) for v in node.value)
        seq.line = node.start_mark.line + 1
        return seq
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # a date that does not exist (2011-02-30), and the like
        what = "日期" if node.tag.endswith(":timestamp") else "值"
        raise RuleError(f"{what}“{node.value[:40]}”无效：{exc}", file, node.start_mark.line + 1) from None


def load(path: Path) -> object:
    """Parse a YAML file into Map/Seq/scalars. Raises RuleError with the file and line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"无法读取规则文件：{exc}", name) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return Map() if node is None else _convert(loader, node, name, set())
    except RuleError as exc:
        raise RuleError(exc.message, name, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RuleError(
            f"YAML 语法错误：{exc.problem or exc.context}", name, mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"YAML 错误：{exc}", name) from None
    finally:
        loader.dispose()
