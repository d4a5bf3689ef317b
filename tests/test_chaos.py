"""A reduced chaos run inside the suite: the same faults as `make chaos`, on fewer orders."""

import pytest

from chaos.__main__ import MUST_BE_ZERO, main

pytestmark = pytest.mark.e2e


def test_no_order_is_lost_stuck_or_swapped_twice_while_processes_die(tmp_path, capsys):
    output = tmp_path / "CHAOS.md"

    code = main(["--orders", "60", "--rate", "10", "--output", str(output)])

    report = output.read_text()
    rows = dict(
        line.strip("| ").split(" | ") for line in report.splitlines() if line.startswith("| ") and "---" not in line
    )
    assert code == 0, report
    assert all(rows[name] == "0" for name in MUST_BE_ZERO), report
    assert int(rows["orders placed (201 received)"]) == 60
    assert int(rows["confirmed"]) + int(rows["failed"]) == 60
    assert report.count("killed") >= 3
