"""The authorization stage: examples applied on the stand-in, their requests recorded and judged."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parents[1] / "scripts"))  # iam_lint: rendered policies are read as the linter reads them
