"""The administrators' web pages: users and the audit trail."""

from __future__ import annotations

from accounts import post, sign_in

from mapper.users import authenticate, get_user
from mapper.web import create_app
from mapper.web.auth import app_db


def test_admin_adds_changes_and_disables_users(tiny_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)})
    admin = sign_in(app.test_client(), "admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "test-admin" in page and "Add a user" in page
    response = post(admin, "/admin/users", {"username": "jo", "role": "partner",
                                            "areas": "E05900002; e05900001",
                                            "password": "partner passphrase"})
    assert response.status_code == 303
    with app.app_context():
        db = app_db()
        assert get_user(db, "jo").wards == ("E05900001", "E05900002")
        assert authenticate(db, "jo", "partner passphrase") is not None
    # areas are checked when granted: the tiny workspace has wards but no analysis
    bad = post(admin, "/admin/users", {"username": "kim", "role": "partner",
                                       "areas": "CAN-01, E05900003, E0599, middleton east, "
                                                "E05900010",
                                       "password": "partner passphrase"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and ("unknown areas &#39;CAN-01&#39;, &#39;E0599&#39;, "
                                       "&#39;middleton east&#39;, &#39;E05900010&#39;") in text
    # a ward's name is answered with its code; a wrong code is not guessed at
    assert "&#39;middleton east&#39;: did you mean E05900006 (Middleton East)?" in text
    assert "&#39;E05900010&#39;: did you mean" not in text
    assert "CAN ids: none (the analysis has not run)" in text
    assert ("Ward codes: E05900001 (Southfield West), E05900002 (Southfield Central), "
            "E05900003 (Southfield East)") in text
    assert "more (the Wards page" not in text  # 9 wards: all listed
    with app.app_context():
        assert get_user(app_db(), "kim") is None
    unchanged = post(admin, "/admin/users/jo", {"action": "update", "role": "partner",
                                                "areas": "E05900001, E05900002"})
    assert unchanged.status_code == 303
    bad = post(admin, "/admin/users", {"username": "x y", "role": "boss", "password": "1"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "There is a problem" in text and "is not allowed" in text
    response = post(admin, "/admin/users/jo", {"action": "update", "role": "officer",
                                               "areas": ""})
    assert response.status_code == 303
    with app.app_context():
        assert get_user(app_db(), "jo").wards == ()
    response = post(admin, "/admin/users/jo", {"action": "disable"})
    assert response.status_code == 303
    with app.app_context():
        assert get_user(app_db(), "jo") is None
    me = post(admin, "/admin/users/test-admin", {"action": "disable"})
    assert me.status_code == 400 and "your own account" in me.get_data(as_text=True)
    last = post(admin, "/admin/users/test-admin", {"action": "update", "role": "officer"})
    assert last.status_code == 400 and "only administrator" in last.get_data(as_text=True)
    audit = admin.get("/admin/audit?register=users").get_data(as_text=True)
    assert "created with role partner" in audit and "disabled" in audit
    assert "partner passphrase" not in audit
    officer = sign_in(app.test_client(), "officer")
    assert officer.get("/admin/users").status_code == 403
    assert 'href="/admin/users"' not in officer.get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in admin.get("/").get_data(as_text=True)
