"""Shared fixtures: a tiny hand-built workspace, the web app, a live server, a browser.

``tiny_workspace``
    a workspace directory holding a 3x3 grid of 1 km square wards (EPSG:27700, south-west
    corner at easting 530000, northing 180000) in three boroughs, one per row of the grid.
``app`` / ``client``
    the Flask app on ``tiny_workspace`` and its test client.
``live_server``
    the real app served on a free port of 127.0.0.1 in a background thread.
``pg_url``
    a fresh PostgreSQL database (PostGIS enabled) for the test module, dropped after: its
    URL. Skipped without ``MAPPER_TEST_DATABASE_URL`` (failed under CI): see
    ``tests/pgtest.py`` and ``.ci/postgres``.
``app_backend``
    parametrises a test module over both app databases (SQLite, then PostgreSQL).
``browser_page``
    a headless Chromium page (Playwright) that records console errors, page errors and
    every request to a host other than 127.0.0.1/localhost (those are blocked). Skipped
    when Chromium or Playwright is missing, unless browsers are required (``CI`` set to
    anything but ""/"0"/"false", or ``MAPPER_REQUIRE_BROWSER=1``), where that fails.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import pytest
from factories import grid

# The tests mirror the package (tests/sources, tests/analysis, tests/maps, tests/web,
# tests/web/browser, tests/realdata). Their modules are imported by their own names
# (pytest's default "prepend" import mode). Helpers and fixtures shared by test modules in
# different folders live in helper modules in tests/ (accounts.py, factories.py,
# demo_editing.py, upload_files.py, route_sweep.py, expected.py, ...), never in a test
# module: a test module imported by another runs its imports twice and couples the two.
# Every folder is still put on the path from the start, so an import finds the one module
# whatever order the folders are collected in.
_TESTS = Path(__file__).resolve().parent
for _folder in sorted(p for p in _TESTS.rglob("*") if p.is_dir() and p.name != "__pycache__"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

#: where browser tests save screenshots (gitignored)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ENV = "MAPPER_CHROMIUM"
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

GRID_ORIGIN = (530_000.0, 180_000.0)
GRID_CELL_M = 1_000.0
TINY_BOROUGHS = [
    ("E09900001", "Southfield"),
    ("E09900002", "Middleton"),
    ("E09900003", "Northbrook"),
]
TINY_STUDY_AREA = "Tinytown (synthetic)"


# -- tiny data ------------------------------------------------------------------------


def grid_wards() -> gpd.GeoDataFrame:
    """3x3 grid of 1 km wards in EPSG:27700; row r (south to north) is borough r.

    Ward codes E05900001..E05900009 run west to east, then south to north. One name
    holds characters that must be escaped in HTML ("&" and an apostrophe).
    """
    cells = grid(3, 3, size=GRID_CELL_M, origin=GRID_ORIGIN)
    rows = [
        {
            "ward_code": f"E0590000{n}",
            "ward_name": f"{TINY_BOROUGHS[r][1]} {'West Central East'.split()[c]}",
            "borough_code": TINY_BOROUGHS[r][0],
            "borough_name": TINY_BOROUGHS[r][1],
            "geometry": geometry,
        }
        for n, r, c, geometry in cells[["n", "row", "col", "geometry"]].itertuples(index=False)
    ]
    rows[4]["ward_name"] = "St Mary's & Holy Trinity"
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")


def grid_boroughs(wards: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    wards = grid_wards() if wards is None else wards
    dissolved = wards.dissolve(by="borough_code", as_index=False)
    return dissolved[["borough_code", "borough_name", "geometry"]]


def write_workspace(directory, *, synthetic: str = "yes", study_area: str = TINY_STUDY_AREA):
    """Write the grid workspace into `directory` and return the directory as a Path."""
    from mapper.store import Provenance, Workspace

    wards = grid_wards()
    attribution = "Contains OS data © Crown copyright and database right 2024"
    with Workspace(directory).transaction() as tx:
        tx.write_layer(
            "wards",
            wards,
            Provenance(
                layer="wards",
                kind="wards",
                source_file="tiny_wards.geojson",
                vintage="2024",
                licence="OGL v3",
                attribution=attribution,
                rows_read=len(wards),
                rows_imported=len(wards),
            ),
        )
        boroughs = grid_boroughs(wards)
        tx.write_layer(
            "boroughs",
            boroughs,
            Provenance(
                layer="boroughs",
                kind="boroughs",
                source_file="tiny_boroughs.geojson",
                vintage="2024",
                licence="OGL v3",
                attribution=attribution,
                rows_read=len(boroughs),
                rows_imported=len(boroughs),
            ),
        )
        tx.set_meta("study_area", study_area)
        tx.set_meta("synthetic", synthetic)
    return Path(directory)


@pytest.fixture
def tiny_wards() -> gpd.GeoDataFrame:
    return grid_wards()


@pytest.fixture
def tiny_workspace(tmp_path) -> Path:
    """Directory of a synthetic workspace with the 3x3 grid of wards and 3 boroughs."""
    return write_workspace(tmp_path / "workspace")


# -- the web app ----------------------------------------------------------------------


@pytest.fixture
def app(tiny_workspace):
    from mapper.web import create_app

    return create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace), "TILES": "none"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def pg_url():
    from pgtest import fresh_database

    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def app_backend(request, monkeypatch):
    """Run the test on each store: the workspace's GeoPackage and SQLite file, then the
    module's PostgreSQL database (``pg_url``, emptied first) holding the layers and the
    app database. A module opts in with
    ``pytestmark = pytest.mark.usefixtures("app_backend")``; yields the dialect.

    On PostgreSQL the first workspace the test opens that has a GeoPackage (a fixture's
    copy of the demo or the grid) has its layers copied into PostGIS then
    (:meth:`mapper.store.Workspace.copy_from`), so the fixtures that build GeoPackages
    serve both stores."""
    from mapper import appdb, pgstore
    from mapper.database import DATABASE_URL_ENV
    from mapper.store import Workspace

    appdb.close_all()
    pgstore.close_all()
    if request.param == "sqlite":
        monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    else:
        import psycopg

        url = request.getfixturevalue("pg_url")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {appdb.PG_SCHEMA} CASCADE")
            conn.execute(f"DROP SCHEMA IF EXISTS {pgstore.SCHEMA} CASCADE")
        monkeypatch.setenv(DATABASE_URL_ENV, url)
        seeded: list[str] = []
        real_init = Workspace.__init__

        def init(self, directory=None, url=None):
            real_init(self, directory, url)
            if url is None and self.url is not None and not seeded and self.path.is_file():
                seeded.append(str(self.directory))
                self.copy_from(Workspace(self.directory, url=""))

        monkeypatch.setattr(Workspace, "__init__", init)
    yield request.param
    appdb.close_all()
    pgstore.close_all()


@pytest.fixture
def live_server():
    """Serve a WSGI app on a free local port: ``url = live_server(app)``."""
    from werkzeug.serving import make_server

    servers = []

    def serve(wsgi_app) -> str:
        server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- the browser ----------------------------------------------------------------------


def browser_required() -> bool:
    """Browser tests must run (fail, not skip, when impossible) on CI or when asked."""
    ci = os.environ.get("CI", "").strip().lower()
    return (ci not in ("", "0", "false")) or os.environ.get("MAPPER_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str):
    if browser_required():
        pytest.fail(f"browser tests are required here (CI / MAPPER_REQUIRE_BROWSER) but {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for candidate in CHROMIUM_PATHS:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium launched through Playwright (session-wide)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        _unavailable(
            f"Chromium was not found (apt-get install chromium, or set {CHROMIUM_ENV})"
        )
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except Exception as error:  # noqa: BLE001 - any launch failure means "no browser"
            _unavailable(f"Chromium at {executable} did not start: {error}")
        yield browser
        browser.close()


#: how long a browser test waits for a page to load
NAVIGATION_TIMEOUT_MS = 90_000


@dataclass
class BrowserPage:
    """A page plus everything that went wrong on it."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    #: "status URL: what the body says" of each answer of 400 or more: context for a
    #: console error "Failed to load resource" (which names neither), not a problem of
    #: its own (tests that expect a 4xx clear its console error)
    failed_responses: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"request to another host (blocked): {u}" for u in self.foreign_requests]
        )

    def assert_clean(self) -> None:
        problems = self.problems()
        context = [f"answered {r}" for r in self.failed_responses]
        assert not problems, "the page was not clean:\n" + "\n".join(problems + context)


