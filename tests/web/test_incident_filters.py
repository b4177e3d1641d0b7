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


# -- the same filter on the other pages, the CAN figures and the API ---------------------


def _window(incidents, first, last, kind=None) -> pd.DataFrame:
    keep = (incidents["month"] >= first) & (incidents["month"] <= last)
    if kind:
        keep &= incidents["type"] == kind
    return incidents[keep]


def _cells(page: str, figure: str) -> list[str]:
    import re

    row = re.search(rf'<tr data-figure="{figure}">.*?</tr>', page, re.S)
    assert row, figure
    return re.findall(r'data-value="([^"]*)"', row.group(0))


def test_a_ward_page_counts_what_its_filter_chooses(client, incidents, shared_demo):
    months = sorted(incidents["month"].unique())
    first, last = months[2], months[7]
    chosen = _window(incidents, first, last, "Burglary")
    code = chosen["ward_code"].value_counts().index[0]
    mine = int((chosen["ward_code"] == code).sum())
    wards = overlay.read_layer(Workspace(shared_demo), "ward_summary")
    covered = set(wards.loc[wards["incidents"].notna(), "ward_code"])
    study = int(chosen["ward_code"].isin(covered).sum())
    page = client.get(f"/ward/{code}?incidents_from={first}&incidents_to={last}"
                      "&incident_type=burglary").get_data(as_text=True)
    cells = _cells(page, "incidents")
    assert float(cells[0]) == mine and float(cells[-1]) == study
    span = pd.Period(first, "M").strftime("%b %Y") + " - " + \
        pd.Period(last, "M").strftime("%b %Y")
    assert f"burglary, {span}, {mine:,} incident" in page  # the page says what is counted
    # the smoothed rate is the filter's too (not the analysis's)
    stored = float(wards.loc[wards["ward_code"] == code, "incidents_per_1000_eb"].iloc[0])
    assert float(_cells(page, "incidents_per_1000_eb")[0]) != pytest.approx(stored)
    # the asset filters and sort keep the incident filter
    assert page.count('<input type="hidden" name="incident_type" value="Burglary">') == 2
    plain = client.get(f"/ward/{code}").get_data(as_text=True)
    assert float(_cells(plain, "incidents")[0]) == float(
        wards.loc[wards["ward_code"] == code, "incidents"].iloc[0])


def test_a_bad_filter_is_a_400_naming_the_known_types(client):
    response = client.get("/ward/E05990001?incidents_from=2024-13&incident_type=Arsonn")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "incidents_from &#39;2024-13&#39; must be a month written YYYY-MM" in text
    assert "Arsonn" in text and "Burglary, Community tension" in text
    api = client.get("/api/incidents?from=2025-06&to=2025-01&type=Arsonn")
    assert api.status_code == 400
    error = api.get_json()["error"]
    assert "from (2025-06) must not be after to (2025-01)" in error
    assert "unknown incident type" in error and "Burglary" in error


def test_the_api_takes_the_same_filter(client, incidents):
    months = sorted(incidents["month"].unique())
    first, last = months[1], months[4]
    expected = len(_window(incidents, first, last, "Anti-social behaviour"))
    body = client.get(f"/api/incidents?from={first}&to={last}&type=asb&limit=5000&"
                      "geometry=false").get_json()
    assert len(body["features"]) == expected > 0
    assert {f["properties"]["type"] for f in body["features"]} == {"Anti-social behaviour"}


def test_can_figures_and_downloads_follow_the_filter(client, incidents, shared_demo):
    wards = overlay.read_layer(Workspace(shared_demo), "ward_summary")
    cans = overlay.read_layer(Workspace(shared_demo), "neighbourhoods")
    can = str(cans.sort_values("rank")["can_id"].iloc[0])
    codes = set(wards.loc[wards["can_id"] == can, "ward_code"])
    inside = incidents[incidents["ward_code"].isin(codes) & (incidents["type"] == "Burglary")]
    month = inside["month"].value_counts().index[0]  # a month with burglaries there
    hand = int(_window(incidents, month, month, "Burglary")["ward_code"].isin(codes).sum())
    assert hand > 0
    query = f"incidents_from={month}&incidents_to={month}&incident_type=Burglary"
    page = client.get(f"/neighbourhood/{can}?{query}").get_data(as_text=True)
    assert float(_cells(page, "incidents")[0]) == hand
    geo = client.get(f"/neighbourhood/{can}/boundary.geojson?{query}").get_json()
    assert geo["features"][0]["properties"]["incidents"] == hand
    assert geo["filters"]["incidents_counted"].startswith("burglary, ")
    csv = csv_rows(client.get(f"/neighbourhoods/boundaries.csv?indicator=incidents&{query}")
                   .get_data(as_text=True))
    mine = [r for r in csv if r["can_id"] == can]
    assert sum(float(r["incidents"] or 0) for r in mine) == hand
    # the priority page's CAN table counts the same, and its links keep the filter
    table = client.get(f"/priority?{query}").get_data(as_text=True)
    link = f'/neighbourhood/{can}?incidents_from={month}&amp;incidents_to={month}' \
        '&amp;incident_type=Burglary'
    assert link in table
    row = table[table.index(link):]
    row = row[:row.index("</tr>")]
    import re

    numbers = re.findall(r'<td class="pr-num">([^<]*)</td>', row)
    assert numbers[5] == f"{hand:,}"  # wards, population, unmet need, groups, premises


def test_the_ogc_incidents_take_a_type_by_the_same_rule(client, incidents):
    expected = int((incidents["type"] == "Anti-social behaviour").sum())
    body = client.get("/ogc/collections/incidents/items?type=asb&limit=10000").get_json()
    assert body["numberMatched"] == expected > 0
    assert {f["properties"]["type"] for f in body["features"]} == {"Anti-social behaviour"}
    both = client.get("/ogc/collections/incidents/items?type=asb,Burglary&limit=1").get_json()
    assert both["numberMatched"] == expected + int((incidents["type"] == "Burglary").sum())
    bad = client.get("/ogc/collections/incidents/items?type=Arsonn")
    assert bad.status_code == 400
    assert "unknown incident type" in bad.get_data(as_text=True)
    assert client.get("/ogc/collections/groups/items?type=asb").status_code == 400


def test_an_open_side_is_the_analysis_window_never_crossing_the_side_given(client, incidents):
    months = sorted(incidents["month"].unique())
    code = incidents["ward_code"].value_counts().index[0]
    mine = incidents[incidents["ward_code"] == code]
    # the analysis window (the demo's: the last 12 months) starts after months[0]: a "to"
    # before it counts that month alone
    page = client.get(f"/ward/{code}?incidents_to={months[0]}").get_data(as_text=True)
    assert float(_cells(page, "incidents")[0]) == int((mine["month"] == months[0]).sum())
    # a "from" alone runs to the data's last month
    page = client.get(f"/ward/{code}?incidents_from={months[-3]}").get_data(as_text=True)
    assert float(_cells(page, "incidents")[0]) == int((mine["month"] >= months[-3]).sum())
