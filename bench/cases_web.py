"""Cases of the web app and the build, on a real (or demo) workspace.

* map page weight: our pages' bytes and their time to the ``load`` event (and until
  every group is in its layer) in headless Chromium against an unsimplified folium dump
  of the same layers, both served on loopback;
* API throughput: ``/api/nearest`` against ``/health`` under the same bounded load, the
  app run by ``mapper serve`` (one worker process per core, as on a shared server; and
  the one-process default);
* API while editing: ``/api/nearest`` while a signed-in officer edits a group every 2 s
  (``PATCH /api/groups/<id>``), against the same load without edits, in paired rounds;
* end to end: ``mapper build --from DIR`` in a child process (wall time, peak memory)
  against only reading the input files.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from bench.core import Check, Comparison, Result, log, slowdown, speedup
from bench.generate import CATEGORIES, CATEGORY_WEIGHTS
from mapper import overlay
from mapper.cli import SERVE_THREADS, WORKER_THREADS

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
LONDON_ENV = "MAPPER_LONDON_DATA"
DEFAULT_LONDON = Path(__file__).resolve().parents[2] / "shared" / "data" / "london"


def london_dir() -> tuple[Path | None, str]:
    """The real London data folder and "", or None and why it is not there."""
    chosen = Path(os.environ.get(LONDON_ENV) or DEFAULT_LONDON)
    if (chosen / "london_wards_2018.geojson").is_file():
        return chosen, ""
    return None, (f"real London data not found in {chosen} (set {LONDON_ENV} to the folder "
                  "holding london_wards_2018.geojson)")


def chromium_path() -> str | None:
    """The Chromium to drive ($MAPPER_CHROMIUM or a Debian path), or None."""
    chosen = os.environ.get("MAPPER_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for candidate in CHROMIUM_PATHS:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


# == running the mapper command in a child and measuring it ================================

_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "maxrss_kb": peak, "returncode": done.returncode,
                  "output": (done.stdout + done.stderr)[-4000:]}))
"""

_READ_INPUTS = """
import sys
from pathlib import Path
import pandas as pd
import pyogrio
rows = 0
for path in sorted(Path(sys.argv[1]).iterdir()):
    if path.suffix in (".geojson", ".gpkg", ".shp"):
        rows += len(pyogrio.read_dataframe(path))
    elif path.suffix == ".csv":
        rows += len(pd.read_csv(path, low_memory=False, encoding_errors="replace",
                                header=None if path.name.startswith("nohdr") else "infer"))
print(rows)
"""


def measured_run(command: list[str]) -> dict:
    """Run `command` in a fresh child; its wall seconds, peak RSS (KB) and exit status.

    A wrapper process runs it, so ``RUSAGE_CHILDREN`` holds this one command alone.
    """
    done = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(command)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def mapper_command(*args: str) -> list[str]:
    """The command line that runs the mapper CLI with this Python."""
    return [sys.executable, "-c", "import sys; from mapper.cli import main; "
            "sys.exit(main(sys.argv[1:]))", *args]


def case_build(data_dir: Path | None, workspace: Path) -> Result:
    """``mapper build --from DATA`` into a fresh workspace, against only reading the
    inputs; with `data_dir` None, ``mapper demo`` (the synthetic demo, for tiny runs)."""
    if workspace.exists():
        shutil.rmtree(workspace)
    if data_dir is None:
        log("  mapper demo")
        build = measured_run(mapper_command("--workspace", str(workspace), "demo"))
        read = None
    else:
        log(f"  mapper build --from {data_dir}")
        build = measured_run(mapper_command("--workspace", str(workspace), "build",
                                            "--from", str(data_dir)))
        read = measured_run([sys.executable, "-c", _READ_INPUTS, str(data_dir)])
    ok = build["returncode"] == 0
    detail = f"exit status {build['returncode']}"
    counts = {}
    if ok:
        from mapper.store import Workspace

        ws = Workspace(workspace)
        layers = ws.layers()
        counts = {name: len(overlay.read_layer(ws, name)) for name in ("wards", "lsoas", "groups")
                  if name in layers}
        ok = "ward_summary" in layers and all(counts.get(n, 0) > 0 for n in
                                              ("wards", "lsoas", "groups"))
        detail = (f"exit status 0; {counts.get('wards', 0):,} wards, "
                  f"{counts.get('lsoas', 0):,} LSOAs, {counts.get('groups', 0):,} groups; "
                  f"analysed: {'ward_summary' in layers}")
    elif build["output"].strip():
        detail += ": " + build["output"].strip().splitlines()[-1][:300]
    peak_mb = build["maxrss_kb"] / 1024
    comparisons = []
    if read is not None:
        read_mb = read["maxrss_kb"] / 1024
        comparisons = [
            slowdown("only reading the input files (pyogrio, pandas)", read["seconds"],
                     build["seconds"], None),
            Comparison("peak memory of only reading the inputs", read_mb, peak_mb,
                       peak_mb / read_mb if read_mb else float("nan"),
                       "our peak RSS / the reader's", unit="MB"),
        ]
    name = "mapper build --from DIR" if data_dir is not None else "mapper demo"
    return Result(
        case=f"end to end: {name}",
        size=(f"{data_dir.name}: {sum(1 for _ in data_dir.iterdir())} files"
              if data_dir is not None else "synthetic demo"),
        ours=f"{name} (import, validate, analyse), child process",
        seconds=build["seconds"],
        comparisons=comparisons,
        check=Check(ok, detail),
        extra={"peak_rss_mb": peak_mb, "counts": counts,
               "note": f"peak memory {peak_mb:,.0f} MB (ru_maxrss of the child process)"},
    ).finish()