def _record_failure(watched: BrowserPage, response) -> None:
    """Note an answer of 400 or more with its URL and what its body says."""
    if response.status < 400:
        return
    try:
        body = response.text()
    except Exception as error:  # noqa: BLE001 - the page may have gone: say so
        body = f"(body unreadable: {error})"
    description = re.search(r"<p>(.*?)</p>", body, re.S)
    said = (description.group(1) if description else body).strip().splitlines()
    watched.failed_responses.append(f"{response.status} {response.url}: "
                                    f"{said[0][:300] if said else ''}")


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh page; fails the test on console errors, page errors or foreign requests.

    It asks for `live_server` so that it is torn down first: the page closes while the
    test's servers still answer (closed first, a request still in flight, such as a
    prefetched layer, was reset: "net::ERR_CONNECTION_RESET").

    Requests to hosts other than 127.0.0.1/localhost are blocked and recorded, so a test
    never reaches the internet and a page that tries to is caught.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    # a page load on a machine busy with the other test worker can pass 30 s (the
    # default): what the tests check is what the page shows, not how fast it came
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    page = context.new_page()
    watched = BrowserPage(page)

    def route(route_obj):
        url = route_obj.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and (
            urlsplit(url).hostname not in LOCAL_HOSTS
        ):
            watched.foreign_requests.append(url)
            route_obj.abort()
        else:
            route_obj.continue_()

    context.route("**/*", route)
    page.on(
        "console",
        lambda msg: msg.type == "error" and watched.console_errors.append(msg.text),
    )
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    page.on("response", lambda response: _record_failure(watched, response))
    yield watched
    context.close()
    watched.assert_clean()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# -- the demo workspace -------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory) -> Path:
    """The demo workspace, built and analysed once per test run. Read-only: tests that
    change a workspace use :func:`demo_copy`."""
    from mapper.analysis_run import analyse
    from mapper.config import Settings
    from mapper.pipeline import build_demo
    from mapper.store import Workspace

    directory = tmp_path_factory.mktemp("shared-demo") / "demo"
    workspace = Workspace(directory)
    build_demo(workspace)
    analyse(workspace, Settings(stability_draws=10))
    _SHARED_DEMO_STATE[:] = [directory, _app_rows(directory)]
    return directory


