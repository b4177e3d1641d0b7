"""OpenStreetMap extracts -> the premises register (mapper.sources.osm)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from realdata import london_dir
from shapely.geometry import box

from mapper import geo, registers
from mapper.errors import DataValidationError
from mapper.sources import osm
from mapper.sources.base import Context
from mapper.sources.files import peek

# -- helpers --------------------------------------------------------------------------

#: (osm_id, poi_type, lon, lat): five premises around Whitechapel, three of other types
CSV_ROWS = [
    ("1001", "place_of_worship", "-0.0650", "51.5170"),  # row 2
    ("1002", "pub", "-0.0700", "51.5200"),  # row 3
    ("1003", "community_centre", "-0.0600", "51.5150"),  # row 4
    ("1004", "restaurant", "-0.0710", "51.5190"),  # row 5
    ("1005", "library", "-0.0550", "51.5180"),  # row 6
    ("1006", "school", "-0.0500", "51.5210"),  # row 7
    ("1007", "pub", "-0.0720", "51.5230"),  # row 8
    ("1008", "clinic", "-0.0680", "51.5160"),  # row 9
]


def write_csv(path, rows=CSV_ROWS):
    lines = ["osm_id,poi_type,lon,lat"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_file(path, context=None):
    detection = osm.detect(peek(path))
    assert detection is not None, f"{path.name} was not recognised as OpenStreetMap"
    return detection.reader(path, detection, context or Context())


def accounted(imported) -> int:
    return len(imported.frame) + len(imported.rejected) + imported.extra["not_premises"]


def messages(imported) -> list[str]:
    return [w.message for w in imported.warnings]


def feature(osm_id, geometry, **tags):
    return {
        "type": "Feature",
        "id": osm_id,
        "properties": {"@id": osm_id, **tags},
        "geometry": geometry,
    }


def ring(x0, y0, dx, dy):
    return [[x0, y0], [x0 + dx, y0], [x0 + dx, y0 + dy], [x0, y0 + dy], [x0, y0]]


#: an L-shaped site whose centroid lies outside it
L_SHAPE = [
    [-0.0700, 51.5100],
    [-0.0680, 51.5100],
    [-0.0680, 51.5103],
    [-0.0697, 51.5103],
    [-0.0697, 51.5120],
    [-0.0700, 51.5120],
    [-0.0700, 51.5100],
]

OVERPASS_FEATURES = [
    feature(  # feature 1
        "node/101",
        {"type": "Point", "coordinates": [-0.0652, 51.5172]},
        amenity="place_of_worship",
        religion="muslim",
        denomination="sunni",
        name="East London Mosque",
        **{
            "addr:housenumber": "82-92",
            "addr:street": "Whitechapel Road",
            "addr:city": "London",
            "addr:postcode": "e1 1jq",
        },
        wheelchair="yes",
        website="https://example.org",
    ),
    feature(  # feature 2: a way drawn as an L-shaped polygon, unnamed
        "way/202",
        {"type": "Polygon", "coordinates": [L_SHAPE]},
        amenity="community_centre",
        building="yes",
        wheelchair="no",
    ),
    feature(  # feature 3
        "node/303",
        {"type": "Point", "coordinates": [-0.0600, 51.5150]},
        amenity="social_facility",
        social_facility="food_bank",
        name="Whitechapel Food Bank",
        wheelchair="limited",
    ),
    feature(  # feature 4: not premises
        "node/404",
        {"type": "Point", "coordinates": [-0.0700, 51.5200]},
        amenity="pub",
        name="The Blind Beggar",
    ),
    feature(  # feature 5: a line (an unclosed way) cannot be placed
        "way/505",
        {"type": "LineString", "coordinates": [[-0.06, 51.51], [-0.059, 51.511]]},
        amenity="place_of_worship",
        name="Open-air chapel path",
    ),
    feature(  # feature 6: a relation drawn as a MultiPolygon
        "relation/606",
        {
            "type": "MultiPolygon",
            "coordinates": [
                [ring(-0.0500, 51.5200, 0.0010, 0.0006)],
                [ring(-0.0480, 51.5200, 0.0005, 0.0006)],
            ],
        },
        amenity="school",
        religion="church_of_england",
        name="St Saviour's Primary School",
    ),
    feature(  # feature 7
        "node/707",
        {"type": "Point", "coordinates": [-0.0550, 51.5180]},
        amenity="library",
        name="Idea Store Whitechapel",
        wheelchair="yes",
    ),
]


def write_overpass(path, features=OVERPASS_FEATURES):
    collection = {
        "type": "FeatureCollection",
        "generator": "overpass-turbo",
        "copyright": "The data included in this document is from www.openstreetmap.org. "
        "The data is made available under ODbL.",
        "timestamp": "2024-03-05T10:20:00Z",
        "features": features,
    }
    path.write_text(json.dumps(collection, indent=1), encoding="utf-8")
    return path


# -- detection ------------------------------------------------------------------------


def test_flat_csv_is_recognised_from_its_content_not_its_name(tmp_path):
    found = osm.detect(peek(write_csv(tmp_path / "export 1.csv")))
    assert found is not None
    assert found.kind == "premises"
    assert found.extra["layout"] == "table"
    assert found.columns["id"] == "osm_id" and found.columns["poi_type"] == "poi_type"
    assert found.vintage == "unknown"


def test_other_tables_are_not_taken_for_osm(tmp_path):
    plain = tmp_path / "groups.csv"
    plain.write_text("name,lat,lon\nHall,51.5,-0.1\n", encoding="utf-8")
    assert osm.detect(peek(plain)) is None
    no_coords = tmp_path / "types.csv"
    no_coords.write_text("osm_id,poi_type\n1,library\n", encoding="utf-8")
    assert osm.detect(peek(no_coords)) is None
    not_osm_ids = tmp_path / "assets.csv"
    not_osm_ids.write_text(
        "osm_id,amenity,lat,lon\nABC-1,library,51.5,-0.1\nABC-2,school,51.5,-0.1\n",
        encoding="utf-8",
    )
    assert osm.detect(peek(not_osm_ids)) is None
    bare_id = tmp_path / "register.csv"  # "id" in a table is anyone's id, not OSM's
    bare_id.write_text("id,amenity,lat,lon\n17,library,51.5,-0.1\n", encoding="utf-8")
    assert osm.detect(peek(bare_id)) is None


def test_overpass_geojson_is_recognised(tmp_path):
    found = osm.detect(peek(write_overpass(tmp_path / "export.geojson")))
    assert found is not None
    assert found.kind == "premises" and found.extra["layout"] == "vector"
    assert found.columns["id"] == "@id" and found.columns["amenity"] == "amenity"
    assert found.vintage == "2024-03"


def test_vector_without_osm_ids_is_not_osm(tmp_path):
    frame = gpd.GeoDataFrame(
        {"id": ["A1", "B2"], "amenity": ["library", "school"]},
        geometry=[shapely.Point(-0.1, 51.5), shapely.Point(-0.11, 51.5)],
        crs="EPSG:4326",
    )
    frame.to_file(tmp_path / "assets.gpkg", driver="GPKG")
    assert osm.detect(peek(tmp_path / "assets.gpkg")) is None


# -- the flat CSV ---------------------------------------------------------------------


def test_flat_csv_keeps_premises_and_counts_the_rest(tmp_path):
    imported = import_file(write_csv(tmp_path / "pois.csv"))
    frame = imported.frame
    assert frame.crs == geo.CRS_ANALYSIS
    assert list(frame.columns) == registers.columns("premises") + ["geometry"]
    assert list(frame["premises_id"]) == [
        "osm:osm/1001",
        "osm:osm/1003",
        "osm:osm/1005",
        "osm:osm/1006",
        "osm:osm/1008",
    ]
    assert list(frame["type"]) == [
        "place of worship",
        "community centre",
        "library",
        "school",
        "health centre",
    ]
    assert frame["name"].iloc[0] == "Place of worship (unnamed, OSM 1001)"
    assert list(frame["source_row"]) == [2, 4, 6, 7, 9]
    assert list(frame["source_id"]) == ["1001", "1003", "1005", "1006", "1008"]
    assert set(frame["source"]) == {"OpenStreetMap"}
    assert set(frame["source_file"]) == {"pois.csv"}
    assert set(frame["location_source"]) == {"OpenStreetMap point"}
    assert frame["step_free"].isna().all() and frame["last_verified"].isna().all()
    assert imported.extra["not_premises"] == 3
    assert imported.extra["left_out_reason"] == "of other types, not community premises"
    assert imported.rejected == []
    assert accounted(imported) == imported.rows_read == 8
    assert (
        "3 points of other types left out, not community premises (pub 2, restaurant 1)"
        in messages(imported)
    )
    assert osm.CAVEAT in messages(imported)
    assert imported.licence == "Open Database Licence 1.0 (ODbL)"
    assert imported.attribution == "© OpenStreetMap contributors"
    # the point is where the row says (to the millimetre, after reprojection)
    expected = geo.points_from_xy([-0.0650], [51.5170], crs=geo.CRS_DISPLAY).iloc[0]
    assert frame.geometry.iloc[0].distance(expected) < 1e-3


def test_overpass_csv_layout(tmp_path):
    path = tmp_path / "overpass.csv"  # Overpass [out:csv(::id, ::type, ::lat, ::lon, ...)]
    path.write_text(
        "@id\t@type\t@lat\t@lon\tamenity\tname\treligion\n"
        "101\tnode\t51.5172\t-0.0652\tplace_of_worship\tEast London Mosque\tmuslim\n"
        "202\tway\t51.5110\t-0.0690\tcommunity_centre\t\t\n"
        "303\tnode\t51.5200\t-0.0700\tpub\tThe Blind Beggar\t\n",
        encoding="utf-8",
    )
    imported = import_file(path)
    frame = imported.frame
    assert list(frame["premises_id"]) == ["osm:node/101", "osm:way/202"]
    assert list(frame["name"]) == [
        "East London Mosque",
        "Community centre (unnamed, OSM way 202)",
    ]
    assert list(frame["location_source"]) == [
        "OpenStreetMap node",
        "centre of an OpenStreetMap way",
    ]
    assert frame["religion"].iloc[0] == "Muslim"
    assert accounted(imported) == imported.rows_read == 3


def test_nan_and_swapped_coordinates_reject_the_file_listing_the_rows(tmp_path):
    rows = list(CSV_ROWS)
    rows[2] = ("1003", "community_centre", "NaN", "51.5150")  # row 4
    rows[4] = ("1005", "library", "51.5180", "-0.0550")  # row 6: swapped
    rows[1] = ("1002", "pub", "", "")  # row 3: not premises, so never checked
    path = write_csv(tmp_path / "pois.csv", rows)
    with pytest.raises(DataValidationError) as err:
        import_file(path, Context(strict=True))
    assert [(p.row, p.column) for p in err.value.problems] == [(4, "lon"), (6, "lat")]
    assert "longitude is not a number" in err.value.problems[0].message
    assert "swapped" in err.value.problems[1].message
    assert "row 4" in str(err.value) and "row 6" in str(err.value)

    imported = import_file(path, Context(skip_invalid=True))
    assert list(imported.frame["premises_id"]) == ["osm:osm/1001", "osm:osm/1006", "osm:osm/1008"]
    assert [p.row for p in imported.rejected] == [4, 6]
    assert accounted(imported) == imported.rows_read == 8


def test_points_outside_the_study_area_are_rejected_with_that_reason(tmp_path):
    # a box around all but the school at -0.05, 51.521 (~280 m east: beyond the 250 m tolerance)
    west_south = geo.points_from_xy([-0.075], [51.510], crs=geo.CRS_DISPLAY).iloc[0]
    east_north = geo.points_from_xy([-0.054], [51.519], crs=geo.CRS_DISPLAY).iloc[0]
    area = box(west_south.x, west_south.y, east_north.x, east_north.y)
    context = Context(study_area=area, study_area_name="Whitechapel")
    imported = import_file(write_csv(tmp_path / "pois.csv"), context)
    assert "osm:osm/1006" not in set(imported.frame["premises_id"])
    assert [(p.row, p.message, p.severity) for p in imported.rejected] == [
        (7, "outside the study area (Whitechapel)", "rejected")
    ]
    assert accounted(imported) == 8


def test_repeated_ids_keep_the_first(tmp_path):
    rows = CSV_ROWS + [("1001", "place_of_worship", "-0.0651", "51.5171")]  # row 10
    imported = import_file(write_csv(tmp_path / "pois.csv", rows))
    assert list(imported.frame["premises_id"]).count("osm:osm/1001") == 1
    [problem] = imported.rejected
    assert problem.row == 10 and "same OpenStreetMap id (1001) as row 2" in problem.message
    assert accounted(imported) == imported.rows_read == 9


def test_empty_of_premises(tmp_path):
    imported = import_file(write_csv(tmp_path / "pois.csv", [("1", "pub", "-0.07", "51.52")]))
    assert imported.frame.empty and imported.frame.crs == geo.CRS_ANALYSIS
    assert accounted(imported) == imported.rows_read == 1


# -- Overpass GeoJSON -----------------------------------------------------------------


@pytest.fixture
def overpass(tmp_path):
    return import_file(write_overpass(tmp_path / "export.geojson"))


def test_overpass_types_ids_and_names(overpass):
    frame = overpass.frame.set_index("premises_id")
    assert list(frame.index) == [
        "osm:node/101",
        "osm:way/202",
        "osm:node/303",
        "osm:relation/606",
        "osm:node/707",
    ]
    assert frame["type"].to_dict() == {
        "osm:node/101": "place of worship",
        "osm:way/202": "community centre",
        "osm:node/303": "food bank",
        "osm:relation/606": "school",
        "osm:node/707": "library",
    }
    assert frame.loc["osm:node/101", "name"] == "East London Mosque"
    assert frame.loc["osm:way/202", "name"] == "Community centre (unnamed, OSM way 202)"
    assert list(frame["source_id"]) == [
        "node/101",
        "way/202",
        "node/303",
        "relation/606",
        "node/707",
    ]
    assert list(frame["source_row"]) == [1, 2, 3, 6, 7]
    assert frame["religion"].iloc[0] == "Muslim"
    assert frame.loc["osm:relation/606", "religion"] == "Church of England"
    assert pd.isna(frame.loc["osm:node/707", "religion"])
    assert frame.loc["osm:node/101", "address"] == "82-92 Whitechapel Road, London"
    assert frame.loc["osm:node/101", "postcode"] == "E1 1JQ"
    assert pd.isna(frame.loc["osm:node/303", "address"])


def test_overpass_step_free_from_wheelchair(overpass):
    step_free = overpass.frame.set_index("premises_id")["step_free"]
    assert str(step_free.dtype) == "boolean"
    assert step_free.astype(object).fillna("unknown").to_dict() == {
        "osm:node/101": True,
        "osm:way/202": False,
        "osm:node/303": "unknown",  # wheelchair=limited
        "osm:relation/606": "unknown",  # no tag
        "osm:node/707": True,
    }


def test_overpass_areas_are_placed_inside_them(overpass):
    frame = overpass.frame.set_index("premises_id")
    originals = gpd.GeoSeries(
        [shapely.geometry.shape(f["geometry"]) for f in OVERPASS_FEATURES],
        crs=geo.CRS_DISPLAY,
    ).to_crs(geo.CRS_ANALYSIS)
    l_shape, multi = originals.iloc[1], originals.iloc[5]
    assert not l_shape.contains(l_shape.centroid)  # so a centroid would not do
    assert l_shape.contains(frame.loc["osm:way/202", "geometry"])
    assert multi.contains(frame.loc["osm:relation/606", "geometry"])
    assert set(frame.geom_type) == {"Point"}
    assert frame.loc["osm:way/202", "location_source"] == (
        "representative point of an OpenStreetMap way"
    )
    assert frame.loc["osm:relation/606", "location_source"] == (
        "representative point of an OpenStreetMap relation"
    )
    assert frame.loc["osm:node/101", "location_source"] == "OpenStreetMap node"
    assert (
        "2 polygon features (buildings, sites) placed at a representative point inside them"
        in messages(overpass)
    )


def test_overpass_lines_rejected_other_types_left_out(overpass):
    [line] = overpass.rejected
    assert (line.row, line.row_label, line.severity) == (5, "feature", "rejected")
    assert "LineString" in line.message and "expected a point or an area" in line.message
    assert str(line).startswith("export.geojson feature 5: ")
    assert overpass.extra["not_premises"] == 1
    assert "1 feature of other types left out, not community premises (pub 1)" in messages(overpass)
    assert accounted(overpass) == overpass.rows_read == 7


def test_vector_features_without_geometry_or_id_are_invalid(tmp_path):
    features = OVERPASS_FEATURES + [
        feature("node/808", None, amenity="library", name="Nowhere library"),  # feature 8
        feature("nonsense", {"type": "Point", "coordinates": [-0.06, 51.52]}, amenity="school"),
        feature("node/1000", None, amenity="pub"),  # not premises: never checked
    ]
    path = write_overpass(tmp_path / "export.geojson", features)
    with pytest.raises(DataValidationError) as err:
        import_file(path, Context(strict=True))
    assert [(p.row, p.row_label) for p in err.value.problems] == [(8, "feature"), (9, "feature")]
    assert "no geometry" in err.value.problems[0].message
    assert "not an OpenStreetMap id" in err.value.problems[1].message
    assert "export.geojson feature 9 column '@id': 'nonsense'" in str(err.value)

    imported = import_file(path, Context(skip_invalid=True))
    assert [p.row for p in imported.rejected] == [5, 8, 9]
    assert len(imported.frame) == 5
    assert accounted(imported) == imported.rows_read == 10


def test_vector_with_no_premises(tmp_path):
    pub = feature("node/1", {"type": "Point", "coordinates": [-0.07, 51.52]}, amenity="pub")
    imported = import_file(write_overpass(tmp_path / "pubs.geojson", [pub]))
    assert imported.frame.empty and imported.frame.crs == geo.CRS_ANALYSIS
    assert accounted(imported) == imported.rows_read == 1


def test_vector_outside_study_area_rejections_name_features(tmp_path):
    path = write_overpass(tmp_path / "export.geojson")
    near = geo.points_from_xy([-0.0652], [51.5172], crs=geo.CRS_DISPLAY).iloc[0]
    context = Context(study_area=near.buffer(100), study_area_name="Mosque corner")
    imported = import_file(path, context)
    assert list(imported.frame["premises_id"]) == ["osm:node/101"]
    outside = [p for p in imported.rejected if "outside the study area" in p.message]
    # every other premises is more than 100 m + the 250 m tolerance from the mosque
    assert [(p.row, p.row_label) for p in outside] == [(n, "feature") for n in (2, 3, 6, 7)]
    assert accounted(imported) == imported.rows_read == 7


def test_osmium_and_numeric_ids(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "osm_id": [11, 12, 13, 14],
            "osm_type": ["node", "way", "", "relation"],
            "amenity": ["library", "community_centre", "school", "place_of_worship"],
            "religion": [None, None, None, "jewish"],
            "addr:postcode": ["not a postcode", None, None, "N16 5AB"],
        },
        geometry=[
            shapely.Point(530_000, 180_000),
            box(530_100, 180_100, 530_150, 180_150),
            shapely.Point(530_200, 180_200),
            box(530_300, 180_300, 530_350, 180_350),
        ],
        crs=geo.CRS_ANALYSIS,
    )
    path = tmp_path / "pois.gpkg"
    frame.to_file(path, driver="GPKG")
    imported = import_file(path)
    assert list(imported.frame["premises_id"]) == [
        "osm:node/11",
        "osm:way/12",
        "osm:osm/13",
        "osm:relation/14",
    ]
    assert list(imported.frame["postcode"].fillna("")) == ["", "", "", "N16 5AB"]
    assert any("1 addr:postcode value is not a UK postcode" in m for m in messages(imported))
    assert imported.frame["religion"].iloc[3] == "Jewish"


def test_ogr2ogr_ids_and_other_tags(tmp_path):
    """ogr2ogr's OSM driver: osm_id for nodes and relations, osm_way_id for closed ways,
    tags it has no column for in other_tags ("key"=>"value" text)."""
    frame = gpd.GeoDataFrame(
        {
            "osm_id": ["21", None, "23", "24"],
            "osm_way_id": [None, "22", None, None],
            "amenity": ["social_facility", "library", "place_of_worship", "social_facility"],
            "other_tags": ['"social_facility"=>"food_bank","wheelchair"=>"yes"', None,
                           '"religion"=>"muslim","denomination"=>"sunni"',
                           '"social_facility"=>"group_home"'],
        },
        geometry=[shapely.Point(530_000, 180_000), box(530_100, 180_100, 530_150, 180_150),
                  box(530_300, 180_300, 530_350, 180_350), shapely.Point(530_400, 180_400)],
        crs=geo.CRS_ANALYSIS,
    )
    path = tmp_path / "amenities.geojson"
    frame.to_crs(geo.CRS_DISPLAY).to_file(path)
    imported = import_file(path)
    assert list(imported.frame["premises_id"]) == ["osm:node/21", "osm:way/22", "osm:relation/23"]
    assert list(imported.frame["type"]) == ["food bank", "library", "place of worship"]
    assert imported.frame["religion"].iloc[2] == "Muslim"
    assert imported.frame["step_free"].iloc[0]
    assert imported.extra["not_premises"] == 1  # the group home
    only_ways = tmp_path / "halls.geojson"
    frame.iloc[[1]].drop(columns="osm_id").to_crs(geo.CRS_DISPLAY).to_file(only_ways)
    assert list(import_file(only_ways).frame["premises_id"]) == ["osm:way/22"]


def test_osm_id_forms():
    table = pd.DataFrame(
        {
            "id": [
                "node/1",
                "way/2",
                "relation/3",
                "n4",
                "w5",
                "r6",
                "a246",
                "a247",
                "8",
                "x9",
                "",
            ],
            "type": [""] * 8 + ["way", "", ""],
        }
    )
    elements, numbers, problems = osm.osm_ids(table, {"id": "id", "element": "type"}, file="t.csv")
    assert list(elements[:9]) == [
        "node",
        "way",
        "relation",
        "node",
        "way",
        "relation",
        "way",
        "relation",
        "way",
    ]
    assert list(numbers[:9]) == ["1", "2", "3", "4", "5", "6", "123", "123", "8"]
    assert [(p.row, p.message.split(" (")[0]) for p in problems] == [
        (12, "missing OpenStreetMap id"),
        (11, "not an OpenStreetMap id"),
    ]


def test_nice_labels():
    values = pd.Series(["christian", "church_of_england", "christian;jewish", "", "Sikh"])
    assert list(osm.nice_labels(values).fillna("-")) == [
        "Christian",
        "Church of England",
        "Christian; Jewish",
        "-",
        "Sikh",
    ]


# -- the real London extract ----------------------------------------------------------


@pytest.fixture(scope="module")
def london_context():
    boroughs = gpd.read_file(london_dir() / "london_boroughs_lad22.geojson")
    area = boroughs.to_crs(geo.CRS_ANALYSIS).union_all()
    return Context(study_area=area, study_area_name="London")


#: README counts; 3 schools (Heathrow edge, Sunbury, South Mimms side) fall outside the
#: borough boundaries by more than the study-area tolerance
LONDON_PREMISES = {
    "community centre": 582,
    "place of worship": 2_871,
    "library": 376,
    "school": 3_257 - 3,
    "health centre": 258,
}


@pytest.mark.realdata
def test_london_osm_pois(london_context):
    path = london_dir() / "london_osm_pois_2020.csv"
    imported = import_file(path, london_context)
    counts = imported.frame["type"].value_counts().to_dict()
    # only these types are in the file today; a row added to categories.csv may add more
    assert {kind: counts.get(kind) for kind in LONDON_PREMISES} == LONDON_PREMISES
    assert imported.rows_read == 52_374
    assert len(imported.rejected) == 3
    assert {p.message for p in imported.rejected} == {"outside the study area (London)"}
    assert accounted(imported) == 52_374
    assert imported.frame["premises_id"].is_unique
    assert imported.vintage == "2020"
    left_out = f"{imported.extra['not_premises']:,} points of other types left out"
    assert any(m.startswith(left_out) for m in messages(imported))
