"""Compile the CLI's message catalogue (click's own texts in Chinese) from .po to .mo.

    python scripts/compile_messages.py

The .mo format is GNU gettext's (what Python's gettext module reads): a header, two tables of
(length, offset) pairs, the strings. Written here because the standard library reads .mo files
but ships no compiler, and the catalogue is a few dozen lines.
"""

from __future__ import annotations

import ast
import struct
from pathlib import Path

PO = Path(__file__).resolve().parents[1] / "src/fpservice/cli/locale/zh_CN/LC_MESSAGES/messages.po"


def entries(text: str) -> dict[str, str]:
    """msgid (with its plural joined by NUL) -> msgstr (plural forms joined by NUL)."""
    out, current, key = {}, {}, None
    for line in text.splitlines() + [""]:
        line = line.strip()
        if not line or line.startswith("#"):
            if "msgid" in current:
                ids = current["msgid"] + ("\0" + current["msgid_plural"] if "msgid_plural" in current else "")
                strs = [v for k, v in sorted(current.items()) if k.startswith("msgstr")]
                out[ids] = "\0".join(strs)
            current, key = {}, None
            continue
        if line.startswith('"'):
            current[key] += ast.literal_eval(line)
            continue
        key, _, value = line.partition(" ")
        current[key] = ast.literal_eval(value)
    return out


def mo(catalogue: dict[str, str]) -> bytes:
    keys = sorted(catalogue)
    ids = [k.encode() for k in keys]
    strs = [catalogue[k].encode() for k in keys]
    start = 7 * 4 + 16 * len(keys)
    table_ids, table_strs, data = [], [], b""
    for items, table in ((ids, table_ids), (strs, table_strs)):
        for s in items:
            table.append((len(s), start + len(data)))
            data += s + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    pairs = b"".join(struct.pack("<2I", n, o) for n, o in table_ids + table_strs)
    return header + pairs + data


def main() -> None:
    PO.with_suffix(".mo").write_bytes(mo(entries(PO.read_text(encoding="utf-8"))))
    print(f"wrote {PO.with_suffix('.mo')}")


if __name__ == "__main__":
    main()
