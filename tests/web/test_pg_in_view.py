"""The web app on PostgreSQL with an incident layer too large to hold
(:data:`mapper.web.data.IN_VIEW_SQL_ROWS`): /api/incidents?bbox= reads only the incidents
in the box (the database's bounding-box search), with the web app's edits laid over them;
the pages' incident figures (filters, types, months, CAN trends) count the database's
summary of the layer; answers and figures are those the whole layer held in memory
gives, and the whole layer is never read."""

from __future__ import annotations

import pytest

from mapper import pgstore
from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.database import DATABASE_URL_ENV
from mapper.pipeline import build_demo
from mapper.store import Workspace
from mapper.web import data


@pytest.fixture(scope="module")
def pg_demo_dir(pg_url, tmp_path_factory):
    directory = tmp_path_factory.mktemp("pg_in_view") / "ws"
    workspace = Workspace(directory, url=pg_url)
    build_demo(workspace)
    analyse(workspace, Settings(stability_draws=4))
    yield directory
    pgstore.close_all()


@pytest.fixture
def client(pg_demo_dir, pg_url, monkeypatch):
    from mapper.web import create_app

    monkeypatch.setenv(DATABASE_URL_ENV, pg_url)
    app = create_app({"TESTING": True, "WORKSPACE": str(pg_demo_dir), "TILES": "none"})
    return app.test_client()


def _box(client) -> str:
    every = client.get("/api/incidents?geometry=true&limit=5000").get_json()
    xs = sorted(f["geometry"]["coordinates"][0] for f in every["features"] if f["geometry"])
    ys = sorted(f["geometry"]["coordinates"][1] for f in every["features"] if f["geometry"])
    # the middle of the incidents: some in, many out
    return f"{xs[len(xs) // 4]},{ys[len(ys) // 4]},{xs[len(xs) // 2]},{ys[len(ys) // 2]}"


def _answers(client, box: str) -> list[dict]:
    queries = [f"bbox={box}", f"bbox={box}&limit=7", f"bbox={box}&limit=7&offset=7",
               f"bbox={box}&type=burglary", f"bbox={box}&from=2024-01&geometry=false"]
    return [client.get(f"/api/incidents?{q}").get_json() for q in queries]


def _too_large(monkeypatch) -> list[dict]:
    """Make the incident layer 'too large to hold', forget what was held, and make a
    read of its rows without a box fail; the reads of it."""
    monkeypatch.setattr(data, "IN_VIEW_SQL_ROWS", 0)
    monkeypatch.setattr(data, "_entries", {})  # nothing held from the answers before
    read = pgstore.read_layer
    reads: list[dict] = []

    def watched(url, name, **kwargs):
        if name == "incidents":
            reads.append(kwargs)
            assert kwargs.get("bbox") is not None or kwargs.get("where") == "1 = 0", \
                "the whole incident layer was read"
        return read(url, name, **kwargs)

    monkeypatch.setattr(pgstore, "read_layer", watched)
    return reads


def _figures(app) -> dict:
    from mapper.analysis.incidents import IncidentFilter
    from mapper.web import neighbourhoods

    with app.test_request_context("/priority"):
        months = data.incident_months()
        chosen = IncidentFilter(months[-6], months[-1], "Burglary")
        plan, monthly = neighbourhoods.incident_coverage_plan(Settings())
        return {"types": data.incident_types(), "months": months,
                "window": data.analysis_incident_window(),
                "wards": data.ward_incidents(chosen),
                "summary": data.filtered_ward_summary(chosen).drop(columns="geometry"),
                "every": data.ward_incidents(IncidentFilter(months[0], months[-1], "")),
                "plan": (plan.types, plan.months, plan.series), "monthly": monthly}


def test_page_figures_count_the_database_summary_of_a_large_layer(client, monkeypatch):
    from pandas.testing import assert_frame_equal

    app = client.application
    held = _figures(app)
    assert held["wards"]["incidents"].sum() > 0
    reads = _too_large(monkeypatch)
    got = _figures(app)
    assert reads == []  # not one row read: the summary was counted in the database
    for name, want in held.items():
        if hasattr(want, "columns"):
            assert_frame_equal(got[name], want, check_dtype=False, obj=name)
        else:
            assert got[name] == want, name
    for page in ("/priority", "/priority?incident_type=burglary", "/neighbourhood/CAN-01"):
        answer = client.get(page)
        assert answer.status_code == 200, (page, answer.get_data(as_text=True)[:300])


def test_incidents_in_a_box_read_only_the_box_from_the_database(client, monkeypatch):
    box = _box(client)
    held = _answers(client, box)  # a small layer: held whole, as before
    assert 0 < held[0]["total"] < 1000
    reads = _too_large(monkeypatch)
    got = _answers(client, box)
    assert len(reads) == len(got)  # one read of the box a request
    for want, have in zip(held, got, strict=True):
        assert have["total"] == want["total"]
        assert have["features"] == want["features"]
        assert have.get("next") == want.get("next")
