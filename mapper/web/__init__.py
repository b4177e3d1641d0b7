"""The web app: ``create_app()`` builds it; one blueprint per user job.

Configuration keys
------------------
WORKSPACE
    directory of the workspace to show (default: :func:`mapper.store.resolve_workspace`,
    i.e. ``$MAPPER_WORKSPACE`` or ``./workspace``).
TILES
    map background: "none" (default, works offline), "osm" (OpenStreetMap), "light"
    (CartoDB Positron), or the path of a raster or vector MBTiles or PMTiles file the app serves
    under ``/tiles`` (works offline). "osm" and "light" fetch tiles from the internet.
    Default: ``$MAPPER_TILES`` or "none". A vector (pbf) archive is drawn with the style
    TILES_STYLE names.
TILES_STYLE
    a Mapbox GL / MapLibre style JSON file for a vector tile archive (default:
    ``$MAPPER_TILES_STYLE``, or the built-in plain style when empty).

Every script and stylesheet is served by the app itself: folium's CDN links are replaced
by the files of the ``xstatic`` packages, served under ``/vendor/<package>/<file>``.
Errors are translated once, here: users see an HTML error page (or ``{"error": ...}`` on
``/api/`` paths) with a 4xx status for anything they can act on, never a traceback.
"""

from __future__ import annotations

import os
import threading
import time

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_from_directory,
)
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from mapper import __version__, missing, resources
from mapper.errors import MapperError
from mapper.maps.assets import VENDOR_DIRS, vendor_serves
from mapper.maps.base import TILE_CHOICES
from mapper.store import Workspace, resolve_workspace

#: help text for each setting (shown in errors; a test checks each key has one)
SETTINGS_HELP = {
    "WORKSPACE": "directory of the workspace to show ($MAPPER_WORKSPACE or ./workspace)",
    "TILES": f"map background, one of {', '.join(TILE_CHOICES)} or the path of a raster or "
    "vector MBTiles/PMTiles file ($MAPPER_TILES); 'none' and a file work offline",
    "TILES_STYLE": "a Mapbox GL / MapLibre style JSON file drawing a vector tile archive "
    "($MAPPER_TILES_STYLE; empty: the built-in plain style)",
}

#: the environment variable naming the default TILES (a key or an archive's path)
TILES_ENV = "MAPPER_TILES"
#: the environment variable naming the default TILES_STYLE (a style file's path)
TILES_STYLE_ENV = "MAPPER_TILES_STYLE"

#: how long browsers may cache the vendored library files, in seconds
VENDOR_MAX_AGE = 24 * 3600


