"""Incident coverage: what each source covers, and rates and trends counted only where
and when it covers (issue 16, part 1). Every expected figure is worked out by hand in the
comments."""

from __future__ import annotations

import factories as fx
import numpy as np
import pandas as pd
import pytest

from mapper.analysis.incidents import (
    counted_words,
    covered_pressure,
    incident_coverage,
    month_span,
    source_coverage,
)
from mapper.incident_types import normalise, parse_setting, vocabulary


def _rows(source, ward, district, kind, month, n):
    return [{"source_file": source, "ward_code": ward, "borough_code": district,
             "type": kind, "month": month}] * n


def incidents() -> pd.DataFrame:
    """a.csv covers district D1 with burglary and robbery, Jan-Jun 2024; b.csv covers D2
    with burglary only, Feb-Apr 2024; c.csv is one old month (Jan 2023) of D2, all types.
    D3 has no source."""
    rows = []
    for m in range(1, 7):  # W1: one burglary every month
        rows += _rows("a.csv", "W1", "D1", "Burglary", f"2024-0{m}", 1)
    rows += _rows("a.csv", "W1", "D1", "Robbery", "2024-06", 2)
    rows += _rows("a.csv", "W2", "D1", "Burglary", "2024-05", 3)
    rows += _rows("a.csv", "W2", "D1", "Burglary", "2024-06", 3)
    rows += _rows("a.csv", "W2", "D1", "Robbery", "2024-01", 1)
    rows += _rows("b.csv", "W3", "D2", "Burglary", "2024-02", 1)
    rows += _rows("b.csv", "W3", "D2", "Burglary", "2024-03", 1)
    rows += _rows("b.csv", "W3", "D2", "Burglary", "2024-04", 2)
    rows += _rows("c.csv", "W3", "D2", "Burglary", "2023-01", 5)
    rows += _rows("c.csv", "W3", "D2", "Robbery", "2023-01", 5)
    return pd.DataFrame(rows)


WARDS = pd.DataFrame({"ward_code": ["W1", "W2", "W3", "W4"],
                      "borough_code": ["D1", "D1", "D2", "D3"]})
POPULATION = pd.Series([1000.0, 2000.0, 500.0, 1000.0], index=WARDS["ward_code"])


def test_each_source_records_its_months_types_and_districts():
    cover = source_coverage(incidents())
    assert cover.loc["a.csv", "months"] == tuple(f"2024-0{m}" for m in range(1, 7))
    assert cover.loc["a.csv", "types"] == ("Burglary", "Robbery")
    assert cover.loc["a.csv", "districts"] == ("D1",)
    assert cover.loc["b.csv", "months"] == ("2024-02", "2024-03", "2024-04")
    assert cover.loc["b.csv", "types"] == ("Burglary",)
    assert cover.loc["c.csv", "months"] == ("2023-01",)
    assert cover.loc["c.csv", "incidents"] == 10


def test_types_counted_are_those_every_district_covers_in_its_own_window():
    plan = incident_coverage(incidents(), window_months=12)
    # D1 has burglary and robbery; D2's window (May 2023 - Apr 2024) has burglary only
    # (c.csv's robbery of Jan 2023 is outside it): burglary is counted
    assert plan.types == ("Burglary",) and not plan.named
    assert plan.months["D1"] == tuple(f"2024-0{m}" for m in range(1, 7))
    # D2's window ends at ITS last covered month (Apr 2024), not at D1's (Jun 2024)
    assert plan.months["D2"] == ("2024-02", "2024-03", "2024-04")
    assert plan.series["D2"] == ("2024-02", "2024-03", "2024-04")
    assert "D3" not in plan.months
    assert plan.words(["D2"]) == "burglary only, Feb 2024 - Apr 2024"
    # an area over both districts counts the months both cover
    assert plan.area_months(["D1", "D2"]) == ("2024-02", "2024-03", "2024-04")


