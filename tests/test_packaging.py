"""The package's files are found the same way in a checkout and in an installed wheel.

The wheel itself is built, installed and served by ``.ci/wheel-smoke`` (run by
``.ci/run``); these tests check the pieces that make it work without building one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mapper import resources
from mapper.errors import MapperError

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_folder_of_the_package_is_in_the_wheel():
    folders = {
        ".".join(p.relative_to(ROOT).parts)
        for p in (ROOT / "mapper").rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(p.iterdir())
    } | {"mapper"}
    listed = set(SETUPTOOLS["packages"])
    assert folders - listed == set(), "add them to [tool.setuptools] packages in pyproject.toml"


def test_pyproject_maps_the_folders_resources_looks_for():
    mapped = SETUPTOOLS["package-dir"]
    for name, (installed, checkout) in resources.FOLDERS.items():
        package = f"mapper.{installed}"
        assert package in SETUPTOOLS["packages"], name
        assert mapped.get(package, f"mapper/{installed}") == checkout, name
        assert SETUPTOOLS["package-data"][package], f"{package} ships no files"


def test_a_checkout_finds_the_top_level_folders():
    assert resources.templates_dir() == ROOT / "templates"
    assert resources.static_dir() == ROOT / "static"
    assert resources.boundaries_dir() == ROOT / "data" / "boundaries"
    assert resources.mappings_dir() == ROOT / "mapper" / "mappings"
    assert (resources.templates_dir() / "base.html").is_file()
    assert (resources.mappings_dir() / "categories.csv").is_file()
    with pytest.raises(ValueError, match="choose one of templates, static"):
        resources.folder("images")


def _installed_copy(site: Path, *, skip: str = "") -> None:
    """``site/mapper`` laid out as the wheel installs it (no pyproject.toml above it)."""
    shutil.copytree(ROOT / "mapper", site / "mapper",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, (installed, checkout) in resources.FOLDERS.items():
        target = site / "mapper" / installed
        if name != skip and not target.exists():
            shutil.copytree(ROOT / checkout, target)


def _folders_seen_from(site: Path) -> subprocess.CompletedProcess:
    code = ("from mapper import resources\n"
            "for name in resources.FOLDERS: print(resources.folder(name))\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code], cwd=site, env=env,
                          capture_output=True, text=True, timeout=60)


def test_an_installed_package_finds_its_own_copies(tmp_path):
    _installed_copy(tmp_path)
    run = _folders_seen_from(tmp_path)
    assert run.returncode == 0, run.stderr
    package = tmp_path / "mapper"
    assert run.stdout.split() == [str(package / "_templates"), str(package / "_static"),
                                  str(package / "_boundaries"), str(package / "mappings")]


def test_an_installed_package_missing_a_folder_says_so(tmp_path):
    (tmp_path / "static").mkdir()  # a stray folder beside the package is not used
    _installed_copy(tmp_path, skip="static")
    run = _folders_seen_from(tmp_path)
    assert run.returncode != 0
    assert "the package's static folder is missing" in run.stderr
    assert str(tmp_path / "mapper" / "_static") in run.stderr


def test_the_web_app_serves_static_files_under_static(tmp_path):
    from mapper.web import create_app

    app = create_app({"TESTING": True, "WORKSPACE": str(tmp_path / "workspace")})
    assert app.static_folder == str(resources.static_dir())
    response = app.test_client().get("/static/app.css")
    assert response.status_code == 200
    assert response.data == (ROOT / "static" / "app.css").read_bytes()
    response.close()


def test_a_missing_folder_is_a_mapper_error(monkeypatch):
    monkeypatch.setitem(resources.FOLDERS, "static", ("_nowhere", "nowhere"))
    resources.folder.cache_clear()
    try:
        with pytest.raises(MapperError, match=r"static folder is missing .*_nowhere"):
            resources.folder("static")
    finally:
        resources.folder.cache_clear()
