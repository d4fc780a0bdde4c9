"""Where the bundled sample data lives and the order it is imported in."""
from __future__ import annotations

from pathlib import Path

from .config import PROJECT_ROOT

SAMPLE_DIR = PROJECT_ROOT / "sample_data"
FIRST = ["roster.csv", "cop_meetings.csv"]
# A demonstration of the SurveyCTO reader (sample_data/surveycto_sample.py), not part of the
# first-start build: its visits are not drawn from the generator's process, so they would blur the
# known truth (sample_data/truth.json) the sample's indicators are checked against.
NOT_BUILT = {"surveycto_followup_sample.csv"}


def sample_files(folder: Path = SAMPLE_DIR) -> list[Path]:
    """Sample exports in import order: roster, CoP log, then the surveys (earlier exports first)."""
    files = [folder / name for name in FIRST if (folder / name).exists()]
    surveys = sorted(p for p in folder.glob("*followup*") if p.suffix in (".csv", ".xlsx")
                     and p.name not in NOT_BUILT)
    surveys.sort(key=lambda p: (0 if "earlier" in p.stem else 1, p.name))
    return files + surveys
