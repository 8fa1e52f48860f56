"""Worker processes are SIGKILLed at random while runs with map steps progress:
afterwards every run completed with its correct output, each task completed
exactly once, the counters agree with the task rows, and nothing is left
queued or started.

The short version of ``make chaos`` (``benchmarks/chaos.py``, the same code):
about 20 kills. A failure prints the seed; ``benchmarks/chaos.py --seed SEED
--kills 20 ...`` replays the same kill intervals and run sizes (not the
processes' timing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from chaos import ChaosSettings, print_report, run_chaos  # noqa: E402

pytestmark = pytest.mark.acceptance

SEED = 20261212
KILLS = 20


def test_workers_killed_at_random_lose_nothing(dsn: str, tmp_path: Path) -> None:
    settings = ChaosSettings(kills=KILLS, workers=3, concurrency=4, lease=1.5,
                             kill_interval_min=0.3, kill_interval_max=1.2, runs_in_flight=8,
                             elements_max=12, pause_max=0.3, seed=SEED, progress_every=3.0,
                             finish_timeout=40.0)
    print(f"seed {SEED}")
    report = run_chaos(dsn, settings, tmp_path)
    print_report(report)  # the figures, shown by pytest when the test fails

    figures = report.figures
    assert report.problems == [], "\n".join(report.problems)
    assert figures["kills"] == KILLS
    assert figures["tasks_lost"] == 0
    assert figures["tasks_double_completed"] == 0
    assert figures["runs_completed"] == figures["runs"] > 0
    # The kills hit work in progress: some tasks ran again.
    assert figures["kills_of_workers_holding_tasks"] > 0
    assert figures["attempts_not_completed"] > 0
