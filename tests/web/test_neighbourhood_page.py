"""Neighbourhood and ward pages through Flask's test client, on the demo workspace.

The workspace is built once for the module (``build_demo`` and an analysis with few
stability draws); every expected figure is computed here again, straight from the
workspace layers, and compared with what the page shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from csvfiles import csv_rows
from markupsafe import escape
from page_resources import resource_urls

from mapper import overlay
from mapper.demo import _spike_ward, build_demo_area
from mapper.maps.neighbourhood import Bar, asset_map, domain_chart, popup_html, trend_chart
from mapper.registers import PERSONAL_COLUMNS
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.slow



# -- a small HTML tree, enough to read tables and attributes ------------------------------

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    parent: Node | None = None

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join(" ".join(parts).split())

    def find_all(self, tag: str | None = None, **attrs) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    (child.attrs.get(_attr(k)) == v) if v is not True else (_attr(k) in child.attrs)
                    for k, v in attrs.items()
                ):
                    found.append(child)
                found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str | None = None, **attrs) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]


def _attr(keyword: str) -> str:
    """find_all keyword -> attribute name: data_asset_key -> data-asset-key, class_ -> class."""
    return keyword.rstrip("_").replace("_", "-")


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        if self.current.tag not in ("script", "style"):
            self.current.children.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    return builder.root


# -- the demo workspace ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_workspace(demo_module_copy) -> Workspace:
    return Workspace(demo_module_copy)


@pytest.fixture(scope="module")
def layers(demo_workspace) -> dict:
    names = ("ward_summary", "borough_summary", "neighbourhoods", "groups", "premises", "incidents")
    return {name: overlay.read_layer(demo_workspace, name) for name in names}


@pytest.fixture(scope="module")
def client(demo_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_workspace.directory)})
    return app.test_client()


def get_page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def can_ids(layers) -> list[str]:
    return list(layers["neighbourhoods"]["can_id"])


def can_wards(layers, can_id: str) -> pd.DataFrame:
    wards = layers["ward_summary"]
    return wards[wards["can_id"].astype("string").eq(can_id).fillna(False).to_numpy()]


def sample_ward_codes(layers) -> list[str]:
    """A few wards: the first two, one in a CAN, the one with the most groups."""
    wards = layers["ward_summary"]
    in_can = wards.dropna(subset=["can_id"])["ward_code"].iloc[0]
    busiest = wards.sort_values("groups_total", ascending=False)["ward_code"].iloc[0]
    return list(dict.fromkeys([*wards["ward_code"].iloc[:2], in_can, busiest]))


def weighted(frame: pd.DataFrame, column: str) -> float:
    ok = frame[column].notna() & (frame["population"] > 0)
    return float(np.average(frame.loc[ok, column], weights=frame.loc[ok, "population"]))


def profile_values(page: str) -> dict[str, dict[str, float]]:
    """figure -> comparator key -> value, from the profile table's data attributes."""
    table = parse(page).find("table", id="profile-table")
    out = {}
    for row in table.find_all("tr", data_figure=True):
        out[row.attrs["data-figure"]] = {
            cell.attrs["data-column"]: float(cell.attrs["data-value"])
            for cell in row.find_all("td")
        }
    return out


def asset_keys(page: str, *, shown_only: bool = False) -> list[str]:
    table = parse(page).find("table", id="asset-table")
    rows = table.find_all("tr", data_asset_key=True)
    return [r.attrs["data-asset-key"] for r in rows if not (shown_only and "hidden" in r.attrs)]


def expected_asset_keys(layers, ward_codes) -> set[str]:
    groups, premises = layers["groups"], layers["premises"]
    return {f"group:{i}" for i in groups.loc[groups["ward_code"].isin(ward_codes), "group_id"]} | {
        f"premises:{i}" for i in premises.loc[premises["ward_code"].isin(ward_codes), "premises_id"]
    }


# -- pages ----------------------------------------------------------------------------------


