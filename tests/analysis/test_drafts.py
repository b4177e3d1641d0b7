"""Officers' drafts (what-ifs) and the published versions of the CAN selection, on the
3x3 grid of tests/factories.py.

By hand (see tests/analysis/test_can_identity.py): ward n's unmet need falls with n, so with
``can_min_population=0`` the top share picks wards 1.. in order. Published (top share
0.5: 4.5 -> wards 1-5): CAN-01 = wards 1-3 (Southfield), CAN-02 = wards 4-5 (Middleton).
A draft at top share 0.3 (2.7 -> wards 1-3) keeps CAN-01 and drops wards 4-5 (CAN-02);
one at 0.7 (6.3 -> wards 1-7) adds ward 6 to CAN-02 and makes ward 7 a new CAN-03.
"""

from __future__ import annotations

import shutil

import factories as fx
import pytest
from accounts import post, sign_in

from mapper.analysis import drafts
from mapper.analysis.selections import compare
from mapper.config import Settings
from mapper.store import Workspace

BASE = dict(can_min_population=0, stability_draws=5)


@pytest.fixture
def grid(shared_grid_drafts, tmp_path):
    """The tiny grid analysed with BASE and can_top_share=0.5 (a copy of the run's)."""
    directory = tmp_path / "ws"
    shutil.copytree(shared_grid_drafts, directory)
    return Workspace(directory)


@pytest.fixture
def app(grid):
    from mapper.web import create_app

    return create_app({"TESTING": True, "WORKSPACE": str(grid.directory), "TILES": "none"})


def _cans(ws) -> dict[str, str]:
    cans = ws.read_layer("neighbourhoods", read_geometry=False)
    return dict(zip(cans["can_id"], cans["ward_codes"], strict=True))


PUBLISHED = {"CAN-01": "E05900001; E05900002; E05900003", "CAN-02": "E05900004; E05900005"}


def test_compare_by_hand():
    def sel(cans):
        return {"settings": "", "cans": [
            {"can_id": c, "name": c, "rank": i + 1, "population": 1.0, "unmet_need": 0.0,
             "stability": None, "top_drivers": "",
             "wards": [{"code": w, "name": f"W{w}", "borough": "", "population": 1.0}
                       for w in ws]} for i, (c, ws) in enumerate(cans.items())]}
    published = sel({"CAN-01": ["a", "b"], "CAN-02": ["c"]})
    draft = sel({"CAN-01": ["a", "b", "d"], "CAN-03": ["e"]})
    result = compare(published, draft)
    assert [(w["code"], w["status"], w["published_can"], w["draft_can"])
            for w in result.wards] == [
        ("a", "both", "CAN-01", "CAN-01"), ("b", "both", "CAN-01", "CAN-01"),
        ("c", "published", "CAN-02", ""), ("d", "draft", "", "CAN-01"),
        ("e", "draft", "", "CAN-03")]
    assert [(c["can_id"], c["change"], c["gained"], c["lost"]) for c in result.cans] == [
        ("CAN-01", "changed", ["Wd"], []), ("CAN-03", "new", ["We"], []),
        ("CAN-02", "retired", [], ["Wc"])]


