"""Layers that work together on the priority and overview pages (issue 18): zoomed out
the point layers show the analysis's counts per ward (the incidents of the page's own
filter), the coverage gaps are hatched (an SVG pattern over an outline), and the
overlays' legend has an entry per overlay, saying whether counts or markers are shown."""

from __future__ import annotations

import json
import re

import pytest

from mapper import overlay
from mapper.analysis.incidents import IncidentFilter, filtered_ward_incidents
from mapper.maps.points import COUNTS_ZOOM
from mapper.store import Workspace
from mapper.web import create_app


@pytest.fixture(scope="module")
def client(shared_demo):
    return create_app({"WORKSPACE": str(shared_demo), "TILES": "none"}).test_client()


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def ward_counts_in(page: str) -> dict[str, dict[str, int]]:
    """kind -> {ward name: count} of every point layer's counts per ward in the page."""
    found = {}
    for match in re.finditer(r'var kind = "(\w+)";.*?counts: (\[.*?\]),\s*nouns', page,
                             re.DOTALL):
        found[match.group(1)] = {row[2]: row[3] for row in json.loads(match.group(2))}
    return found


def test_point_layers_carry_the_analysis_counts_per_ward(client, shared_demo):
    page = _page(client, "/priority")
    wards = Workspace(shared_demo).read_layer("ward_summary")
    counts = ward_counts_in(page)
    assert set(counts) == {"groups", "premises", "incidents"}
    for kind, column in (("groups", "groups_total"), ("premises", "premises_total")):
        expected = {str(r.ward_name): int(getattr(r, column))
                    for r in wards.itertuples() if getattr(r, column) > 0}
        assert counts[kind] == expected, kind
    assert sum(counts["groups"].values()) == int(wards["groups_total"].sum()) > 0
    # the script that switches counts and markers comes before the map's own script
    assert page.index("/static/maplayers.js") < page.index("MapLayers.pointSwitch(")
    assert f"closeZoom: {COUNTS_ZOOM}" in page


def test_incident_counts_follow_the_page_filter(client, shared_demo):
    workspace = Workspace(shared_demo)
    incidents = overlay.read_layer(workspace, "incidents")
    wards = workspace.read_layer("ward_summary")
    month = sorted(incidents["month"].astype(str).unique())[-1]
    kind = "Anti-social behaviour"
    page = _page(client, f"/priority?incidents_from={month}&incidents_to={month}"
                         f"&incident_type={kind}")
    figures = filtered_ward_incidents(incidents, wards[["ward_code", "population"]],
                                      IncidentFilter(month, month, kind))["incidents"]
    names = dict(zip(wards["ward_code"].astype(str), wards["ward_name"], strict=True))
    expected = {names[code]: int(n) for code, n in figures.items() if n > 0}
    assert expected and ward_counts_in(page)["incidents"] == expected
    # fewer than without the filter
    everything = ward_counts_in(_page(client, "/priority"))["incidents"]
    assert sum(expected.values()) < sum(everything.values())


def test_gaps_are_hatched_and_the_overlays_have_one_legend(client):
    page = _page(client, "/priority")
    assert '"fillColor": "url(#map-hatch)"' in page and "renderer: L.svg(" in page
    assert '"fillOpacity": 0}' not in page  # no see-through fill pretending to be none
    # the gaps' key in the layer control and in the legend: the same pattern
    assert page.count('fill=\\"url(#map-hatch)\\"') >= 2
    assert page.count("OverlayLegend") == 0  # (the class name is not in the page)
    assert "pr-legend-entry" in page
    for noun in ("groups", "premises", "incidents"):
        assert f'data-point-mode=\\"{noun}\\"' in page
        assert f"Shown: {noun} per ward (circles); zoom in for each one" in page


def test_overview_groups_show_counts_per_ward(client, shared_demo):
    page = _page(client, "/")
    wards = Workspace(shared_demo).read_layer("ward_summary")
    counts = ward_counts_in(page)
    assert set(counts) == {"groups"}
    assert sum(counts["groups"].values()) == int(wards["groups_total"].sum())
    assert page.index("/static/maplayers.js") < page.index("MapLayers.pointSwitch(")
