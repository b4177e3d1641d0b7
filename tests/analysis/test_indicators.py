"""The indicator registry (mapper/analysis/indicators.py): every ward summary column has an
entry, the README's table lists every entry, and the consumers read it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mapper.analysis import indicators as reg
from mapper.analysis.indicators import combine, format_value, indicator

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def ward_summary(shared_demo):
    from mapper.store import Workspace

    return Workspace(shared_demo).read_layer("ward_summary")


def test_every_ward_summary_column_has_an_entry(ward_summary):
    assert len(ward_summary.columns) > 100  # the demo has every family of columns
    assert reg.unregistered(ward_summary.columns) == []


def test_an_unknown_column_is_named():
    assert reg.unregistered(["population", "new_measure", "geometry"]) == ["new_measure"]
    with pytest.raises(KeyError, match="'new_measure' has no entry"):
        indicator("new_measure")
    # consumers still show it, neutrally
    assert reg.label("new_measure") == "New measure"


def test_readme_table_lists_every_entry():
    text = README.read_text(encoding="utf-8")
    missing = [row for row in reg.readme_rows() if row not in text]
    assert missing == [], "paste `mapper indicators` into the README:\n" + "\n".join(missing)
    assert len(reg.readme_rows()) == len(reg.INDICATORS) + len(reg.PATTERNS)


def test_rules_resolve_families():
    food = indicator("groups_food_per_1000")
    assert (food.label, food.kind, food.aggregate, food.direction, food.group) == (
        "Food groups per 1,000 residents", "rate", "population", "higher is better",
        "Community assets")
    assert indicator("groups_food").aggregate == "sum"
    assert indicator("mean_distance_food_m").kind == "distance"
    assert indicator("incidents_burglary").label == "Incidents: burglary"
    assert indicator("income_score").kind == "share"  # a proportion of residents
    assert indicator("crime_score").kind == "score"
    assert indicator("contrib_supply").short == "Unmet need from few VCS groups"
    # an explicit entry wins over a rule
    assert indicator("groups_total_per_1000_eb").short == (
        "VCS groups per 1,000 residents, smoothed")
    assert indicator("imd_score").group == "Deprivation (English Indices of Deprivation)"


def test_combine_by_each_aggregate():
    wards = pd.DataFrame({
        "population": [1000.0, 3000.0, 0.0],
        "lsoas": [1.0, 1.0, 2.0],
        "groups_total": [2, 4, 1],
        "imd_score": [10.0, 30.0, 99.0],
        "imd_most_deprived_10_share": [1.0, 0.0, 0.5],
        "gap_rank": [1.0, 2.0, 3.0],
        "candidate": [False, True, False],
    })
    assert combine(wards, "groups_total") == 7  # sum
    # population-weighted: (10 x 1000 + 30 x 3000) / 4000; the ward without residents
    # has no weight
    assert combine(wards, "imd_score") == pytest.approx(25.0)
    # by LSOAs: (1 x 1 + 0 x 1 + 0.5 x 2) / 4
    assert combine(wards, "imd_most_deprived_10_share", "lsoas") == pytest.approx(0.5)
    assert math.isnan(combine(wards, "gap_rank"))  # a rank does not combine
    assert combine(wards.iloc[[1]], "gap_rank") == 2.0  # one ward: its own
    assert combine(wards, "candidate") == 1.0
    assert math.isnan(combine(wards, "absent_column"))
    assert math.isnan(combine(wards.assign(groups_total=np.nan), "groups_total"))


def test_format_value_by_column_and_missing_text():
    assert format_value(0.256, "uncovered_share") == "26%"
    assert format_value(1234.4, "population") == "1,234"
    assert format_value(0.1234, "contrib_need") == "+0.12"
    assert format_value(float("nan"), "imd_score") == "no data"
    assert format_value(None, "can_id") == "not in a CAN"
    assert format_value(np.nan, "rate") == "no data"


def test_driver_labels_once():
    assert [reg.driver_label(c) for c in ("need", "supply", "incidents")] == [
        "deprivation (IMD score)", "few VCS groups for the population", "incident pressure"]
    assert reg.driver_label("need", need_by_rank=True) == "deprivation (IMD average rank)"


def test_map_indicator_list_is_grouped_by_the_registry(ward_summary):
    from mapper.maps.priority import indicator_groups, indicators

    groups = indicator_groups(indicators(ward_summary))
    headings = [heading for heading, _ in groups]
    assert headings == [g for g in reg.GROUPS if g in headings]  # registry order
    assert "Identity and flags" not in headings  # nothing there is offered
    by_heading = dict(groups)
    assert ("groups_food_per_1000", "Food groups per 1,000 residents") in by_heading[
        "Community assets"]
    assert [c for c, _ in by_heading["Priority"]][:2] == ["z_need", "contrib_need"]
    assert "spike_p" not in [c for _, items in groups for c, _ in items]


def test_api_schema_describes_ward_properties(shared_demo):
    from mapper.web import create_app

    app = create_app({"TESTING": True, "WORKSPACE": str(shared_demo)})
    schema = json.loads(app.test_client().get("/api/openapi.json").get_data(as_text=True))
    ward = schema["components"]["schemas"]["WardProperties"]
    assert ward["properties"]["imd_score"]["description"].startswith(
        "IMD score: Index of Multiple Deprivation")
    assert "per 1,000 residents" in ward["patternProperties"][
        "^groups_[a-z0-9_]+_per_1000$"]["description"]
    body = app.test_client().get("/api/wards?geometry=false&limit=1").get_json()
    properties = body["features"][0]["properties"]
    import re

    patterns = [re.compile(p) for p in ward["patternProperties"]]
    undescribed = [k for k in properties if k not in ward["properties"]
                   and not any(p.match(k) for p in patterns)]
    assert undescribed == []


def test_one_limit_on_k(tmp_path):
    """The CLI, the API and the incident page share one limit on k."""
    from click.testing import CliRunner

    from mapper.analysis.nearest import K_DEFAULT, K_MAX
    from mapper.cli import cli
    from mapper.web import api, incidents

    assert (K_DEFAULT, K_MAX) == (10, 100)
    assert api.K_MAX is K_MAX and incidents.K_MAX is K_MAX
    result = CliRunner().invoke(
        cli, ["--workspace", str(tmp_path), "nearest", "--at", "51.5", "-0.07", "-k", "101"])
    assert result.exit_code == 2 and "1<=x<=100" in result.output