def test_a_draft_leaves_the_published_results_and_compares_by_hand(grid):
    before = grid.meta()["analysed_at"]
    narrower = drafts.create_draft(grid, Settings(**BASE, can_top_share=0.3), owner="olly",
                                   name="  Fewer   wards ")
    wider = drafts.create_draft(grid, Settings(**BASE, can_top_share=0.7), owner="olly")
    # nothing published changed: layers, run time, CAN history, versions
    assert _cans(grid) == PUBLISHED
    assert grid.meta()["analysed_at"] == before
    assert len(grid.appdb.versions()) == 1
    assert [r["can_id"] for r in grid.appdb.can_history()] == ["CAN-01", "CAN-02"]

    draft = grid.appdb.draft(narrower)
    assert draft["name"] == "Fewer wards" and draft["owner"] == "olly"
    _pub, _prop, result = drafts.draft_comparison(grid, draft)
    assert [(w["code"], w["status"]) for w in result.wards] == [
        ("E05900001", "both"), ("E05900002", "both"), ("E05900003", "both"),
        ("E05900004", "published"), ("E05900005", "published")]
    assert [(c["can_id"], c["change"]) for c in result.cans] == [
        ("CAN-02", "retired"), ("CAN-01", "kept")]

    _pub, proposed, result = drafts.draft_comparison(grid, grid.appdb.draft(wider))
    assert [(w["code"], w["status"], w["draft_can"]) for w in result.wards][3:] == [
        ("E05900004", "both", "CAN-02"), ("E05900005", "both", "CAN-02"),
        ("E05900006", "draft", "CAN-02"), ("E05900007", "draft", "CAN-03")]
    assert [(c["can_id"], c["change"], c["gained"]) for c in result.cans] == [
        ("CAN-02", "changed", ["Ward 6"]), ("CAN-03", "new", ["Ward 7"]),
        ("CAN-01", "kept", [])]
    # audited: who, which draft, the settings differing
    rows = grid.appdb.read_audit(register="drafts")
    assert [(r["actor"], r["action"], r["record_id"]) for r in rows] == [
        ("olly", "create", str(wider)), ("olly", "create", str(narrower))]
    assert rows[1]["detail"] == ("draft 'Fewer wards': 1 CAN; settings differing from the "
                                 "published: can_top_share")


def test_officer_draft_page_private_and_admin_publishes_a_new_version(app_backend, app, grid):
    if app_backend == "postgresql":  # the copied run's app database, moved to PostgreSQL
        from mapper.appdb import APP_DB_FILE, load_from_sqlite

        load_from_sqlite(grid.appdb, grid.directory / APP_DB_FILE)
    officer = sign_in(app.test_client(), "officer", username="olly")
    response = post(officer, "/priority/drafts", data={
        "can_top_share": "0.3", "can_min_population": "0", "draft_name": "Fewer wards"})
    assert response.status_code == 303
    url = response.headers["Location"]
    assert url.endswith("/priority/drafts/1")
    assert _cans(grid) == PUBLISHED  # the published selection is untouched
    page = officer.get(url).get_data(as_text=True)
    assert "Fewer wards" in page
    assert 'data-status="published"><th scope="row">Ward 4</th>' in page
    assert 'data-status="both"><th scope="row">Ward 1</th>' in page
    assert 'data-change="retired"><th scope="row">CAN-02' in page
    assert "/vendor/leaflet/leaflet.js" in page and "cdn" not in page.lower()
    assert 'id="publish"' not in page  # only administrators publish
    assert "olly" in officer.get("/priority/drafts").get_data(as_text=True)
    # invalid settings: the priority page again, with the problem, and no draft
    bad = post(officer, "/priority/drafts", data={"can_top_share": "2"})
    assert bad.status_code == 400 and grid.appdb.draft(2) is None

    # another officer: not there; a partner, anonymous: refused
    other = sign_in(app.test_client(), "officer", username="otto")
    assert other.get(url).status_code == 404
    assert "Fewer wards" not in other.get("/priority/drafts").get_data(as_text=True)
    partner = sign_in(app.test_client(), "partner", username="pat")
    assert partner.get(url).status_code == 403
    assert post(partner, "/priority/drafts", data={"can_top_share": "0.3"}).status_code == 403
    assert app.test_client().get(url).status_code == 302  # to the sign-in page
    assert post(app.test_client(), "/priority/drafts",
                data={"can_top_share": "0.3"}).status_code == 401
    assert post(officer, url + "/publish").status_code == 403
    # a POST without the CSRF token is refused
    admin = sign_in(app.test_client(), "admin", username="ada")
    assert admin.post(url + "/publish").status_code == 400
    assert _cans(grid) == PUBLISHED

    old_record = admin.get("/priority/versions/1").get_data(as_text=True)
    assert "Ward 4, Ward 5" in old_record
    response = post(admin, url + "/publish")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/priority/versions")
    assert _cans(grid) == {"CAN-01": PUBLISHED["CAN-01"]}
    versions = grid.appdb.versions()
    assert [(v["version"], v["actor"], v["draft_id"]) for v in versions] == [
        (2, "ada", 1), (1, "cli", None)]
    assert grid.appdb.draft(1)["published_version"] == 2
    listing = partner.get("/priority/versions").get_data(as_text=True)
    assert "Version 2" in listing and "Version 1" in listing
    assert "Share of wards considered (highest unmet need first) (0.5 → 0.3)" in listing
    # the old version's record keeps its old wards; the new one has only CAN-01
    old = partner.get("/priority/versions/1").get_data(as_text=True)
    assert "Ward 4, Ward 5" in old and "CAN-02" in old and "superseded" in old
    new = partner.get("/priority/versions/2").get_data(as_text=True)
    assert "Ward 1, Ward 2, Ward 3" in new and "CAN-02" not in new
    assert app.test_client().get("/priority/versions/1").status_code == 302
    assert partner.get("/priority/versions/9").status_code == 404
    # publishing twice is refused
    assert post(admin, url + "/publish").status_code == 409
    # audit: the draft's creation, its publication and the run, each with who
    audit = [(r["actor"], r["action"], r["register"], r["record_id"])
             for r in grid.appdb.read_audit(limit=50) if r["register"] in (
                 "drafts", "analysis")]
    assert audit[:3] == [("ada", "publish", "drafts", "1"),
                         ("ada", "analysis", "analysis", ""),
                         ("olly", "create", "drafts", "1")]
    run = grid.appdb.read_audit(register="analysis")[0]
    assert run["detail"].startswith("draft 1 'Fewer wards' by olly, published (web): "
                                    "settings changed: can_top_share 0.5 -> 0.3.")


