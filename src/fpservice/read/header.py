"""Where a ledger's rows begin and end, as offices lay out a sheet (SPEC §8): the header is the
first row within the first 20 that holds a ledger's signature column (rows above it, a title or
`填报单位：…`, are skipped); a blank cell in it takes the label of the cell above (a header merged
down over two rows); after the data, 合计 / 填表人 / 审核人 … lines are footers, skipped."""

from __future__ import annotations

from dataclasses import dataclass

from fpservice.headers import Headers

HEADER_ROWS = 20
FOOTER_WORDS = (
    "合计",
    "总计",
    "小计",
    "填表人",
    "制表人",
    "填报人",
    "审核人",
    "负责人",
    "联系电话",
    "备注",
    "说明",
    "注",
)


@dataclass
class Header:
    labels: list[str]  # the header's cells, blanks filled from the row above
    row: int  # its position among the rows looked at


def find_header(rows: list[list[str]], headers: Headers) -> Header | None:
    """The header among the first rows of a file or sheet, or None when no row holds a signature."""
    for i, cells in enumerate(rows[:HEADER_ROWS]):
        if headers.holds_signature(cells):
            above = rows[i - 1] if i else []
            labels = [cell if cell.strip() or j >= len(above) else above[j] for j, cell in enumerate(cells)]
            return Header([label.strip() for label in labels], i)
    return None


def first_nonblank(rows: list[list[str]]) -> int | None:
    """The first row with any text: the header when no row holds a signature (its cells then name
    what the file holds, in the message that it is no known ledger)."""
    return next((i for i, cells in enumerate(rows) if any(c.strip() for c in cells)), None)


def is_footer(first_cell: str | None) -> bool:
    """A row whose unit and ID are blank and whose first non-blank cell starts with one of these
    words is a footer: a total, the signatures, a note."""
    return bool(first_cell) and first_cell.strip().startswith(FOOTER_WORDS)
