"""The ``mapper`` command: help everywhere, clean errors, build/import/info output."""

from __future__ import annotations

import subprocess
import sys

import factories as fx
import pytest

from mapper import overlay
from mapper.cli import cli, main


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["build"], ["import"], ["info"], ["demo"], ["serve"]])
def test_every_command_has_help(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "Usage: mapper" in out
    assert len(out.splitlines()) > 4


def test_every_command_is_listed_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in cli.commands:
        assert f"mapper {name}" in readme, name


def test_build_reports_kinds_skips_and_counts(capsys, tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    (folder / "notes.txt").write_text("minutes of the meeting\n")
    code, out, err = run(
        capsys, "--workspace", str(tmp_path / "ws"), "build", "--from", str(folder)
    )
    assert code == 0, err
    assert "wards.geojson: ward boundaries (code column WD22CD" in err
    assert "vintage 2022; 9 rows -> layer 'wards'" in err
    assert "Files skipped:\n  notes.txt: not a layout this tool recognises" in err
    assert "[7/7] reading postcodes.csv" in err
    assert "Imported 3 boroughs, 9 wards, 36 lsoas" in out
    assert "Deprivation (IoD2019 / LSOA 2011) joined to 36 of 36 LSOAs." in out

    code, out, _ = run(capsys, "--workspace", str(tmp_path / "ws"), "info")
    assert code == 0
    assert "Study area: Middleton, Northbrook and Southfield" in out
    assert "wards" in out and "wards.geojson" in out and "Open Government Licence" in out


def test_bad_input_exits_non_zero_with_every_problem_and_no_traceback(tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    wards = fx.wards()
    wards.loc[0, "WD22CD"] = "E01000001"
    wards.loc[1, "WD22CD"] = "E05900003"
    fx.write_geojson(wards, folder / "wards.geojson")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mapper.cli",
            "--workspace",
            str(tmp_path / "ws"),
            "build",
            "--from",
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Error: 2 problems in wards.geojson; nothing was imported:" in result.stderr
    assert "feature 1 column 'WD22CD': 'E01000001': a LSOA (E01) code" in result.stderr
    assert "feature 3 column 'WD22CD': 'E05900003': duplicate code (also at feature 2)" in (
        result.stderr
    )
    assert not (tmp_path / "ws" / "mapper.gpkg").exists()


def test_info_without_workspace_says_what_to_do(capsys, tmp_path):
    code, _, err = run(capsys, "--workspace", str(tmp_path / "none"), "info")
    assert code == 1
    assert "no workspace at" in err and "mapper demo" in err


def test_import_of_an_unrecognised_file_is_a_clean_error(capsys, tmp_path):
    path = fx.write_csv(tmp_path / "x.csv", ["colour", "size"], [["red", "2"]])
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "import", str(path))
    assert code == 1
    assert (
        "x.csv: cannot import it: not a layout this tool recognises. Columns: colour, size" in err
    )


def test_import_replaces_one_layer(capsys, tmp_path):
    ws = str(tmp_path / "ws")
    assert (
        run(capsys, "--workspace", ws, "build", "--from", str(fx.write_folder(tmp_path / "in")))[0]
        == 0
    )
    wards = fx.wards().iloc[:6]
    path = fx.write_geojson(wards, tmp_path / "fewer_wards.geojson")
    code, out, _ = run(capsys, "--workspace", ws, "import", str(path))
    assert code == 0
    assert "Imported 6 of 6 rows into layer 'wards'." in out
    code, out, _ = run(capsys, "--workspace", ws, "info")
    assert "fewer_wards.geojson" in out


def test_workspace_from_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MAPPER_WORKSPACE", str(tmp_path / "envws"))
    code, _, _ = run(capsys, "build", "--from", str(fx.write_folder(tmp_path / "in")))
    assert code == 0
    assert (tmp_path / "envws" / "mapper.gpkg").is_file()


def test_dry_run_writes_nothing(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "--workspace",
        str(tmp_path / "ws"),
        "build",
        "--from",
        str(fx.write_folder(tmp_path / "in")),
        "--dry-run",
    )
    assert code == 0
    assert "dry run: nothing written" in err
    assert not (tmp_path / "ws").exists()


def test_demo_builds_a_labelled_synthetic_workspace(capsys, tmp_path):
    ws = tmp_path / "demo"
    code, out, err = run(capsys, "--workspace", str(ws), "demo")
    assert code == 0, err
    assert "Files skipped" not in err and "Warnings" not in out
    assert "Demo workspace ready" in out and "synthetic" in out
    from mapper.store import Workspace

    workspace = Workspace(ws)
    assert workspace.meta()["synthetic"] == "yes"
    assert workspace.meta()["study_area"] == "Demoborough (synthetic)"
    counts = {name: len(overlay.read_layer(workspace, name)) for name in workspace.layers()}
    assert counts["wards"] == 20 and counts["lsoas"] == 120 and counts["deprivation"] == 120
    assert counts["groups"] == 80 and counts["premises"] == 60 and counts["incidents"] == 1_500
    prov = workspace.provenance()
    imported = prov[prov["kind"] != "analysis"]
    assert imported["licence"].str.startswith("Synthetic data").all()
    assert set(prov[prov["kind"] == "analysis"]["layer"]) >= {"ward_summary", "neighbourhoods"}
    code, out, _ = run(capsys, "--workspace", str(ws), "info")
    assert "SYNTHETIC DEMO DATA" in out
    code, _, err = run(capsys, "--workspace", str(ws), "demo")
    assert code == 1 and "--force" in err


@pytest.mark.slow
def test_serve_on_a_fresh_machine_builds_the_demo_and_prints_the_url(tmp_path):
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**__import__("os").environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "mapper.cli", "serve", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    ) as proc:
        try:
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if "Serving" in line:
                    break
            text = "".join(lines)
            assert "building the synthetic demo first" in text
            assert f"at http://127.0.0.1:{port}/" in text
            for _ in range(50):
                try:
                    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                    break
                except OSError:
                    __import__("time").sleep(0.1)
            assert b"Demoborough (synthetic)" in page
            assert (tmp_path / "workspace" / "mapper.gpkg").is_file()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_nearest_command_lists_groups_without_contact_details(capsys, demo_copy):
    ws = str(demo_copy)  # the demo (`mapper demo` is tested on its own, above)
    from mapper.store import Workspace

    groups = overlay.read_layer(Workspace(ws), "groups")
    postcode = groups["postcode"].dropna().iloc[0]
    capsys.readouterr()
    code = main(["--workspace", ws, "nearest", "--postcode", postcode.lower().replace(" ", ""),
                 "-k", "3", "--offer", "interpreters"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Nearest groups to {postcode}:" in out
    lines = [line for line in out.splitlines() if line.strip().endswith(")") or " m  " in line]
    assert len(lines) == 3 and all("interpreters" in line for line in lines)
    assert "@" not in out and "020 7946" not in out
    assert main(["--workspace", ws, "nearest"]) == 1
    assert "give either --postcode or --at" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="worker processes need fork (gunicorn)")
def test_serve_with_worker_processes_answers_and_every_worker_sees_an_edit(demo_copy):
    """``mapper serve --workers 2``: gunicorn, caches made before the fork; an edit made
    by another process reaches both workers on their next request."""
    import http.client
    import json
    import re

    from mapper.editing import current_record, retire_record
    from mapper.store import Workspace

    env = {**__import__("os").environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "mapper.cli", "--workspace", str(demo_copy), "serve",
         "--port", "0", "--workers", "2", "--threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    ) as proc:
        try:
            line = proc.stdout.readline()
            found = re.search(r"at http://127\.0\.0\.1:(\d+)/ \(2 worker processes x 2 "
                              r"threads", line)
            assert found, line
            port = int(found.group(1))
            from mapper.geo import to_display

            groups = overlay.read_layer(Workspace(demo_copy), "groups")

            centre = to_display(groups.geometry).union_all().centroid
            path = f"/api/nearest?lat={centre.y:.6f}&lon={centre.x:.6f}&k=3"

            def nearest_ids() -> list[str]:
                # a new connection each time, so requests spread over both workers
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    assert response.status == 200
                    return [f["id"] for f in json.loads(response.read())["features"]]
                finally:
                    conn.close()

            before = {tuple(nearest_ids()) for _ in range(30)}
            assert len(before) == 1, before  # every worker gives the same answer
            first = next(iter(before))[0]
            _record, version, _retired = current_record(Workspace(demo_copy), "groups", first)
            retire_record(Workspace(demo_copy), "groups", first, version, actor="test")
            after = [nearest_ids() for _ in range(30)]
            assert all(first not in ids and len(ids) == 3 for ids in after), after
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert proc.returncode == 0


def test_serve_refuses_a_vector_archive_it_has_no_style_for(capsys, tmp_path):
    from tilefiles import write_pmtiles

    vector = write_pmtiles(tmp_path / "contours.pmtiles", {(0, 0, 0): b"\x1a\x00"},
                           tile_type=1, metadata={"vector_layers": [{"id": "contours"}]})
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "serve", "--tiles",
                       str(vector))
    assert code == 1 and "--tiles-style" in err and "(contours)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "ws").exists()  # refused before any demo was built


def test_serve_refuses_a_style_that_does_not_fit_and_says_why(capsys, tmp_path,
                                                             monkeypatch):
    from tilefiles import write_pmtiles

    vector = write_pmtiles(tmp_path / "roads.pmtiles", {(0, 0, 0): b"\x1a\x00"},
                           tile_type=1, metadata={"vector_layers": [{"id": "roads"}]})
    style = tmp_path / "style.json"
    style.write_text('{"layers": [{"id": "sea", "type": "fill", "source-layer": "ocean"}]}')
    monkeypatch.setenv("MAPPER_TILES_STYLE", str(style))  # the setting from the environment
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "serve", "--tiles",
                       str(vector))
    assert code == 1 and str(style) in err and "'ocean'" in err and "roads" in err
    assert "Traceback" not in err
    style.write_text("[1, 2")
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "serve", "--tiles",
                       str(vector), "--tiles-style", str(style))
    assert code == 1 and str(style) in err and "not JSON" in err
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "serve",
                       "--tiles-style", str(style))  # a style with no archive
    assert code == 1 and "--tiles-style" in err and "--tiles is none" in err
    assert not (tmp_path / "ws").exists()


def test_serve_names_a_tile_file_it_cannot_read(capsys, tmp_path, monkeypatch):
    bad = tmp_path / "map.mbtiles"
    bad.write_bytes(b"not a tile archive at all")
    monkeypatch.setenv("MAPPER_TILES", str(bad))  # the setting from the environment
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "serve")
    assert code == 1 and str(bad) in err and "not an MBTiles (SQLite) or PMTiles" in err
    code, _, err = run(capsys, "--workspace", str(tmp_path / "ws"), "serve", "--tiles",
                       str(tmp_path / "missing.pmtiles"))
    assert code == 1 and "no such file" in err
