"""Crash safety: SIGKILL ``shopbot serve`` under load; nothing acknowledged is lost.

One kill/restart cycle of scripts/crash_test.py (the benchmark runs five):
the real server as a subprocess on the session's demo store, concurrent
conversations, SIGKILL mid-load, then the log is checked for every turn that
got an HTTP 200, and after a restart each verified conversation continues
with its slots.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from crash_test import run_crash_test  # noqa: E402


def test_sigkill_under_load_loses_no_acknowledged_turn_and_no_slots(demo_bot, demo_store, tmp_path):
    report = run_crash_test(demo_store, tmp_path, cycles=1, conversations=12)
    assert report["acked_turns"] > 12, report
    assert report["lost_turns"] == 0, report
    assert report["lost_slots"] == 0, report
    assert report["resume_failures"] == 0, report
    final = report["cycles"][-1]
    assert final["resumed_checked"] > 0 and final["resumed_ok"] == final["resumed_checked"]