_PROBE = """
import sys, threading
import geopandas as gpd, numpy as np, shapely
from mapper.analysis.nearest import NearestIndex
n, queries, threads = map(int, sys.argv[1:4])
rng = np.random.default_rng(0)
xy = rng.uniform(0, 40000, (n, 2)) + [510000, 160000]
cats = np.array(["food", "faith", "youth", "advice"])[rng.integers(0, 4, n)]
groups = gpd.GeoDataFrame({"group_id": [f"G{i}" for i in range(n)], "category": cats},
                          geometry=shapely.points(xy), crs=27700)
index = NearestIndex(groups)
q = rng.uniform(0, 40000, (queries, 2)) + [510000, 160000]
serial = [tuple(index.query(x, y, k=10, category="food")["id"]) for x, y in q]
out = [None] * queries
def work(i):
    for j in range(i, queries, threads):
        out[j] = tuple(index.query(q[j, 0], q[j, 1], k=10, category="food")["id"])
pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
print(sum(a != b for a, b in zip(out, serial, strict=True)))
"""


def case_concurrent_nearest(*, groups: int, queries: int, threads: int) -> Result:
    """One NearestIndex queried from several threads at once, as the threaded web server
    does (one thread per request): every answer must equal the single-threaded one."""
    log(f"  nearest index under {threads} threads ({queries:,} queries)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PROBE, str(groups), str(queries),
                           str(threads)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    signals = {-11: "segmentation fault", -6: "abort (heap corruption)"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1][:160]
        detail = (f"the process died: exit status {done.returncode}"
                  f" ({signals.get(done.returncode, 'error')}) {last}").strip()
        ok = False
    else:
        wrong = int(done.stdout.strip().splitlines()[-1])
        ok = wrong == 0
        detail = f"{queries - wrong:,}/{queries:,} concurrent answers equal the serial ones"
    return Result(case=f"nearest index queried from {threads} threads",
                  size=f"{groups:,} groups, {queries:,} queries",
                  ours="NearestIndex.query in threads (as under the threaded server)",
                  seconds=seconds, check=Check(ok, detail)).finish()


def workspace_with_groups(source: Path, target: Path, total: int, *, seed: int) -> int:
    """Copy the workspace `source` to `target` and import synthetic groups (at postcode
    centroids, with the project's categories) until it holds `total`; returns the count."""
    from mapper.geo import to_display
    from mapper.store import Workspace

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    ws = Workspace(target)
    have = len(overlay.read_layer(ws, "groups")) if ws.has_layer("groups") else 0
    extra = total - have
    if extra > 0:
        postcodes = ws.read_layer("postcodes")
        rng = np.random.default_rng(seed)
        pick = postcodes.iloc[rng.choice(len(postcodes), extra, replace=len(postcodes) < extra)]
        lonlat = to_display(pick.geometry)
        weights = CATEGORY_WEIGHTS / CATEGORY_WEIGHTS.sum()
        csv = target.parent / f"{target.name}-benchmark-groups.csv"
        pd.DataFrame({
            "group_id": [f"bench-{i:06d}" for i in range(extra)],
            "name": [f"Benchmark group {i}" for i in range(extra)],
            "category": np.array(CATEGORIES)[rng.choice(len(CATEGORIES), extra, p=weights)],
            "latitude": lonlat.y.round(6).to_numpy(),
            "longitude": lonlat.x.round(6).to_numpy(),
        }).to_csv(csv, index=False)
        done = subprocess.run(mapper_command("--workspace", str(target), "import", str(csv),
                                             "--as", "groups"), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError("importing the benchmark groups failed: "
                               + (done.stdout + done.stderr)[-800:])
    return len(overlay.read_layer(Workspace(target), "groups"))


# == a live server on loopback ===============================================================


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Serve `app` in a thread on a free loopback port (threaded, HTTP/1.1, no logging)."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log(self, *args, **kwargs):  # one line per request would dominate the timing
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _get(base: str, path: str) -> tuple[int, bytes]:
    """GET `path` as a client that takes no compression: the status and the body (the
    bytes a browser parses)."""
    return _fetch(base, path)


def _wire_bytes(base: str, path: str) -> int:
    """How many body bytes `path` takes on the wire for a client that accepts gzip (as
    every browser does)."""
    return len(_fetch(base, path, {"Accept-Encoding": "gzip"})[1])


def _fetch(base: str, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# == API throughput ==========================================================================


def _hammer_batches(base: str, batches: list[list[str]], clients: int
                    ) -> list[tuple[float, int, list[str]]]:
    """GET every path of each batch in turn, each batch spread over `clients` threads;
    per batch: wall seconds, requests answered 200 and the first few problems.

    Each thread keeps one http.client connection for all the batches (reconnecting
    after ``Connection: close``), so the batches meet the same connections, spread over
    the server's worker processes the same way: a ratio of two batches compares the
    routes, not two ways the connections happened to land."""
    host, port = base.removeprefix("http://").split(":")
    shares = [[paths[i::clients] for paths in batches] for i in range(clients)]
    ok = [[0] * clients for _ in batches]
    problems: list[list[str]] = [[] for _ in batches]
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for b, share in enumerate(shares[i]):
            barrier.wait()  # every thread starts the batch together
            for path in share:
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    response.read()
                    if response.status == 200:
                        ok[b][i] += 1
                    elif len(problems[b]) < 5:
                        problems[b].append(f"{path}: HTTP {response.status}")
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection(host, int(port), timeout=60)
                except (OSError, http.client.HTTPException) as error:
                    if len(problems[b]) < 5:
                        problems[b].append(f"{path}: {error!r}")
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port), timeout=60)
            barrier.wait()  # the batch ends when the last thread is done
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    out = []
    for b in range(len(batches)):
        barrier.wait()
        start = time.perf_counter()
        barrier.wait()
        out.append((time.perf_counter() - start, sum(ok[b]), problems[b]))
    for t in threads:
        t.join()
    return out


def nearest_paths(workspace: Path, n: int, *, seed: int) -> list[str]:
    """`n` /api/nearest queries at random points of the study area (k=10, one category)."""
    import geopandas as gpd

    from mapper.geo import to_display
    from mapper.store import Workspace

    ws = Workspace(workspace)
    wards = ws.read_layer("wards")
    groups = overlay.read_layer(ws, "groups")
    cats = sorted(groups["category"].dropna().astype(str).str.strip().str.lower().unique())
    rng = np.random.default_rng(seed)
    # points inside the study area (the API refuses points far beyond it): uniform in the
    # wards' bounding box (metres), the ones outside every ward drawn again
    area = wards.geometry.union_all()
    minx, miny, maxx, maxy = area.bounds
    inside: list = []
    while len(inside) < n:
        xy = rng.uniform([minx, miny], [maxx, maxy], (2 * n, 2))
        points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=wards.crs)
        inside += list(points[points.within(area)])
    lonlat = to_display(gpd.GeoSeries(inside[:n], crs=wards.crs))
    out = []
    for point in lonlat:
        query = {"lat": f"{point.y:.6f}", "lon": f"{point.x:.6f}",
                 "k": 10, "category": cats[rng.integers(len(cats))]}
        out.append("/api/nearest?" + urlencode(query))
    return out


