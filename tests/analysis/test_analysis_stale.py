"""Data and analysis that drift apart say so (issue 13, item 9): an import or build killed
between its data write and its analysis write (kill -9, simulated at that exact point)
leaves an analysis marked stale or missing; `mapper info` and every page say so; the next
`mapper serve` start re-runs it. Also: an analysis that read data an import then changed
is stale, and erasing contact details (which no analysis reads) is not a data change."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import factories as fx
import pandas as pd
import pytest

from mapper import cli, overlay
from mapper.analysis_run import OUTPUTS, analyse, analysis_state
from mapper.cli import main
from mapper.config import Settings
from mapper.editing import erase_personal_data
from mapper.pipeline import build, import_file
from mapper.store import Workspace
from mapper.web import create_app

ROOT = Path(__file__).resolve().parents[2]
QUICK = Settings(stability_draws=5)


@pytest.fixture(scope="module")
def analysed_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stale")
    workspace = Workspace(root / "ws")
    build(fx.write_folder(root / "in"), workspace)
    analyse(workspace, QUICK)
    return root


@pytest.fixture
def ws(analysed_dir, tmp_path) -> Workspace:
    import shutil

    shutil.copytree(analysed_dir / "ws", tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def state(workspace: Workspace) -> str:
    return analysis_state(workspace.meta(), workspace.layers())


def groups_csv(path: Path, names=("Riverside Youth",)) -> Path:
    rows = "".join(f"{name},youth,{530_500 + 10 * n},180500\n" for n, name in enumerate(names))
    path.write_text("name,category,easting,northing\n" + rows, encoding="utf-8")
    return path


def killed_between_data_and_analysis(args: list[str]) -> subprocess.CompletedProcess:
    """Run `mapper ARGS` in a child that is killed (SIGKILL) the moment the analysis is
    about to write: the data transaction has committed, the analysis one has not."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        import mapper.analysis_run as run
        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        run._write = killed
        from mapper.cli import main
        sys.exit(main({args!r}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, env=env)


def test_a_fresh_analysis_is_current(ws):
    assert state(ws) == "current"


def test_a_killed_import_leaves_a_stale_analysis_that_says_so(ws, tmp_path, capsys):
    before = ws.read_layer("ward_summary")
    done = killed_between_data_and_analysis(
        ["--workspace", str(ws.directory), "import", str(groups_csv(tmp_path / "new.csv"))])
    assert done.returncode == -9, done.stderr
    groups = overlay.read_layer(ws, "groups")
    assert "new.csv" in set(groups["source_file"])  # the data was written ...
    assert ws.read_layer("ward_summary").equals(before)  # ... the analysis was not
    assert state(ws) == "stale"

    assert main(["--workspace", str(ws.directory), "info"]) == 0
    assert "Analysis OUT OF DATE: the data changed after the analysis ran" in \
        capsys.readouterr().out
    client = create_app({"TESTING": True, "WORKSPACE": str(ws.directory)}).test_client()
    for url in ("/", "/priority"):
        page = client.get(url).get_data(as_text=True)
        assert "Analysis out of date" in page and "re-run when the app next starts" in page

    cli._reanalyse_if_stale(ws)  # what `mapper serve` does first
    assert "Re-running it now" in capsys.readouterr().err
    assert state(ws) == "current"
    summary = ws.read_layer("ward_summary").set_index("ward_code")
    placed = groups[groups["source_file"] == "new.csv"]["ward_code"].iloc[0]
    was = before.set_index("ward_code").loc[placed, "groups_youth"]
    assert summary.loc[placed, "groups_youth"] == was + 1
    page = client.get("/").get_data(as_text=True)
    assert "Analysis out of date" not in page


def test_a_killed_build_leaves_a_missing_analysis_rerun_at_start(ws, analysed_dir, capsys):
    done = killed_between_data_and_analysis(
        ["--workspace", str(ws.directory), "build", "--from", str(analysed_dir / "in")])
    assert done.returncode == -9, done.stderr
    assert not any(ws.has_layer(name) for name in OUTPUTS)
    assert state(ws) == "missing"
    assert main(["--workspace", str(ws.directory), "info"]) == 0
    assert "Analysis OUT OF DATE: the data has not been analysed yet" in capsys.readouterr().out
    cli._reanalyse_if_stale(ws)
    assert state(ws) == "current"
    assert all(ws.has_layer(name) for name in OUTPUTS)


def test_an_analysis_of_data_changed_under_it_is_stale(ws, tmp_path):
    def progress(message: str) -> None:
        if message.startswith("coverage gaps"):  # the analysis has read its inputs
            import_file(groups_csv(tmp_path / "meanwhile.csv"), ws)

    analyse(ws, QUICK, progress=progress)
    assert state(ws) == "stale"
    analyse(ws, QUICK)
    assert state(ws) == "current"


def test_erasing_contact_details_keeps_the_analysis_current(ws, tmp_path):
    import_file(groups_csv(tmp_path / "contacts.csv"), ws)
    analyse(ws, QUICK)
    assert state(ws) == "current"
    group_id = str(overlay.read_layer(ws, "groups")["group_id"].iloc[0])
    erase_personal_data(ws, group_id, actor="admin")
    assert state(ws) == "current"


def test_workspaces_without_analysable_data_have_no_state(tmp_path):
    ws = Workspace(tmp_path / "ws")
    with ws.transaction() as tx:
        tx.write_layer("groups", pd.DataFrame({"name": ["x"]}))
    assert state(ws) == "none"
