"""The synthetic demo area: deterministic, in the real file formats, and geometrically exact."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from realdata import london_dir

from mapper import demo
from mapper.errors import MapperError
from mapper.geo import CRS_ANALYSIS

N_WARDS = 20
N_LSOAS = 120

#: the 57 headers of IoD2019 File 7, in order (DATA-FORMATS.md section 1)
IOD_HEADERS = [
    "LSOA code (2011)",
    "LSOA name (2011)",
    "Local Authority District code (2019)",
    "Local Authority District name (2019)",
    "Index of Multiple Deprivation (IMD) Score",
    "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
    "Income Score (rate)",
    "Income Rank (where 1 is most deprived)",
    "Income Decile (where 1 is most deprived 10% of LSOAs)",
    "Employment Score (rate)",
    "Employment Rank (where 1 is most deprived)",
    "Employment Decile (where 1 is most deprived 10% of LSOAs)",
    "Education, Skills and Training Score",
    "Education, Skills and Training Rank (where 1 is most deprived)",
    "Education, Skills and Training Decile (where 1 is most deprived 10% of LSOAs)",
    "Health Deprivation and Disability Score",
    "Health Deprivation and Disability Rank (where 1 is most deprived)",
    "Health Deprivation and Disability Decile (where 1 is most deprived 10% of LSOAs)",
    "Crime Score",
    "Crime Rank (where 1 is most deprived)",
    "Crime Decile (where 1 is most deprived 10% of LSOAs)",
    "Barriers to Housing and Services Score",
    "Barriers to Housing and Services Rank (where 1 is most deprived)",
    "Barriers to Housing and Services Decile (where 1 is most deprived 10% of LSOAs)",
    "Living Environment Score",
    "Living Environment Rank (where 1 is most deprived)",
    "Living Environment Decile (where 1 is most deprived 10% of LSOAs)",
    "Income Deprivation Affecting Children Index (IDACI) Score (rate)",
    "Income Deprivation Affecting Children Index (IDACI) Rank (where 1 is most deprived)",
    "Income Deprivation Affecting Children Index (IDACI) Decile "
    "(where 1 is most deprived 10% of LSOAs)",
    "Income Deprivation Affecting Older People (IDAOPI) Score (rate)",
    "Income Deprivation Affecting Older People (IDAOPI) Rank (where 1 is most deprived)",
    "Income Deprivation Affecting Older People (IDAOPI) Decile "
    "(where 1 is most deprived 10% of LSOAs)",
    "Children and Young People Sub-domain Score",
    "Children and Young People Sub-domain Rank (where 1 is most deprived)",
    "Children and Young People Sub-domain Decile (where 1 is most deprived 10% of LSOAs)",
    "Adult Skills Sub-domain Score",
    "Adult Skills Sub-domain Rank (where 1 is most deprived)",
    "Adult Skills Sub-domain Decile (where 1 is most deprived 10% of LSOAs)",
    "Geographical Barriers Sub-domain Score",
    "Geographical Barriers Sub-domain Rank (where 1 is most deprived)",
    "Geographical Barriers Sub-domain Decile (where 1 is most deprived 10% of LSOAs)",
    "Wider Barriers Sub-domain Score",
    "Wider Barriers Sub-domain Rank (where 1 is most deprived)",
    "Wider Barriers Sub-domain Decile (where 1 is most deprived 10% of LSOAs)",
    "Indoors Sub-domain Score",
    "Indoors Sub-domain Rank (where 1 is most deprived)",
    "Indoors Sub-domain Decile (where 1 is most deprived 10% of LSOAs)",
    "Outdoors Sub-domain Score",
    "Outdoors Sub-domain Rank (where 1 is most deprived)",
    "Outdoors Sub-domain Decile (where 1 is most deprived 10% of LSOAs)",
    "Total population: mid 2015 (excluding prisoners)",
    "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "Population aged 16-59: mid 2015 (excluding prisoners)",
    "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    "Working age population 18-59/64: for use with Employment Deprivation Domain "
    "(excluding prisoners)",
]

POLICE_TYPES = {
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
}


def _fresh_caches() -> None:
    demo.build_demo_area.cache_clear()
    demo._demo_tables.cache_clear()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return demo.write_demo_inputs(tmp_path_factory.mktemp("demo_inputs"))


@pytest.fixture(scope="module")
def layers(inputs) -> dict[str, gpd.GeoDataFrame]:
    """The written boundary files, read back and projected to EPSG:27700."""
    return {
        key: gpd.read_file(inputs[key]).to_crs(CRS_ANALYSIS)
        for key in ("boroughs", "wards", "lsoas")
    }


@pytest.fixture(scope="module")
def tables(inputs) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(inputs[key]) for key in ("iod", "lookup", "population", "postcodes")}


@pytest.fixture(scope="module")
def registers() -> dict[str, gpd.GeoDataFrame]:
    return demo.demo_registers()


# ---------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------


def test_generating_twice_gives_identical_files(inputs, tmp_path):
    _fresh_caches()
    again = demo.write_demo_inputs(tmp_path)
    assert set(again) == {"boroughs", "wards", "lsoas", "iod", "lookup", "population", "postcodes"}
    for key, path in inputs.items():
        assert path.read_bytes() == again[key].read_bytes(), key


def test_registers_are_deterministic(registers, tmp_path):
    _fresh_caches()
    again = demo.demo_registers()
    for key, frame in registers.items():
        assert_geodataframe_equal(frame, again[key])
    first = demo.write_demo_registers(tmp_path / "first")
    second = demo.write_demo_registers(tmp_path / "second")
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key
        assert len(gpd.read_file(path)) == len(registers[key])


def test_registers_check_the_input_directory(inputs, tmp_path):
    assert set(demo.demo_registers(inputs["postcodes"].parent)) == {
        "groups",
        "premises",
        "incidents",
    }
    assert sorted(p.name for p in inputs["postcodes"].parent.iterdir()) == sorted(
        p.name for p in inputs.values()
    )  # nothing written next to the inputs
    with pytest.raises(MapperError, match="missing"):
        demo.demo_registers(tmp_path)
    edited = pd.read_csv(inputs["postcodes"]).iloc[:-1]
    edited.to_csv(tmp_path / demo.POSTCODES_FILE, index=False)
    with pytest.raises(MapperError, match="does not hold the demo postcodes"):
        demo.demo_registers(tmp_path)


@pytest.mark.parametrize("name", [demo.BOROUGHS_FILE, demo.WARDS_FILE, demo.LSOAS_FILE])
def test_committed_boundaries_equal_fresh_ones(inputs, name):
    committed = demo.DEMO_BOUNDARIES_DIR / name
    assert committed.exists(), "regenerate with: python -m mapper.demo --boundaries data/boundaries"
    assert committed.read_bytes() == (inputs["boroughs"].parent / name).read_bytes(), (
        f"{name} drifted from the generator; run python -m mapper.demo --boundaries data/boundaries"
    )


def test_command_line_writes_boundaries(inputs, tmp_path, capsys):
    assert demo.main(["--boundaries", str(tmp_path)]) == 0
    assert demo.WARDS_FILE in capsys.readouterr().out
    assert (tmp_path / demo.WARDS_FILE).read_bytes() == inputs["wards"].read_bytes()


# ---------------------------------------------------------------------------------------
# Boundaries
# ---------------------------------------------------------------------------------------


def test_counts_codes_and_labels(layers):
    boroughs, wards, lsoas = layers["boroughs"], layers["wards"], layers["lsoas"]
    assert len(boroughs) == 1 and len(wards) == N_WARDS and len(lsoas) == N_LSOAS
    assert boroughs["LAD22CD"].tolist() == ["E09000099"]
    assert boroughs["LAD22NM"].tolist() == ["Demoborough (synthetic)"]
    for frame, column, pattern in [
        (wards, "WD18CD", r"E05\d{6}"),
        (lsoas, "LSOA11CD", r"E01\d{6}"),
        (wards, "LAD18CD", r"E09\d{6}"),
        (lsoas, "LAD11CD", r"E09\d{6}"),
    ]:
        assert frame[column].str.fullmatch(pattern).all(), column
    assert wards["WD18CD"].is_unique and wards["WD18NM"].is_unique
    assert lsoas["LSOA11CD"].is_unique and lsoas["LSOA11NM"].is_unique
    assert (wards["LAD18NM"] == "Demoborough (synthetic)").all()
    assert (lsoas["LAD11NM"] == "Demoborough (synthetic)").all()
    assert lsoas["LSOA11NM"].str.fullmatch(r"Demoborough \d{3}[A-Z]").all()


def test_geojson_is_rfc7946(inputs):
    text = inputs["wards"].read_text(encoding="utf-8")
    assert '"crs"' not in text
    numbers = re.findall(r"-?\d+\.\d+", text.split('"features"')[1])
    assert max(len(n.split(".")[1]) for n in numbers) <= 6
    exteriors = [shapely.get_exterior_ring(g) for g in gpd.read_file(inputs["wards"]).geometry]
    assert all(shapely.is_ccw(ring) for ring in exteriors)


def test_geometry_is_valid_and_single_polygons(layers):
    for key, frame in layers.items():
        assert frame.is_valid.all(), key
        assert (frame.geom_type == "Polygon").all(), key


def test_lsoas_nest_exactly_in_wards(layers, tables):
    lsoas = layers["lsoas"].merge(tables["lookup"][["LSOA11CD", "WD18CD"]], on="LSOA11CD")
    assert len(lsoas) == N_LSOAS
    wards = layers["wards"].set_index("WD18CD")
    assert set(lsoas["WD18CD"]) == set(wards.index)
    for code, part in lsoas.groupby("WD18CD"):
        union = shapely.union_all(part.geometry.array)
        assert shapely.symmetric_difference(union, wards.geometry[code]).area < 1.0, code


def test_wards_tile_the_borough(layers):
    borough = layers["boroughs"].geometry.iloc[0]
    wards = layers["wards"].geometry
    assert abs(wards.area.sum() - borough.area) < 1.0
    assert shapely.symmetric_difference(shapely.union_all(wards.array), borough).area < 1.0
    left, right = shapely.STRtree(wards.array).query(wards.array, predicate="intersects")
    pairs = left < right
    overlap = shapely.intersection(wards.array[left[pairs]], wards.array[right[pairs]])
    assert shapely.area(overlap).sum() < 1.0
    assert 25e6 < borough.area < 50e6  # a London-sized borough (m2)


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle))


def test_iod_has_the_file7_headers(inputs):
    assert _header(inputs["iod"]) == IOD_HEADERS
    assert list(demo.IOD_COLUMNS) == IOD_HEADERS


def test_iod_headers_match_the_real_file(inputs):
    # the one helper for real data: skips with the reason, fails under CI
    real_iod = london_dir() / "london_iod2019_lsoa.csv"
    assert _header(inputs["iod"]) == _header(real_iod)


def test_iod_ranks_follow_scores(tables):
    iod = tables["iod"]
    assert len(iod) == N_LSOAS and iod.notna().all().all()
    assert iod["LSOA code (2011)"].tolist() == tables["lookup"]["LSOA11CD"].tolist()
    scores = [c for c in iod.columns if " Score" in c]
    assert len(scores) == 16
    for score in scores:
        stem = score.split(" Score")[0]
        rank = iod[f"{stem} Rank (where 1 is most deprived)"]
        decile = iod[f"{stem} Decile (where 1 is most deprived 10% of LSOAs)"]
        assert rank.between(1, 32844).all() and rank.is_unique, stem
        by_rank = iod[score].to_numpy()[np.argsort(rank.to_numpy())]
        assert (np.diff(by_rank) <= 0).all(), f"{stem}: a higher score has a higher rank"
        expected = np.clip(np.ceil(rank / 3284.4), 1, 10).astype(int)
        assert (decile == expected).all(), stem
        assert (iod[score].round(3) == iod[score]).all()


def test_iod_values_are_plausible(tables):
    iod = tables["iod"]
    assert iod["Income Score (rate)"].between(0.02, 0.45).all()
    assert iod["Employment Score (rate)"].between(0.01, 0.45).all()
    assert iod["Index of Multiple Deprivation (IMD) Score"].between(2, 80).all()
    deciles = iod[
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"
    ]
    assert deciles.min() == 1 and deciles.max() >= 9
    total = iod["Total population: mid 2015 (excluding prisoners)"]
    assert total.between(1200, 2500).all()
    parts = iod[
        [
            "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
            "Population aged 16-59: mid 2015 (excluding prisoners)",
            "Older population aged 60 and over: mid 2015 (excluding prisoners)",
        ]
    ].sum(axis=1)
    assert (parts == total).all()
    working = iod[IOD_HEADERS[-1]]
    assert (working < total).all() and (working > 0.5 * total).all()


def test_deprivation_has_spatial_structure(layers, tables):
    lsoas = layers["lsoas"].merge(tables["iod"], left_on="LSOA11CD", right_on="LSOA code (2011)")
    score = lsoas["Index of Multiple Deprivation (IMD) Score"].to_numpy()
    geoms = lsoas.geometry.array
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    shared = shapely.length(shapely.intersection(geoms[left].boundary, geoms[right].boundary))
    left, right = left[shared > 1.0], right[shared > 1.0]
    touching = np.abs(score[left] - score[right]).mean()
    i, j = np.triu_indices(len(score), k=1)
    anywhere = np.abs(score[i] - score[j]).mean()
    assert touching < 0.6 * anywhere


def test_lookup_and_population(tables):
    lookup, population, iod = tables["lookup"], tables["population"], tables["iod"]
    assert list(lookup.columns) == [
        "LSOA11CD",
        "LSOA11NM",
        "WD18CD",
        "WD18NM",
        "LAD18CD",
        "LAD18NM",
    ]
    assert lookup["LSOA11CD"].is_unique and lookup["WD18CD"].nunique() == N_WARDS
    assert list(population.columns) == [
        "LSOA11CD",
        "LSOA11NM",
        "MSOA11CD",
        "MSOA11NM",
        "LAD11CD",
        "LAD11NM",
        "Persons_All-Ages",
        "Persons_0-15",
        "Persons_16-29",
        "Persons_30-44",
        "Persons_45-64",
        "Persons_65+",
    ]
    bands = population.loc[:, "Persons_0-15":"Persons_65+"].sum(axis=1)
    assert (bands == population["Persons_All-Ages"]).all()
    assert population["MSOA11CD"].str.fullmatch(r"E02\d{6}").all()
    assert population.groupby("MSOA11CD").size().between(3, 8).all()
    assert (population["LSOA11NM"].str[:-1] == population["MSOA11NM"]).all()
    ratio = population["Persons_All-Ages"] / iod["Total population: mid 2015 (excluding prisoners)"]
    assert ratio.between(0.8, 1.25).all() and not (ratio == 1).all()


def test_postcodes_are_unique_and_inside_their_areas(layers, tables):
    postcodes, lookup = tables["postcodes"], tables["lookup"]
    assert list(postcodes.columns) == [
        "Postcode",
        "Positional_quality_indicator",
        "Eastings",
        "Northings",
        "Admin_district_code",
        "Admin_ward_code",
    ]
    assert postcodes["Postcode"].is_unique
    assert postcodes["Postcode"].str.fullmatch(r"ZZ\d{1,2} \d[ABD-HJLNP-UW-Z]{2}").all()
    assert postcodes["Eastings"].dtype.kind == "i" and postcodes["Northings"].dtype.kind == "i"
    assert (postcodes["Positional_quality_indicator"] == 10).all()
    assert (postcodes["Admin_district_code"] == "E09000099").all()
    points = gpd.GeoDataFrame(
        postcodes,
        geometry=gpd.points_from_xy(postcodes["Eastings"], postcodes["Northings"]),
        crs=CRS_ANALYSIS,
    )
    joined = gpd.sjoin(points, layers["lsoas"][["LSOA11CD", "geometry"]], predicate="within")
    assert len(joined) == len(postcodes) and joined.index.is_unique
    ward_of = lookup.set_index("LSOA11CD")["WD18CD"]
    assert (joined["LSOA11CD"].map(ward_of) == joined["Admin_ward_code"]).all()
    assert joined.groupby("LSOA11CD").size().between(15, 30).all()


# ---------------------------------------------------------------------------------------
# Registers
# ---------------------------------------------------------------------------------------


def _inside_borough(frame: gpd.GeoDataFrame, layers) -> bool:
    return bool(frame.within(layers["boroughs"].geometry.iloc[0]).all())


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="%Y-%m-%d")


def test_registers_are_labelled_synthetic(registers):
    assert set(registers) == {"groups", "premises", "incidents"}
    for key, frame in registers.items():
        assert frame.crs == CRS_ANALYSIS, key
        assert (frame["source"] == "synthetic demo").all(), key
        assert frame.attrs.get("synthetic") is True, key
    assert registers["groups"]["name"].str.endswith("(synthetic)").all()
    assert registers["premises"]["name"].str.endswith("(synthetic)").all()
    assert registers["incidents"]["description"].str.contains("(synthetic)", regex=False).all()


def test_groups(registers, layers, tables):
    groups = registers["groups"]
    assert len(groups) == 80
    assert groups["group_id"].is_unique and groups["name"].is_unique
    assert set(groups["category"]) == set(demo.GROUP_CATEGORIES) - {"warm space"}  # none
    assert groups["faith"].notna().eq(groups["category"] == "faith").all()
    assert groups["phone"].str.fullmatch(r"020 7946 0\d{3}").all() and groups["phone"].is_unique
    assert groups["email"].str.endswith("@example.org").all()
    assert groups["website"].dropna().str.fullmatch(r"https://[a-z0-9-]+\.example\.org").all()
    offers = groups["emergency_offer"].dropna().str.split("; ").explode()
    assert set(offers) <= set(demo.EMERGENCY_OFFERS)
    assert groups["languages"].str.startswith("English").all()
    verified = _dates(groups["last_verified"])
    assert verified.between("2024-06-30", "2026-06-30").all()
    assert _inside_borough(groups, layers)
    where = tables["postcodes"].set_index("Postcode")
    located = where.loc[groups["postcode"]]
    assert (located["Eastings"].to_numpy() == groups.geometry.x.to_numpy()).all()
    assert (located["Northings"].to_numpy() == groups.geometry.y.to_numpy()).all()


def test_premises(registers, layers, tables):
    premises, groups = registers["premises"], registers["groups"]
    assert 55 <= len(premises) <= 65
    assert premises["premises_id"].is_unique and premises["name"].is_unique
    assert set(premises["type"]) == set(demo.DEMO_PREMISES_TYPES)
    worship = premises["type"] == "place of worship"
    assert premises["religion"].notna().eq(worship).all()
    owners = premises["owning_group_id"].dropna()
    assert len(owners) > 10 and owners.isin(groups["group_id"]).all()
    assert premises["capacity"].dtype == np.int64 and (premises["capacity"] > 0).all()
    assert premises["step_free"].dtype == bool
    assert premises["postcode"].isin(tables["postcodes"]["Postcode"]).all()
    assert _dates(premises["last_verified"]).between("2024-06-30", "2026-06-30").all()
    assert _inside_borough(premises, layers)


def test_incidents(registers, layers):
    incidents = registers["incidents"]
    assert 1300 <= len(incidents) <= 1700 and incidents["incident_id"].is_unique
    months = sorted(incidents["month"].unique())
    assert len(months) == 24 and months[0] == "2024-07" and months[-1] == "2026-06"
    assert (incidents["date"].str[:7] == incidents["month"]).all()
    _dates(incidents["date"])  # every date parses
    assert set(incidents["type"]) <= POLICE_TYPES | {"Community tension"}
    assert {"Anti-social behaviour", "Burglary", "Community tension"} <= set(incidents["type"])
    assert incidents["severity"].between(1, 3).all()
    assert _inside_borough(incidents, layers)


def test_incidents_follow_deprivation_and_spike_at_the_end(registers, layers, tables):
    incidents = registers["incidents"]
    lsoas = layers["lsoas"].merge(tables["iod"], left_on="LSOA11CD", right_on="LSOA code (2011)")
    lsoas = lsoas.merge(tables["lookup"][["LSOA11CD", "WD18CD"]], on="LSOA11CD")
    joined = gpd.sjoin(incidents, lsoas, predicate="within")
    assert len(joined) == len(incidents)
    per_lsoa = joined.groupby("LSOA11CD").size().reindex(lsoas["LSOA11CD"], fill_value=0)
    rate = (
        per_lsoa.to_numpy() / lsoas["Total population: mid 2015 (excluding prisoners)"].to_numpy()
    )
    deprived = lsoas["Index of Multiple Deprivation (IMD) Score"].to_numpy() > np.median(
        lsoas["Index of Multiple Deprivation (IMD) Score"]
    )
    assert rate[deprived].mean() > 1.3 * rate[~deprived].mean()
    counts = joined.groupby(["WD18CD", "month"]).size().unstack(fill_value=0)
    last3 = counts.iloc[:, -3:].mean(axis=1)
    before = counts.iloc[:, :-3].mean(axis=1)
    spiking = counts.index[last3 > 3 * before + 3]
    assert list(spiking) == [demo._spike_ward(demo.build_demo_area())]