#: paired rounds in the API cases: each round runs both routes back to back on the same
#: connections (the order alternating), and the median of the rounds' ratios counts. A
#: ratio of two loads measured moments apart cancels most of what a shared machine's load
#: does to both; the best round of each route, taken apart, favours the route whose
#: timing scatters more
API_ROUNDS = 7
#: what ``mapper serve`` prints once it listens
_SERVING = re.compile(r"Serving .* at (http://127\.0\.0\.1:\d+)/")


@contextlib.contextmanager
def server_process(workspace: Path, workers: int = 1
                   ) -> Iterator[tuple[str, subprocess.Popen]]:
    """``mapper serve --port 0 --workers N`` in a child process: the app as users run it
    (waitress for one process, gunicorn for more; fixed pools of worker threads, HTTP/1.1
    connections kept alive), its caches warmed as the command warms them. Yields its base
    URL.

    A child, so a crash of the server is measured and reported, not fatal to the run.
    Its log goes to a file (a pipe nobody reads could fill up and stall the server).
    """
    with tempfile.TemporaryFile("w+") as log_file:
        child = subprocess.Popen(
            mapper_command("--workspace", str(workspace), "serve", "--port", "0",
                           "--anonymous-rate", "0",  # the load is one address, measured
                           "--workers", str(workers)),
            stdout=subprocess.PIPE, stderr=log_file, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            line = child.stdout.readline()
            found = _SERVING.search(line)
            if found is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=5)  # let it finish writing why
                log_file.seek(0)
                raise RuntimeError("the app did not start: "
                                   + (line + log_file.read())[-800:])
            yield found.group(1), child
        finally:
            if child.poll() is None:
                child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()


def _throughput(workspace: Path, paths: list[str], requests: int, clients: int,
                workers: int = 1) -> dict:
    """Requests per second of /health and of `paths` against one server in API_ROUNDS
    paired rounds: the median of each route's rates and of the rounds' ratios (nearest /
    health); errors counted; the server's exit status if it died."""
    health = ["/health"] * requests
    runs: dict[str, list[float]] = {"health": [], "nearest": []}
    answered, problems = 0, []
    sample = None
    with server_process(workspace, workers) as (base, child):
        # warm every worker (connections land on any): a round of both routes, unmeasured,
        # from more connections than there are workers
        _hammer_batches(base, [paths, health], max(clients, 2 * workers))
        for round_number in range(API_ROUNDS):
            pair = [("health", health), ("nearest", paths)]
            if round_number % 2:
                pair.reverse()
            got = _hammer_batches(base, [batch for _name, batch in pair], clients)
            for (name, _batch), (seconds, ok, bad) in zip(pair, got, strict=True):
                runs[name].append(seconds)
                answered += ok
                problems += bad
        if child.poll() is None:
            sample = _get(base, paths[0])
        died = child.poll()
    ratios = [h / n for h, n in zip(runs["health"], runs["nearest"], strict=True)]
    return {"rps": {name: requests / statistics.median(times) for name, times in runs.items()},
            "ratio": statistics.median(ratios), "ratios": ratios,
            "seconds": statistics.median(runs["nearest"]) / requests,
            "answered": answered, "sent": 2 * API_ROUNDS * requests, "problems": problems,
            "died": died, "sample": sample}


