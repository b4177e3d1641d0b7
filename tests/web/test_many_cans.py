"""A study area with more than a hundred CANs: every CAN's page, download and link works,
ids written in another case or zero padding redirect to the id as issued, and a
workspace holding three-digit ids from before keeps its links, grants and versions."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3

import factories as fx
import pytest
from accounts import sign_in

from mapper.analysis.drafts import create_draft
from mapper.analysis_run import analyse
from mapper.appdb import AppDB
from mapper.config import Settings
from mapper.pipeline import build
from mapper.store import Provenance, Workspace
from mapper.users import resolve_grant

pytestmark = pytest.mark.slow

#: 11 x 11 wards, each a CAN of its own (CANs hold at most 1,999 residents: fx.write_grid_folder)
SIDE = 11
CANS = SIDE * SIDE
EVERY_WARD_A_CAN = Settings(can_top_share=1.0, can_supply_below_median=False,
                            can_min_population=0, can_max_population=1999,
                            can_split="balanced", stability_draws=5)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("many-cans")
    ws = Workspace(base / "ws")
    build(fx.write_grid_folder(base / "in", SIDE, SIDE), ws)
    analyse(ws, EVERY_WARD_A_CAN)
    return ws.directory


@pytest.fixture
def workspace(built, tmp_path):
    """A copy of the built workspace, for a test to change."""
    return shutil.copytree(built, tmp_path / "ws")


def _client(directory):
    from mapper.web import create_app

    app = create_app({"TESTING": True, "WORKSPACE": str(directory), "TILES": "none"})
    return app.test_client()


@pytest.fixture(scope="module")
def client(built):
    return _client(built)


def test_ids_run_from_can_01_to_can_121_in_rank_order(built):
    cans = Workspace(built).read_layer("neighbourhoods", read_geometry=False)
    cans = cans.sort_values("rank")
    assert list(cans["can_id"]) == [f"CAN-{n:02d}" for n in range(1, CANS + 1)]
    assert list(cans["rank"]) == list(range(1, CANS + 1))
    history = AppDB(built).can_history()
    assert [r["can_id"] for r in history] == list(cans["can_id"])  # in number order


def test_every_can_page_opens_including_the_9th_and_the_100th(client):
    for n in range(1, CANS + 1):
        can_id = f"CAN-{n:02d}"
        response = client.get(f"/neighbourhood/{can_id}")
        assert response.status_code == 200, can_id
        assert can_id in response.get_data(as_text=True)
    for can_id in ("CAN-09", "CAN-100"):
        assert client.get(f"/neighbourhood/{can_id}/assets.csv").status_code == 200
        response = client.get(f"/neighbourhood/{can_id}/boundary.geojson")
        assert response.status_code == 200
        assert f"{can_id}-boundary.geojson" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("typed, issued", [
    ("CAN-9", "CAN-09"), ("CAN-009", "CAN-09"), ("can-09", "CAN-09"), ("CAN-1", "CAN-01"),
    ("CAN-001", "CAN-01"), ("can-100", "CAN-100"), ("CAN-0100", "CAN-100"),
    ("Can-121", "CAN-121")])
def test_an_id_written_otherwise_redirects_permanently_to_the_id_as_issued(
        client, typed, issued):
    response = client.get(f"/neighbourhood/{typed}?category=food&sort=-name")
    assert response.status_code == 301
    assert response.location.endswith(f"/neighbourhood/{issued}?category=food&sort=-name")
    response = client.get(f"/neighbourhood/{typed}/assets.geojson")
    assert response.status_code == 301
    assert response.location.endswith(f"/neighbourhood/{issued}/assets.geojson")
    response = client.get(f"/neighbourhood/{typed}/boundary.csv")
    assert response.status_code == 301
    assert response.location.endswith(f"/neighbourhood/{issued}/boundary.csv")
    assert client.get(response.location).status_code == 200


def test_an_unknown_id_is_still_the_helpful_404(client):
    for typed in ("CAN-122", "can-0122", "CAN-0"):
        response = client.get(f"/neighbourhood/{typed}")
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "There is no Community Action Neighbourhood" in page
        assert "CAN-09 (" in page and "CAN-100 (" in page


def test_lists_api_and_decision_record_name_every_can_in_number_order(client):
    page = client.get("/priority").get_data(as_text=True)
    for can_id in ("CAN-09", "CAN-99", "CAN-100", "CAN-121"):
        assert f'href="/neighbourhood/{can_id}"' in page
    record = client.get("/priority/decision-record").get_data(as_text=True)
    positions = [record.index(f"CAN-{n:02d}") for n in (9, 10, 99, 100, 121)]
    assert positions == sorted(positions)
    rows = client.get("/neighbourhoods/boundaries.csv").get_data(as_text=True)
    assert {f"CAN-{n:02d}" for n in range(1, CANS + 1)} <= set(re.findall(r"CAN-\d+", rows))
    export = client.get("/priority/export.csv").get_data(as_text=True)
    assert ",CAN-100," in export and ",CAN-09," in export
    answer = client.get("/api/wards?can_id=can-0100&can_id=CAN-9&geometry=false").get_json()
    assert sorted(f["properties"]["can_id"] for f in answer["features"]) == [
        "CAN-09", "CAN-100"]


def test_grants_and_contact_lists_read_an_id_in_any_width(workspace):
    ws = Workspace(workspace)
    cans = ws.read_layer("neighbourhoods", read_geometry=False).set_index("can_id")
    for typed in ("CAN-100", "can-0100"):
        assert resolve_grant(ws, [typed]).wards == (cans.loc["CAN-100", "ward_codes"],)
    assert resolve_grant(ws, ["CAN-9"]).wards == (cans.loc["CAN-09", "ward_codes"],)
    client = sign_in(_client(workspace), "officer")
    response = client.get("/contacts?neighbourhood=can-100")
    assert response.status_code == 200
    assert "neighbourhood CAN-100 " in response.get_data(as_text=True)
    response = client.get("/due/neighbourhood/can-0100")
    assert response.status_code == 301 and response.location.endswith(
        "/due/neighbourhood/CAN-100")


# -- a workspace holding three-digit ids ------------------------------------------------------


def _three_digits(text: str) -> str:
    return re.sub(r"CAN-(\d+)", lambda m: f"CAN-{int(m.group(1)):03d}", text)


def _rewrite_as_three_digits(directory) -> None:
    """The workspace as if analysed when ids were padded to three digits: the stored
    layers, the CAN history, the versions and drafts."""
    ws = Workspace(directory)
    with ws.transaction() as tx:
        for name in ("neighbourhoods", "ward_summary"):
            frame = ws.read_layer(name)
            frame["can_id"] = frame["can_id"].map(
                lambda c: _three_digits(c) if isinstance(c, str) else c)
            tx.write_layer(name, frame, Provenance(layer=name, kind="analysis",
                                                   source_file="mapper analyse"))
    with sqlite3.connect(AppDB(directory).path) as conn:
        for table, key, columns in (("can_history", "can_id", ("can_id", "replaced_by")),
                                    ("selection_versions", "version", ("snapshot",)),
                                    ("drafts", "id", ("results",))):
            for row in conn.execute(f"SELECT {key}, {', '.join(columns)} FROM {table}")\
                    .fetchall():
                conn.execute(f"UPDATE {table} SET "
                             + ", ".join(f"{c} = ?" for c in columns) + f" WHERE {key} = ?",
                             (*(_three_digits(t) for t in row[1:]), row[0]))


def test_three_digit_ids_from_before_keep_their_links_grants_and_versions(workspace):
    ws = Workspace(workspace)
    create_draft(ws, EVERY_WARD_A_CAN, owner="test-officer", name="same settings")
    before = resolve_grant(ws, ["CAN-05"])
    _rewrite_as_three_digits(workspace)
    assert [r["can_id"] for r in AppDB(workspace).can_history()][:3] == [
        "CAN-001", "CAN-002", "CAN-003"]
    client = sign_in(_client(workspace), "admin")
    for typed in ("CAN-001", "CAN-1", "CAN-01", "can-0001"):
        response = client.get(f"/neighbourhood/{typed}", follow_redirects=True)
        assert response.status_code == 200 and response.request.path == "/neighbourhood/CAN-001"
    assert client.get("/neighbourhood/CAN-100").status_code == 200  # three digits already
    # a grant of CAN-05 today is the wards CAN-005 has
    assert resolve_grant(ws, ["CAN-05"]).wards == before.wards
    # the published version and the draft list the old ids, and their links resolve
    version = client.get("/priority/versions/1").get_data(as_text=True)
    assert "CAN-009" in version and "CAN-100" in version
    draft = client.get("/priority/drafts/1")
    assert draft.status_code == 200
    for href in sorted(set(re.findall(r'href="(/neighbourhood/CAN-\d+)"',
                                      version + draft.get_data(as_text=True))))[:20]:
        assert client.get(href, follow_redirects=True).status_code == 200, href
    # a new run keeps the three-digit ids of the CANs found again, and retires others;
    # retired ids in any width reach the retired page
    report = analyse(ws, Settings(**{**json.loads(EVERY_WARD_A_CAN.to_json()),
                                     "can_top_share": 0.5}))
    kept = list(report.neighbourhoods.index)
    assert kept and all(re.fullmatch(r"CAN-\d{3}", c) for c in kept)
    assert set(report.identity.kept) == set(kept)
    retired = report.identity.retired
    assert "CAN-121" in retired or "CAN-120" in retired
    gone = retired[0]  # e.g. CAN-0nn
    client = sign_in(_client(workspace), "admin")
    response = client.get(f"/neighbourhood/CAN-{int(gone[4:])}")
    assert response.status_code == 301 and response.location.endswith(f"/neighbourhood/{gone}")
    page = client.get(response.location).get_data(as_text=True)
    assert "was retired on" in page


def test_the_place_search_finds_a_can_by_its_id_in_any_width(client):
    for q, can_id in (("can-7", "CAN-07"), ("CAN-007", "CAN-07"), ("CAN-0100", "CAN-100"),
                      ("CAN-100", "CAN-100")):
        answer = client.get("/api/search", query_string={"q": q}).get_json()
        first = answer["features"][0]["properties"]
        assert (first["kind"], first["id"]) == ("neighbourhood", can_id), (q, first)
