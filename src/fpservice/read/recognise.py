"""A ledger's type from its header (SPEC §2): the signature column names the type, then every
required column must be there. Headers are matched through their aliases (see schema)."""

from __future__ import annotations

from fpservice import schema
from fpservice.schema import LEDGER_TYPES


def recognise(header: list[str]):
    """-> (problem or None, ledger type or None, {position: column key})."""
    types = schema.candidate_types(header)
    if not types:
        known = "、".join(f"{t.title}:{t.column(t.signature).label}" for t in LEDGER_TYPES.values())
        return ("file.unknown_type", None, known), None, {}
    if len(types) > 1:
        names = "、".join(
            f"{LEDGER_TYPES[t].title}({LEDGER_TYPES[t].column(LEDGER_TYPES[t].signature).label})"
            for t in types
        )
        return ("file.ambiguous_type", None, names), None, {}
    ltype = LEDGER_TYPES[types[0]]
    mapping = schema.map_headers(ltype, header)
    by_key: dict[str, list[int]] = {}
    for pos, key in mapping.items():
        by_key.setdefault(key, []).append(pos)
    for key, positions in by_key.items():
        if len(positions) > 1:
            col = ltype.column(key).label
            return ("file.duplicate_column", col, "、".join(header[p] for p in positions)), ltype, {}
    for col in ltype.columns:
        if col.required and col.key not in by_key:
            return ("file.missing_column", col.label, ltype.title), ltype, {}
    return None, ltype, mapping