def case_api(workspace: Path, *, requests: int, clients: int, workers: int, seed: int,
             label: str, target: bool = True) -> Result:
    """/api/nearest against /health in the same app under the same bounded load."""
    paths = nearest_paths(workspace, requests, seed=seed)
    log(f"  API: {requests:,} requests per route, {clients} client thread(s), "
        f"{workers} server process(es)")
    got = _throughput(workspace, paths, requests, clients, workers)
    rps = got["rps"]
    errors = got["sent"] - got["answered"]
    features = 0
    if got["sample"] is not None and got["sample"][0] == 200:
        features = len(json.loads(got["sample"][1]).get("features", []))
    problems = "; ".join(dict.fromkeys(p.split(": ", 1)[-1] for p in got["problems"]))
    died = got["died"]
    detail = (f"{got['answered']:,} of {got['sent']:,} requests answered 200, {errors:,} "
              f"errors" + (f" ({problems[:200]})" if problems else "")
              + (f"; THE SERVER DIED (exit status {died}"
                 + (", segmentation fault" if died == -11 else "") + ")" if died is not None
                 else f"; a nearest answer has {features} features"))
    ok = errors == 0 and died is None and features > 0
    server = (f"gunicorn, {workers} worker processes x {WORKER_THREADS} threads"
              if workers > 1 else f"waitress, one process, {SERVE_THREADS} threads")
    plural = "s" if clients > 1 else ""
    return Result(
        case=f"API throughput /api/nearest, {clients} client{plural}, "
             + (f"{workers} server processes" if workers > 1 else "one server process"),
        size=f"{label}: {requests:,} requests x {API_ROUNDS} paired rounds per route",
        ours="/api/nearest?lat&lon&k=10&category",
        seconds=got["seconds"],
        comparisons=[Comparison("/health in the same app, same load", rps["health"],
                                rps["nearest"], got["ratio"],
                                "our req/s / baseline req/s", ">=" if target else None,
                                0.5 if target else None, unit="req/s",
                                note=f"mapper serve --workers {workers} ({server}), "
                                f"connections kept alive; {clients} client thread{plural} "
                                f"in the benchmark's process; median req/s of each route "
                                f"and median of the {API_ROUNDS} rounds' ratios (rounds: "
                                + ", ".join(f"{r:.2f}" for r in got["ratios"]) + ")")],
        check=Check(ok, detail), extra={"rps": rps, "ratios": got["ratios"],
                                        "server_exit": died, "workers": workers}).finish()


# == API throughput while an officer edits ====================================================

#: seconds between the officer's edits in the case below
EDIT_EVERY_S = 2.0


def _hammer_for(base: str, paths: list[str], clients: int, seconds: float
                ) -> tuple[int, list[str]]:
    """GET `paths` round and round from `clients` threads (one kept-alive connection
    each) for `seconds`; requests answered 200 and the first few problems."""
    host, port = base.removeprefix("http://").split(":")
    ok = [0] * clients
    problems: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        n = i
        while time.perf_counter() < deadline:
            path = paths[n % len(paths)]
            n += clients
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    ok[i] += 1
                elif len(problems) < 5:
                    problems.append(f"{path}: HTTP {response.status}")
            except (OSError, http.client.HTTPException) as error:
                if len(problems) < 5:
                    problems.append(f"{path}: {error!r}")
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(ok), problems


class _Officer(threading.Thread):
    """An officer editing one group every :data:`EDIT_EVERY_S` seconds while `editing` is
    set, as a browser does: signed in to the server under test, each edit a ``PATCH
    /api/groups/<id>`` carrying the version it read. Renamed each time, and every other
    edit moved 10 m and back, so the nearest index is changed as well as the answers'
    texts."""

    def __init__(self, base: str, workspace: Path, group_id: str):
        super().__init__(daemon=True)
        import http.cookiejar
        import urllib.request

        from mapper.appdb import AppDB
        from mapper.users import create_user, get_user

        username, password = "bench-officer", "benchmark officer password 1"
        db = AppDB(workspace)
        if get_user(db, username) is None:
            create_user(db, username, password, "officer", actor="benchmark")
        db.close()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.base, self.group_id = base, group_id
        form = urlencode({"username": username, "password": password,
                          "csrf_token": self._csrf("/signin")}).encode()
        self.opener.open(base + "/signin", data=form, timeout=60).read()
        self.csrf = self._csrf("/account")  # a new session has a new token
        self.editing, self.stop = threading.Event(), threading.Event()
        self.edits, self.name, self.problems = 0, "", []

    def _csrf(self, path: str) -> str:
        page = self.opener.open(self.base + path, timeout=60).read().decode()
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def _call(self, method: str, body: dict | None = None, version: int | None = None):
        import urllib.request

        headers = {"X-CSRF-Token": self.csrf, "Content-Type": "application/json"}
        if version is not None:
            headers["If-Match"] = f'"v{version}"'
        request = urllib.request.Request(
            f"{self.base}/api/groups/{self.group_id}", method=method, headers=headers,
            data=None if body is None else json.dumps(body).encode())
        with self.opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.editing.wait(0.05):
                continue
            try:
                record = self._call("GET")
                name = f"Edited by the benchmark {self.edits}"
                values = {"name": name}
                if self.edits % 2:
                    step = 10 if self.edits % 4 == 1 else -10
                    lon, lat = _lonlat(record["x"] + step, record["y"])
                    values |= {"lat": round(lat, 6), "lon": round(lon, 6)}
                self._call("PATCH", values, record["version"])
                self.edits, self.name = self.edits + 1, name
            except Exception as error:  # noqa: BLE001 - reported by the case's check
                self.problems.append(repr(error)[:200])
            self.stop.wait(EDIT_EVERY_S)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    """Longitude and latitude of one EPSG:27700 point."""
    import geopandas as gpd
    import shapely

    from mapper.geo import CRS_ANALYSIS, to_display

    point = to_display(gpd.GeoSeries([shapely.Point(x, y)], crs=CRS_ANALYSIS)).iloc[0]
    return point.x, point.y


