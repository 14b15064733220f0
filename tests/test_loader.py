"""`read.load`: which files a directory holds, and what it says when there is nothing to read."""

import pytest

from fpservice import read
from fpservice.errors import InputError
from tests.ledgerkit import V1, write_csv


def test_symlink_loop_is_not_followed(ledger_dir):
    write_csv(ledger_dir / "staff.csv", ["村居代码", "岗位"], [[V1, "专职"]])
    (ledger_dir / "loop").symlink_to(ledger_dir, target_is_directory=True)
    assert len(read.load(ledger_dir).frames["staff"]) == 1


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        read.load(tmp_path / "nope")
    with pytest.raises(InputError):
        read.load(tmp_path)  # exists, but holds no CSV