def test_ward_monthly_rates_and_trend_windows_by_hand():
    plan = incident_coverage(incidents(), window_months=12)
    table, notes = covered_pressure(incidents(), WARDS, POPULATION, plan, recent_months=2,
                                    baseline_months=12)
    # W1: 6 burglaries / 6 months / 1,000 residents = 1.0 a month per 1,000
    # W2: 6 / 6 / 2,000 * 1000 = 0.5; W3: 4 / 3 / 500 * 1000 = 2.667; W4: unknown
    assert table["incidents"].tolist()[:3] == [6, 6, 4]
    assert table["incident_months"].tolist()[:3] == [6, 6, 3]
    assert table["incidents_per_1000"].iloc[:3].tolist() == pytest.approx([1.0, 0.5, 8 / 3])
    assert np.isnan(table.loc["W4", "incidents_per_1000"])
    assert np.isnan(table.loc["W4", "incidents"])
    # robbery is covered in D1 over the months counted, not in D2
    assert table.loc["W1", "incidents_robbery"] == 2
    assert table.loc["W2", "incidents_robbery"] == 1
    assert np.isnan(table.loc["W3", "incidents_robbery"])
    assert table.loc["W1", "incidents_counted"] == "burglary only, Jan 2024 - Jun 2024"
    assert table.loc["W3", "incidents_counted"] == "burglary only, Feb 2024 - Apr 2024"
    assert table.loc["W4", "incidents_counted"] == "no incident data"
    # trends: D1 recent May-Jun vs Jan-Apr; D2 recent Mar-Apr vs Feb (not May-Jun: b.csv
    # ends in April, so May and June would be false zeros)
    assert table.loc["W1", "trend_recent_period"] == "2024-05 to 2024-06"
    assert table.loc["W1", "trend_baseline_period"] == "2024-01 to 2024-04"
    assert table.loc["W3", "trend_recent_period"] == "2024-03 to 2024-04"
    assert table.loc["W3", "trend_baseline_period"] == "2024-02 to 2024-02"
    assert table.loc["W1", ["recent_mean", "baseline_mean"]].tolist() == [1.0, 1.0]
    assert table.loc["W2", ["recent_mean", "baseline_mean"]].tolist() == [3.0, 0.0]
    assert table.loc["W3", ["recent_mean", "baseline_mean", "trend_ratio"]].tolist() == [
        1.5, 1.0, 1.5]
    assert pd.isna(table.loc["W4", "trend_recent_period"])
    assert not table.loc["W4", "spike"]
    assert notes == []


def test_shorter_window_and_named_types():
    short = incident_coverage(incidents(), window_months=3)
    assert short.months["D1"] == ("2024-04", "2024-05", "2024-06")
    table, _ = covered_pressure(incidents(), WARDS, POPULATION, short)
    # W1: 3 / 3 / 1000 * 1000 = 1.0; W2: 6 / 3 / 2000 * 1000 = 1.0
    assert table["incidents_per_1000"].iloc[:2].tolist() == pytest.approx([1.0, 1.0])
    both = incident_coverage(incidents(), window_months=12, types=["Burglary", "Robbery"])
    assert both.named and both.types == ("Burglary", "Robbery")
    assert both.months["D2"] == ()  # robbery is not covered in D2's months
    table, notes = covered_pressure(incidents(), WARDS, POPULATION, both, recent_months=3)
    # W1: (6 + 2) / 6 / 1000 * 1000 = 1.333; W3 unknown
    assert table.loc["W1", "incidents_per_1000"] == pytest.approx(8 / 6)
    assert np.isnan(table.loc["W3", "incidents_per_1000"])
    assert table.loc["W1", "incidents_counted"] == (
        "burglary and robbery only, Jan 2024 - Jun 2024")


def test_words_for_what_was_counted():
    assert month_span(["2024-09", "2024-10", "2024-11", "2024-12", "2025-01",
                       "2025-02"]) == "Sep 2024 - Feb 2025"
    assert month_span(["2024-01", "2024-03"]) == "Jan 2024 - Mar 2024, 2 months"
    assert counted_words(["Burglary"], ["2024-09", "2024-10"]) == (
        "burglary only, Sep 2024 - Oct 2024")
    every = vocabulary().types[:14]
    assert counted_words(every, ["2024-09"], every) == "all 14 incident types, Sep 2024"