def test_every_neighbourhood_and_some_ward_pages_load(client, layers):
    assert can_ids(layers), "the demo analysis should find at least one CAN"
    for can_id in can_ids(layers):
        page = get_page(client, f"/neighbourhood/{can_id}")
        assert can_id in page
        assert "<svg" in page and 'class="folium-map"' in page
    for code in sample_ward_codes(layers):
        page = get_page(client, f"/ward/{code}")
        name = layers["ward_summary"].set_index("ward_code").loc[code, "ward_name"]
        assert f">{escape(name)}</h1>" in page


def test_neighbourhood_figures_are_population_weighted_over_its_wards(client, layers):
    for can_id in can_ids(layers):
        wards = can_wards(layers, can_id)
        page = get_page(client, f"/neighbourhood/{can_id}")
        values = profile_values(page)
        area = {figure: by_column["area"] for figure, by_column in values.items()}
        assert area["population"] == pytest.approx(wards["population"].sum())
        assert area["imd_score"] == pytest.approx(weighted(wards, "imd_score"))
        assert area["imd_avg_rank"] == pytest.approx(weighted(wards, "imd_avg_rank"))
        assert area["unmet_need"] == pytest.approx(weighted(wards, "unmet_need"))
        assert area["groups_total"] == wards["groups_total"].sum()
        # incidents a month per 1,000 residents: each ward's count over its months
        assert area["incidents_per_1000"] == pytest.approx(
            (wards["incidents"] / wards["incident_months"]).sum()
            / wards["population"].sum() * 1000
        )
        # the unmet need of the CAN as the analysis summarised it
        can = layers["neighbourhoods"].set_index("can_id").loc[can_id]
        assert area["unmet_need"] == pytest.approx(can["unmet_need"])
        assert area["population"] == pytest.approx(can["population"])
        # the page says which wards: each by name and code, linked
        for ward in wards.itertuples():
            assert f'href="/ward/{ward.ward_code}"' in page
            assert str(escape(ward.ward_name)) in page
        assert f"{wards['population'].sum():,.0f}" in page


def test_ward_table_links_every_ward_to_its_profile(client, layers):
    page = get_page(client, "/wards")
    for ward in layers["ward_summary"].itertuples():
        link = f'<a href="/ward/{ward.ward_code}">{escape(ward.ward_name)}</a>'
        assert link in page
        get_page(client, f"/ward/{ward.ward_code}")  # 200: the profile exists


def test_neighbourhood_local_concentration_is_computed_from_its_small_areas(
    client, layers, demo_workspace
):
    """Local concentration does not average across wards: a CAN's is computed from the
    LSOA parts of its wards together (most deprived first, up to 10 % of residents)."""
    deprivation = demo_workspace.read_layer("deprivation").set_index("lsoa_code")
    weights = demo_workspace.read_layer("lsoa_ward_weights")
    for can_id in can_ids(layers):
        codes = set(can_wards(layers, can_id)["ward_code"])
        parts = weights[weights["ward_code"].isin(codes)]
        rank = parts["lsoa_code"].map(deprivation["imd_rank"]).to_numpy(float)
        people = (parts["lsoa_code"].map(deprivation["pop_total"]) * parts["weight"]).to_numpy()
        left = target = people.sum() * 0.1
        total = 0.0
        for r, n in sorted(zip(rank, people, strict=True)):
            take = min(n, left)
            total += (32_845 - r) * take
            left -= take
        values = profile_values(get_page(client, f"/neighbourhood/{can_id}"))
        assert values["imd_local_concentration"]["area"] == pytest.approx(total / target)


