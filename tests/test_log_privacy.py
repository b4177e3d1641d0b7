"""Contact details never reach the logs.

The test here does its own representative round of work with every log record captured
(DEBUG and up, every logger): builds and analyses a demo workspace with the CLI, serves
pages and the API to an anonymous visitor and to an officer, saves an edit of a group's
contact details, exports a group's personal data (subject access, ``-o`` given, exit status
and file checked) and the groups with personal data, downloads the contact list as CSV and
vCard, and walks an error path; then scans what those wrote. It does not depend on which
other tests ran, or in what order.

The whole run's log (``log_file`` in pyproject.toml) is scanned as well, by conftest's
``pytest_sessionfinish``: it fails the run when any test's logging leaked an e-mail address
or phone number.
"""

from __future__ import annotations

import logging

import pytest
from accounts import post, sign_in
from log_scan import personal_data_in

from mapper.cli import main
from mapper.editing import save_record
from mapper.store import Workspace
from mapper.web import create_app


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
    groups = Workspace(directory).read_layer("groups")
    values = set()
    for column in ("phone", "email", "contact_name"):
        values |= {str(v) for v in groups[column].dropna() if len(str(v)) > 5}
    return values


@pytest.fixture
def captured_log(tmp_path):
    """Every log record written while the test runs, DEBUG and up, into a file of its own."""
    path = tmp_path / "captured.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, mapper_logger = logging.getLogger(), logging.getLogger("mapper")
    levels = root.level, mapper_logger.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    mapper_logger.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    handler.close()
    root.setLevel(levels[0])
    mapper_logger.setLevel(levels[1])


def test_no_contact_details_in_the_logs_of_contact_touching_work(tmp_path, captured_log,
                                                                 capsys):
    directory = tmp_path / "ws"
    cli = ["--workspace", str(directory)]
    assert main([*cli, "demo"]) == 0
    assert main([*cli, "analyse", "--set", "stability_draws=10"]) == 0
    known = _contacts(directory)
    assert known, "the demo has contact details to look for"

    ws = Workspace(directory)
    groups = ws.read_layer("groups")
    gid = groups["group_id"].iloc[0]
    ward = groups["ward_code"].iloc[0]
    save_record(ws, "groups", {"phone": "020 7946 0999", "email": "log-scan@example.org"},
                actor="test-officer", record_id=gid, expected_version=1)
    known |= {"020 7946 0999", "log-scan@example.org"}

    app = create_app({"TESTING": True, "WORKSPACE": str(directory)})
    anonymous = app.test_client()
    for url in ("/", f"/ward/{ward}", "/api/groups", "/contacts.csv", "/nope"):
        assert anonymous.get(url).status_code < 500, url
    officer = sign_in(app.test_client(), "officer")
    for url in ("/", f"/ward/{ward}", "/incident?postcode=ZZ1+1AA", "/api/groups", "/nope"):
        assert officer.get(url).status_code < 500, url
    for url in (f"/contacts.csv?ward={ward}", f"/contacts.vcf?ward={ward}"):
        response = officer.get(url)
        assert response.status_code == 200, url
        assert "log-scan@example.org" in response.get_data(as_text=True), url
    post(officer, "/priority/recompute", {"weight_need": "x"})  # an error path

    # both exports must run (and write) for their logging to be part of the scan
    assert main([*cli, "group", "export", gid, "-o", str(tmp_path / "sar.json")]) == 0
    assert main([*cli, "export", "groups", "-o", str(tmp_path / "g.csv"),
                 "--include-personal-data"]) == 0
    assert "log-scan@example.org" in (tmp_path / "sar.json").read_text(encoding="utf-8")
    assert "log-scan@example.org" in (tmp_path / "g.csv").read_text(encoding="utf-8-sig")
    capsys.readouterr()

    text = captured_log.read_text(encoding="utf-8", errors="replace")
    assert "sign-in: test-officer" in text, "the app's own log records were captured"
    leaks = personal_data_in(text, known)
    assert not leaks, f"contact details in the logs: {leaks[:10]}"