def test_type_vocabulary_maps_other_spellings():
    vocab = vocabulary()
    assert len([t for t, f in vocab.family.items() if "police.uk" in f]) == 14
    assert {"Community tension", "Hate incident", "Protest"} <= set(vocab.types)
    values = pd.Series(["anti-social-behaviour", "ASB", " burglary ", "Violent crime",
                        "Hate crime", "Something else", None, ""])
    out, unknown = normalise(values)
    assert out.tolist() == ["Anti-social behaviour", "Anti-social behaviour", "Burglary",
                            "Violence and sexual offences", "Hate incident",
                            "Something else", None, None]
    assert unknown == ["Something else"]
    assert parse_setting("burglary; asb ;") == ["Burglary", "Anti-social behaviour"]
    assert parse_setting("") is None


def test_points_over_a_boundary_do_not_make_a_district_covered():
    """A force's file holds crimes just over its boundary: 200 in its own one-ward
    district, 30 spread over a neighbour's 10 wards (3 a ward: 1.5 % of 200 a ward,
    below COVERAGE_MIN_DENSITY's 10 %), though they are 13 % of its points."""
    rows = _rows("force.csv", "C1", "DC", "Burglary", "2024-01", 200)
    rows += [r for w in range(10) for r in _rows("force.csv", f"N{w}", "DN", "Burglary",
                                                   "2024-01", 3)]
    wards = pd.DataFrame({"ward_code": ["C1"] + [f"N{w}" for w in range(10)],
                          "borough_code": ["DC"] + ["DN"] * 10})
    cover = source_coverage(pd.DataFrame(rows), wards)
    assert cover.loc["force.csv", "districts"] == ("DC",)
    # with the neighbour's own file (one burglary a ward), the force's strays are not
    # counted there: 1 / 1 month / 100 residents x 1000 = 10 a month per 1,000
    rows += [r for w in range(10) for r in _rows("own.csv", f"N{w}", "DN", "Burglary",
                                                   "2024-01", 1)]
    frame = pd.DataFrame(rows)
    plan = incident_coverage(frame, wards)
    assert plan.sources.loc["own.csv", "districts"] == ("DN",)
    table, _ = covered_pressure(frame, wards, pd.Series(100.0, index=wards["ward_code"]),
                                plan)
    assert table.loc["N0", "incidents"] == 1
    assert table.loc["N0", "incidents_per_1000"] == pytest.approx(10.0)
    assert table.loc["C1", "incidents"] == 200


def test_import_normalises_types_and_records_coverage_in_provenance(tmp_path):
    """gather_registers (every importer's way into the store): types become the
    vocabulary's, an unknown one is named in a warning, and the file's provenance says
    what it covers, derived from its placed points."""
    import geopandas as gpd
    from shapely.geometry import Point

    from mapper import registers
    from mapper.pipeline import Imported, gather_registers

    boroughs = gpd.GeoDataFrame(
        {"borough_code": ["B1", "B2"], "borough_name": ["Eastham", "Westham"]},
        geometry=fx.grid(1, 2, origin=(0.0, 0.0)).geometry.to_numpy(), crs=27700)
    wards = gpd.GeoDataFrame({"ward_code": ["W1", "W2"], "borough_code": ["B1", "B2"]},
                             geometry=list(boroughs.geometry), crs=27700)
    types = ["anti-social-behaviour", "ASB", "Burglary", "Fly-tipping"]
    frame = pd.DataFrame({"incident_id": [f"i{k}" for k in range(4)],
                          "month": ["2024-09", "2024-10", "2024-10", "2024-11"],
                          "type": types, "source_file": "x.csv"})
    path = tmp_path / "x.csv"
    path.write_text("x\n")
    imp = Imported(kind="incidents",
                   frame=registers.conform(frame, "incidents",
                                           [Point(100 + k * 10, 500) for k in range(4)]),
                   vintage="2024-09 to 2024-11", detail="", rows_read=4, licence="",
                   attribution="", extra={"file": "x.csv", "path": path})
    out, provenance = gather_registers([imp], {"boroughs": boroughs, "wards": wards})[
        "incidents"]
    assert out["type"].tolist() == ["Anti-social behaviour", "Anti-social behaviour",
                                    "Burglary", "Fly-tipping"]
    assert any("'Fly-tipping'" in w.message and "incident_types.csv" in w.message
               for w in imp.warnings)
    assert provenance[0].coverage == "3 types; Sep 2024 - Nov 2024; Eastham"
