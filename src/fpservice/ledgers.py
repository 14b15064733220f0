"""Read a ledger directory (SPEC §1–2) into typed frames, findings and per-file row accounts.

discover -> decode -> recognise the ledger type by its header -> parse and validate each known
column -> keep the rows without errors. Every row read is either used or rejected with a finding.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from fpservice import csvfile, idnumber, schema
from fpservice import units as units_mod
from fpservice.errors import InputError
from fpservice.findings import CODES, ERROR, Finding
from fpservice.privacy import mask_id, mask_name, mask_text
from fpservice.schema import LEDGER_TYPES, LedgerType
from fpservice.values import parse_dates, parse_yes_no, split_items

UNITS_FILE = "units.csv"


@dataclass
class FileAccount:
    """Rows of one file: read = used + rejected. Blank rows and repeated header rows are skipped
    and counted apart."""

    file: str
    ledger: str | None
    encoding: str | None
    read: int = 0
    used: int = 0
    rejected: int = 0
    skipped: int = 0


@dataclass
class LedgerFile:
    """What one file gave: its account, its used rows, its findings, and the village codes
    written on any of its rows (rejected ones too: a village is seen even if its rows are bad)."""

    account: FileAccount
    frame: pd.DataFrame | None = None
    findings: list[Finding] = field(default_factory=list)
    villages: set = field(default_factory=set)


@dataclass
class LedgerSet:
    root: Path
    frames: dict[str, pd.DataFrame]
    units: units_mod.Units
    findings: list[Finding] = field(default_factory=list)
    accounts: list[FileAccount] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return sum(a.rejected for a in self.accounts)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    # Dates that record something happening, as opposed to planned or reported later.
    EVENT_DATES = (
        ("services", "date"),
        ("surveys", "date"),
        ("persons", "arrived"),
        ("births", "birth_on"),
        ("requests", "issued_on"),
        ("outflow", "left_on"),
    )

    def latest_date(self) -> pd.Timestamp | None:
        """The latest event date in any ledger: the default 'as of' for `check`."""
        latest = [self.frames[ledger][col].max() for ledger, col in self.EVENT_DATES]
        latest = [d for d in latest if pd.notna(d)]
        return max(latest) if latest else None

    def villages_without_events(self, start, end) -> list[tuple[str, str]]:
        """Villages (listed, or seen) with no event dated in [start, end] in any ledger."""
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        active = set()
        for ledger, col in self.EVENT_DATES:
            frame = self.frames[ledger]
            active.update(frame.loc[(frame[col] >= lo) & (frame[col] <= hi), "unit"].unique().tolist())
        table = self.units.table
        villages = table.index[table["level"] == units_mod.VILLAGE]
        return [(c, table.at[c, "name"]) for c in sorted(villages) if c not in active]


def discover(root: Path) -> list[Path]:
    """CSV files at any depth, in a stable order. Symlinked directories are not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".csv") and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def load(root: Path | str, encoding: str | None = None, today: dt.date | None = None) -> LedgerSet:
    """Read every ledger under `root`. Raises InputError when there is nothing to read."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"台帐目录不存在或不是目录：{root}")
    today = today or dt.date.today()
    units_path = next((p for p in root.iterdir() if p.name.lower() == UNITS_FILE and p.is_file()), None)
    units = (
        units_mod.load_units_file(units_path, units_path.name, encoding) if units_path else units_mod.empty()
    )
    findings = list(units.findings)
    files = [p for p in discover(root) if p != units_path]
    if not files:
        raise InputError(f"{root} 中没有 CSV 台帐文件")

    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in LEDGER_TYPES}
    accounts, seen = [], set()
    for path in files:
        got = read_ledger_file(path, path.relative_to(root).as_posix(), units, encoding, today)
        findings += got.findings
        accounts.append(got.account)
        seen |= got.villages
        if got.frame is not None:
            parts[got.account.ledger].append(got.frame)

    frames = {k: _concat(k, v) for k, v in parts.items()}
    if not units.listed:
        units.add_seen(sorted(seen))
    return LedgerSet(root, frames, units, findings, accounts)


def _concat(key: str, frames: list[pd.DataFrame]) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return _empty_frame(key).copy()


@cache
def _empty_frame(key: str) -> pd.DataFrame:
    """A ledger type with no file: no rows, but every column with its type."""
    return _validate(
        LEDGER_TYPES[key], "", pd.DataFrame(), np.zeros(0, np.int64), {}, units_mod.empty(), dt.date.today()
    )[0]


def read_ledger_file(
    path: Path, rel: str, units: units_mod.Units, encoding: str | None, today: dt.date
) -> LedgerFile:
    """Read and validate one file. A file-level problem rejects every row."""
    account = FileAccount(rel, None, None)
    try:
        data = path.read_bytes()
        utf8, account.encoding = csvfile.decode(data, encoding)
        header = csvfile.read_header(utf8)
        if not header:
            raise csvfile.CsvProblem("file.empty", 1)
    except OSError as exc:
        return LedgerFile(account, findings=[Finding("file.unreadable", rel, None, None, None, exc.strerror)])
    except csvfile.CsvProblem as p:
        return LedgerFile(account, findings=[Finding(p.code, rel, p.line, None, None, p.detail)])

    problem, ltype, mapping = _recognise(header)
    if problem:
        code, column, detail = problem
        if ltype is not None:
            account.ledger = ltype.key
        try:
            table = csvfile.read_table(utf8, list(range(len(header))), account.encoding)
            account.read = len(table.cells) + len(table.ragged)
            account.rejected, account.skipped = account.read, table.blank_rows
        except csvfile.CsvProblem:
            pass
        return LedgerFile(account, findings=[Finding(code, rel, 1, column, None, detail)])

    account.ledger = ltype.key
    try:
        table = csvfile.read_table(utf8, sorted(mapping), account.encoding)
    except csvfile.CsvProblem as p:
        return LedgerFile(account, findings=[Finding(p.code, rel, p.line, None, None, p.detail)])
    cells = table.cells.rename(columns={str(i): k for i, k in mapping.items()})
    labels = {k: header[i] for i, k in mapping.items()}
    lines = table.lines
    repeated = np.ones(len(cells), dtype=bool)
    for key, label in labels.items():
        repeated &= (cells[key] == label).fillna(False).to_numpy(dtype=bool)
    skipped = [Finding("row.repeated_header", rel, int(line)) for line in lines[repeated]]
    if repeated.any():
        cells, lines = cells[~repeated].reset_index(drop=True), lines[~repeated]
    frame, findings, rejected, villages = _validate(
        ltype, rel, cells, lines, labels, units, today, has_control=csvfile.has_control_bytes(utf8)
    )
    ragged = [Finding("row.ragged", rel, line, None, None, str(n)) for line, n in table.ragged]
    account.read = len(cells) + len(table.ragged)
    account.rejected = int(rejected) + len(table.ragged)
    account.used = len(frame)
    account.skipped = table.blank_rows + len(skipped)
    return LedgerFile(account, frame, ragged + skipped + findings, villages)


def _recognise(header: list[str]):
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


class _Checker:
    """Collects findings for bad cells and marks rows with errors as rejected."""

    def __init__(self, rel: str, lines: np.ndarray, labels: dict[str, str]):
        self.rel, self.lines, self.labels = rel, lines, labels
        self.reject = np.zeros(len(lines), dtype=bool)
        self.findings: list[Finding] = []
        self.villages: set[str] = set()  # well-formed village codes on any row

    def flag(
        self,
        code: str,
        mask,
        key: str,
        shown: pd.Series | None = None,
        masker=mask_text,
        detail: str | pd.Series | None = None,
    ) -> None:
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        if CODES[code][0] == ERROR:
            self.reject |= mask
        values = shown.iloc[idx].tolist() if shown is not None else [None] * len(idx)
        details = detail.iloc[idx].tolist() if isinstance(detail, pd.Series) else [detail] * len(idx)
        label = self.labels.get(key, key)
        for i, v, d in zip(idx.tolist(), values, details):
            shown_value = masker(str(v)) if v is not None and not pd.isna(v) else None
            self.findings.append(Finding(code, self.rel, int(self.lines[i]), label, shown_value, d))


def _validate(
    ltype: LedgerType,
    rel: str,
    cells: pd.DataFrame,
    lines: np.ndarray,
    labels: dict[str, str],
    units: units_mod.Units,
    today: dt.date,
    has_control: bool = True,
):
    """Parse and check each column.
    -> (typed frame of used rows, findings, rejected count, village codes seen on any row)."""
    n = len(cells)
    check = _Checker(rel, lines, labels)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["file"] = rel
    out["line"] = np.asarray(lines, dtype=np.int64)
    blank_text = pd.Series(pd.NA, index=out.index, dtype="str")

    for col in ltype.columns:
        raw = cells.get(col.key, blank_text)
        if col.required:
            check.flag("value.required", raw.isna(), col.key)
        if col.key in cells and has_control:
            control = raw.str.contains(_CONTROL, regex=True).fillna(False).to_numpy(dtype=bool)
            if control.any():
                check.flag("value.control_chars", control, col.key, raw, _MASKERS.get(col.kind, mask_text))
                raw = raw.where(~control)
        if col.kind == schema.CODE:
            out[col.key] = _check_units(check, raw, col.key, units)
        elif col.kind == schema.ID:
            parsed = idnumber.parse(raw, today)
            check.flag(
                "value.id_malformed", parsed["problem"].notna(), col.key, raw, mask_id, parsed["problem"]
            )
            check.flag(
                "value.id_checksum",
                parsed["id"].notna() & ~parsed["checksum_ok"],
                col.key,
                parsed["id"],
                mask_id,
            )
            out["id"], out["pid"] = parsed["id"], parsed["key"]
            out["id_sex"], out["id_birth"] = parsed["sex"], parsed["birth"]
        elif col.kind == schema.DATE:
            values, bad = parse_dates(raw)
            check.flag("value.date", bad, col.key, raw)
            out[col.key] = values
        elif col.kind == schema.YES_NO:
            values, bad = parse_yes_no(raw)
            check.flag("value.yes_no", bad, col.key, raw)
            out[col.key] = values
        elif col.kind in (schema.CHOICE, schema.SEX):
            bad = raw.notna() & ~raw.isin(col.vocabulary)
            check.flag("value.vocabulary", bad, col.key, raw, detail="/".join(col.vocabulary))
            out[col.key] = raw.where(~bad)
        elif col.kind == schema.ITEMS:
            out[col.key] = _item_bits(check, raw, col)
        else:
            out[col.key] = raw

    if "id" in ltype.keys:
        _derive_from_id(check, ltype, out)
    if "pop_type" in ltype.keys:
        out["pop_type"] = out["pop_type"].fillna("流动")
    _check_row_relations(check, ltype.key, out)

    keep = ~check.reject
    frame = (
        (out[keep] if check.reject.any() else out)
        .drop(columns=[c for c in ("id_sex", "id_birth") if c in out])
        .reset_index(drop=True)
    )
    frame["file"] = frame["file"].astype("category")
    return frame, check.findings, int(check.reject.sum()), check.villages


_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_MASKERS = {schema.ID: lambda v: mask_text(mask_id(v)), schema.NAME: lambda v: mask_text(mask_name(v))}


def _check_units(check: _Checker, raw: pd.Series, key: str, units: units_mod.Units) -> pd.Series:
    codes = units_mod.normalize_codes(raw)
    shaped = codes.str.fullmatch(r"\d{12}").fillna(False).astype(bool)
    check.flag("value.unit_malformed", codes.notna() & ~shaped, key, raw)
    if units.listed:
        known = shaped & codes.isin(units.table.index)
        check.flag("value.unit_unknown", shaped & ~known, key, codes)
        level = codes.map(units.table["level"]).where(known)
    else:
        level = codes.map(lambda c: units_mod.level_of_code(c) if isinstance(c, str) else None)
        level = level.where(shaped)
    not_village = level.notna() & (level != units_mod.VILLAGE)
    check.villages = set(codes[(level == units_mod.VILLAGE).fillna(False).to_numpy(dtype=bool)].unique())
    check.flag("value.unit_not_village", not_village, key, codes, detail=level)
    return codes


def _item_bits(check: _Checker, raw: pd.Series, col: schema.Column) -> pd.Series:
    """`;`-separated items -> an int bitmask over the column's vocabulary (bit i = item i)."""
    position = {item: i for i, item in enumerate(col.vocabulary)}
    bits, unknown = {}, {}
    for text in raw.dropna().unique().tolist():
        items = split_items(pd.Series([text])).iloc[0]
        bits[text] = sum(1 << position[i] for i in items if i in position)
        unknown[text] = "、".join(sorted(i for i in items if i not in position)) or None
    bad_detail = raw.map(unknown)
    check.flag("value.vocabulary", bad_detail.notna(), col.key, bad_detail, detail="/".join(col.vocabulary))
    return raw.map(bits).fillna(0).astype("int64")


