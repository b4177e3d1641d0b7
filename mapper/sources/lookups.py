"""ONS LSOA-to-ward best-fit lookups, any vintage (``LSOA11CD``/``WD19CD``,
``LSOA21CD``/``WD22CD``/``LTLA22CD``, ``LSOA21CD``/``WD25CD``/``LAD25CD`` ...).

Canonical columns: ``lsoa_code``, ``lsoa_name``, ``ward_code``, ``ward_name``,
``borough_code``, ``borough_name``. A best-fit lookup assigns each LSOA to one ward;
an LSOA listed twice is an error.
"""

from __future__ import annotations

import pandas as pd

from mapper.errors import DataValidationError, Problem
from mapper.sources.base import OGL, OGL_ATTRIBUTION, Context, Detection, Imported, check_codes
from mapper.sources.codes import column_vintage
from mapper.sources.files import Peek, read_table


def _columns(columns: list[str]) -> dict[str, tuple[str, str]]:
    """(kind, CD/NM) -> (column, year) for ONS vintage-suffixed columns."""
    found: dict[str, tuple[str, str]] = {}
    for col in columns:
        kind, year, what = column_vintage(col)
        if kind in ("lsoa", "ward", "lad") and what in ("CD", "NM") and year:
            found.setdefault(f"{kind}_{what}", (col, year))
    return found


def detect(peek: Peek) -> Detection | None:
    """A table with an LSOA code column and a ward code column (ONS suffixed names)."""
    if peek.format != "table":
        return None
    found = _columns(peek.columns)
    if "lsoa_CD" not in found or "ward_CD" not in found:
        return None
    lsoa_year, ward_year = found["lsoa_CD"][1], found["ward_CD"][1]
    return Detection(
        kind="lsoa_ward_lookup",
        vintage=f"LSOA {lsoa_year} -> ward {ward_year}",
        detail=f"ONS LSOA ({lsoa_year}) to ward ({ward_year}) best-fit lookup",
        rows=None,
        reader=read,
        columns={k: v[0] for k, v in found.items()},
        extra={"lsoa_vintage": lsoa_year, "ward_vintage": ward_year},
    )


def read(path, detection: Detection, context: Context) -> Imported:
    """Read an LSOA-to-ward lookup, checking its codes."""
    file = path.name
    table, _ = read_table(path)
    cols = detection.columns
    problems: list[Problem] = []
    problems += check_codes(table[cols["lsoa_CD"]], file=file, column=cols["lsoa_CD"], kind="lsoa")
    problems += check_codes(
        table[cols["ward_CD"]], file=file, column=cols["ward_CD"], kind="ward", unique=False
    )
    if "lad_CD" in cols:
        problems += check_codes(
            table[cols["lad_CD"]], file=file, column=cols["lad_CD"], kind="lad", unique=False
        )
    if problems:
        raise DataValidationError(problems)

    def col(key):
        return table[cols[key]].str.strip() if key in cols else pd.Series(pd.NA, index=table.index)

    frame = pd.DataFrame(
        {
            "lsoa_code": col("lsoa_CD"),
            "lsoa_name": col("lsoa_NM"),
            "ward_code": col("ward_CD"),
            "ward_name": col("ward_NM"),
            "borough_code": col("lad_CD"),
            "borough_name": col("lad_NM"),
        }
    )
    return Imported(
        kind="lsoa_ward_lookup",
        frame=frame,
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=len(table),
        licence=OGL,
        attribution=f"Source: Office for National Statistics. {OGL_ATTRIBUTION}",
        extra=dict(detection.extra),
    )