def case_api_editing(workspace: Path, *, seconds: float, rounds: int, clients: int,
                     workers: int, seed: int, label: str) -> Result:
    """/api/nearest while an officer edits a group every 2 s, against /api/nearest
    without edits, in paired rounds on one server (each round: `seconds` of each, the
    order alternating); the target is a ratio of at least 0.8."""
    from mapper.store import Workspace

    paths = nearest_paths(workspace, 200, seed=seed)
    group_id = str(overlay.read_layer(Workspace(workspace), "groups")["group_id"].iloc[0])
    log(f"  API while editing: {rounds} x {seconds:g} s per phase, {clients} client "
        f"thread(s), {workers} server process(es)")
    runs: dict[str, list[float]] = {"still": [], "editing": []}
    problems: list[str] = []
    fresh = None
    with server_process(workspace, workers) as (base, child):
        officer = _Officer(base, workspace, group_id)
        officer.start()
        _hammer_for(base, paths, max(clients, 2 * workers), 1.0)  # warm every worker
        for round_number in range(rounds):
            phases = ["still", "editing"] if round_number % 2 == 0 else ["editing", "still"]
            for phase in phases:
                if phase == "editing":
                    officer.editing.set()
                answered, bad = _hammer_for(base, paths, clients, seconds)
                officer.editing.clear()
                runs[phase].append(answered / seconds)
                problems += bad
        officer.stop.set()
        officer.join(30)
        if officer.name and child.poll() is None:  # the last edit is served
            record = officer._call("GET")
            lon, lat = _lonlat(record["x"], record["y"])
            status, body = _get(base, f"/api/nearest?lat={lat:.6f}&lon={lon:.6f}&k=10")
            names = [f["properties"].get("name") for f in json.loads(body)["features"]] \
                if status == 200 else []
            fresh = officer.name in names
        died = child.poll()
    ratios = [e / s for e, s in zip(runs["editing"], runs["still"], strict=True)]
    ratio = statistics.median(ratios)
    expected_edits = int(rounds * seconds / EDIT_EVERY_S)
    ok = (not problems and died is None and fresh is True and not officer.problems
          and officer.edits >= max(1, expected_edits - rounds))
    detail = (f"{officer.edits} edits ({officer.problems[:1] or 'none failed'}), the last "
              f"{'served' if fresh else 'NOT served'} afterwards; "
              f"{len(problems)} failed requests" + (f" ({problems[0][:160]})" if problems else "")
              + (f"; THE SERVER DIED (exit status {died})" if died is not None else ""))
    still, editing = (statistics.median(runs[k]) for k in ("still", "editing"))
    server = (f"gunicorn, {workers} worker processes x {WORKER_THREADS} threads"
              if workers > 1 else f"waitress, one process, {SERVE_THREADS} threads")
    return Result(
        case=f"API /api/nearest while an officer edits every {EDIT_EVERY_S:g} s",
        size=f"{label}: {rounds} paired rounds of {seconds:g} s per phase",
        ours="/api/nearest?lat&lon&k=10&category, a group edited every 2 s",
        seconds=1 / editing if editing else float("nan"),
        comparisons=[Comparison("/api/nearest without edits, same load", still, editing,
                                ratio, "req/s with edits / req/s without", ">=", 0.8,
                                unit="req/s",
                                note=f"mapper serve --workers {workers} ({server}); "
                                f"{clients} client threads; median of the rounds' ratios "
                                "(rounds: " + ", ".join(f"{r:.2f}" for r in ratios) + ")")],
        check=Check(ok, detail), extra={"rps": runs, "ratios": ratios, "edits": officer.edits,
                                        "workers": workers}).finish()


# == map page weight =========================================================================


def baseline_maps(workspace: Path) -> dict[str, str]:
    """Unsimplified folium dumps (full-precision geometry, folium's defaults) of the layers
    our pages show: ``overview`` (wards + boroughs + a ``folium.Marker`` per group our
    map shows, i.e. without the flagged duplicates) and ``wards+groups`` (wards + the
    same markers). Scripts and styles point at local copies of the same library files
    ours load."""
    import folium

    from mapper.maps.assets import use_local_assets
    from mapper.store import Workspace

    ws = Workspace(workspace)
    wards = ws.read_layer("wards").to_crs("EPSG:4326")
    boroughs = ws.read_layer("boroughs").to_crs("EPSG:4326")
    groups = overlay.read_layer(ws, "groups")
    groups = groups[~(groups.geometry.isna() | groups.geometry.is_empty)]
    if "duplicate_of" in groups:  # the same groups our map shows: flagged duplicates left out
        groups = groups[groups["duplicate_of"].isna() | (groups["duplicate_of"] == "")]
    groups = groups.to_crs("EPSG:4326")
    minx, miny, maxx, maxy = wards.total_bounds
    fields = ["ward_code", "ward_name", "borough_name", "geometry"]
    out = {}
    for name in ("overview", "wards+groups"):
        m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=10,
                       tiles=None)
        folium.GeoJson(wards[fields], name="Wards").add_to(m)
        if name == "overview":
            folium.GeoJson(boroughs[["borough_code", "borough_name", "geometry"]],
                           name="Boroughs").add_to(m)
        for x, y in zip(groups.geometry.x, groups.geometry.y, strict=True):
            folium.Marker([y, x]).add_to(m)
        m.fit_bounds([[miny, minx], [maxy, maxx]])
        use_local_assets(m, base_url="/vendor")
        out[name] = m.get_root().render()
    return out


