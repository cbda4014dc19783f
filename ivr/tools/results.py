"""Where a benchmark's or evaluation's figures go: one JSON file, its folder made, its path said."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(out: Path, report: dict, indent: int = 1) -> Path:
    """Write `report` as JSON to `out` (folders made) and print where, as every bench does."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=indent) + "\n")
    print(f"wrote {out}")
    return out
