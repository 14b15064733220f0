"""Headers as offices type them, matched to the schema's columns (SPEC §2, §8).

Matching ignores surrounding spaces, line breaks inside a cell, full-width brackets, English
case and a trailing annotation in brackets (`服务日期（年月日）` is `服务日期`). Besides the
schema's aliases, a county may name its own (`rules/aliases.yaml`, or `aliases:` in the ledger
directory's `fpservice.yaml`):

    persons:
      arrived: [来本地日期, 登记日期]
    services:
      date: 服务时间

Every alias is checked when loaded: a known ledger type and column, and a spelling that names
no other column of the type and no other type's signature (a RuleError with file and line).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import unicodedata

from fpservice.errors import RuleError
from fpservice.schema import LEDGER_TYPES, LedgerType

# An outflow file is recognised by 流出日期 only when it has no 流入日期 (a persons file may hold
# 流出日期 as the date the person left).
_EXCLUDED_SIGNATURES = {"outflow": "persons"}
_ANNOTATION = re.compile(r"\([^()]*\)$")


@functools.lru_cache(maxsize=4096)  # every file repeats the same few dozen headers and aliases
def normalize_header(text: str) -> str:
    """Headers as typed in Excel: full-width brackets, stray spaces and line breaks, BOM, case."""
    t = unicodedata.normalize("NFKC", str(text)).replace("\ufeff", "").strip()
    t = "".join(t.split())
    return t.lower() if t.isascii() else t


@functools.lru_cache(maxsize=4096)
def _spellings(text: str) -> tuple[str, ...]:
    """The normalised header, then the same without a trailing annotation in brackets."""
    full = normalize_header(text)
    bare = _ANNOTATION.sub("", full)
    return (full, bare) if bare and bare != full else (full,)


class Headers:
    """Header spellings -> column keys, per ledger type: the schema's aliases and a county's."""

    def __init__(self, extra: dict[str, dict[str, tuple[str, ...]]] | None = None):
        self.extra = extra or {}
        self._keys: dict[str, dict[str, str]] = {}
        self._signatures: dict[str, frozenset[str]] = {}
        for t in LEDGER_TYPES.values():
            own = self.extra.get(t.key, {})
            self._keys[t.key] = {
                normalize_header(a): c.key for c in t.columns for a in (*c.aliases, *own.get(c.key, ()))
            }
            self._signatures[t.key] = frozenset(s for s, k in self._keys[t.key].items() if k == t.signature)

    @property
    def fingerprint(self) -> str:
        """What the cache key needs to know of the county's aliases."""
        return json.dumps(self.extra, ensure_ascii=False, sort_keys=True)

    def key_of(self, ledger: str, text: str) -> str | None:
        keys = self._keys[ledger]
        return next((keys[s] for s in _spellings(text) if s in keys), None)

    def candidate_types(self, header: list[str]) -> list[str]:
        """Ledger types whose signature column appears in `header`."""
        present = {s for h in header for s in _spellings(h)}
        found = [k for k, signature in self._signatures.items() if signature & present]
        return [k for k in found if _EXCLUDED_SIGNATURES.get(k) not in found]

    def holds_signature(self, cells: list[str]) -> bool:
        """Whether a row could be a ledger's header (SPEC §8: the first row holding a signature)."""
        return bool(self.candidate_types(cells))

    def map(self, ledger: LedgerType, header: list[str]) -> dict[int, str]:
        """Position of each header cell -> column key, for the cells this ledger type knows."""
        found = {i: self.key_of(ledger.key, h) for i, h in enumerate(header)}
        return {i: k for i, k in found.items() if k is not None}

    def nearest(self, ledger: str | None, text: str) -> str | None:
        """The known header closest to an unknown one (a typo such as 服务曰期), if any is close."""
        labels = {
            a: normalize_header(a)
            for t in LEDGER_TYPES.values()
            if ledger in (None, t.key)
            for c in t.columns
            for a in (c.label, *self.extra.get(t.key, {}).get(c.key, ()))
        }
        spelled = _spellings(text)[-1]
        close = difflib.get_close_matches(spelled, list(labels.values()), n=1, cutoff=0.6)
        return next((a for a, n in labels.items() if close and n == close[0]), None)

    def nearest_signature(self, header: list[str]) -> tuple[str, str, str] | None:
        """(cell, signature label, ledger type) when a header cell is nearly a ledger's signature
        (流入曰期 for 流入日期): the type the file was probably meant to be."""
        for cell in header:
            for t in LEDGER_TYPES.values():
                near = self.nearest(t.key, cell)
                if near is not None and self.key_of(t.key, near) == t.signature and cell.strip():
                    return cell, near, t.key
        return None


DEFAULT = Headers()


def aliases_from(node, file: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """A county's aliases from a YAML mapping (see the module's docstring), checked."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise RuleError("aliases 应是映射：台帐类型 → 列 → 别名列表", file, getattr(node, "line", None))
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for ledger, columns in node.items():
        line = node.lines.get(ledger) if hasattr(node, "lines") else None
        if ledger not in LEDGER_TYPES:
            raise RuleError(
                f"aliases 中未知的台帐类型：{ledger}（可用：{'、'.join(LEDGER_TYPES)}）", file, line
            )
        ltype = LEDGER_TYPES[ledger]
        if not isinstance(columns, dict):
            raise RuleError(f"aliases.{ledger} 应是映射：列 → 别名列表", file, line)
        for key, spelled in columns.items():
            line = columns.lines.get(key) if hasattr(columns, "lines") else line
            if key not in ltype.keys:
                raise RuleError(f"{ltype.title}没有列 `{key}`（可用：{'、'.join(ltype.keys)}）", file, line)
            names = spelled if isinstance(spelled, list) else [spelled]
            if not names or not all(isinstance(n, str) and normalize_header(n) for n in names):
                raise RuleError(f"aliases.{ledger}.{key} 应是非空的表头文字或其列表", file, line)
            out.setdefault(ledger, {})[key] = tuple(str(n) for n in names)
    _check_clashes(out, file, node)
    return out


def _check_clashes(extra: dict, file: str, node) -> None:
    """An alias must name one column: not another column of its type, nor another type's signature."""
    headers = Headers()
    for ledger, columns in extra.items():
        for key, names in columns.items():
            line = node[ledger].lines.get(key) if hasattr(node[ledger], "lines") else None
            for name in names:
                taken = headers.key_of(ledger, name)
                if taken not in (None, key):
                    raise RuleError(f"别名“{name}”已是{LEDGER_TYPES[ledger].title}的列 `{taken}`", file, line)
                for other in headers.candidate_types([name]):
                    if other != ledger or key != LEDGER_TYPES[ledger].signature:
                        title = LEDGER_TYPES[other].title
                        raise RuleError(f"别名“{name}”是{title}的标志列，不能另作他用", file, line)


def merged(*parts: dict) -> dict[str, dict[str, tuple[str, ...]]]:
    """Aliases from several files together (the rule directory's, then the ledger directory's)."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for part in parts:
        for ledger, columns in part.items():
            for key, names in columns.items():
                have = out.setdefault(ledger, {}).get(key, ())
                out[ledger][key] = have + tuple(n for n in names if n not in have)
    return out
