"""Real-data runs on the West Yorkshire files in ../shared/data/west-yorkshire (see
realdata.py): point files read by meaning, from a folder with a sub-folder, with the
counts of that folder's README."""

from __future__ import annotations

import pytest
from realdata import west_yorkshire_dir

from mapper.pipeline import build, plan_build
from mapper.sources import REGISTER_KINDS, Skipped, detect_file
from mapper.store import Workspace

pytestmark = pytest.mark.realdata

OSM_FILES = [
    f"west-yorkshire-amenities-{kind}.geojson"
    for kind in ("community_centre", "community_hall", "food_bank", "library",
                 "place_of_worship", "social_centre", "social_facility-food_bank",
                 "social_facility", "townhall")
]


@pytest.fixture(scope="module")
def wy():
    return west_yorkshire_dir()


def test_the_amenities_sub_folder_is_read_and_the_postcode_table_is_no_register(wy):
    plan = plan_build(wy)
    registers = {d.path.name: d for d in plan.registers}
    assert set(OSM_FILES) <= set(registers)
    assert all(registers[name].kind == "premises" for name in OSM_FILES)
    assert sum(registers[name].rows for name in OSM_FILES) == 1_903  # README: 1903 in total
    postcodes = detect_file(wy / "postcodes2latlon_nspl_may2025_wy.csv")
    assert isinstance(postcodes, Skipped) or postcodes.kind not in REGISTER_KINDS


def test_osm_amenities_in_a_sub_folder_become_premises(wy, tmp_path):
    folder = tmp_path / "in"
    (folder / "osm_amenities").mkdir(parents=True)
    (folder / "lad.geojson").symlink_to(wy / "lad_boundaries_LAD13_wy.geojson")
    for name in OSM_FILES:
        (folder / "osm_amenities" / name).symlink_to(wy / "osm_amenities" / name)
    report = build(folder, Workspace(tmp_path / "ws"))
    premises = report.registers["premises"]
    by_file = {imp.extra["file"]: imp for imp in report.points}
    assert sum(imp.rows_read for imp in by_file.values()) == 1_903
    # 341 social facilities are not food banks (other_tags social_facility) and are left
    # out; the one place of worship outside the LAD13 union (README) lies 112 m beyond its
    # edge, within the study area's 250 m tolerance for generalised boundaries
    assert len(premises) == 1_903 - 341 == 1_562
    assert premises["type"].value_counts().to_dict() == {
        "place of worship": 1_062,
        "community centre": 294 + 3,
        "library": 129,
        "food bank": 1 + 19 + 19,
        "hall": 34 + 1,
    }
    library = by_file["west-yorkshire-amenities-library.geojson"]
    assert any("76 polygon features" in str(w) for w in library.warnings)
    # ogr2ogr's ids: osm_way_id for closed ways, osm_id for nodes (points) and relations
    elements = library.frame["premises_id"].str.extract(r"^osm:(\w+)/")[0]
    assert elements.value_counts().to_dict() == {"way": 75, "node": 53, "relation": 1}
    assert premises["borough_code"].str.fullmatch(r"E0800003[2-6]").all()
    # the same food banks come in two files: flagged as likely duplicates, never merged
    assert premises["duplicate_of"].notna().sum() >= 19