_MAP_JS = "(() => { const el = document.querySelector('.folium-map'); return window[el.id]; })()"
_COUNT_JS = """() => {
    const map = MAP_EXPRESSION;
    let wards = 0, markers = 0;
    map.eachLayer(layer => {
        if (layer.feature && layer.feature.properties && layer.feature.properties.ward_code
            && typeof layer.getBounds === 'function') { wards += 1; }
        if (layer instanceof L.Marker && !(layer.getChildCount)) { markers += 1; }
    });
    return {wards: wards, markers: markers};
}""".replace("MAP_EXPRESSION", _MAP_JS)
#: switch the groups on and wait until the layer says every row is in it (``filled``, set
#: by the cluster layer's own progress report): counting its markers takes tens of ms for
#: thousands, so the count that checks the answer comes after the clock stops
_GROUPS_ON_JS = """async () => {
    const map = MAP_EXPRESSION;
    const group = map.pointLayers && map.pointLayers.groups;
    if (!group) { return {done: performance.now(), count: -1}; }
    map.addLayer(group);
    const t0 = performance.now();
    while (!group.filled && performance.now() - t0 < 60000) {
        await new Promise(resolve => setTimeout(resolve, 2));
    }
    const done = performance.now();
    return {done: done, count: group.getLayers().length};
}""".replace("MAP_EXPRESSION", _MAP_JS)


def _load(browser, url: str, *, groups: int | None = None) -> dict:
    """Open `url` in a fresh context (cold cache): ms to the load event, and with `groups`
    the ms until the groups layer, switched on after load, holds that many markers."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        response = page.goto(url, wait_until="load", timeout=180_000)
        # the groups are switched on first thing after load: counting what was drawn
        # comes after, so its time is not charged to the page
        shown = page.evaluate(_GROUPS_ON_JS) if groups is not None else None
        timing = page.evaluate("(() => { const t = performance.getEntriesByType("
                               "'navigation')[0]; return {load: t.loadEventStart, "
                               "server: t.responseStart - t.requestStart, "
                               "body: t.responseEnd}; })()")
        counts = page.evaluate(_COUNT_JS)
        out = {"status": response.status if response else 0, "load_ms": timing["load"],
               "server_ms": timing["server"], "body_ms": timing["body"], **counts}
        if shown is not None:
            out |= {"shown_ms": shown["done"], "groups_shown": shown["count"]}
        return out
    finally:
        context.close()


def case_page_weight(workspace: Path, *, label: str, loads: int = 3,
                     browser_needed: bool = True) -> list[Result]:
    """Our overview and priority pages against unsimplified folium dumps.

    Run in a thread of its own: Playwright's sync API refuses to start in a thread with
    a running asyncio loop (as under pytest once a browser fixture has started one).
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["results"] = _page_weight(workspace, label=label, loads=loads,
                                              browser_needed=browser_needed)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller
            outcome["error"] = error

    worker = threading.Thread(target=run, name="bench-page-weight")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


def _page_weight(workspace: Path, *, label: str, loads: int,
                 browser_needed: bool) -> list[Result]:
    from mapper.store import Workspace
    from mapper.web import create_app

    ws = Workspace(workspace)
    n_wards = len(ws.read_layer("wards"))
    log(f"  page weight: {n_wards:,} wards")
    baselines = baseline_maps(workspace)
    app = create_app({"WORKSPACE": str(workspace), "TILES": "none"})
    chromium = chromium_path()
    results = []
    with (live_server(app) as base, live_server(baseline_app(baselines)) as other,
          _browser(chromium) as browser):
        if browser is None and browser_needed:
            raise RuntimeError("Chromium was not found (set MAPPER_CHROMIUM or install "
                               "chromium); the page-load part needs it")
        ward_codes = ws.read_layer("wards")["ward_code"].astype(str)
        expected = baselines["wards+groups"].count("L.marker(")
        # each page with the groups layer it fetches (switched on after load), against
        # the dump of the same layers
        pages = [
            ("map page / (overview: wards + borough outlines)", "/",
             r"/overview/groups\.json", "overview",
             "folium.GeoJson of the full-precision wards and boroughs + a folium.Marker "
             "per group, m.get_root().render()"),
            ("map page /priority + groups layer", "/priority",
             r"/priority/layers/groups\.json", "wards+groups",
             "full-precision wards + a folium.Marker per group"),
        ]
        for case, path, pattern, dump_name, baseline in pages:
            status, page = _get(base, path)
            text = page.decode()
            layer_url, layer_bytes, rows = _layer(base, text, pattern)
            _, dump = _get(other, f"/bench-baseline/{dump_name}")
            wire = _wire_note(base, [path, layer_url], dump)
            results.append(_page_result(
                case, label, browser, base,
                ours_url=path, ours_bytes=len(page) + layer_bytes,
                base_url=f"{other}/bench-baseline/{dump_name}", base_bytes=len(dump),
                loads=loads, n_wards=n_wards, groups=rows,
                html_ok=status == 200 and rows == expected
                and all(c in text for c in ward_codes),
                note=f"ours: the HTML of {path} ({len(page):,} B) + the groups layer it "
                     f"fetches when switched on ({layer_bytes:,} B, {rows:,} rows), load "
                     f"time until every group is in the layer; baseline: {baseline}, time "
                     f"to load. Bytes as parsed (uncompressed) on both sides; {wire}"))
    return results


def _layer(base: str, page: str, pattern: str) -> tuple[str | None, int, int]:
    """The URL of the groups layer a page fetches (found by `pattern` in its script), the
    layer's size in bytes and its number of rows (-1 when it cannot be had)."""
    match = re.search(rf'"({pattern}[^"]*)"', page)
    if not match:
        return None, 0, -1
    url = match.group(1).encode().decode("unicode_escape")
    status, layer = _get(base, url)
    return url, len(layer), len(json.loads(layer)["rows"]) if status == 200 else -1


def _wire_note(base: str, paths: list[str | None], dump: str | bytes) -> str:
    """Bytes on the wire with gzip on both sides: ours as served to a client that accepts
    gzip, the baseline gzipped at level 6 (what a compressing server would send: the
    bare baseline app sends it uncompressed)."""
    ours = sum(_wire_bytes(base, p) for p in paths if p)
    dump = dump.encode() if isinstance(dump, str) else dump
    theirs = len(gzip.compress(dump, 6))
    return (f"on the wire with gzip on both sides: ours {ours:,} B, baseline {theirs:,} B "
            f"({ours / theirs:.2f}x); uncompressed, the baseline is {len(dump):,} B")


