"""A report row's status (SPEC §6): the words JSON and CSV carry, and the exit codes of a run."""

from __future__ import annotations

from enum import IntEnum

MET, MISSED, NO_DATA, NO_TARGET = "met", "missed", "no_data", "no_target"


class ExitCode(IntEnum):
    """How `check` and `report` end (SPEC §6); when several apply, the highest wins."""

    OK = 0  # data valid and every judged target met
    TARGETS_MISSED = 1
    DATA_ERRORS = 2  # some rows were rejected (and reported)
    COULD_NOT_RUN = 3