def test_comparators_are_the_borough_and_the_study_area(client, layers):
    wards, boroughs = layers["ward_summary"], layers["borough_summary"].set_index("borough_code")
    code = sample_ward_codes(layers)[0]
    ward = wards.set_index("ward_code").loc[code]
    values = profile_values(get_page(client, f"/ward/{code}"))
    borough_key = f"borough:{ward['borough_code']}"
    assert values["imd_score"]["area"] == pytest.approx(ward["imd_score"])
    assert values["population"]["area"] == pytest.approx(ward["population"])
    # deprivation of the borough from borough_summary (whole LSOAs) ...
    assert values["imd_score"][borough_key] == pytest.approx(
        boroughs.loc[ward["borough_code"], "imd_score"]
    )
    # ... its rates from its wards
    in_borough = wards[wards["borough_code"] == ward["borough_code"]]
    assert values["groups_total_per_1000"][borough_key] == pytest.approx(
        weighted(in_borough, "groups_total_per_1000")
    )
    # the study area: population-weighted over every ward
    assert values["imd_score"]["study"] == pytest.approx(weighted(wards, "imd_score"))
    assert values["incidents_per_1000"]["study"] == pytest.approx(
        weighted(wards, "incidents_per_1000")
    )
    assert values["population"]["study"] == pytest.approx(wards["population"].sum())
    # a share of LSOAs (MHCLG's proportion of LSOAs in the most deprived 10 %) combines
    # by the wards' (apportioned) LSOAs, not by residents
    share = wards["imd_most_deprived_10_share"] * wards["lsoas"]
    assert values["imd_most_deprived_10_share"]["study"] == pytest.approx(
        share.sum() / wards["lsoas"].sum()
    )


def test_deprivation_domains_table_and_chart(client, layers):
    can_id = can_ids(layers)[0]
    wards = can_wards(layers, can_id)
    root = parse(get_page(client, f"/neighbourhood/{can_id}"))
    table = root.find("table", id="domain-table")
    rows = {r.attrs["data-domain"]: r for r in table.find_all("tr", data_domain=True)}
    assert {
        "income_score",
        "employment_score",
        "education_score",
        "health_score",
        "crime_score",
        "barriers_score",
        "living_environment_score",
    } <= set(rows)
    for column, row in rows.items():
        first = row.find_all("td")[0]
        assert float(first.attrs["data-value"]) == pytest.approx(weighted(wards, column))
    chart = root.find("svg", role="img")
    assert "domain" in chart.attrs["aria-label"].lower()
    # every bar's value is written as text in the chart, not carried by colour alone
    chart_text = chart.text
    for row in rows.values():
        for cell in row.find_all("td"):
            assert cell.text in chart_text


def _monthly(layers, ward_codes) -> pd.Series:
    incidents = layers["incidents"]
    months = pd.period_range(incidents["month"].min(), incidents["month"].max(), freq="M")
    span = [str(m) for m in months]
    chosen = incidents[incidents["ward_code"].isin(ward_codes)]
    return chosen["month"].value_counts().reindex(span, fill_value=0)


@pytest.mark.parametrize("kind", ["neighbourhood", "ward"])
def test_trend_numbers_match_the_incidents_layer(client, layers, kind):
    if kind == "neighbourhood":
        can_id = can_ids(layers)[0]
        codes, url = list(can_wards(layers, can_id)["ward_code"]), f"/neighbourhood/{can_id}"
    else:
        code = sample_ward_codes(layers)[-1]
        codes, url = [code], f"/ward/{code}"
    expected = _monthly(layers, codes)
    root = parse(get_page(client, url))
    rows = root.find("table", id="trend-table").find_all("tr", data_month=True)
    shown = {r.attrs["data-month"]: int(r.find("td").text) for r in rows}
    assert shown == {m: int(n) for m, n in expected.items()}

    summary = root.find("p", id="trend-summary")
    recent, baseline = expected.iloc[-3:], expected.iloc[-15:-3]
    assert int(summary.attrs["data-recent-total"]) == recent.sum()
    assert float(summary.attrs["data-baseline-mean"]) == pytest.approx(baseline.mean())
    assert "Last 3 months" in summary.text and f"{recent.sum():,}" in summary.text
    assert "previous 12 months' monthly average" in summary.text
    assert f"{baseline.mean():,.1f}" in summary.text
    assert summary.attrs["data-spike"] in ("yes", "no")
    assert f"spike: {summary.attrs['data-spike']}" in summary.text
    if kind == "ward":  # the same trend test as the analysis
        ward = layers["ward_summary"].set_index("ward_code").loc[codes[0]]
        assert (summary.attrs["data-spike"] == "yes") == bool(ward["spike"])
        assert ward["recent_mean"] * 3 == pytest.approx(recent.sum())
    # the chart writes every month's count (and names each month in a tooltip)
    chart = root.find("figure", class_="nb-figure nb-trend").find("svg")
    titles = [t.text for t in chart.find_all("title")]
    for month, count in expected.items():
        assert f"{month}: {count:,} incident{'' if count == 1 else 's'}" in titles


