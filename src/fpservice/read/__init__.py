"""The read stage: a ledger directory -> a `LedgerSet` (typed frames, units, findings, accounts).

    discover (which files, grouped into reads)
      -> loader (a thread pool; each read through the cache, or the largest file taken from
         headstart, which parsed it while pandas was imported)
        -> ledgerfile (one CSV file, a batch, or a workbook's sheet)
             encodings -> arrowparse -> csvparse | sheets (workbooks, in worker processes)
             -> header (where rows begin and end) -> recognise -> validate
      -> assemble (frames in file order, persons numbered)

`load()` is the one way in (`with_every_column()` completes a set a warm run loaded in part).
Every row read is used, rejected (with a finding) or skipped (counted): read = used + rejected
+ skipped.
"""

# The names are looked up when first used (PEP 562): a worker process that reads a workbook
# imports `fpservice.read.sheets` alone, without pandas and the rest of the stage.
_EXPORTS = {
    "FileAccount": "fpservice.read.ledgerset",
    "LedgerSet": "fpservice.read.ledgerset",
    "Progress": "fpservice.read.ledgerset",
    "load": "fpservice.read.loader",
    "with_every_column": "fpservice.read.setentry",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fpservice.read' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
