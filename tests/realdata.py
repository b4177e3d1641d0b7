"""Where the real London files are, and what to do when they are missing.

``MAPPER_LONDON_DATA`` points elsewhere; by default ``../shared/data/london`` beside the
repository. Missing data skips the test with a reason, except under CI (``CI`` set to
anything but ""/"0"/"false"), where it fails: real-data tests are mandatory there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LONDON_ENV = "MAPPER_LONDON_DATA"
DEFAULT_LONDON = Path(__file__).resolve().parents[2] / "shared" / "data" / "london"


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def london_dir() -> Path:
    """The London data folder, or skip (fail under CI) with the reason."""
    chosen = Path(os.environ.get(LONDON_ENV) or DEFAULT_LONDON)
    if not (chosen / "london_wards_2018.geojson").is_file():
        reason = (
            f"real London data not found in {chosen} (set {LONDON_ENV} to the folder "
            "holding london_wards_2018.geojson and the other files)"
        )
        if on_ci():
            pytest.fail(f"real-data tests are mandatory under CI but {reason}")
        pytest.skip(reason)
    return chosen


WEST_YORKSHIRE_ENV = "MAPPER_WEST_YORKSHIRE_DATA"
DEFAULT_WEST_YORKSHIRE = Path(__file__).resolve().parents[2] / "shared" / "data" / "west-yorkshire"


def west_yorkshire_dir() -> Path:
    """The West Yorkshire data folder, or skip (fail under CI) with the reason."""
    chosen = Path(os.environ.get(WEST_YORKSHIRE_ENV) or DEFAULT_WEST_YORKSHIRE)
    if not (chosen / "wards_WD19_wy.geojson").is_file():
        reason = (
            f"real West Yorkshire data not found in {chosen} (set {WEST_YORKSHIRE_ENV} to the "
            "folder holding wards_WD19_wy.geojson and the other files)"
        )
        if on_ci():
            pytest.fail(f"real-data tests are mandatory under CI but {reason}")
        pytest.skip(reason)
    return chosen