def test_spiking_area_says_so(client, layers):
    wards = layers["ward_summary"]
    spike = wards["spike"].astype(bool)
    # the demo plants a late spike of incidents in one ward (Lindenfield): the analysis finds it
    assert _spike_ward(build_demo_area()) in set(wards.loc[spike, "ward_code"])
    for code in wards.loc[spike, "ward_code"]:
        assert 'data-spike="yes"' in get_page(client, f"/ward/{code}"), code
    quiet = wards.loc[~spike, "ward_code"]
    assert len(quiet) > 0
    assert 'data-spike="no"' in get_page(client, f"/ward/{quiet.iloc[0]}")


def test_asset_table_lists_exactly_the_areas_groups_and_premises(client, layers):
    areas = [
        (f"/neighbourhood/{c}", list(can_wards(layers, c)["ward_code"])) for c in can_ids(layers)
    ]
    areas += [(f"/ward/{code}", [code]) for code in sample_ward_codes(layers)]
    for url, codes in areas:
        page = get_page(client, url)
        keys = asset_keys(page)
        assert len(keys) == len(set(keys))
        assert set(keys) == expected_asset_keys(layers, codes), url
        # the map has one marker per asset, keyed the same way
        for key in keys:
            assert f'"assetId": "{key}"' in page


def test_asset_rows_show_name_kind_category_offer_and_a_warning_when_stale(client, layers):
    code = sample_ward_codes(layers)[-1]
    groups = layers["groups"][layers["groups"]["ward_code"] == code]
    root = parse(get_page(client, f"/ward/{code}"))
    rows = {
        r.attrs["data-asset-key"]: r
        for r in root.find("table", id="asset-table").find_all("tr", data_asset_key=True)
    }
    cutoff = pd.Timestamp(date.today()) - pd.DateOffset(months=12)
    stale_seen = 0
    for group in groups.itertuples():
        row = rows[f"group:{group.group_id}"]
        text = row.text
        assert group.name in text and group.category in text and "VCS group" in text
        if isinstance(group.emergency_offer, str) and group.emergency_offer:
            assert group.emergency_offer in text
            assert group.offer_source in text  # where each capability came from
        stale = pd.Timestamp(group.last_verified) < cutoff
        assert ("check before relying on it" in text) == stale, group.last_verified
        day = pd.Timestamp(group.last_verified)  # written as a person writes it
        assert f"{day.day} {day:%b %Y}" in text and str(group.last_verified) not in text
        stale_seen += stale
    assert stale_seen, "the demo ward should have a record not verified for a year"