def _derive_from_id(check: _Checker, ltype: LedgerType, out: pd.DataFrame) -> None:
    """Sex and birth date: blank cells come from the ID; written ones must agree with it."""
    if "sex" in ltype.keys:
        given = out["sex"]
        check.flag(
            "value.sex_mismatch",
            given.notna() & out["id_sex"].notna() & (given != out["id_sex"]),
            "sex",
            given,
        )
        out["sex"] = given.fillna(out["id_sex"])
    else:
        out["sex"] = out["id_sex"]
    if "birth" in ltype.keys:
        given = out["birth"]
        differs = given.notna() & out["id_birth"].notna() & (given != out["id_birth"])
        check.flag("value.birth_mismatch", differs, "birth", given.dt.strftime("%Y-%m-%d"))
        out["birth"] = given.fillna(out["id_birth"])
    else:
        out["birth"] = out["id_birth"]


def _check_row_relations(check: _Checker, ledger: str, out: pd.DataFrame) -> None:
    def iso(s):
        return s.dt.strftime("%Y-%m-%d")

    if ledger == "persons":
        check.flag("row.left_before_arrived", out["left"] < out["arrived"], "left", iso(out["left"]))
    elif ledger == "outflow":
        check.flag(
            "row.returned_before_left", out["returned"] < out["left_on"], "returned", iso(out["returned"])
        )
    elif ledger == "requests":
        check.flag(
            "row.answered_before_issued",
            out["answered_on"] < out["issued_on"],
            "answered_on",
            iso(out["answered_on"]),
        )
    elif ledger == "services":
        check.flag(
            "row.male_pregnancy_check",
            (out["item"] == "孕检") & (out["id_sex"] == "男"),
            "id",
            out["id"],
            mask_id,
        )
    elif ledger == "births":
        check.flag("row.male_birth", out["id_sex"] == "男", "id", out["id"], mask_id)
