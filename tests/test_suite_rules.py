"""Rules of the test suite itself: shared helpers and fixtures live in helper modules
(tests/*.py not named test_*), never in a test module that another test module imports."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
IMPORTS_A_TEST_MODULE = re.compile(r"^\s*(?:from\s+test_\w+\s+import|import\s+test_\w+)", re.M)


def test_no_test_module_imports_another():
    offenders = sorted(
        f"{path.relative_to(TESTS)}: {match.group(0).strip()}"
        for path in TESTS.rglob("*.py")
        for match in IMPORTS_A_TEST_MODULE.finditer(path.read_text(encoding="utf-8"))
    )
    assert not offenders, (
        "move what test modules share into a helper module in tests/ (demo_editing.py, "
        "upload_files.py, route_sweep.py, expected.py ...) or a conftest.py fixture:\n"
        + "\n".join(offenders))


def test_the_rule_finds_what_it_looks_for():
    assert IMPORTS_A_TEST_MODULE.search("from test_api import personal_keys")
    assert IMPORTS_A_TEST_MODULE.search("    from test_charity import register")
    assert not IMPORTS_A_TEST_MODULE.search("from expected import personal_keys")