def test_filters_and_sorting_work_without_javascript(client, layers):
    code = sample_ward_codes(layers)[-1]
    everything = asset_keys(get_page(client, f"/ward/{code}"))
    premises_only = asset_keys(
        get_page(client, f"/ward/{code}?category=kind:premises"), shown_only=True
    )
    assert premises_only and all(k.startswith("premises:") for k in premises_only)
    assert set(premises_only) == {k for k in everything if k.startswith("premises:")}

    groups = layers["groups"][layers["groups"]["ward_code"] == code]
    category = groups["category"].iloc[0]
    shown = asset_keys(get_page(client, f"/ward/{code}?category=group:{category}"), shown_only=True)
    assert set(shown) == {
        f"group:{g}" for g in groups.loc[groups["category"] == category, "group_id"]
    }

    name = groups["name"].iloc[0]
    word = name.split()[0]
    found = asset_keys(get_page(client, f"/ward/{code}?q={word.lower()}"), shown_only=True)
    assert f"group:{groups['group_id'].iloc[0]}" in found
    assert asset_keys(get_page(client, f"/ward/{code}?q=zzznothing"), shown_only=True) == []

    page = get_page(client, f"/ward/{code}?sort=-verified")
    root = parse(page)
    rows = root.find("table", id="asset-table").find_all("tr", data_asset_key=True)
    dates = [r.find_all("td")[-1].attrs["data-sort-value"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    header = [
        th
        for th in root.find("table", id="asset-table").find_all("th", scope="col")
        if "aria-sort" in th.attrs
    ]
    assert len(header) == 1 and header[0].attrs["aria-sort"] == "descending"
    assert "Last verified" in header[0].text
    # every header is a button that submits ?sort= (a form, so it works without JS)
    buttons = root.find("table", id="asset-table").find_all("button", data_sort=True)
    assert {b.attrs["data-sort"] for b in buttons} == {
        "name",
        "kind",
        "category",
        "address",
        "offer",
        "verified",
    }
    assert all(
        b.attrs.get("form") == "asset-sort" and b.attrs.get("name") == "sort" for b in buttons
    )

    names = [
        r.find("th").attrs["data-sort-value"]
        for r in parse(get_page(client, f"/ward/{code}?sort=name"))
        .find("table", id="asset-table")
        .find_all("tr", data_asset_key=True)
    ]
    assert names == sorted(names)


def test_unknown_ids_are_404_with_the_valid_ones(client, layers):
    page = get_page(client, "/neighbourhood/CAN-99", 404)
    for can_id in can_ids(layers):
        assert can_id in page
    page = get_page(client, "/ward/E05999999", 404)
    assert "no ward with the code" in page
    for code in layers["ward_summary"]["ward_code"]:
        assert code in page
    page = get_page(client, "/ward/E0599001", 404)  # a code missing a digit
    assert "Did you mean" in page
    page = get_page(client, f"/neighbourhood/{can_ids(layers)[0]}/assets.xlsx", 404)
    assert "assets.csv" in page and "assets.geojson" in page
    get_page(client, "/neighbourhood/CAN-99/assets.csv", 404)


def test_lower_case_ids_redirect_to_the_page(client, layers):
    can_id = can_ids(layers)[0]
    response = client.get(f"/neighbourhood/{can_id.lower()}")
    assert response.status_code == 301 and response.location.endswith(f"/neighbourhood/{can_id}")
    code = layers["ward_summary"]["ward_code"].iloc[0]
    response = client.get(f"/ward/{code.lower()}")
    assert response.status_code == 302 and response.location.endswith(f"/ward/{code}")


# -- exports ----------------------------------------------------------------------------------


def _export_areas(layers):
    can_id = can_ids(layers)[0]
    code = sample_ward_codes(layers)[-1]
    return [
        (f"/neighbourhood/{can_id}", list(can_wards(layers, can_id)["ward_code"])),
        (f"/ward/{code}", [code]),
    ]


def test_csv_export_has_the_areas_assets_with_sources_and_no_personal_data(client, layers):
    for url, codes in _export_areas(layers):
        response = client.get(f"{url}/assets.csv")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = csv_rows(response.data)
        keys = {f"{r['kind']}:{r['asset_id']}" for r in rows}
        assert len(rows) == len(keys) == len(expected_asset_keys(layers, codes))
        assert keys == expected_asset_keys(layers, codes)
        columns = set(rows[0])
        assert {
            "source",
            "source_file",
            "licence",
            "attribution",
            "longitude",
            "latitude",
            "easting",
            "northing",
            "last_verified",
        } <= columns
        assert not columns & set(PERSONAL_COLUMNS)
        assert all(r["attribution"] and r["licence"] for r in rows)
        assert_no_personal_values(response.get_data(as_text=True), layers)


def test_geojson_export_carries_attribution_and_no_personal_data(client, layers):
    for url, codes in _export_areas(layers):
        response = client.get(f"{url}/assets.geojson")
        assert response.status_code == 200
        data = json.loads(response.get_data(as_text=True))
        assert data["type"] == "FeatureCollection"
        assert len(data["features"]) == len(expected_asset_keys(layers, codes))
        assert data["attribution"] and data["licences"] and data["provenance"]
        assert data["synthetic"] is True
        assert sorted(data["area"]["ward_codes"]) == sorted(codes)
        for feature in data["features"]:
            assert not set(feature["properties"]) & set(PERSONAL_COLUMNS)
            lon, lat = feature["geometry"]["coordinates"]
            assert -1 < lon < 1 and 50 < lat < 53  # WGS84 around London, not metres
        assert_no_personal_values(response.get_data(as_text=True), layers)


def test_exports_respect_the_filter(client, layers):
    url, codes = _export_areas(layers)[1]
    rows = csv_rows(client.get(f"{url}/assets.csv?category=kind:group").data)
    expected = {k for k in expected_asset_keys(layers, codes) if k.startswith("group:")}
    assert {f"{r['kind']}:{r['asset_id']}" for r in rows} == expected
    data = json.loads(client.get(f"{url}/assets.geojson?q=zzznothing").get_data(as_text=True))
    assert data["features"] == [] and data["filters"] == {"q": "zzznothing"}


# -- no personal data, no outside requests ------------------------------------------------------


def personal_values(layers) -> set[str]:
    groups = layers["groups"]
    values = set()
    for column in PERSONAL_COLUMNS:
        if column in groups:
            values |= {str(v) for v in groups[column].dropna() if str(v).strip()}
    return values


def assert_no_personal_values(text: str, layers) -> None:
    found = sorted(v for v in personal_values(layers) if v in text or str(escape(v)) in text)
    assert not found, f"personal data on the page or in the export: {found[:5]}"


def every_page(layers) -> list[str]:
    return (
        ["/neighbourhoods"]
        + [f"/neighbourhood/{c}" for c in can_ids(layers)]
        + [f"/ward/{code}" for code in layers["ward_summary"]["ward_code"]]
    )


def test_no_contact_details_on_any_page(client, layers):
    assert any("@" in v for v in personal_values(layers)), "the demo groups have e-mails"
    for url in every_page(layers):
        page = get_page(client, url)
        assert_no_personal_values(page, layers)
    page = get_page(client, every_page(layers)[1])
    assert "Contact details are hidden: officers" in page and "after signing in" in page


def test_no_external_script_or_stylesheet(client, layers):
    for url in every_page(layers)[:3]:
        resources = resource_urls(get_page(client, url))
        assert resources, url
        for resource in resources:
            parts = urlsplit(resource)
            assert parts.scheme in ("", "data") and not parts.netloc, (url, resource)
            if parts.scheme != "data":
                response = client.get(resource)
                response.close()  # static files are streamed: close them
                assert response.status_code == 200, resource
        assert "/static/neighbourhood.css" in resources
        assert "/static/neighbourhood.js" in resources


def test_synthetic_banner_and_data_sources(client, layers):
    for url in every_page(layers)[:3]:
        page = get_page(client, url)
        assert "Synthetic demo data — not real places" in page
        assert "Data sources" in page and "demo_groups.geojson" in page
        assert "Synthetic data generated by mapper" in page  # the licence column


# -- the index ----------------------------------------------------------------------------------


def test_index_lists_every_neighbourhood_and_searches_wards(client, layers):
    page = get_page(client, "/neighbourhoods")
    for row in layers["neighbourhoods"].itertuples():
        assert f'href="/neighbourhood/{row.can_id}"' in page
        assert str(escape(row.name)) in page
    wards = layers["ward_summary"]
    for code in wards["ward_code"]:
        assert f'href="/ward/{code}"' in page

    name = wards["ward_name"].iloc[0]
    fragment = name[:4].lower()
    root = parse(get_page(client, f"/neighbourhoods?q={fragment}"))
    rows = root.find("table", id="ward-table").find_all("tr", data_search=True)
    shown = {r.find("code").text for r in rows if "hidden" not in r.attrs}
    expected = set(
        wards.loc[
            wards["ward_name"].str.lower().str.contains(fragment)
            | wards["ward_code"].str.lower().str.contains(fragment)
            | wards["borough_name"].str.lower().str.contains(fragment),
            "ward_code",
        ]
    )
    assert shown == expected and wards["ward_code"].iloc[0] in shown

    code = wards["ward_code"].iloc[3]
    response = client.get(f"/neighbourhoods?q={code.lower()}")
    assert response.status_code == 302 and response.location.endswith(f"/ward/{code}")
    response = client.get(f"/neighbourhoods?q={wards['ward_name'].iloc[3]}")
    assert response.status_code == 302


def test_pages_need_an_analysed_workspace(tiny_workspace):
    client = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)}).test_client()
    for url in ("/neighbourhoods", "/neighbourhood/CAN-01", "/ward/E05900001"):
        response = client.get(url)
        assert response.status_code == 404
        assert "mapper analyse" in response.get_data(as_text=True)


