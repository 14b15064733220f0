"""The read stage: a ledger directory -> a `LedgerSet` (typed frames, units, findings, accounts).

    discover (which files, grouped into reads)
      -> loader (a thread pool; each read through the cache)
        -> ledgerfile (one file or a batch) -> encodings -> csvparse -> recognise -> validate
      -> assemble (frames in file order, persons numbered)

`load()` is the one way in. Every row read is used, rejected (with a finding) or skipped
(counted): read = used + rejected, and skipped rows are counted apart.
"""

from fpservice.read.ledgerset import FileAccount, LedgerSet, Progress
from fpservice.read.loader import load

__all__ = ["FileAccount", "LedgerSet", "Progress", "load"]
