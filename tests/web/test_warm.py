"""A warmed app (``create_app(warm=True)``, as ``mapper serve`` makes it) answers the first
request of each page from caches made before any request, and warms them again in the
background after the workspace changes."""

from __future__ import annotations

import pytest

from mapper import overlay
from mapper.editing import current_record, save_record
from mapper.store import Workspace
from mapper.web import create_app, data


@pytest.fixture
def warm_app(demo_copy):
    data._entries.clear()
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)}, warm=True)
    return app, Workspace(demo_copy)


def _first_pages(app, workspace: Workspace) -> list[str]:
    cans = workspace.read_layer("neighbourhoods").sort_values("rank", kind="stable")
    with app.test_request_context("/"):
        postcode = data.example_postcode()
    assert postcode
    return [f"/neighbourhood/{cans['can_id'].iloc[0]}", "/", "/priority", "/api/docs",
            "/api/wards", f"/incident?postcode={postcode}",
            f"/api/nearest?postcode={postcode}", f"/api/search?q={postcode}",
            "/api/search?q=a"]


def _made_by(client, path: str) -> dict[str, int]:
    before = dict(data.builds)
    response = client.get(path)
    assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    return {k: n - before.get(k, 0) for k, n in data.builds.items() if n != before.get(k, 0)}


def test_the_first_requests_of_a_warmed_app_make_no_cache(warm_app):
    app, workspace = warm_app
    warmer = app.extensions["mapper.warmer"]
    assert warmer.runs == 1
    client = app.test_client()
    for path in _first_pages(app, workspace):
        assert _made_by(client, path) == {}, path  # nothing made in the request
    warmer.wait(30)
    assert warmer.runs == 1  # the version did not change: no second warm-up


def test_an_edit_is_made_by_the_next_request_not_warmed_in_the_background(warm_app):
    """Read your own edit: a background warm-up would serve the edited page's previous
    version while it remakes it, so an edit alone starts none."""
    app, workspace = warm_app
    warmer = app.extensions["mapper.warmer"]
    client = app.test_client()
    group = overlay.read_layer(workspace, "groups").sort_values("group_id").iloc[0]
    _record, version, _retired = current_record(workspace, "groups", group["group_id"])
    save_record(workspace, "groups", {"name": "Renamed for the warm-up"}, actor="tester",
                record_id=group["group_id"], expected_version=version)
    client.get("/api/docs")  # sees the new edits version
    warmer.wait(30)
    assert warmer.runs == 1  # no warm-up for an edit
    page = client.get(f"/ward/{group['ward_code']}").get_data(as_text=True)
    assert "Renamed for the warm-up" in page  # the very next page shows it


def test_a_changed_geopackage_is_warmed_in_the_background_after_the_next_request(warm_app):
    app, workspace = warm_app
    warmer = app.extensions["mapper.warmer"]
    client = app.test_client()
    with workspace.transaction() as tx:  # as a re-analysis or an import would
        tx.set_meta("warm_test", "changed")
    assert client.get("/health").status_code == 200  # reads no data: no warm-up
    warmer.wait(30)
    assert warmer.runs == 1
    client.get("/api/docs")  # sees the new GeoPackage: a warm-up starts after it
    warmer.wait(60)
    assert warmer.runs == 2
    can_page = _first_pages(app, workspace)[0]
    assert _made_by(client, can_page) == {}  # made by the warm-up, not in the request


def test_the_server_warms_every_can_page_in_the_background(warm_app):
    """What the server starts once it listens (``mapper.on_serve``): every CAN's page,
    each then answered without making anything; /health says how warm the app is."""
    app, workspace = warm_app
    warmer = app.extensions["mapper.warmer"]
    client = app.test_client()
    assert client.get("/health").get_json()["warm"] == "started"
    app.extensions["mapper.on_serve"]()
    warmer.wait(120)
    health = client.get("/health").get_json()
    assert health["warm"] == "warm" and health["warm_seconds"]["background"] >= 0
    cans = workspace.read_layer("neighbourhoods")["can_id"].astype(str)
    assert len(cans) > 1
    for can_id in cans:
        assert _made_by(client, f"/neighbourhood/{can_id}") == {}, can_id
    assert len(data._entries["neighbourhoods:can-page"]) == len(cans)  # all kept
