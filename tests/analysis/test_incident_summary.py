"""Incidents given as a summary (one row per source file, type, month, ward and district,
``n_records`` the incidents it stands for: what PostgreSQL counts for a layer larger than
memory) give every incident figure the rows themselves give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from mapper.analysis.incidents import (
    WEIGHT,
    IncidentFilter,
    covered_districts,
    covered_pressure,
    filtered_ward_incidents,
    incident_counts,
    incident_coverage,
    incident_months,
    incidents_per_district,
    monthly_counts,
    source_coverage,
)

WARDS = pd.DataFrame({"ward_code": [f"W{i}" for i in range(8)],
                      "borough_code": ["B1"] * 3 + ["B2"] * 3 + ["B3"] * 2})
POPULATION = pd.Series(np.arange(8) * 500.0 + 1000, index=WARDS["ward_code"])


def _rows(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    months = [f"2023-{m:02d}" for m in range(1, 13)] + [f"2024-{m:02d}" for m in range(1, 7)]
    ward = rng.choice([*WARDS["ward_code"], None], n, p=[0.12] * 8 + [0.04])
    district = pd.Series(ward).map(dict(zip(WARDS["ward_code"], WARDS["borough_code"],
                                            strict=True))).astype(object)
    source = np.where(district.isin(["B1", "B2"]), "south.csv", "north.csv").astype(object)
    stray = rng.random(n) < 0.01
    source[stray] = "north.csv"  # a few of north's points over its boundary
    month = rng.choice(months, n).astype(object)
    month[rng.random(n) < 0.03] = None
    return pd.DataFrame({
        "source_file": source,
        "type": rng.choice(["Burglary", "Robbery", "Drugs", None], n, p=[0.4, 0.3, 0.28, 0.02]),
        "month": month, "ward_code": ward, "borough_code": district.where(district.notna(), None),
    })


def _summary(rows: pd.DataFrame) -> pd.DataFrame:
    keys = ["source_file", "type", "month", "ward_code", "borough_code"]
    frame = rows.assign(month=incident_months(rows).astype(object))[keys].astype(object)
    frame = frame.where(frame.notna(), None)
    counted = frame.groupby(keys, dropna=False, sort=False).size().rename(WEIGHT)
    return counted.reset_index()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_summary_gives_the_figures_of_its_rows(seed):
    rows = _rows(seed)
    summary = _summary(rows)
    assert len(summary) < len(rows) and summary[WEIGHT].sum() == len(rows)
    assert_frame_equal(source_coverage(summary, WARDS), source_coverage(rows, WARDS))
    assert covered_districts(summary, WARDS) == covered_districts(rows, WARDS) == {"B1", "B2",
                                                                                   "B3"}
    assert incidents_per_district(summary).sort_index().tolist() == \
        rows["borough_code"].value_counts().sort_index().tolist()
    for kwargs in ({}, {"start": "2023-06", "end": "2024-02"}, {"types": ["Burglary"]}):
        assert_frame_equal(incident_counts(summary, WARDS, **kwargs),
                           incident_counts(rows, WARDS, **kwargs))
    assert_frame_equal(monthly_counts(summary, WARDS), monthly_counts(rows, WARDS))
    for window, types in ((12, None), (6, ["Robbery"])):
        plan_rows = incident_coverage(rows, WARDS, window_months=window, types=types)
        plan = incident_coverage(summary, WARDS, window_months=window, types=types)
        assert (plan.types, plan.months, plan.series) == (
            plan_rows.types, plan_rows.months, plan_rows.series)
        got, notes = covered_pressure(summary, WARDS, POPULATION, plan)
        want, want_notes = covered_pressure(rows, WARDS, POPULATION, plan_rows)
        assert_frame_equal(got, want)
        assert notes == want_notes
    chosen = IncidentFilter("2023-09", "2024-03", "Drugs")
    wards = WARDS.assign(population=POPULATION.to_numpy())
    assert_frame_equal(filtered_ward_incidents(summary, wards, chosen),
                       filtered_ward_incidents(rows, wards, chosen))