#: the shared demo and what its app database held when it was made (see
#: :func:`_shared_demo_untouched`)
_SHARED_DEMO_STATE: list = []


def _app_rows(directory: Path) -> tuple[int, int]:
    """How many users and audit rows a workspace's app database holds."""
    import sqlite3
    from contextlib import closing

    path = directory / "mapper-app.sqlite"
    if not path.exists():
        return (0, 0)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for table in ("users", "audit"))  # type: ignore[return-value]


@pytest.fixture(autouse=True, scope="module")
def _shared_demo_untouched():
    """Fail the module that signs in, views contacts or edits on the shared demo: its
    users and audit rows would leak into every later ``demo_copy`` on that worker (the
    audit-count tests then fail far from the cause). Use ``demo_copy`` or
    ``demo_module_copy`` to change a workspace."""
    yield
    if _SHARED_DEMO_STATE:
        directory, before = _SHARED_DEMO_STATE
        after = _app_rows(directory)
        assert after == before, (
            f"this module changed the shared demo's app database (users, audit rows: "
            f"{before} -> {after}); use demo_copy or demo_module_copy")


@dataclass(frozen=True)
class LondonBuild:
    """The London workspace built from the real files, and the report of that build."""

    directory: Path
    report: object


@pytest.fixture(scope="session")
def shared_london(tmp_path_factory) -> LondonBuild:
    """The London workspace, built and analysed once per test run from
    ../shared/data/london (skipped, or failed under CI, when the files are missing: see
    realdata.py), as `mapper build` makes it. Read-only: a test may add users to its app
    database, but never edits records."""
    from realdata import london_dir

    from mapper.analysis_run import analyse
    from mapper.config import Settings
    from mapper.pipeline import build
    from mapper.store import Workspace

    source = london_dir()
    directory = tmp_path_factory.mktemp("shared-london") / "london"
    workspace = Workspace(directory)
    report = build(source, workspace)
    analyse(workspace, Settings(stability_draws=10))
    return LondonBuild(directory, report)