def baseline_app(pages: dict[str, str]):
    """A bare Flask app serving the baseline pages and the same vendored library files as
    ours (``/vendor/<package>/<file>``, same cache lifetime), with no headers of ours."""
    from flask import Flask, Response, abort, send_from_directory

    from mapper.maps.assets import VENDOR_DIRS
    from mapper.web import VENDOR_MAX_AGE

    app = Flask("bench_baseline")

    @app.get("/bench-baseline/<name>")
    def page(name: str):
        if name not in pages:
            abort(404)
        return Response(pages[name], mimetype="text/html")

    @app.get("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str):
        if package not in VENDOR_DIRS:
            abort(404)
        return send_from_directory(VENDOR_DIRS[package], filename, max_age=VENDOR_MAX_AGE)

    return app


@contextlib.contextmanager
def _browser(executable: str | None):
    if executable is None:
        yield None
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _page_result(case, label, browser, base, *, ours_url, ours_bytes, base_url, base_bytes,
                 loads, n_wards, groups, html_ok, note) -> Result:
    comparisons = [Comparison("unsimplified folium dump of the same layers", base_bytes,
                              ours_bytes, ours_bytes / base_bytes, "our bytes / baseline bytes",
                              "<=", 0.2, unit="B", note=note)]
    problems = [] if html_ok else ["the page (or its groups layer) lacks wards or groups"]
    if browser is not None:
        ours_runs, base_runs = [], []
        for _ in range(loads):
            ours_runs.append(_load(browser, base + ours_url, groups=groups))
            base_runs.append(_load(browser, base_url))
        key = "shown_ms" if groups is not None else "load_ms"
        ours_ms = statistics.median(r[key] for r in ours_runs)
        base_ms = statistics.median(r["load_ms"] for r in base_runs)
        # each load of ours is paired with the baseline's load right after it
        ratio = statistics.median(o[key] / b["load_ms"]
                                  for o, b in zip(ours_runs, base_runs, strict=True))
        comparisons.append(Comparison("the same dump in Chromium", base_ms / 1e3,
                                      ours_ms / 1e3, ratio,
                                      "our load time / baseline load time", "<=", 0.3,
                                      note=f"median of {loads} cold loads each, and of the "
                                      f"{loads} ratios of a load of ours to the baseline's "
                                      "load right after it; time to "
                                      f"the first byte of the page (server work): ours "
                                      f"{statistics.median(r['server_ms'] for r in ours_runs):,.0f}"
                                      f" ms, baseline "
                                      f"{statistics.median(r['server_ms'] for r in base_runs):,.0f}"
                                      " ms"))
        last, last_base = ours_runs[-1], base_runs[-1]
        if last["status"] != 200 or last["wards"] != n_wards:
            problems.append(f"our page drew {last['wards']} of {n_wards} wards "
                            f"(HTTP {last['status']})")
        if last_base["wards"] != n_wards:
            problems.append(f"the baseline drew {last_base['wards']} of {n_wards} wards")
        if groups is not None:
            if last.get("groups_shown") != groups:
                problems.append(f"our groups layer holds {last.get('groups_shown')} of "
                                f"{groups} groups")
            if last_base["markers"] != groups:
                problems.append(f"the baseline has {last_base['markers']} of {groups} markers")
    detail = "; ".join(problems) if problems else (
        f"every one of {n_wards:,} wards in both pages"
        + (f", all {groups:,} groups" if groups is not None else "")
        + (" (drawn in Chromium)" if browser is not None else " (HTML only, no browser)"))
    return Result(case=case, size=f"{label}: {n_wards:,} wards"
                  + (f", {groups:,} groups" if groups is not None else ""),
                  ours=ours_url, seconds=None, comparisons=comparisons,
                  check=Check(not problems, detail)).finish()


# == pages: warm from the first request, cheap after it ======================================


def _page_paths(app, workspace: Path) -> dict[str, str]:
    from mapper.store import Workspace
    from mapper.web import data

    ws = Workspace(workspace)
    summary = ws.read_layer("ward_summary")
    cans = ws.read_layer("neighbourhoods").sort_values("rank", kind="stable")
    with app.test_request_context("/"):
        postcode = data.example_postcode()
    return {"first CAN page": f"/neighbourhood/{cans['can_id'].iloc[0]}",
            "ward page": f"/ward/{sorted(summary['ward_code'].astype(str))[0]}",
            "/": "/", "/priority": "/priority", "/api/docs": "/api/docs",
            "/api/wards": "/api/wards", "/incident": f"/incident?postcode={postcode}",
            "/api/nearest": f"/api/nearest?postcode={postcode}"}


def _cpu_per_request(client, path: str, n: int, before=None) -> float:
    """Median server CPU seconds (this thread's) of `n` GETs of `path` in the test client
    (`before()` run ahead of each, outside the clock)."""
    times = []
    for _ in range(n):
        if before is not None:
            before()
        start = time.thread_time()
        response = client.get(path)
        times.append(time.thread_time() - start)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
    return statistics.median(times)


def case_page_cpu(workspace: Path, *, label: str, requests: int) -> list[Result]:
    """The first request of each page after ``create_app(warm=True)`` (as ``mapper serve``
    starts) against the first request of an app that did not warm, by server CPU (this
    thread's: the same under any load, where wall times are not); the background warm-up
    of every CAN page the server then starts (how long, how much memory, and that each
    CAN page's first request then makes nothing); and the server CPU of a warm CAN and
    ward page against the same page with its per-version parts made in the request (as
    before they were cached) and against ``/health``, all in this process."""
    from mapper.web import create_app, data
    from mapper.web.neighbourhoods import CAN_PAGES, WARD_PAGES

    data._entries.clear()
    cold_app = create_app({"WORKSPACE": str(workspace), "TESTING": True})
    paths = _page_paths(cold_app, workspace)
    cold_client = cold_app.test_client()
    cold, cold_wall = {}, {}
    for name, path in paths.items():
        t, c = time.perf_counter(), time.thread_time()
        cold_client.get(path)
        cold[name], cold_wall[name] = time.thread_time() - c, time.perf_counter() - t
    data._entries.clear()
    start = time.perf_counter()
    app = create_app({"WORKSPACE": str(workspace), "TESTING": True}, warm=True)
    startup = time.perf_counter() - start
    # as a server that has been up a few seconds: its background warm-up has run
    background = _background_warm(app, workspace, label, CAN_PAGES, paths["first CAN page"])
    client = app.test_client()
    first, first_wall, made = {}, {}, {}
    for name, path in paths.items():
        before = dict(data.builds)
        t, c = time.perf_counter(), time.thread_time()
        status = client.get(path).status_code
        first[name], first_wall[name] = time.thread_time() - c, time.perf_counter() - t
        made[name] = sorted(k for k, v in data.builds.items() if v != before.get(k, 0))
        if status != 200:
            made[name].append(f"HTTP {status}")
    slowest = max(first, key=first.get)  # type: ignore[arg-type]
    # a ward page's own parts are made on its first visit (633 of them: not at start)
    built = {name: kinds for name, kinds in made.items()
             if kinds and not (name == "ward page" and kinds == [WARD_PAGES])}
    results = [Result(
        case="pages: first request after start (warmed), server CPU",
        size=label, ours=f"create_app(warm=True): {startup:.1f} s to start",
        seconds=first[slowest],
        comparisons=[slowdown(f"the first request of an app that did not warm: {name}",
                              cold[name], first[name], 0.5 if name == slowest else None)
                     for name in paths],
        check=Check(not built, "no cache made in a first request (a ward page makes its "
                    "own parts only)" if not built
                    else f"made in the first request: {built}"),
        extra={"startup_s": startup, "first_cpu_s": first, "cold_cpu_s": cold,
               "first_wall_s": first_wall, "cold_wall_s": cold_wall,
               "note": f"the slowest first request: {slowest} {first[slowest]:.3f} s CPU "
                       f"({first_wall[slowest]:.3f} s wall)"},
    ).finish()]
    results.append(background)
    health = _cpu_per_request(client, "/health", requests)
    for name in ("first CAN page", "ward page"):
        path = paths[name]
        client.get(path)
        page = _unnamed(client.get(path).get_data())
        warm = _cpu_per_request(client, path, requests)
        kind = CAN_PAGES if name == "first CAN page" else WARD_PAGES
        uncached = _cpu_per_request(client, path, max(3, requests // 4),
                                    before=lambda kind=kind: data._entries.pop(kind, None))
        same = _unnamed(client.get(path).get_data()) == page
        results.append(Result(
            case=f"pages: warm {name}, server CPU per request", size=label, ours=path,
            seconds=warm,
            comparisons=[speedup("the same page with its parts made in the request",
                                 uncached, warm, 4.0),
                         slowdown("/health in the same app", health, warm)],
            check=Check(same, "the same bytes from the cache as made afresh" if same
                        else "the page differs when made afresh"),
            extra={"cpu_ms": warm * 1e3, "uncached_ms": uncached * 1e3,
                   "health_ms": health * 1e3},
        ).finish())
    return results


def _rss_mb() -> float:
    """This process's resident memory, MB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _background_warm(app, workspace: Path, label: str, kind: str, skip: str) -> Result:
    """What the server starts once it listens: every CAN page made in a background thread
    (how long, how much more memory), each then answered without making anything (but
    `skip`, whose first request the caller times)."""
    from mapper.store import Workspace
    from mapper.web import data

    warmer = app.extensions["mapper.warmer"]
    rss = _rss_mb()
    start = time.perf_counter()
    app.extensions["mapper.on_serve"]()
    warmer.wait()
    seconds = time.perf_counter() - start
    grown = _rss_mb() - rss
    client = app.test_client()
    cans = Workspace(workspace).read_layer("neighbourhoods")["can_id"].astype(str)
    made = {}
    for can_id in cans:
        if f"/neighbourhood/{can_id}" == skip:
            continue
        before = dict(data.builds)
        client.get(f"/neighbourhood/{can_id}")
        kinds = sorted(k for k, v in data.builds.items() if v != before.get(k, 0))
        if kinds:
            made[can_id] = kinds
    kept = len(data._entries.get(kind, {}))
    return Result(
        case="pages: background warm-up of every CAN page", size=label,
        ours=f"{len(cans)} CAN pages, {grown:.0f} MB more memory", seconds=seconds,
        check=Check(not made and kept == len(cans),
                    f"every CAN page warm and kept ({kept} of {len(cans)})" if not made
                    else f"made in a CAN page's first request: {made}"),
        extra={"cans": len(cans), "rss_growth_mb": grown, "seconds": seconds,
               "per_page_s": seconds / max(len(cans), 1)},
    ).finish()


def _unnamed(page: bytes) -> bytes:
    """A page without folium's random element names (a new one each time a map is made)
    and the script nonce (a new one each request)."""
    return re.sub(rb'nonce="[^"]*"', b"nonce", re.sub(rb"_[0-9a-f]{32}", b"_", page))