def test_a_draft_says_when_the_data_changed_after_it_was_made(grid, tmp_path):
    from mapper.pipeline import import_file

    draft_id = drafts.create_draft(grid, Settings(**BASE, can_top_share=0.3), owner="olly")
    assert not drafts.data_changed(grid, grid.appdb.draft(draft_id))
    path = fx.write_csv(tmp_path / "groups.csv", ["name", "category", "easting", "northing"],
                        [["Grid Food Bank", "food", "530500", "180500"]])
    import_file(path, grid)
    assert drafts.data_changed(grid, grid.appdb.draft(draft_id))


def test_a_drafts_can_changes_are_those_publishing_it_makes(grid):
    def changes(draft_id):
        _pub, _prop, result = drafts.draft_comparison(grid, grid.appdb.draft(draft_id))
        return {(c["can_id"], c["change"], tuple(c["replaced_by"])) for c in result.cans}

    merged = drafts.create_draft(grid, Settings(**BASE, can_top_share=0.5,
                                                can_cross_borough=True), owner="olly")
    assert changes(merged) == {("CAN-01", "changed", ()), ("CAN-02", "retired", ("CAN-01",))}
    report = drafts.publish_draft(grid, grid.appdb.draft(merged), actor="ada")
    assert (report.identity.changed, report.identity.retired) == (["CAN-01"], ["CAN-02"])
    # back to separate boroughs: CAN-02 comes back under its old id, as publishing says
    apart = drafts.create_draft(grid, Settings(**BASE, can_top_share=0.5), owner="olly")
    assert changes(apart) == {("CAN-01", "changed", ()), ("CAN-02", "revived", ())}
    report = drafts.publish_draft(grid, grid.appdb.draft(apart), actor="ada")
    assert (report.identity.changed, report.identity.revived) == (["CAN-01"], ["CAN-02"])
    assert [v["version"] for v in grid.appdb.versions()] == [3, 2, 1]