def create_app(test_config: dict | None = None, *, warm: bool = False) -> Flask:
    """Create the web app.

    Parameters
    ----------
    test_config : settings overriding the defaults (``WORKSPACE``, ``TILES`` and any
        Flask setting such as ``TESTING``)
    warm : make now what the first requests would otherwise wait for (the groups, their
        nearest-groups index and what ``/api/nearest`` answers from, the overview map):
        a server does this before it takes requests (and before worker processes fork).
        Nothing to warm without a workspace.

    Raises MapperError when a setting has a value the app cannot use.
    """
    app = Flask(
        __name__,
        template_folder=str(resources.templates_dir()),
        static_folder=str(resources.static_dir()),
        static_url_path="/static",  # not the folder's name: in a wheel it is mapper/_static
    )
    app.config.from_mapping(WORKSPACE=str(resolve_workspace()),
                            TILES=os.environ.get(TILES_ENV) or "none",
                            TILES_STYLE=os.environ.get(TILES_STYLE_ENV) or "")
    if test_config is not None:
        app.config.from_mapping(test_config)
    _check_settings(app.config)

    from mapper.web import (
        admin,
        api,
        auth,
        basemap,
        contact_lists,
        contacts,
        context,
        data,
        drafts,
        edit_api,
        editor,
        features,
        incidents,
        neighbourhoods,
        overview,
        priority,
        ratelimit,
        recheck,
        security,
        signin,
        tiles,
        uploads,
    )

    basemap.init_app(app)  # opens a tile archive (MapperError naming a bad one)
    app.register_blueprint(vendor)
    for blueprint in (overview.bp, priority.bp, neighbourhoods.bp, incidents.bp, api.bp,
                      editor.bp, edit_api.bp, admin.bp, uploads.bp, contact_lists.bp,
                      recheck.bp, drafts.bp, features.bp, signin.bp, tiles.bp, context.bp):
        app.register_blueprint(blueprint)
    app.extensions[api.OPENAPI_PATHS] = (edit_api.openapi_paths, uploads.openapi_paths)
    app.context_processor(_navigation)
    app.context_processor(_analysis_notice)
    app.add_url_rule("/health", "health", health)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.jinja_env.globals["mapper_version"] = __version__
    app.jinja_env.filters["shown"] = missing.shown  # a missing value: "not recorded"
    app.jinja_env.filters["day"] = missing.shown_day  # a date: "3 Nov 2026"
    app.jinja_env.filters["address"] = missing.address_line  # address, postcode (once)
    app.jinja_env.globals["contact_notice"] = contacts.notice  # what this user may see
    app.jinja_env.globals["default_source_columns"] = data.SOURCE_COLUMNS
    init_errors(app)
    auth.init_app(app)
    ratelimit.init_app(app)  # after auth: signed-in users are not limited
    security.init_app(app)
    if warm:
        warmer = Warmer(app, (api.prepare, overview.prepare, priority.prepare,
                              neighbourhoods.prepare, incidents.prepare),
                        later=(neighbourhoods.prepare_all,))
        app.extensions["mapper.warmer"] = warmer
        # the server calls it in each serving process once it listens (after any fork)
        app.extensions[ON_SERVE] = warmer.start
        for name in app.jinja_env.list_templates(extensions=["html"]):
            app.jinja_env.get_template(name)  # compiled now, not by the first visitors
        warmer.run()
        app.before_request(warmer.before_request)
        app.teardown_request(warmer.after_request)
    return app


#: app.extensions key: what :func:`mapper.serving.serve` calls in each serving process
#: before it answers (the background warm-up of every CAN page)
ON_SERVE = "mapper.on_serve"


def _store_part(version: tuple) -> tuple:
    """The GeoPackage's identity in a workspace version (path, modification time, size),
    without the edits counter (:func:`mapper.web.data.current`)."""
    return tuple(version[:3])


