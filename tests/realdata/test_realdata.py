"""Real-data runs on the London open data in ../shared/data/london (see realdata.py)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from realdata import london_dir

from mapper import overlay
from mapper.pipeline import build, plan_build, summary_lines
from mapper.sources import Skipped, detect_file
from mapper.store import Workspace

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def london():
    return london_dir()


@pytest.fixture(scope="module")
def london_workspace(shared_london):
    """The London build shared by the run (conftest.shared_london): read-only."""
    return Workspace(shared_london.directory), shared_london.report


EXPECTED_KINDS = {
    "london_boroughs_lad22.geojson": ("boroughs", "2022"),
    "london_wards_2018.geojson": ("wards", "2018"),
    "london_wards_2018_city_split.geojson": ("wards", "2018"),
    "london_lsoa_2011.geojson": ("lsoas", "2011"),
    "london_lsoa_2021.geojson": ("lsoas", "2021"),
    "london_iod2019_lsoa.csv": ("deprivation", "IoD2019 / LSOA 2011"),
    "london_lsoa11_to_ward19_lookup.csv": ("lsoa_ward_lookup", "LSOA 2011 -> ward 2019"),
    "london_lsoa21_to_ward25_lookup.csv": ("lsoa_ward_lookup", "LSOA 2021 -> ward 2025"),
    "london_lsoa_population_mid2020.csv": ("population", "mid-2020 / LSOA 2011"),
    "london_postcodes_codepoint_open_2025.csv": ("postcodes", "2025"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_each_real_file_is_recognised_from_its_content(london, name):
    found = detect_file(london / name)
    assert not isinstance(found, Skipped), found
    assert (found.kind, found.vintage) == EXPECTED_KINDS[name]


def test_every_file_is_used_or_skipped_with_a_reason(london):
    plan = plan_build(london)
    reasons = {s.name: s.reason for s in plan.skipped}
    assert "File 8" in reasons["london_iod2019_underlying_indicators_lsoa.csv"]
    assert "coarser file" in reasons["london_wards_2018_city_split.geojson"]
    assert "not a data file" in reasons["README.md"]
    registers = {d.path.name: d.kind for d in plan.registers}
    assert registers == {
        "london_food_banks_givefood_2024.csv": "groups",
        "london_mutual_aid_groups_2020.csv": "groups",
        "london_warm_spaces_2026-08.csv": "groups",
        "london_osm_pois_2020.csv": "premises",
        "london_public_libraries_ace2022.csv": "premises",
        "city_of_london_police_street_crime_2023-05_to_2025-05.csv": "incidents",
        "met_police_street_crime_burglary_2024-09_to_2025-02.csv": "incidents",
        "met_police_street_crime_2019-06_camden.csv": "incidents",
    }
    every = {p.name for p in london.iterdir()}
    assert every == set(reasons) | set(registers) | {d.path.name for d in plan.chosen.values()}


def test_london_workspace_counts(london_workspace):
    ws, report = london_workspace
    counts = {layer: len(overlay.read_layer(ws, layer)) for layer in ws.layers()}
    assert counts["boroughs"] == 33
    assert counts["wards"] == 633
    assert counts["lsoas"] == 4_835
    assert counts["deprivation"] == 4_835
    assert counts["population"] == 4_835
    assert counts["postcodes"] == 180_792
    assert ws.meta()["study_area"] == "London (33 boroughs)"


def test_iod2019_joins_every_london_lsoa(london_workspace):
    ws, _ = london_workspace
    lsoas = ws.read_layer("lsoas")
    deprivation = ws.read_layer("deprivation")
    assert set(lsoas["lsoa_code"]) == set(deprivation["lsoa_code"])
    assert deprivation["imd_score"].notna().all()
    assert deprivation["pop_total"].sum() == 8_662_622  # mid-2015, excluding prisoners
    # published figure for the first City of London LSOA
    row = deprivation.set_index("lsoa_code").loc["E01000001"]
    assert row["imd_score"] == pytest.approx(6.208)
    assert row["imd_rank"] == 29_199


def test_london_layers_are_in_british_national_grid_with_provenance(london_workspace):
    ws, _ = london_workspace
    wards = ws.read_layer("wards")
    assert wards.crs.to_epsg() == 27700
    # London is about 1,570-1,600 km2 (the GLA wards extend over the tidal Thames)
    assert wards.geometry.area.sum() / 1e6 == pytest.approx(1_595, rel=0.01)
    assert wards["borough_code"].str.fullmatch(r"E09\d{6}").all()
    prov = ws.provenance().set_index("layer")
    assert prov.loc["wards", "source_file"] == "london_wards_2018.geojson"
    assert prov.loc["postcodes", "attribution"].count("©") >= 2
    assert "best-fit" not in prov.loc["wards", "detail"]


def test_split_city_ward_file_gives_657_wards(london):
    report = build(
        london, Workspace("unused"), exclude=("london_wards_2018.geojson",), dry_run=True
    )
    assert len(report.imported["wards"].frame) == 657
    assert not any("point to a ward" in str(w) for w in report.warnings)


# -- point registers ------------------------------------------------------------------------


def _by_file(ws, layer):
    frame = overlay.read_layer(ws, layer)
    return frame, frame.groupby("source_file").size().to_dict()


def test_london_groups_from_every_source(london_workspace):
    ws, _ = london_workspace
    groups, counts = _by_file(ws, "groups")
    assert counts["london_food_banks_givefood_2024.csv"] == 97
    assert counts["london_mutual_aid_groups_2020.csv"] == 657
    # 963 rows less 23 borough poverty profiles (tests/realdata/test_realdata.py::
    # test_london_area_profiles_are_reported_not_listed)
    assert counts["london_warm_spaces_2026-08.csv"] == 940
    food = groups[groups["source_file"] == "london_food_banks_givefood_2024.csv"]
    assert set(food["category"]) == {"food"}
    assert food["charity_number"].notna().sum() == 73
    # the warm spaces' contact column is personal data: split into phone and e-mail
    warm = groups[groups["source_file"] == "london_warm_spaces_2026-08.csv"]
    assert warm["email"].notna().sum() > 100 and warm["phone"].notna().sum() > 100
    assert groups["borough_code"].notna().all()
    assert groups["ward_code"].notna().mean() > 0.99
    # the one charity number two London food banks share (1162185) is one charity's two
    # sites 2 km apart, Bethnal Green (closed) and Bow (open): neither is a duplicate
    shared = food[food["charity_number"] == "1162185"].set_index("source_id")
    assert sorted(shared.index) == ["bethnal-green", "bow"]
    assert shared["duplicate_of"].isna().all()
    assert shared.loc["bow", "status"] == "open"
    assert shared.loc["bethnal-green", "status"] == "closed"
    assert 1_000 < shared.geometry.iloc[0].distance(shared.geometry.iloc[1]) < 3_000


def test_london_area_profiles_are_reported_not_listed(london_workspace, london):
    """Issue 15: the warm-spaces list holds 23 London poverty profiles of boroughs ("City
    of London", "Read indicators for this borough") placed as points; one was the fourth
    nearest "rest centre" to E1 6AN."""
    import pandas as pd

    from mapper.sources.organisations import AREA_PROFILE
    from mapper.web import create_app

    ws, report = london_workspace
    warm = pd.read_csv(london / "london_warm_spaces_2026-08.csv", dtype=str,
                       keep_default_na=False)
    profiles = warm["description"].str.startswith("description: Read indicators for this borough")
    assert profiles.sum() == 23
    city = int(warm.index[profiles & (warm["title"] == "City of London")][0]) + 2  # CSV row
    imp = next(i for i in report.points if i.extra["file"] == "london_warm_spaces_2026-08.csv")
    left_out = {p.row for p in imp.rejected if p.message == AREA_PROFILE}
    assert city in left_out and left_out == {int(i) + 2 for i in warm.index[profiles]}
    assert len(imp.frame) + len(imp.rejected) == imp.rows_read == 963
    groups = overlay.read_layer(ws, "groups")
    mine = groups[groups["source_file"] == "london_warm_spaces_2026-08.csv"]
    assert not mine["source_row"].isin(left_out).any()
    assert not mine["description"].fillna("").str.contains("Read indicators").any()
    lines = summary_lines(report)
    assert any(line.startswith("london_warm_spaces_2026-08.csv: 940 accepted + 23 rejected")
               and "23 rows: not an organisation" in line for line in lines)
    client = create_app({"TESTING": True, "WORKSPACE": str(ws.directory),
                         "TILES": "none"}).test_client()
    body = client.get("/api/nearest", query_string={"postcode": "E1 6AN", "k": 50}).get_json()
    names = [f["properties"].get("name") for f in body["features"]]
    assert len(names) == 50 and "City of London" not in names
    assert "groups: 2 records are sites of a charity with several sites" in "\n".join(lines)


def test_london_nearest_food_never_puts_a_closed_food_bank_first(london_workspace):
    """The duty officer's query of issue 15: E1 2PA, food. The publisher marks 7 London
    food banks closed; none is answered, open Bow is, and no warm space is a rest centre."""
    from mapper.web import create_app

    ws, _ = london_workspace
    groups = overlay.read_layer(ws, "groups")
    closed = set(groups.loc[groups["status"] == "closed", "group_id"])
    assert len(closed) == 7
    client = create_app({"TESTING": True, "WORKSPACE": str(ws.directory)}).test_client()
    body = client.get("/api/nearest", query_string={"postcode": "E1 2PA", "category": "food",
                                                    "k": 10}).get_json()
    ids = [f["id"] for f in body["features"]]
    assert len(ids) == 10 and not set(ids) & closed and "givefood:bow" in ids
    assert {f["properties"]["status"] for f in body["features"]} == {"open"}
    listed = client.get("/api/groups", query_string={"status": "closed",
                                                      "geometry": "false"}).get_json()
    assert {f["id"] for f in listed["features"]} == closed
    warm = groups[groups["source_file"] == "london_warm_spaces_2026-08.csv"]
    assert warm["emergency_offer"].isna().all()
    offered = groups["emergency_offer"].notna()
    assert groups.loc[offered, "offer_source"].notna().all()


def test_london_premises_from_osm_and_libraries(london_workspace):
    ws, _ = london_workspace
    premises, counts = _by_file(ws, "premises")
    assert counts["london_public_libraries_ace2022.csv"] == 316
    osm = premises[premises["source_file"] == "london_osm_pois_2020.csv"]
    types = osm["type"].value_counts().to_dict()
    assert types["community centre"] == 582
    assert types["place of worship"] == 2_871
    assert types["library"] == 376
    libraries = premises[premises["source_file"] == "london_public_libraries_ace2022.csv"]
    assert set(libraries["type"]) == {"library"}
    # geocoded through the workspace's Code-Point Open postcode centroids
    assert set(libraries["location_source"]) == {"postcode centroid"}
    centroids = ws.read_layer("postcodes").set_index("postcode").geometry
    first = libraries.iloc[0]
    assert first.geometry.equals(centroids[first["postcode"]])
    prov = ws.provenance()
    osm_prov = prov[
        (prov["layer"] == "premises") & (prov["source_file"] == "london_osm_pois_2020.csv")
    ].iloc[0]
    assert "OpenStreetMap contributors" in osm_prov["attribution"]
    assert osm_prov["rows_read"] == 52_374


def test_london_incidents_from_police_uk(london_workspace):
    ws, _ = london_workspace
    incidents, counts = _by_file(ws, "incidents")
    assert counts["met_police_street_crime_burglary_2024-09_to_2025-02.csv"] == 26_199
    assert counts["met_police_street_crime_2019-06_camden.csv"] == 4_075
    city = "city_of_london_police_street_crime_2023-05_to_2025-05.csv"
    prov = ws.provenance()
    row = prov[(prov["layer"] == "incidents") & (prov["source_file"] == city)].iloc[0]
    assert row["rows_read"] == 19_950
    assert counts[city] == row["rows_imported"] <= 19_950 - 1_803
    assert any("1,803" in note and "no location" in note for note in row["notes"])
    met = incidents[incidents["source_file"].str.startswith("met_police_street_crime_burglary")]
    assert met["month"].value_counts().sort_index().tolist() == [
        4_081,
        4_585,
        4_595,
        4_759,
        4_444,
        3_735,
    ]


@pytest.fixture(scope="module")
def london_analysed(shared_london, tmp_path_factory):
    """The London workspace analysed with the default settings (once per module, on this
    module's copy: the run's shared build stays as built)."""
    from mapper.analysis_run import analyse

    directory = tmp_path_factory.mktemp("london-analysed") / "london"
    shutil.copytree(shared_london.directory, directory)
    ws = Workspace(directory)
    return ws, analyse(ws)


def test_london_cans_each_have_a_reason_of_their_own_and_stability_varies(london_analysed):
    ws, _ = london_analysed
    cans = ws.read_layer("neighbourhoods").set_index("can_id")
    assert len(cans) >= 20
    keys = {c: set(str(k).split("; ")) for c, k in cans["reason_keys"].items()}
    for can_id, own in keys.items():
        shared_by_all = set.intersection(*(k for c, k in keys.items() if c != can_id))
        assert own - shared_by_all, f"{can_id}: every reason is shared by all the others"
    # reasons carry values, and not one text serves every CAN (the old "High deprivation;
    # few VCS groups per resident")
    assert cans["reasons"].nunique() == len(cans)
    assert cans["reasons"].str.contains(r"\d", regex=True).all()
    # wide perturbations separate CANs: not every one is kept in every run
    assert cans["stability"].between(0, 1).all()
    assert (cans["stability"] < 1).any() and (cans["stability"] == 1).any()
    assert set(cans["stability_label"]) <= {"robust", "moderate", "marginal"}
    assert len(set(cans["stability_label"])) >= 2


def test_london_decision_record_lists_every_ward_and_draws_the_map(london_analysed):
    from mapper.web import create_app

    ws, _ = london_analysed
    client = create_app({"TESTING": True, "WORKSPACE": str(ws.directory)}).test_client()
    page = client.get("/priority/decision-record").get_data(as_text=True)
    wards = ws.read_layer("ward_summary")
    in_cans = wards.dropna(subset=["can_id"])
    table = page[page.index("pr-record__wards"):]
    table = table[:table.index("</table>")]
    for code in in_cans["ward_code"]:
        assert f"<code>{code}</code>" in table
    assert table.count("<tr>") == len(in_cans) + 1  # a heading row, then one per ward
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count("<path ") == len(wards)
    assert svg.count("<text ") == in_cans["can_id"].nunique()


# -- the unmet-need index (issue 16: rates that hold up) ------------------------------------


def test_london_index_is_not_driven_by_one_component_nor_topped_by_the_city(london_copy):
    """The City of London (one ward of 10,947 residents, 748 incidents per 1,000 in the
    window: a plain z-score of 25) topped the index at +3.18; with robust z-scores capped
    at Z_BOUND no component adds more than its weight x 3, and the City is flagged."""
    from mapper.analysis.priority import Z_BOUND
    from mapper.analysis_run import analyse
    from mapper.config import Settings

    ws = Workspace(london_copy)
    settings = Settings(stability_draws=5)
    wards = analyse(ws, settings).wards
    weights = settings.weights()
    for name, weight in weights.items():
        bound = weight / sum(weights.values()) * Z_BOUND
        assert wards[f"contrib_{name}"].abs().max() <= bound + 1e-9, name
    city = wards.loc["E05009297"]
    # burglary only (the one type every district's sources cover), a month, over the
    # City file's last 12 months: 341 burglaries / 12 / 10,947 residents x 1,000 = 2.6,
    # still 6 times the median ward's 0.43 (a daytime population)
    assert city["incidents_counted"] == "burglary only, Jun 2024 - May 2025"
    assert city["incidents_per_1000"] == pytest.approx(
        city["incidents"] / 12 / city["population"] * 1000)
    assert city["incidents_per_1000"] > 5 * wards["incidents_per_1000"].median()
    # 341 incidents is no small count: smoothing moves it little (toward the study area,
    # the City being a district of one ward); the cap is what holds it
    assert city["incidents_per_1000_eb"] == pytest.approx(city["incidents_per_1000"], rel=0.05)
    assert city["z_incidents"] == Z_BOUND
    assert city["unmet_need_rank"] > 0.2 * len(wards) and not city["candidate"]
    assert "counted as 3 in the index" in city["unreliable_reason"]
    assert "daytime population" in city["unreliable_reason"]
    stored = ws.read_layer("ward_summary").set_index("ward_code")
    flagged = stored["unreliable"].astype(bool)
    assert 0 < flagged.sum() < 0.25 * len(stored)
    assert (stored.loc[flagged, "unreliable_reason"].str.len() > 0).all()
    assert not stored["unreliable_reason"].fillna("").str.contains(r"\bnan\b|None").any()


# -- incident coverage (issue 16: incident data used only where it covers) -----------------


def test_london_incident_sources_record_what_they_cover(london_workspace):
    ws, _ = london_workspace
    prov = ws.provenance().set_index("source_file")
    met = prov.loc["met_police_street_crime_burglary_2024-09_to_2025-02.csv", "coverage"]
    assert met.startswith("Burglary only; Sep 2024 - Feb 2025; 32 districts (")
    city = prov.loc["city_of_london_police_street_crime_2023-05_to_2025-05.csv", "coverage"]
    assert city == "14 types; May 2023 - May 2025; City of London"
    camden = prov.loc["met_police_street_crime_2019-06_camden.csv", "coverage"]
    assert camden == "14 types; Jun 2019; Camden"


def test_london_no_trend_shows_a_window_its_sources_do_not_cover(london_copy):
    """The Met's burglary file ends in February 2025, the City's file in May 2025: a ward
    outside the City has its trend end in February (it read "Mar-May 2025: 0 incidents"),
    and every month of every ward's trend holds its district's burglaries."""
    from mapper.analysis_run import analyse
    from mapper.config import Settings
    from mapper.web import create_app

    ws = Workspace(london_copy)
    wards = analyse(ws, Settings(stability_draws=5)).wards
    city = wards["borough_code"] == "E09000001"
    assert (wards.loc[~city, "trend_recent_period"] == "2024-12 to 2025-02").all()
    assert (wards.loc[~city, "trend_baseline_period"] == "2024-09 to 2024-11").all()
    assert (wards.loc[city, "trend_recent_period"] == "2025-03 to 2025-05").all()
    assert (wards.loc[~city, "incidents_counted"] == "burglary only, Sep 2024 - Feb 2025").all()
    # every month of each trend holds at least a quarter of its district's mean burglaries
    incidents = overlay.read_layer(ws, "incidents")
    burglary = incidents[incidents["type"] == "Burglary"]
    monthly = burglary.groupby(["borough_code", "month"]).size()
    for (recent, baseline), group in wards.groupby(["trend_recent_period",
                                                   "trend_baseline_period"]):
        months = pd.period_range(baseline[:7], recent[-7:], freq="M").strftime("%Y-%m")
        for district in group["borough_code"].unique():
            counts = monthly.reindex([(district, m) for m in months], fill_value=0)
            assert counts.min() >= 0.25 * counts.mean(), (district, counts.tolist())
    client = create_app({"TESTING": True, "WORKSPACE": str(ws.directory),
                         "TILES": "none"}).test_client()
    cans = ws.read_layer("neighbourhoods")
    for can_id in list(cans["can_id"])[:4]:
        page = " ".join(client.get(f"/neighbourhood/{can_id}").get_data(as_text=True).split())
        assert "All incident types" not in page
        assert "Counted: burglary only, Sep 2024 - Feb 2025" in page
        assert "Last 3 months (Dec 2024 to Feb 2025)" in page
    page = " ".join(client.get("/ward/E05009297").get_data(as_text=True).split())
    assert "Counted: burglary only, May 2023 - May 2025" in page
    assert "Last 3 months (Mar 2025 to May 2025)" in page


def _published_style_district_summaries(london) -> pd.DataFrame:
    """MHCLG's district summaries computed independently from the raw IoD2019 CSV, one
    borough at a time, following the File 10 notes word for word."""
    raw = pd.read_csv(london / "london_iod2019_lsoa.csv")
    national = 32_844
    rows = {}
    for code, lsoas in raw.groupby("Local Authority District code (2019)"):
        people = lsoas["Total population: mid 2015 (excluding prisoners)"].to_numpy(float)
        rank = lsoas["Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"]
        reversed_rank = national + 1 - rank.to_numpy(float)
        percentile = np.ceil(rank.to_numpy(float) * 100 / national)
        weight = [1.0 if p <= 10 else 0.95 - (p - 11) * 0.9 / 19 if p <= 30 else 0.0
                  for p in percentile]
        # local concentration: most deprived first, up to exactly 10 % of the residents
        left, total = people.sum() * 0.1, 0.0
        for r, n in sorted(zip(reversed_rank, people, strict=True), reverse=True):
            take = min(n, left)
            total += r * take
            left -= take
            if left <= 0:
                break
        decile = lsoas["Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived "
                       "10% of LSOAs)"]
        working = lsoas["Working age population 18-59/64: for use with Employment Deprivation "
                        "Domain (excluding prisoners)"]
        rows[code] = {
            "imd_avg_rank": (reversed_rank * people).sum() / people.sum(),
            "imd_score": (lsoas["Index of Multiple Deprivation (IMD) Score"] * people).sum()
            / people.sum(),
            "imd_extent": (np.array(weight) * people).sum() / people.sum(),
            "imd_local_concentration": total / (people.sum() * 0.1),
            "imd_most_deprived_10_share": (decile == 1).mean(),
            "income_scale": (lsoas["Income Score (rate)"] * people).sum(),
            "employment_scale": (lsoas["Employment Score (rate)"] * working).sum(),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def test_london_borough_summaries_follow_mhclg(london_workspace, london):
    """Borough summaries from the workspace's deprivation layer (what `mapper analyse`
    writes to borough_summary) against an independent computation for all 33 boroughs,
    and MHCLG's published average rank for Barking and Dagenham: 25,552 (IoD2019 File 10;
    the tool showed 7,293 when it averaged the ranks the other way round)."""
    from mapper.analysis.need import area_need, borough_weights

    ws, _ = london_workspace
    deprivation = ws.read_layer("deprivation")
    boroughs = area_need(deprivation, borough_weights(deprivation), by="borough_code")
    expected = _published_style_district_summaries(london)
    assert len(boroughs) == 33
    for column in expected.columns:
        assert boroughs[column].to_dict() == pytest.approx(expected[column].to_dict(),
                                                           rel=1e-9), column
    barking = boroughs.loc["E09000002"]
    assert round(barking["imd_avg_rank"]) == 25_552
    assert barking["imd_score"] == pytest.approx(32.78, abs=0.05)  # published 32.778
    # the most deprived borough on average rank is the most deprived on local concentration
    # too only if uniformly deprived: Barking and Dagenham tops average rank, Haringey
    # local concentration (its most deprived tenth lives in England's most deprived LSOAs)
    assert boroughs["imd_avg_rank"].idxmax() == "E09000002"
    assert boroughs["imd_local_concentration"].idxmax() == "E09000014"