# -- the figures' builders ---------------------------------------------------------------------


def test_popups_escape_text_for_html_and_javascript():
    html = popup_html(
        {
            "kind": "group",
            "name": "<b>A & B</b> `${alert(1)}` C:\\u",
            "category": "faith",
            "emergency_offer": "food",
            "last_verified": None,
        }
    )
    assert "<b>" not in html and "&lt;b&gt;A &amp; B&lt;/b&gt;" in html
    assert "`" not in html and "${" not in html and "\\" not in html
    assert "Last verified: never" in html


def test_asset_map_checks_its_inputs(layers):
    wards = layers["ward_summary"]
    area = wards.iloc[:1][["ward_code", "ward_name", "borough_name", "geometry"]]
    assets = gpd.GeoDataFrame(
        {
            "asset_id": ["x"],
            "kind": ["shop"],
            "name": ["n"],
            "category": ["c"],
            "emergency_offer": [""],
            "last_verified": [""],
        },
        geometry=[area.geometry.iloc[0].representative_point()],
        crs=area.crs,
    )
    with pytest.raises(ValueError, match="kind must be one of"):
        asset_map(area, assets)
    with pytest.raises(ValueError, match="EPSG:27700"):
        asset_map(area.to_crs("EPSG:4326"), assets.assign(kind="group"))
    m = asset_map(area, assets.assign(kind="group"))
    assert '"assetId": "group:x"' in m.get_root().render()


