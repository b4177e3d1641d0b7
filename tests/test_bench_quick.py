"""The benchmark (``python -m bench``) on tiny sizes, so its code cannot rot.

Every case of the benchmark runs here with its correctness check (the same code as
``python -m bench --quick``, smaller data, the synthetic demo workspace instead of the real
London data); a failed check fails the test. Targets are not asserted: they are
performance figures for the full run. The page-load part drives Chromium when it is
installed, and must under CI (``CI`` set), as the browser tests do.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ sits beside mapper/ but is not installed
    sys.path.insert(0, str(ROOT))

core = importlib.import_module("bench.core")
runner = importlib.import_module("bench.runner")
cases_analysis = importlib.import_module("bench.cases_analysis")
cases_web = importlib.import_module("bench.cases_web")
generate = importlib.import_module("bench.generate")
bench_main = importlib.import_module("bench.__main__")

#: case names every tiny run must report, each with a passing check
EXPECTED = (
    "assign points to wards",
    "assign points to LSOAs",
    "LSOA-to-ward weights (areal)",
    "LSOA-to-ward aggregation (need)",
    "nearest k=10 with a category filter",
    "coverage gaps 400 m",
    "coverage gaps 800 m",
    "CAN clustering (contiguity + components)",
    "end to end: mapper demo",
    "map page / (overview: wards + borough outlines)",
    "map page /priority + groups layer",
    "API throughput /api/nearest, 1 client, 2 server processes",
    "API /api/nearest while an officer edits every 2 s",
    "API GeoJSON encoding: wards",
    "priority page loading wards in view",
    "API GeoJSON encoding: groups",
    "pages: first request after start (warmed), server CPU",
    "pages: background warm-up of every CAN page",
    "pages: warm first CAN page, server CPU per request",
    "pages: warm ward page, server CPU per request",
)


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def test_every_benchmark_check_passes_on_tiny_sizes(tmp_path):
    browser = _on_ci() or cases_web.chromium_path() is not None
    results = runner.run("tiny", workdir=tmp_path / "work", browser_needed=browser)

    failed = [f"{r.case} [{r.size}]: {r.reason}" for r in results if r.status != "ok"]
    assert not failed, "benchmark cases failed:\n" + "\n".join(failed)
    names = [r.case for r in results]
    assert sorted(set(names)) == sorted(EXPECTED), names
    for r in results:
        assert r.check is not None and r.check.passed, (r.case, r.check)
        for c in r.comparisons:
            assert c.baseline_value > 0 and c.ours_value > 0, (r.case, c)
    pages = [r for r in results if r.case.startswith("map page")]
    if browser:  # the load in Chromium was measured too
        assert all(len(r.comparisons) == 2 for r in pages), pages

    # the report: one JSON line per case, a Markdown table with the machine
    info = core.machine()
    jsonl, md, text = core.write_report(results, info, mode="tiny", directory=tmp_path / "out")
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["case"] for line in lines] == names
    assert all(line["cpu_count"] == os.cpu_count() and line["python"] for line in lines)
    assert "| case | size |" in text and md.read_text() == text


def test_a_wrong_answer_fails_its_case(monkeypatch):
    """The checks really compare: ours made wrong, the case is FAILED."""
    areas = generate.make_areas(runner.SIZES["tiny"]["scales"]["small"], seed=1)
    import mapper.areas as areas_module

    real = areas_module.area_of_points

    def shifted(points, frame, code):
        out = real(points, frame, code)
        return out.shift(1)  # every point gets its neighbour's area

    monkeypatch.setattr(areas_module, "area_of_points", shifted)
    results = cases_analysis.case_assign(areas, 500, seed=2, naive_points=500, label="tiny",
                                         repeat=1)
    assert all(r.failed for r in results), [r.check for r in results]

    def bad_bfs(codes, selected, borough, left, right):
        return -1 * (~selected).astype(int)  # every selected ward in one cluster "0"

    monkeypatch.setattr(cases_analysis, "bfs_labels", bad_bfs)
    assert cases_analysis.case_clusters(areas, seed=3, label="tiny", repeat=1).failed


def test_a_failed_check_makes_the_command_exit_non_zero(monkeypatch, tmp_path):
    failing = core.Result(case="x", size="y", check=core.Check(False, "wrong")).finish()
    missed = core.Result(case="z", size="y", check=core.Check(True, "right"), comparisons=[
        core.speedup("baseline", 1.0, 1.0, 100.0)]).finish()
    monkeypatch.setattr(bench_main, "run", lambda *a, **k: [missed])
    assert bench_main.main(["--quick", "--out", str(tmp_path)]) == 0  # a missed target
    monkeypatch.setattr(bench_main, "run", lambda *a, **k: [missed, failing])
    assert bench_main.main(["--quick", "--out", str(tmp_path)]) == 1
    assert "FAILED: wrong" in (tmp_path / "latest.md").read_text()


def test_the_scale_case_writes_police_uk_files_and_measures_a_build(monkeypatch, tmp_path):
    """The scale grid's code on a tiny area: real-format inputs, a `mapper build` in a
    subprocess that imports every located incident, its time and peak memory; and the
    memory-regression check fails a growth over the limit."""
    cases_scale = importlib.import_module("bench.cases_scale")
    monkeypatch.setenv("MAPPER_BENCH_CACHE", str(tmp_path / "cache"))
    results = cases_scale.case_scale([("tiny", 3_000)], seed=5, workdir=tmp_path)
    (row,) = results
    assert row.status == "ok", row.reason
    assert row.extra["peak_gb"] > 0.05 and row.extra["cpu_s"] > 0
    folder = tmp_path / "cache" / "seed5" / "tiny" / "inputs-3000"
    (month,) = [p for p in folder.iterdir() if p.is_dir()]
    (police,) = list(month.iterdir())
    header = police.read_text().splitlines()[0]
    assert header == ",".join(cases_scale.POLICE_COLUMNS)
    from mapper.store import Workspace

    stored = Workspace(tmp_path / "ws-tiny-3000").read_layer("incidents", read_geometry=False)
    written = int((tmp_path / "cache" / "seed5" / "tiny" / "police-3000" / "done").read_text())
    assert written == 3_000
    assert 0.97 * written <= len(stored) < written  # about 1% have no location
    grown = cases_scale.growth({("tiny", 1_000_000): {"peak_gb": 1.0, "cpu_s": 1.0},
                                ("tiny", 2_000_000): {"peak_gb": 2.0, "cpu_s": 1.0}})
    assert grown[0].failed and "1.000 GB" in grown[0].check.detail
    assert not cases_scale.growth({("tiny", 1_000_000): {"peak_gb": 1.0, "cpu_s": 1.0},
                                   ("tiny", 5_000_000): {"peak_gb": 1.8, "cpu_s": 1.0}}
                                  )[0].failed
