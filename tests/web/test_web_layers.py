"""The web app's own layering (README, Architecture): a blueprint never imports another
blueprint, the modules blueprints share import none, the CLI reaches the app only
through ``mapper.web.create_app``, and the map modules build on ``maps/base.py`` without
importing each other's private names.

Imports are found with :mod:`ast` anywhere in a file, deferred ones too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mapper"


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for each ``from module import name``; (module, "") for ``import``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node.module, alias.name) for alias in node.names]
    return out


def _web_modules_used(path: Path) -> set[str]:
    """The ``mapper.web.*`` modules a file imports (``from mapper.web import x`` names the
    submodule x when there is one)."""
    web = PACKAGE / "web"
    found = set()
    for module, name in _imports(path):
        if module == "mapper.web" and (web / f"{name}.py").exists():
            found.add(f"mapper.web.{name}")
        elif module.startswith("mapper.web."):
            found.add(module)
    return found


def blueprint_modules() -> set[str]:
    """The modules of mapper/web that define a blueprint."""
    return {f"mapper.web.{p.stem}" for p in (PACKAGE / "web").glob("*.py")
            if p.stem != "__init__"
            and re.search(r"^\w+\s*=\s*Blueprint\(", p.read_text(encoding="utf-8"), re.M)}


def test_the_web_has_blueprints_and_shared_modules():
    blueprints = blueprint_modules()
    assert {"mapper.web.overview", "mapper.web.api", "mapper.web.signin"} <= blueprints
    assert not {"mapper.web.data", "mapper.web.responses", "mapper.web.auth"} & blueprints


def test_no_web_module_imports_a_blueprint():
    """Only the app factory (mapper/web/__init__.py) registers, and so imports, them."""
    blueprints = blueprint_modules()
    wrong = []
    for path in sorted((PACKAGE / "web").glob("*.py")):
        if path.name == "__init__.py":
            continue
        name = f"mapper.web.{path.stem}"
        wrong += [f"{name} imports {used}" for used in sorted(_web_modules_used(path) & blueprints)
                  if used != name]
    assert not wrong, "\n".join(wrong)


def test_no_web_module_imports_the_app_factory_package():
    """``from mapper.web import open_workspace``-style imports tie a module to
    ``mapper/web/__init__.py``, which imports every blueprint: a cycle."""
    wrong = []
    for path in sorted((PACKAGE / "web").glob("*.py")):
        for module, name in _imports(path):
            if module == "mapper.web" and not (PACKAGE / "web" / f"{name}.py").exists():
                wrong.append(f"{path.name}: from mapper.web import {name}")
    assert not wrong, "\n".join(wrong)


def test_the_cli_reaches_the_web_app_only_through_create_app():
    for path in PACKAGE.glob("cli*.py"):
        for module, name in _imports(path):
            if module == "mapper.web":
                assert name == "create_app", f"{path.name} imports mapper.web.{name}"
            else:
                assert not module.startswith("mapper.web."), f"{path.name} imports {module}"


def test_map_modules_import_no_private_names_and_base_imports_no_map():
    for path in sorted((PACKAGE / "maps").glob("*.py")):
        for module, name in _imports(path):
            if module.startswith("mapper.maps"):
                assert not name.startswith("_"), f"{path.name}: from {module} import {name}"
                if path.stem == "base":
                    raise AssertionError(f"maps/base.py imports {module}: it must build on "
                                         "no other map module")