def test_charts_write_every_value_as_text():
    svg = domain_chart(
        [("Income", [Bar("This ward", 0.2, "20.0%", 0), Bar("Borough", -0.1, "-10.0%", 1)])],
        title="t",
    )
    assert "20.0%" in svg and "-10.0%" in svg and 'role="img"' in svg
    svg = trend_chart(
        ["2024-01", "2024-02", "2024-03"],
        [1, 0, 7],
        recent=1,
        baseline_months=["2024-01", "2024-02"],
        baseline_mean=0.5,
        title="t",
    )
    assert ">7<" in svg and "Last 1 month" in svg and "0.5" in svg
    with pytest.raises(ValueError, match="months but"):
        trend_chart(["2024-01"], [], recent=0, baseline_months=[], baseline_mean=None, title="t")


def test_an_area_without_groups_premises_or_incidents_still_has_a_page(client, layers, monkeypatch):
    from mapper.web import data

    real = data.layer

    def without_points(name, *, required=True):
        return (
            None if name in ("groups", "premises", "incidents") else real(name, required=required)
        )

    monkeypatch.setattr(data, "layer", without_points)
    monkeypatch.setattr(data, "_entries", {})  # nothing computed from the real layers
    code = sample_ward_codes(layers)[0]
    page = get_page(client, f"/ward/{code}")
    assert "No groups or premises are recorded in this area." in page
    assert "The workspace has no incidents." in page
    assert asset_keys(page) == []
    rows = csv_rows(get_page(client, f"/ward/{code}/assets.csv"))
    assert rows == []
    data_ = json.loads(get_page(client, f"/ward/{code}/assets.geojson"))
    assert data_["features"] == []


