"""Where the real London and West Yorkshire files are, and what to do when they are missing.

``MAPPER_LONDON_DATA`` and ``MAPPER_WEST_YORKSHIRE_DATA`` point elsewhere; by default
``../shared/data/london`` and ``../shared/data/west-yorkshire`` beside the repository.
Missing data skips the test with a reason, except under CI (``CI`` set to anything but
""/"0"/"false"), where it fails: real-data tests are mandatory there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LONDON_ENV = "MAPPER_LONDON_DATA"
DEFAULT_LONDON = Path(__file__).resolve().parents[2] / "shared" / "data" / "london"
WEST_YORKSHIRE_ENV = "MAPPER_WEST_YORKSHIRE_DATA"
DEFAULT_WEST_YORKSHIRE = DEFAULT_LONDON.parent / "west-yorkshire"


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def _data_dir(env: str, default: Path, marker: str, area: str) -> Path:
    """The folder named by `env` (else `default`) when it holds `marker`, or skip (fail
    under CI) with the reason."""
    chosen = Path(os.environ.get(env) or default)
    if not (chosen / marker).is_file():
        reason = (
            f"real {area} data not found in {chosen} (set {env} to the folder "
            f"holding {marker} and the other files)"
        )
        if on_ci():
            pytest.fail(f"real-data tests are mandatory under CI but {reason}")
        pytest.skip(reason)
    return chosen


def london_dir() -> Path:
    """The London data folder, or skip (fail under CI) with the reason."""
    return _data_dir(LONDON_ENV, DEFAULT_LONDON, "london_wards_2018.geojson", "London")


def west_yorkshire_dir() -> Path:
    """The West Yorkshire data folder, or skip (fail under CI) with the reason."""
    return _data_dir(WEST_YORKSHIRE_ENV, DEFAULT_WEST_YORKSHIRE, "wards_WD19_wy.geojson",
                     "West Yorkshire")
