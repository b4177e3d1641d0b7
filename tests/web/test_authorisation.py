"""The authorisation matrix: every route, every method, every role.

:data:`POLICY` states the least role each endpoint needs. The test fails when a route is
not in it (a new route must be classified), when a view's ``@require_role`` disagrees
with it, when any role below the policy gets a 2xx (or anything but 302-to-sign-in, 401
or 403), and when any allowed role gets a 5xx.
"""

from __future__ import annotations

import pytest
from accounts import csrf_token, sign_in
from route_sweep import _samples, _url

from mapper.users import ROLES, rank
from mapper.web import create_app

#: endpoint -> the least role that may use it (every method of it)
POLICY = {
    "static": "public",
    "vendor.vendor_file": "public",
    "health": "public",
    "tiles.tile": "public",
    "context.features": "public",
    "favicon": "public",
    "overview.index": "public",
    "overview.wards_table": "public",
    "overview.wards_csv": "public",
    "overview.groups_json": "public",
    "priority.page": "public",
    "priority.decision_record": "public",
    "priority.export_csv": "public",
    "priority.export_geojson": "public",
    "priority.layer_json": "public",
    "priority.ward_tiles": "public",
    "overview.ward_tiles": "public",
    # the outlines, area names and counts per ward a large map fetches: no personal data
    "priority.outline_tiles": "public",
    "priority.labels_json": "public",
    "priority.counts_json": "public",
    "overview.borough_tiles": "public",
    "overview.labels_json": "public",
    "overview.counts_json": "public",
    "priority.recompute": "admin",
    # drafts and published versions (mapper/web/drafts.py): a draft is also private to
    # its owner (tests/analysis/test_drafts.py)
    "drafts.create": "officer",
    "drafts.index": "officer",
    "drafts.draft": "officer",
    "drafts.publish": "admin",
    "drafts.versions": "partner",
    "drafts.version_record": "partner",
    "neighbourhoods.index": "public",
    "neighbourhoods.neighbourhood": "public",
    "neighbourhoods.neighbourhood_export": "public",
    "neighbourhoods.ward": "public",
    "neighbourhoods.ward_export": "public",
    # CAN boundaries (mapper/web/downloads.py): no personal data
    "neighbourhoods.boundaries_export": "public",
    "neighbourhoods.boundary_export": "public",
    "incidents.incident": "public",
    "incidents.callsheet": "public",
    # the groups found as a file: contacts inside follow contacts_for (audited)
    "incidents.results_csv": "public",
    "incidents.results_geojson": "public",
    "api.docs": "public",
    "api.openapi": "public",
    "api.wards": "public",
    "api.neighbourhoods": "public",
    "api.groups": "public",
    "api.premises": "public",
    "api.incidents": "public",
    "api.nearest": "public",
    "api.search": "public",
    # OGC API Features (mapper/web/features.py): contacts inside follow contacts_for
    **{f"features.{view}": "public"
       for view in ("landing", "conformance", "openapi", "collections", "collection",
                    "items", "item")},
    "auth.signin": "public",
    "auth.signout": "public",
    "auth.account": "partner",
    # contact lists (mapper/web/contact_lists.py): partners see their wards' groups only
    "contact_lists.page": "partner",
    "contact_lists.export_csv": "partner",
    "contact_lists.export_vcf": "partner",
    "admin.users": "admin",
    "admin.add_user": "admin",
    "admin.change_user": "admin",
    "admin.audit": "admin",
    # the register editing pages and API (mapper/web/editor.py, mapper/web/edit_api.py)
    "editor.index": "officer",
    "editor.records": "officer",
    "editor.new": "officer",
    "editor.edit": "officer",
    "editor.verify": "officer",
    "editor.retire": "officer",
    **{f"edit_api.{action}_{register}": "officer"
       for register in ("groups", "premises", "incidents")
       for action in ("create", "record", "update", "retire")},
    "edit_api.verify_groups": "officer",
    "edit_api.verify_premises": "officer",
    # records due for re-checking (mapper/web/recheck.py): partners see their wards
    "recheck.index": "partner",
    "recheck.neighbourhood": "partner",
    "recheck.ward": "partner",
    "recheck.confirm": "officer",
    # uploads (mapper/web/uploads.py)
    **{f"uploads.{name}": "officer" for name in (
        "form", "upload", "report", "commit", "discard", "api_upload", "api_commit",
        "api_discard")},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def matrix_app(shared_demo, tmp_path_factory):
    import shutil

    directory = tmp_path_factory.mktemp("authz") / "demo"
    shutil.copytree(shared_demo, directory)
    return create_app({"TESTING": True, "WORKSPACE": str(directory)})


def _requests(app):
    samples = _samples(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in METHODS:
            if method in rule.methods:
                yield rule, method, _url(rule, samples)


def test_every_route_is_in_the_policy(matrix_app):
    endpoints = {rule.endpoint for rule in matrix_app.url_map.iter_rules()}
    missing = sorted(endpoints - set(POLICY))
    assert not missing, f"routes without an authorisation policy: {missing}"
    stale = sorted(set(POLICY) - endpoints)
    assert not stale, f"policy for routes that no longer exist: {stale}"


def test_views_declare_the_policy_role(matrix_app):
    wrong = {}
    for endpoint, role in POLICY.items():
        declared = getattr(matrix_app.view_functions[endpoint], "required_role", "public")
        if declared != role:
            wrong[endpoint] = (declared, role)
    assert not wrong, f"@require_role differs from the policy (declared, policy): {wrong}"


def _client(app, role):
    client = app.test_client()
    return sign_in(client, role, username=f"matrix-{role}")


def _send(client, method, url):
    headers = {"X-CSRF-Token": csrf_token(client)} if method != "GET" else {}
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        return client.open(url, method=method, json={}, headers=headers)
    return client.open(url, method=method, data={"csrf_token": csrf_token(client)},
                       headers=headers)


def test_the_matrix(matrix_app):
    clients = {role: _client(matrix_app, role) for role in ROLES}
    unexpected, errors, checked = [], [], 0
    # the refusals first, then the allowed requests (which may change the workspace)
    for allowed_pass in (False, True):
        for rule, method, url in _requests(matrix_app):
            needed = POLICY[rule.endpoint]
            for role in ROLES:
                allowed = rank(role) >= rank(needed)
                if allowed is not allowed_pass:
                    continue
                response = _send(clients[role], method, url)
                checked += 1
                status = response.status_code
                location = response.headers.get("Location", "")
                response.close()  # file responses hold an open file
                if not allowed:
                    to_signin = status == 302 and "/signin" in location
                    if not (to_signin or status in (401, 403)):
                        unexpected.append(f"{role} {method} {url}: {status}")
                    expected_kind = (401, 302) if role == "public" else (403,)
                    if status not in expected_kind and not unexpected:
                        unexpected.append(f"{role} {method} {url}: {status} "
                                          f"(expected {expected_kind})")
                elif status >= 500:
                    errors.append(f"{role} {method} {url}: {status}")
    assert not unexpected, "refused requests not refused properly:\n" + "\n".join(unexpected)
    assert not errors, "server errors:\n" + "\n".join(errors)
    assert checked >= 4 * len(POLICY)
