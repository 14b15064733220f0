"""A ledger's type from its header (SPEC §2): the signature column names the type, then every
required column must be there. Headers are matched through their aliases (see `headers`)."""

from __future__ import annotations

from fpservice import schema
from fpservice.headers import Headers
from fpservice.privacy import mask_text
from fpservice.schema import LEDGER_TYPES, LedgerType


def recognise(header: list[str], headers: Headers):
    """-> (problem or None, ledger type or None, {position: column key}). A problem is (finding
    code, column, detail)."""
    types = headers.candidate_types(header)
    if not types:
        known = "、".join(f"{t.title}:{t.column(t.signature).label}" for t in LEDGER_TYPES.values())
        guess = headers.nearest_signature(header)
        if guess is None:
            return ("file.unknown_type", None, known), None, {}
        cell, label, ledger = guess  # a typo in the signature: say what it was probably meant to be
        detail = f"{known}；“{mask_text(cell, 20)}”是不是{LEDGER_TYPES[ledger].title}的“{label}”？"
        return ("file.unknown_type", None, detail), LEDGER_TYPES[ledger], {}
    if len(types) > 1:
        names = "、".join(
            f"{LEDGER_TYPES[t].title}({LEDGER_TYPES[t].column(LEDGER_TYPES[t].signature).label})"
            for t in types
        )
        return ("file.ambiguous_type", None, names), None, {}
    ltype = LEDGER_TYPES[types[0]]
    mapping = headers.map(ltype, header)
    by_key: dict[str, list[int]] = {}
    for pos, key in mapping.items():
        by_key.setdefault(key, []).append(pos)
    for key, positions in by_key.items():
        if len(positions) > 1:
            col = ltype.column(key).label
            return ("file.duplicate_column", col, "、".join(header[p] for p in positions)), ltype, {}
    for col in ltype.columns:
        if col.required and col.key not in by_key:
            return ("file.missing_column", col.label, _found(ltype, header, mapping, headers)), ltype, {}
    return None, ltype, mapping


def _found(ltype: LedgerType, header: list[str], mapping: dict[int, str], headers: Headers) -> str:
    """What a missing column's message says: the ledger, the headers found, and for each header
    the ledger does not know the nearest one it does (a typo such as 服务曰期 for 服务日期)."""
    cells = [mask_text(h, 20) for h in header if h.strip()]
    text = f"这是{ltype.title}；表头中有：{'、'.join(cells)}"
    guesses = []
    for i, h in enumerate(header):
        if i not in mapping and h.strip():
            near = headers.nearest(ltype.key, h)
            if near:
                guesses.append(f"“{mask_text(h, 20)}”是不是“{near}”")
    return text + ("；" + "；".join(guesses) + "？" if guesses else "")


def distinct_columns(ltype: LedgerType, mapping: dict[int, str]) -> frozenset[int]:
    """The positions of ID numbers and names, nearly all distinct: read a value per row, not
    dictionary-encoded."""
    return frozenset(i for i, k in mapping.items() if ltype.column(k).kind in (schema.ID, schema.NAME))
