import os
import tempfile
from pathlib import Path

import pytest

# The CLI caches parsed ledgers; tests keep that cache away from the user's ~/.cache.
os.environ.setdefault("FPSERVICE_CACHE", tempfile.mkdtemp(prefix="fpservice-test-cache-"))
# Tables fit COLUMNS when it is set (a terminal's width): tests that want a width say so.
os.environ.pop("COLUMNS", None)


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ledgers"
    d.mkdir()
    return d
