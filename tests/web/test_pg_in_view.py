"""/api/incidents?bbox= on PostgreSQL with an incident layer too large to hold
(:data:`mapper.web.layers.IN_VIEW_SQL_ROWS`): only the incidents in the box are read (the
database's bounding-box search), with the web app's edits laid over them, and the answer
is the one the whole layer held in memory gives."""

from __future__ import annotations

import pytest

from mapper import pgstore
from mapper.database import DATABASE_URL_ENV
from mapper.pipeline import build_demo
from mapper.store import Workspace
from mapper.web import layers


@pytest.fixture(scope="module")
def pg_demo_dir(pg_url, tmp_path_factory):
    directory = tmp_path_factory.mktemp("pg_in_view") / "ws"
    build_demo(Workspace(directory, url=pg_url))
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


def test_incidents_in_a_box_read_only_the_box_from_the_database(client, monkeypatch):
    box = _box(client)
    held = _answers(client, box)  # a small layer: held whole, as before
    assert 0 < held[0]["total"] < 1000
    monkeypatch.setattr(layers, "IN_VIEW_SQL_ROWS", 0)  # the layer is now 'too large'
    read = pgstore.read_layer
    reads: list[dict] = []

    def watched(url, name, **kwargs):
        if name == "incidents":
            reads.append(kwargs)
            assert kwargs.get("bbox") is not None, "the whole incident layer was read"
        return read(url, name, **kwargs)

    monkeypatch.setattr(pgstore, "read_layer", watched)
    from mapper.web import data

    monkeypatch.setattr(data, "_entries", {})  # nothing held from the answers before
    got = _answers(client, box)
    assert len(reads) == len(got)  # one read of the box a request
    for want, have in zip(held, got, strict=True):
        assert have["total"] == want["total"]
        assert have["features"] == want["features"]
        assert have.get("next") == want.get("next")
