"""The reference workflows in examples/ (a top-level folder, not a package of
htdag) are imported from the repository's root, wherever pytest runs from."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
