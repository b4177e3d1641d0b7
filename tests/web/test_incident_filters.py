"""The priority page's incident filters (months and type) apply alike to the points,
the heatmap, the ward figures (choropleth, tooltips, table) and the exports; the page
and the legend say what is counted; the heatmap's script is served by the app."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from csvfiles import csv_rows

from mapper import overlay
from mapper.maps.assets import asset_url
from mapper.store import Workspace
from mapper.web import create_app


@pytest.fixture(scope="module")
def client(shared_demo):
    return create_app({"TESTING": True, "WORKSPACE": str(shared_demo)}).test_client()


@pytest.fixture(scope="module")
def incidents(shared_demo) -> pd.DataFrame:
    return overlay.read_layer(Workspace(shared_demo), "incidents")


def _expected(incidents, month, kind=None) -> pd.Series:
    """Incidents per ward in one month (and type), counted by hand."""
    keep = incidents["month"] == month
    if kind:
        keep &= incidents["type"] == kind
    return incidents[keep].groupby("ward_code").size()


def test_the_export_counts_what_the_filter_chooses(client, incidents):
    month = sorted(incidents["month"].unique())[-1]
    kind = "Anti-social behaviour"
    expected = _expected(incidents, month, kind)
    assert expected.sum() > 0
    response = client.get(f"/priority/export.csv?indicator=incidents&incidents_from={month}"
                          f"&incidents_to={month}&incident_type=asb")
    assert response.status_code == 200
    rows = csv_rows(response.get_data(as_text=True))
    got = {r["ward_code"]: float(r["incidents"]) for r in rows if r["incidents"] not in ("",)}
    assert got, "no incident figures exported"
    for code, value in got.items():
        assert value == expected.get(code, 0), code
    counted = {r["incidents_counted"] for r in rows if r["incidents_counted"]}
    assert len(counted) == 1 and counted.pop().startswith("anti-social behaviour, ")


def test_the_choropleth_and_page_follow_the_filter(client, incidents):
    months = sorted(incidents["month"].unique())
    whole = client.get("/priority?indicator=incidents").get_data(as_text=True)
    one = client.get(f"/priority?indicator=incidents&incidents_from={months[-1]}"
                     f"&incidents_to={months[-1]}").get_data(as_text=True)
    total = int(_expected(incidents, months[-1]).sum())
    month_word = pd.Period(months[-1], "M").strftime("%b %Y")
    words = f"all incident types, {month_word}, {total:,} incidents"
    assert words in one  # the page and the legend say what is counted
    assert "Counted: " + words in one.replace("\\u0026", "&")
    assert words not in whole
    assert one != whole


def test_the_map_has_a_local_heatmap_and_outlined_gaps(client):
    page = client.get("/priority").get_data(as_text=True)
    assert "L.heatLayer" in page and "Heatmap of incidents" in page
    assert asset_url("leaflet_heat") in page
    assert "cdn.jsdelivr" not in page
    assert '"fillOpacity": 0' in page  # gaps: an outline over the choropleth
    with client.get(asset_url("leaflet_heat")) as script:
        assert script.status_code == 200 and b"heatLayer" in script.data


def test_the_page_holds_the_filter_in_one_object(client, incidents):
    month = sorted(incidents["month"].unique())[-1]
    page = client.get(f"/priority?incidents_from={month}&incident_type=Burglary")
    text = page.get_data(as_text=True)
    start = text.index('data-incident-filter="') + len('data-incident-filter="')
    raw = text[start:text.index('"', start)]
    import html

    state = json.loads(html.unescape(raw))
    assert state == {"incidents_from": month, "incidents_to": month,
                     "incident_type": "Burglary"}


def test_the_geojson_export_names_its_incident_filter(client, incidents):
    month = sorted(incidents["month"].unique())[-1]
    body = client.get(f"/priority/export.geojson?incidents_from={month}&incidents_to={month}"
                      "&incident_type=Burglary").get_json()
    chosen = body["filters"]
    total = int(_expected(incidents, month, "Burglary").sum())
    assert chosen["incident_type"] == "Burglary" and chosen["incidents_from"] == month
    assert chosen["incidents_counted"].endswith(f", {total:,} incident{'' if total == 1 else 's'}")
    got = sum(f["properties"]["incidents"] or 0 for f in body["features"])
    assert got == total
