"""The workspace store: atomic transactions, provenance, and imports killed part-way."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import factories as fx
import numpy as np
import pytest

from mapper import overlay
from mapper.errors import DataValidationError, MapperError
from mapper.pipeline import build
from mapper.store import STORE_FILE, TMP_PREFIX, Provenance, Workspace, resolve_workspace


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def built(grid_copy):
    return Workspace(grid_copy)


def test_workspace_location_argument_environment_default(monkeypatch, tmp_path):
    monkeypatch.delenv("MAPPER_WORKSPACE", raising=False)
    assert str(resolve_workspace()) == "workspace"
    monkeypatch.setenv("MAPPER_WORKSPACE", str(tmp_path / "env"))
    assert resolve_workspace() == tmp_path / "env"
    assert resolve_workspace(tmp_path / "arg") == tmp_path / "arg"


def test_failed_transaction_leaves_the_store_byte_for_byte(built):
    before = digest(built.path)
    with pytest.raises(RuntimeError):
        with built.transaction() as tx:
            tx.write_layer("wards", fx.wards().rename(columns={"WD22CD": "ward_code"}))
            raise RuntimeError("power cut")
    assert digest(built.path) == before
    assert not list(built.directory.glob(f"{TMP_PREFIX}*"))


def test_failed_validation_leaves_the_previous_workspace(built, tmp_path):
    before = digest(built.path)
    bad = fx.write_folder(tmp_path / "bad")
    wards = fx.wards()
    wards.loc[0, "WD22CD"] = "E01000001"
    fx.write_geojson(wards, bad / "wards.geojson")
    with pytest.raises(DataValidationError):
        build(bad, built)
    assert digest(built.path) == before


def test_a_transaction_copies_the_rest_of_the_store(built):
    with built.transaction() as tx:
        tx.write_layer(
            "deprivation",
            built.read_layer("deprivation").head(3),
            Provenance(layer="deprivation", kind="deprivation", source_file="x.csv"),
        )
    assert len(built.read_layer("deprivation")) == 3
    assert len(built.read_layer("wards")) == 9
    prov = built.provenance().set_index("layer")
    assert prov.loc["deprivation", "source_file"] == "x.csv"
    assert prov.loc["wards", "source_file"] == "wards.geojson"


def test_only_one_import_at_a_time(built):
    with built.transaction():
        with pytest.raises(MapperError, match="another import is changing the workspace"):
            with built.transaction():
                pass


def test_another_process_cannot_import_while_one_does(built):
    # the lock is the operating system's (filelock: flock on POSIX, msvcrt on Windows),
    # so it holds across processes, and a second import fails at once rather than waits
    code = "\n".join([
        "import sys",
        "from mapper.errors import MapperError",
        "from mapper.store import Workspace",
        "try:",
        "    with Workspace(sys.argv[1]).transaction():",
        "        pass",
        "except MapperError as error:",
        "    sys.exit(str(error))",
    ])
    with built.transaction():
        started = time.monotonic()
        held = subprocess.run([sys.executable, "-c", code, str(built.directory)],
                              capture_output=True, text=True, timeout=120)
    assert held.returncode == 1
    assert "another import is changing the workspace" in held.stderr
    assert "Traceback" not in held.stderr
    assert time.monotonic() - started < 60
    free = subprocess.run([sys.executable, "-c", code, str(built.directory)],
                          capture_output=True, text=True, timeout=120)
    assert free.returncode == 0, free.stderr


def test_reserved_names_and_crs_are_checked(built):
    with pytest.raises(ValueError, match="EPSG:27700"):
        with built.transaction() as tx:
            tx.write_layer("wards", fx.wards().to_crs("EPSG:4326"))
    with pytest.raises(ValueError, match="reserved"):
        with built.transaction() as tx:
            tx.write_layer("mapper_layers", built.read_layer("population"))


def test_missing_layer_error_lists_the_layers(built):
    with pytest.raises(MapperError, match="no layer 'groups' .*boroughs"):
        overlay.read_layer(built, "groups")


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """The tiny folder plus 300,000 postcodes, so writing takes long enough to interrupt."""
    folder = fx.write_folder(tmp_path_factory.mktemp("big"))
    rng = np.random.default_rng(7)
    n = 300_000
    east = rng.integers(530_000, 533_000, n)
    north = rng.integers(180_000, 183_000, n)
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    with open(folder / "postcodes.csv", "w") as handle:
        handle.write("Postcode,Positional_quality_indicator,Eastings,Northings\n")
        for i in range(n):
            code = f"ZZ{i // 4000 + 1} {i % 10}{letters[(i // 10) % 20]}{letters[(i // 200) % 20]}"
            handle.write(f"{code},10,{east[i]},{north[i]}\n")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    "kill_after", ["writing layer 'boroughs'", "writing layer 'lsoas'", "writing layer 'postcodes'"]
)
def test_killing_an_import_part_way_leaves_the_workspace_as_it_was(built, big_folder, kill_after):
    before = digest(built.path)
    layers_before = built.layers()
    folder = big_folder
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MAPPER_WORKSPACE": str(built.directory)}
    with subprocess.Popen(
        [sys.executable, "-m", "mapper.cli", "build", "--from", str(folder)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    ) as proc:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if kill_after in line:
                break
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert still_running, "the import finished before it could be killed: " + "".join(seen)
    assert any(kill_after in line for line in seen)
    # the half-written temporary store may be left behind; the workspace itself is untouched
    assert digest(built.path) == before
    assert Workspace(built.directory).layers() == layers_before
    assert len(Workspace(built.directory).read_layer("postcodes")) == 36
    if "postcodes" not in kill_after:
        return
    # the next import cleans up and succeeds
    build(folder, built)
    assert len(built.read_layer("postcodes")) == 300_000
    assert not list(built.directory.glob(f"{TMP_PREFIX}*"))
    assert sorted(p.name for p in built.directory.iterdir()) == [".mapper.lock", STORE_FILE]


@pytest.mark.slow
def test_interrupt_from_the_keyboard_says_the_workspace_is_unchanged(built, big_folder):
    folder = big_folder
    before = digest(built.path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MAPPER_WORKSPACE": str(built.directory)}
    with subprocess.Popen(
        [sys.executable, "-m", "mapper.cli", "build", "--from", str(folder)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    ) as proc:
        for line in proc.stderr:
            if "writing layer 'lsoas'" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=30) == 130
    assert "Interrupted; the workspace is unchanged." in rest
    assert "Traceback" not in rest
    time.sleep(0.1)
    assert digest(built.path) == before
    assert not list(built.directory.glob(f"{TMP_PREFIX}*"))