class Warmer:
    """Each blueprint's `prepare` (which fills :mod:`mapper.web.data`'s caches for the
    workspace as it is now), run before the server takes requests, then the `later`
    preparers (every CAN's page) in a background thread once the server answers
    (:meth:`start`), and both again, in the background, after a request has seen the
    GeoPackage change (rebuilt, re-analysed or restored): one warm-up at a time, and
    requests never wait for it (while it remakes a cache, :func:`mapper.web.data.cached`
    serves them the previous version; a page it has not reached yet is made by its
    request, as without a warm-up).

    An edit alone does not start a warm-up: the request after an edit makes what it
    needs itself (only what the edit touched), so an officer always sees their own edit
    on the next page rather than the version a background warm-up was replacing."""

    #: the longest the background warm-up waits for the requests in flight to end before
    #: its next page (it never waits for ever: it ends in bounded time under load)
    PAUSE_S = 2.0

    def __init__(self, app: Flask, preparers, later=()):
        self.app = app
        self.preparers = tuple(preparers)
        self.later = tuple(later)
        self.version: tuple | None = None  # the version warmed last (or being warmed)
        self.runs = 0  # warm-ups finished (tests read it)
        #: what /health reports: "started" once the start part is warm, "warming" while
        #: the background part runs, then "warm"
        self.state = "cold"
        self.seconds: dict[str, float] = {}  # how long each part of the last warm-up took
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._active = 0  # requests being answered (the warm-up gives way to them)

    def run(self, *, later: bool = False) -> None:
        """Warm the caches for the workspace as it is now (nothing without a workspace;
        a page that cannot be shown yet, as before an analysis, has nothing to warm);
        with `later`, the background part too."""
        from mapper.web import data

        if not Workspace(self.app.config["WORKSPACE"]).exists():
            return
        parts = [("start", self.preparers)] + ([("background", self.later)] if later else [])
        for part, preparers in parts:
            began = time.perf_counter()
            with self.app.test_request_context("/"):
                if part == "start":
                    self.version = data.current()[1]
                    _analysis_notice()
                for prepare in preparers:
                    self._prepare(prepare)
            self.seconds[part] = round(time.perf_counter() - began, 2)
        if self.state == "cold":
            self.state = "started"  # the start part: the background part is start()'s
        self.runs += 1

    def start(self) -> None:
        """Warm the background part (every CAN's page) in a thread: the server answers
        meanwhile. Called by the server in each process that serves, once it listens."""
        if not self.later:
            return
        self._spawn(self._later)

    def _later(self) -> None:
        try:
            began = time.perf_counter()
            with self.app.test_request_context("/"):
                for prepare in self.later:
                    self._prepare(prepare)
            self.seconds["background"] = round(time.perf_counter() - began, 2)
        except Exception:  # noqa: BLE001 - a failed warm-up leaves requests to make it
            self.app.logger.exception("warming the CAN pages failed")

    def _prepare(self, prepare) -> None:
        """Run one preparer; one that yields (page by page) gives way to the requests in
        flight between its steps."""
        try:
            steps = prepare()
            if steps is not None:
                for _ in steps:
                    self._give_way()
        except HTTPException:
            pass

    def _give_way(self) -> None:
        """Wait (at most :attr:`PAUSE_S`) until no request is being answered: a request
        then has the interpreter to itself but for the one page being warmed."""
        deadline = time.monotonic() + self.PAUSE_S
        while self._active > 0 and time.monotonic() < deadline:
            time.sleep(0.02)

    def before_request(self) -> None:
        with self._lock:
            self._active += 1
        g.mapper_warm_counted = True

    def _spawn(self, target) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self.state = "warming"

            def body():
                try:
                    target()
                finally:
                    self.state = "warm"

            self._thread = threading.Thread(target=body, name="mapper-warm", daemon=True)
            self._thread.start()

    def after_request(self, _error=None) -> None:
        """After a request that read the workspace at a version not warmed yet: warm it in
        a background thread (unless one is warming already; it starts again if the
        version moved on meanwhile)."""
        from mapper.web import data

        if g.pop("mapper_warm_counted", False):
            with self._lock:
                self._active -= 1
        seen = data.seen_version()
        if seen is None or (self.version is not None and _store_part(seen) ==
                            _store_part(self.version)):
            return
        self._spawn(self._background)

    def _background(self) -> None:
        from mapper.web import data

        try:
            while True:
                self.run(later=True)
                with self.app.test_request_context("/"):
                    now = data.current()[1]
                    if self.version is not None and _store_part(now) == \
                            _store_part(self.version):  # the GeoPackage did not move on
                        return
        except Exception:  # noqa: BLE001 - a failed warm-up leaves requests to make it
            self.app.logger.exception("warming the caches failed")

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background warm-up in progress (tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def _check_settings(config) -> None:
    tiles = config["TILES"]
    if not isinstance(tiles, str | os.PathLike) or not str(tiles).strip():
        raise MapperError(f"TILES must be text; got {tiles!r} ({SETTINGS_HELP['TILES']})")
    if str(tiles) not in TILE_CHOICES and not os.path.isfile(tiles):
        raise MapperError(
            f"TILES must be one of {', '.join(TILE_CHOICES)}; got {str(tiles)!r}, which is "
            f"neither a choice nor an existing tile archive file ({SETTINGS_HELP['TILES']})"
        )
    config["WORKSPACE"] = str(config["WORKSPACE"])


#: the header links: (endpoint, label), one per user job
NAVIGATION = (
    ("overview.index", "Map"),
    ("priority.page", "Priority areas"),
    ("neighbourhoods.index", "Neighbourhoods"),
    ("incidents.incident", "Incident response"),
    ("contact_lists.page", "Contacts"),  # partners and above
    ("recheck.index", "Re-checking"),  # partners and above
    ("api.docs", "API"),
    ("editor.index", "Register"),  # officers only: links show to roles their view allows
    ("uploads.form", "Upload"),
    ("admin.users", "Users"),
)


def _navigation() -> dict:
    from flask import url_for

    current = request.endpoint or ""
    links = []
    for endpoint, label in NAVIGATION:
        if endpoint in current_app.view_functions and _may_see(endpoint):
            section = endpoint.split(".")[0]
            links.append({"url": url_for(endpoint), "label": label,
                          "current": current.split(".")[0] == section})
    return {"navigation": links}


def _analysis_notice() -> dict:
    """``analysis_notice``: why the stored analysis is out of date, or "" when it is not
    (every page shows it: :func:`mapper.analysis_run.analysis_state`)."""
    from werkzeug.exceptions import HTTPException

    from mapper.analysis_run import STATE_TEXT, analysis_state
    from mapper.web import data

    try:
        state = data.cached("analysis_state",
                            lambda ws: analysis_state(ws.meta(), ws.layers()))
    except (HTTPException, OSError):  # no workspace (yet): the page says so itself
        return {"analysis_notice": ""}
    return {"analysis_notice": STATE_TEXT.get(state, "")}


def _may_see(endpoint: str) -> bool:
    """Whether the current user has the role the view needs (``require_role``)."""
    from mapper.users import rank
    from mapper.web.auth import current_user

    needed = getattr(current_app.view_functions[endpoint], "required_role", "public")
    return rank(current_user().role) >= rank(needed)


def health():
    """Up, and how warm: ``warm`` is "warming" while the background warm-up (every CAN's
    page) runs, then "warm", with how long each part took in seconds."""
    warmer = current_app.extensions.get("mapper.warmer")
    if warmer is None:
        return jsonify(status="ok")
    return jsonify(status="ok", warm=warmer.state, warm_seconds=warmer.seconds)


def favicon():
    """The site's icon (static/favicon.ico, a few hundred bytes) where browsers look for it
    without a link."""
    icon = resources.static_dir() / "favicon.ico"
    return current_app.response_class(
        icon.read_bytes(), mimetype="image/x-icon",
        headers={"Cache-Control": f"public, max-age={VENDOR_MAX_AGE}"})


# -- vendored scripts and styles --------------------------------------------------------

vendor = Blueprint("vendor", __name__, url_prefix="/vendor")


@vendor.get("/<package>/<path:filename>")
def vendor_file(package: str, filename: str):
    """A file of a vendored library (Leaflet, its marker clusters, jQuery, Leaflet.heat)."""
    if package not in VENDOR_DIRS:
        abort(404, description=f"No library '{package}' here (have: {', '.join(VENDOR_DIRS)}).")
    if not vendor_serves(package, filename):
        abort(404, description=f"No file '{filename}' of '{package}' here.")
    # send_from_directory refuses paths that leave the directory (404).
    return send_from_directory(VENDOR_DIRS[package], filename, max_age=VENDOR_MAX_AGE)


# -- errors ---------------------------------------------------------------------------


def init_errors(app: Flask) -> None:
    """Translate every error into a page (or JSON under /api/) without a traceback."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(MapperError, _mapper_error)
    app.register_error_handler(Exception, _unexpected_error)


#: headers of an HTTP error worth keeping on our own error page
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _http_error(error: HTTPException):
    body, status = _error_response(error.code or 500, error.name, error.description or "")
    headers = {k: v for k, v in error.get_headers() if k in _KEPT_HEADERS}
    return body, status, headers


def _mapper_error(error: MapperError):
    # Something the user can act on (bad data, a missing layer...): the message says what.
    return _error_response(400, "Cannot show this page", str(error))


def _unexpected_error(error: Exception):
    current_app.logger.exception("unexpected error on %s", request.path)
    return _error_response(
        500,
        "Sorry, something went wrong",
        "Something went wrong while preparing this page. The details are in the log of "
        "the terminal running 'mapper serve'.",
    )


def _wants_json() -> bool:
    return request.path in ("/api", "/ogc") or request.path.startswith(("/api/", "/ogc/"))


def _error_response(status: int, title: str, message: str):
    if _wants_json():
        return jsonify(error=message), status
    try:
        body = render_template("error.html", status=status, title=title, message=message)
    except Exception:  # noqa: BLE001 - the error page itself must never fail
        body = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>" + (
            f"<p>{escape(message)}</p>"
        )
    return body, status


__all__ = ["create_app"]
