"""Where the package's own files are: templates, static files, demo boundaries, mappings.

A source checkout keeps them at the top level, beside ``mapper/``::

    templates/  static/  data/boundaries/  mapper/mappings/

A wheel ships them inside the package (``pyproject.toml`` maps the folders in with
``tool.setuptools.package-dir``)::

    mapper/_templates/  mapper/_static/  mapper/_boundaries/  mapper/mappings/

:func:`folder` finds the package with :mod:`importlib.resources` and looks in the installed
place first, then (only in a checkout, recognised by its ``pyproject.toml``) in the
top-level one, so an installed wheel, an editable install and a plain checkout on
``PYTHONPATH`` all work. Every lookup of these files goes through this module.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from mapper.errors import MapperError

#: name -> (folder inside the installed package, folder in a checkout, from its top level)
FOLDERS = {
    "templates": ("_templates", "templates"),
    "static": ("_static", "static"),
    "boundaries": ("_boundaries", "data/boundaries"),
    "mappings": ("mappings", "mapper/mappings"),
}


@cache
def folder(name: str) -> Path:
    """The directory holding the package's ``name`` files (one of :data:`FOLDERS`).

    Raises MapperError when the installation lacks it (a wheel built without its data).
    """
    if name not in FOLDERS:
        raise ValueError(f"no package folder {name!r}; choose one of {', '.join(FOLDERS)}")
    package = resources.files("mapper")
    if not isinstance(package, Path):  # e.g. imported from a zip file: no real directories
        raise MapperError(f"the mapper package at {package} is not a directory on disk; "
                          "install it from the wheel with pip")
    installed, checkout = FOLDERS[name]
    candidates = [package / installed]
    top = package.parent
    if (top / "pyproject.toml").is_file():  # a source checkout (editable or PYTHONPATH)
        candidates.append(top.joinpath(*checkout.split("/")))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise MapperError(
        f"the package's {name} folder is missing (looked in "
        f"{' and '.join(str(c) for c in candidates)}); reinstall neighbourhood-mapper "
        "from a wheel built with its pyproject.toml"
    )


def templates_dir() -> Path:
    """The Jinja templates of the web app."""
    return folder("templates")


def static_dir() -> Path:
    """The web app's own CSS and JavaScript, served under ``/static/``."""
    return folder("static")


def boundaries_dir() -> Path:
    """The committed synthetic demo boundaries (``data/boundaries`` in a checkout)."""
    return folder("boundaries")


def mappings_dir() -> Path:
    """The editable vocabularies and rules (categories.csv, evidence.json, ...)."""
    return folder("mappings")


__all__ = ["FOLDERS", "boundaries_dir", "folder", "mappings_dir", "static_dir",
           "templates_dir"]