@pytest.fixture
def london_copy(shared_london, tmp_path) -> Path:
    """A private copy of the built London workspace (about 65 MB: a fraction of a second),
    for a test that analyses it again or changes it."""
    directory = tmp_path / "london"
    shutil.copytree(shared_london.directory, directory)
    return directory


@pytest.fixture
def demo_copy(shared_demo, tmp_path) -> Path:
    """A private copy of the demo workspace, for a test that changes it."""
    directory = tmp_path / "demo"
    shutil.copytree(shared_demo, directory)
    return directory


@pytest.fixture(scope="module")
def demo_module_copy(shared_demo, tmp_path_factory) -> Path:
    """A private copy of the demo workspace for one test module: the module's tests may
    change it (sign-ins, edits, renamed wards), and share the changes with each other but
    never with another module. Far cheaper than building and analysing the demo again."""
    directory = tmp_path_factory.mktemp("demo-module") / "demo"
    shutil.copytree(shared_demo, directory)
    return directory


# -- the tiny grid, built ----------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_grid(tmp_path_factory) -> Path:
    """The tiny grid input folder (``factories.write_folder``: 9 wards, 36 LSOAs, postcodes
    ZZ...) built as ``mapper build`` builds it, once per test run. Read-only: tests that
    change a workspace use :func:`grid_copy`."""
    from factories import write_folder

    from mapper.pipeline import build
    from mapper.store import Workspace

    root = tmp_path_factory.mktemp("shared-grid")
    directory = root / "ws"
    build(write_folder(root / "in"), Workspace(directory))
    return directory


@pytest.fixture
def grid_copy(shared_grid, tmp_path) -> Path:
    """A private copy of the built tiny grid, at ``tmp_path / "ws"`` (a copy costs a
    millisecond; a build, seconds)."""
    directory = tmp_path / "ws"
    shutil.copytree(shared_grid, directory)
    return directory


@pytest.fixture(scope="session")
def shared_grid_drafts(shared_grid, tmp_path_factory) -> Path:
    """The built tiny grid analysed with the settings the draft tests start from
    (``can_min_population=0, stability_draws=5, can_top_share=0.5``), once per test run.
    Read-only: copy it (``shutil.copytree``) to change it."""
    from mapper.analysis_run import analyse
    from mapper.config import Settings
    from mapper.store import Workspace

    directory = tmp_path_factory.mktemp("shared-grid-drafts") / "ws"
    shutil.copytree(shared_grid, directory)
    analyse(Workspace(directory),
            Settings(can_min_population=0, stability_draws=5, can_top_share=0.5))
    return directory


