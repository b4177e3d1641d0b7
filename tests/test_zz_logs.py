"""Contact details never reach the logs.

pytest writes every log record of the test run to ``test-artifacts/pytest-run.log``
(``log_file`` in pyproject.toml). This module's name sorts last, so when the whole suite
runs, the file holds the logs of every other test (web requests, sign-ins, edits,
imports, exports, errors) when it is scanned here; the test also does a round of
contact-touching work itself so it is never vacuous when run alone.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from accounts import post, sign_in

from mapper import overlay
from mapper.cli import main
from mapper.editing import save_record
from mapper.store import Workspace
from mapper.web import create_app

LOG_FILE = Path(__file__).resolve().parents[1] / "test-artifacts" / "pytest-run.log"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: a UK number standing on its own: not inside a longer token such as the hex version
#: tag of a URL (``?v=034185769ff36f2f``), a time or a code
UK_PHONE = re.compile(r"(?<![\w.:/-])(?:\+44\s?|0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?!\w)")


def personal_data_in(text: str, known: set[str] = frozenset()) -> list[str]:
    """E-mail addresses, UK phone numbers and any of the `known` contact values found."""
    found = EMAIL.findall(text) + [m.group(0) for m in UK_PHONE.finditer(text)]
    found += [value for value in known if value and value in text]
    return sorted(set(found))


def test_the_scanner_finds_what_it_looks_for():
    assert personal_data_in("mail pat@example.org now") == ["pat@example.org"]
    assert personal_data_in("call 020 7946 0001.") == ["020 7946 0001"]
    assert personal_data_in("+44 20 7946 0001") == ["+44 20 7946 0001"]
    assert personal_data_in("07700 900123") == ["07700 900123"]
    assert personal_data_in("GET /x?phone=07700900123 HTTP/1.1") == ["07700900123"]
    assert personal_data_in("Sam (manager)", {"Sam (manager)"}) == ["Sam (manager)"]
    # times, sizes, codes and coordinates are not phone numbers
    assert personal_data_in("2026-12-05 04:37:22,123 took 0.0123456789 s E05000123 "
                            "51.5074 -0.1278 530000.0 180000.0 GET /api/x 200 "
                            "GET /priority/layers/groups.json?v=034185769ff36f2f") == []


def _contacts(directory) -> set[str]:
    groups = overlay.read_layer(Workspace(directory), "groups")
    values = set()
    for column in ("phone", "email", "contact_name"):
        values |= {str(v) for v in groups[column].dropna() if len(str(v)) > 5}
    return values


def test_no_contact_details_in_the_logs_of_the_whole_run(demo_copy, capsys):
    logging.getLogger("mapper").setLevel(logging.DEBUG)
    known = _contacts(demo_copy)
    assert known, "the demo has contact details to look for"
    # contact-touching work, so the log is never empty of it
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})
    client = sign_in(app.test_client(), "officer")
    ws = Workspace(demo_copy)
    gid = overlay.read_layer(ws, "groups")["group_id"].iloc[0]
    save_record(ws, "groups", {"phone": "020 7946 0999", "email": "zz-log@example.org"},
                actor="test-officer", record_id=gid, expected_version=1)
    known |= {"020 7946 0999", "zz-log@example.org"}
    for url in ("/", "/incident?postcode=ZZ1+1AA", f"/api/groups?ward={''}", "/nope"):
        client.get(url)
    post(client, "/priority/recompute", {"weight_need": "x"})  # an error path
    # both exports must run (and write) for their logging to be part of the scan
    assert main(["--workspace", str(demo_copy), "group", "export", gid, "-o",
                 str(demo_copy / "sar.json")]) == 0
    assert main(["--workspace", str(demo_copy), "export", "groups", "-o",
                 str(demo_copy / "g.csv"), "--include-personal-data"]) == 0
    assert (demo_copy / "sar.json").is_file() and (demo_copy / "g.csv").is_file()
    capsys.readouterr()
    for handler in logging.getLogger().handlers:
        handler.flush()
    if not LOG_FILE.is_file():
        pytest.fail(f"{LOG_FILE} was not written: is log_file set in pyproject.toml?")
    text = LOG_FILE.read_text(encoding="utf-8", errors="replace")
    assert "sign-in: test-officer" in text, "the app's own log records reach the file"
    leaks = personal_data_in(text, known)
    assert not leaks, f"contact details in the test run's logs: {leaks[:10]}"