def test_no_trend_when_months_are_missing_from_the_data(tmp_path, shared_demo):
    """Incidents of two months ten apart (two police.uk downloads): the months between
    hold no data, so the ward page says why there is no trend rather than a spike."""
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(shared_demo, copy)
    workspace = Workspace(copy)
    incidents = workspace.read_layer("incidents")
    months = sorted(incidents["month"].dropna().unique())
    first, last = months[0], months[-1]
    incidents["month"] = np.where(np.arange(len(incidents)) % 2 == 0, first, last)
    incidents["date"] = None
    with workspace.transaction() as tx:
        tx.write_layer("incidents", incidents)
    code = incidents["ward_code"].dropna().iloc[0]
    app = create_app({"TESTING": True, "WORKSPACE": str(copy)})
    page = " ".join(app.test_client().get(f"/ward/{code}").get_data(as_text=True).split())
    # the trend runs over the last unbroken run of covered months: the last month only
    assert "No trend: a trend needs at least 4 months of incidents" in page
    assert f"the sources cover {pd.Period(last, 'M').strftime('%b %Y')} here" in page
    assert 'id="trend-summary"' not in page


def test_a_neighbourhood_page_says_why_it_was_chosen_and_how_stable_it_is(client):
    import re

    cans = Workspace(client.application.config["WORKSPACE"]).read_layer("neighbourhoods")
    row = cans.iloc[0]
    page = client.get(f"/neighbourhood/{row['can_id']}").get_data(as_text=True)
    assert f"<strong>Why chosen:</strong> {escape(row['reasons'])}." in page
    share = f"{row['stability']:.0%}"  # a share of 10 % or more: a whole percent
    assert re.search(rf"<strong>Stability:</strong> {row['stability_label']}, kept in\s+"
                     rf"{re.escape(share)} of the re-runs", page)


def test_ward_profile_says_which_figures_to_read_with_care(client, layers):
    from markupsafe import escape

    wards = layers["ward_summary"].set_index("ward_code")
    reason = wards.loc["E05990009", "unreliable_reason"]  # Lindenfield: incidents capped
    assert reason.startswith("Incidents per 1,000 residents")
    page = get_page(client, "/ward/E05990009")
    assert "Figures to read with care" in page and str(escape(reason)) in page
    sound = wards.index[~wards["unreliable"].astype(bool)][0]
    assert "Figures to read with care" not in get_page(client, f"/ward/{sound}")


def test_the_need_driver_names_the_measure_the_index_used():
    """West Yorkshire's IoD files have ranks but no IMD scores: its CAN pages said need was
    'deprivation (IMD score)' next to an IMD score row reading '–'."""
    from mapper.web.neighbourhoods import Area, _drivers

    def area(scores):
        wards = gpd.GeoDataFrame({"ward_code": ["E05000001", "E05000002"],
                                  "imd_score": scores}, geometry=[None, None])
        return Area("neighbourhood", "CAN-01", "A & B", wards,
                    summary={"top_drivers": "need; incidents"})

    assert _drivers(area([float("nan"), float("nan")])) == [
        "deprivation (IMD average rank)", "incident pressure"]
    assert _drivers(area([31.6, float("nan")])) == [
        "deprivation (IMD score)", "incident pressure"]


def test_a_one_ward_neighbourhood_says_ward_not_wards(client, layers):
    for can_id in can_ids(layers):
        n = len(can_wards(layers, can_id))
        page = " ".join(get_page(client, f"/neighbourhood/{can_id}").split())
        said = "1 ward (" if n == 1 else f"{n} wards ("
        assert f"population-weighted over its {said}" in page, can_id