@pytest.fixture
def grid_dir(shared_grid_drafts, tmp_path) -> Path:
    """The tiny grid analysed as the draft tests start from (:func:`shared_grid_drafts`):
    a copy of the run's, at ``tmp_path / "ws"``, for a test that changes it."""
    directory = tmp_path / "ws"
    shutil.copytree(shared_grid_drafts, directory)
    return directory


# -- the whole run's log --------------------------------------------------------------------


def _worker_id(config) -> str | None:
    """The pytest-xdist worker this process is ("gw0", ...), or None in the main process."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def _worker_logs(run_log: Path) -> list[Path]:
    return sorted(run_log.parent.glob(f"{run_log.stem}.gw*{run_log.suffix}"))


def pytest_configure(config):
    """Under pytest-xdist (``-n 2``) tests are sent to the workers by group (whole modules,
    see :func:`pytest_collection_modifyitems`), and every worker writes the run's log to a
    file of its own beside ``log_file`` (``pytest-run.gw0.log`` ...): one file written by
    several processes at once would lose records. The main process removes those of an
    earlier run first."""
    worker = _worker_id(config)
    if worker is None and _distributes(config):
        # whole modules to a worker (see pytest_collection_modifyitems), whatever --dist says
        config.option.dist = "loadgroup"
    elif worker is not None:
        config.option.loadgroup = True  # a worker: name each test's group in its node id
    log_file = config.getoption("log_file", None) or config.getini("log_file")
    if not log_file:
        return
    run_log = Path(log_file)
    if worker is None:
        for old in _worker_logs(run_log.absolute()):
            old.unlink(missing_ok=True)
    else:
        config.option.log_file = str(run_log.with_name(f"{run_log.stem}.{worker}{run_log.suffix}"))


#: the session fixture that only a few modules use and that is the dearest to build: under
#: pytest-xdist the modules using it share one worker, so it is built once
_ONE_WORKER_FIXTURES = ("shared_london",)


def _distributes(config) -> bool:
    return bool(getattr(config.option, "numprocesses", None))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``python -m pytest -n 2``) a test module runs whole on one worker
    (its module fixtures are built once and its tests run in their order, as without xdist),
    and the modules using the London build (:data:`_ONE_WORKER_FIXTURES`) share a worker."""
    if _worker_id(config) is None:
        return  # not under xdist (only its workers collect)
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    for module, module_items in modules.items():
        uses = {f for item in module_items for f in getattr(item, "fixturenames", ())}
        shared = sorted(uses.intersection(_ONE_WORKER_FIXTURES))
        group = shared[0] if shared else Path(module).stem
        for item in module_items:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when any test's logging wrote an e-mail address or phone number.

    pytest writes every log record of the run to ``log_file`` (pyproject.toml), and each
    pytest-xdist worker to a file of its own beside it; the main process scans them all
    once everything has run, whatever ran and in whatever order (tests/test_log_privacy.py
    checks a representative round of contact-touching work on its own).
    """
    from log_scan import personal_data_in

    if _worker_id(session.config) is not None:
        return  # the main process scans every worker's log when all have finished
    plugin = session.config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None or not session.testscollected:
        return
    handler = plugin.log_file_handler
    handler.flush()
    path = Path(handler.baseFilename)
    if not session.config.getini("log_file") or not path.is_file():
        _fail_run(session, "no run log to scan: set log_file in pyproject.toml "
                           "([tool.pytest.ini_options])")
        return
    logs = [path, *_worker_logs(path)]
    if getattr(session.config.option, "numprocesses", None) and len(logs) == 1:
        _fail_run(session, f"no worker's log beside {path.name} to scan (pytest-xdist)")
        return
    for log in logs:
        leaks = personal_data_in(log.read_text(encoding="utf-8", errors="replace"))
        if leaks:
            _fail_run(session, f"contact details in the test run's log {log.name}: "
                               f"{leaks[:10]} (log ids and counts, never e-mail addresses or "
                               "phone numbers)")


def _fail_run(session, message: str) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(f"FAILED log scan: {message}", red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
