"""Which register and category a generic point table holds, from evidence; and the user's
corrections (--as, --map, --category), saved per header signature and reused by later
imports and builds. Every input file is built here, in code."""

from __future__ import annotations

import json

import factories as fx
import pandas as pd
import pytest

from mapper import overlay, registers
from mapper.cli import main
from mapper.errors import MapperError
from mapper.pipeline import build, import_file
from mapper.saved_mappings import SavedMappings
from mapper.sources import evidence
from mapper.sources.choices import signature
from mapper.store import Workspace


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny grid folder (9 wards, 36 LSOAs, 36 postcodes ZZ...), built once."""
    folder = fx.write_folder(tmp_path_factory.mktemp("grid") / "in")
    ws = Workspace(tmp_path_factory.mktemp("grid") / "ws")
    build(folder, ws)
    return folder, ws


@pytest.fixture
def ws(built, tmp_path):
    """A fresh copy of the built workspace for each test."""
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(built[1].directory, copy)
    return Workspace(copy)


@pytest.fixture
def pcs(built):
    return list(built[1].read_layer("postcodes")["postcode"][:6])


def run(ws: Workspace, *args: str) -> int:
    return main(["--workspace", str(ws.directory), *args])


def count(ws: Workspace, register: str) -> int:
    return len(overlay.read_layer(ws, register)) if ws.has_layer(register) else 0


# -- which register, which category ----------------------------------------------------


def test_a_food_bank_list_is_food_groups_and_the_gain_is_printed(ws, pcs, tmp_path, capsys):
    # the type column says nothing known (network names): the file's name says food banks
    path = fx.write_csv(tmp_path / "food_banks_2024.csv", ["Name", "Type", "Postcode"], [
        ["Grid Food Bank", "Trussell Trust", pcs[0]],
        ["Bow Pantry", "Independent", pcs[1]],
        ["Hill Larder", "", pcs[2]],
    ])
    assert run(ws, "import", str(path)) == 0
    out = capsys.readouterr()
    groups = overlay.read_layer(ws, "groups")
    assert groups["category"].tolist() == ["food", "food", "food"]
    assert "Gained: groups +3 (food +3)" in out.out
    assert "its file name says 'food bank'" in out.err
    assert "set to 'food' (from the file as a whole)" in out.out  # the assumption is said
    # a food bank list with a neutral name: its values say it
    other = fx.write_csv(tmp_path / "list.csv", ["name", "type", "postcode"], [
        ["A", "Food bank", pcs[3]], ["B", "Foodbanks", pcs[4]], ["C", "Youth club", pcs[5]]])
    imported = import_file(other, ws)
    assert imported.kind == "groups"
    assert imported.frame["category"].tolist() == ["food", "food", "youth"]
    assert imported.extra["gains"] == "groups +3 (food +2, youth +1)"


def test_a_library_list_is_premises_not_groups(ws, pcs, tmp_path, capsys):
    path = fx.write_csv(tmp_path / "Public Libraries.csv", ["Name", "Address", "Postcode"],
                        [["Grid Library", "1 High St", pcs[0]], ["Hill Library", "", pcs[1]]])
    before = count(ws, "groups")
    assert run(ws, "import", str(path)) == 0
    out = capsys.readouterr().out
    assert count(ws, "groups") == before
    premises = overlay.read_layer(ws, "premises")
    assert premises["type"].tolist() == ["library", "library"]
    assert "Gained: premises +2 (library +2)" in out
    # re-importing it replaces its records: nothing gained
    assert run(ws, "import", str(path)) == 0
    assert "Gained: premises +0" in capsys.readouterr().out


def test_polling_stations_are_premises_by_name_or_by_their_values(ws, pcs, tmp_path):
    path = fx.write_csv(tmp_path / "polling_stations_may2024.csv", ["name", "postcode"],
                        [["St Anne's School", pcs[0]], ["Grid Hall", pcs[1]]])
    imported = import_file(path, ws)
    assert imported.kind == "premises"
    # the file's name says polling stations; a value naming a venue keeps its own type
    assert imported.frame["type"].tolist() == ["polling station", "polling station"]
    venues = fx.write_csv(tmp_path / "stations.csv", ["name", "venue type", "postcode"], [
        ["St Anne's", "Church hall", pcs[2]], ["Grid School", "Primary school", pcs[3]],
        ["Hill", "Library", pcs[4]]])
    found = import_file(venues, ws, mapping={"type": "venue type"})
    assert found.kind == "premises"
    assert found.frame["type"].tolist() == ["hall", "school", "library"]
    assert count(ws, "groups") == 0


def test_a_geojson_title_is_evidence(ws, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    points = gpd.GeoDataFrame({"name": ["Grid School", "Bow Hall"]},
                              geometry=[Point(530_500, 180_500), Point(531_500, 181_500)],
                              crs=27700).to_crs(4326)
    text = points.to_json().replace('"FeatureCollection"',
                                    '"FeatureCollection", "name": "Polling stations 2024"', 1)
    path = tmp_path / "export.geojson"
    path.write_text(text)
    lines: list[str] = []
    imported = import_file(path, ws, progress=lines.append)
    assert (imported.kind, imported.frame["type"].tolist()) == (
        "premises", ["polling station", "polling station"])
    assert "  register: premises (its title says 'polling station')" in lines


def test_a_table_with_no_evidence_stops_and_asks(ws, pcs, tmp_path, capsys):
    path = fx.write_csv(tmp_path / "list.csv", ["name", "postcode"],
                        [["Grid Post Office", pcs[0]], ["Bow", pcs[1]]])
    assert run(ws, "import", str(path)) == 1
    err = capsys.readouterr().err
    assert "cannot tell whether its rows are VCS groups, premises or incidents" in err
    assert "columns: name, postcode; file name: 'list'" in err
    assert "--as groups|premises|incidents" in err and "--category" in err
    assert count(ws, "groups") == 0 and count(ws, "premises") == 0
    # a build lists it as skipped, with the same question, and goes on
    folder = fx.write_folder(tmp_path / "in")
    path.rename(folder / "list.csv")
    report = build(folder, Workspace(tmp_path / "built"))
    skipped = {s.name: s.reason for s in report.plan.skipped}
    assert "cannot tell whether its rows are VCS groups" in skipped["list.csv"]


def test_category_says_the_register_and_sets_every_record(ws, pcs, tmp_path):
    path = fx.write_csv(tmp_path / "list.csv", ["name", "postcode"],
                        [["Grid Post Office", pcs[0]], ["Bow", pcs[1]]])
    imported = import_file(path, ws, category="post office")
    assert imported.kind == "premises"
    assert imported.frame["type"].tolist() == ["post office", "post office"]
    with pytest.raises(MapperError, match="unknown groups category 'library'"):
        import_file(path, ws, register="groups", category="library")
    with pytest.raises(MapperError, match="unknown category 'bakery'; expected one of: faith"):
        import_file(path, ws, category="bakery")


# -- corrections, saved and reused ------------------------------------------------------


def site_file(path, pcs, order=("Label", "Kind", "PC")):
    rows = {"label": ["Grid Pantry", "Bow Pantry"], "kind": ["x", "y"], "pc": pcs[:2]}
    columns = [rows[c.lower()] for c in order]
    return fx.write_csv(path, list(order), [list(r) for r in zip(*columns, strict=True)])


def test_map_as_and_category_are_saved_and_reused(ws, pcs, tmp_path, capsys):
    first = site_file(tmp_path / "entries.csv", pcs)
    # nothing says what the rows are: not imported until the user says
    assert run(ws, "import", str(first)) == 1
    capsys.readouterr()
    assert run(ws, "import", str(first), "--as", "groups", "--map", "name=Label",
               "--map", "postcode=PC", "--category", "food") == 0
    out = capsys.readouterr().out
    sig = signature(["Label", "Kind", "PC"])
    assert f"Saved this mapping as {sig} in {ws.directory / 'mappings.json'}" in out
    assert "Gained: groups +2 (food +2)" in out
    saved = json.loads((ws.directory / "mappings.json").read_text())["mappings"][sig]
    assert (saved["register"], saved["columns"], saved["category"], saved["file"]) == (
        "groups", {"name": "Label", "postcode": "PC"}, "food", "entries.csv")
    # a second file with the same columns, reordered and in another case, uses it
    second = site_file(tmp_path / "more_entries.csv", pcs, order=("pc", "KIND", "label"))
    assert signature(["pc", "KIND", "label"]) == sig
    assert run(ws, "import", str(second)) == 0
    both = capsys.readouterr()
    assert f"using the mapping saved for files with these columns ({sig}" in both.err
    groups = overlay.read_layer(ws, "groups")
    assert sorted(groups["source_file"]) == ["entries.csv"] * 2 + ["more_entries.csv"] * 2
    assert set(groups["category"]) == {"food"}
    # listed, shown, and listed by info; deleted, the file is refused again
    assert run(ws, "mapping", "list") == 0
    listed = capsys.readouterr().out
    assert f"{sig}  --as groups --map name=Label --map postcode=PC --category 'food'" in listed
    assert run(ws, "mapping", "show", sig[:6]) == 0
    assert json.loads(capsys.readouterr().out)[sig]["category"] == "food"
    assert run(ws, "info") == 0
    assert f"Saved column mappings ({ws.directory / 'mappings.json'}" in capsys.readouterr().out
    assert run(ws, "mapping", "delete", sig) == 0
    capsys.readouterr()
    assert SavedMappings(ws.directory).load() == {}
    assert run(ws, "import", str(second)) == 1


def test_build_applies_saved_mappings(ws, pcs, tmp_path, capsys):
    site_file(tmp_path / "entries.csv", pcs)
    assert import_file(tmp_path / "entries.csv", ws, register="premises",
                       mapping={"name": "Label", "postcode": "PC"}, category="hall").kind == (
        "premises")
    folder = fx.write_folder(tmp_path / "in")
    site_file(folder / "venues_2025.csv", pcs, order=("PC", "Label", "Kind"))
    lines: list[str] = []
    build(folder, ws, progress=lines.append)
    premises = overlay.read_layer(ws, "premises")
    assert premises["type"].tolist() == ["hall", "hall"]
    assert set(premises["source_file"]) == {"venues_2025.csv"}
    text = "\n".join(lines)
    assert f"(saved mapping {signature(['Label', 'Kind', 'PC'])}: --as premises" in text
    assert "gained: premises +2 (hall +2)" in text


def test_bad_map_columns_and_fields_are_clear_errors(ws, pcs, tmp_path, capsys):
    path = site_file(tmp_path / "entries.csv", pcs)
    assert run(ws, "import", str(path), "--as", "groups", "--map", "name=Label Name") == 1
    err = capsys.readouterr().err
    assert ("entries.csv: --map name=Label Name: no such column. The file's columns are: "
            "'Label', 'Kind', 'PC'") in err
    assert run(ws, "import", str(path), "--map", "colour=Kind", "--map", "name") == 1
    err = capsys.readouterr().err
    assert "'colour=Kind': unknown field 'colour'" in err
    assert "'name': expected FIELD=COLUMN" in err and "Fields: group_id, name" in err
    assert not (ws.directory / "mappings.json").exists()


def test_corrections_apply_only_to_generic_tables(ws, tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    with pytest.raises(MapperError, match="apply only to generic point tables"):
        import_file(folder / "postcodes.csv", ws, register="groups")


# -- the rules ------------------------------------------------------------------------


def test_words_terms_and_signatures():
    assert evidence.words("Food_Banks & Libraries") == ("food", "bank", "library")
    terms = [evidence.words(t) for t in ("hall", "church", "church hall")]
    assert evidence.find_term("St Mary's Church Hall", terms) == ("church", "hall")
    assert evidence.find_term("Hallam Road", terms) is None
    assert signature(["Post.Code", "Name "]) == signature(["name", "post code"])
    assert signature(["name"]) != signature(["name", "postcode"])


def test_every_term_category_is_in_the_vocabulary_and_every_term_has_a_register():
    shipped = pd.read_csv(registers.CATEGORY_MAP_FILE, comment="#")
    terms = shipped[(shipped["source"] == "generic") & (shipped["field"] == "term")]
    for register, rows in terms.groupby("register"):
        assert set(rows["category"]) <= set(registers.vocabulary(register))
    rules = evidence.rules()
    for register, listed in rules["terms"].items():
        for term in listed:
            owner = rules["term_register"][evidence.words(term)]
            assert owner == register, (term, owner, register)
            # a venue word always names a premises type; a group word a category, if any
            if register == "premises" and term not in ("venue", "premise", "building", "site"):
                assert evidence.term_category(evidence.words(term), "premises"), term


def test_gains_are_net_of_the_records_replaced():
    new = pd.DataFrame({"category": ["food", "food", "youth"]})
    old = pd.DataFrame({"category": ["food", "advice"]})
    assert registers.gains("groups", new, old) == "groups +1 (advice -1, food +1, youth +1)"
    assert registers.gains("premises", pd.DataFrame({"type": []}), None) == "premises +0"


def decide(file: str, values: list[str], **said):
    fields = {"name": "name", "type": "type", "postcode": "postcode"}
    return evidence.decide(file=file, columns=list(fields.values()), fields=fields,
                           head=pd.DataFrame({"type": values}), **said)


def test_decisions_from_values_name_and_what_was_said():
    # venues of several kinds (a polling-station list as published) are premises
    mixed = decide("stations.csv", ["School", "Church hall", "Library", "Scout hut"])
    assert (mixed.register, mixed.category) == ("premises", None)
    assert mixed.reasons == ["read as premises: 75% of its 'type' values name premises"]
    # words with a meaning only for groups (categories.csv) name groups
    assert decide("directory.csv", ["Youth", "Older people", "Advice"]).register == "groups"
    # the values win over the file's name; the dominant value gives the default type
    libraries = decide("community_groups.csv", ["Public library", "Library", "Mobile library"])
    assert (libraries.register, libraries.category) == ("premises", "library")
    # the name column's header: 'pharmacy_name' rows are pharmacies
    fields = {"name": "pharmacy_name", "postcode": "postcode"}
    pharmacies = evidence.decide(file="export.csv", columns=list(fields.values()),
                                 fields=fields, head=pd.DataFrame())
    assert (pharmacies.register, pharmacies.category) == ("premises", "pharmacy")
    assert pharmacies.reasons[0] == (
        "read as premises: its name column 'pharmacy_name' says 'pharmacy'")
    # no evidence: a question showing what was seen, never groups
    unknown = decide("list.csv", ["A", "A", "B"])
    assert unknown.register is None
    assert "values: 'A' (2), 'B' (1); file name: 'list'" in unknown.question
    # what the user said wins, and --category alone says the register
    assert decide("list.csv", ["A"], register="incidents").register == "incidents"
    food = decide("list.csv", ["A"], category="food")
    assert (food.register, food.category, food.forced) == ("groups", "food", True)


def test_the_mappings_file_is_editable_and_checked(ws, pcs, tmp_path, capsys):
    path = site_file(tmp_path / "entries.csv", pcs)
    import_file(path, ws, register="groups", mapping={"name": "Label", "postcode": "PC"},
                category="food")
    store = ws.directory / "mappings.json"
    data = json.loads(store.read_text())
    sig = signature(["Label", "Kind", "PC"])
    data["mappings"][sig]["category"] = "advice"  # edited by hand
    store.write_text(json.dumps(data))
    assert set(import_file(path, ws).frame["category"]) == {"advice"}
    data["mappings"][sig]["register"] = "people"
    store.write_text(json.dumps(data))
    assert run(ws, "mapping", "list") == 1
    err = capsys.readouterr().err
    assert "mappings.json: not a readable mappings file (unknown register 'people'" in err
    store.write_text("{not json")
    with pytest.raises(MapperError, match="not a readable mappings file"):
        import_file(path, ws)
