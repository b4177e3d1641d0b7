"""People who sign in, and what each role may do.

Roles, from least to most trusted:

``public``   anyone, signed in or not: maps, aggregate figures, group names and categories;
             never a personal contact detail.
``partner``  a Joint Action Board member: also the contact details of the groups in their
             own neighbourhoods (the CAN ids listed on their account).
``officer``  a council officer: edits groups, premises and incidents, uploads files, sees
             every contact (the incident page with contacts).
``admin``    also manages users, imports, settings and analysis runs.

Passwords are stored only as salted scrypt hashes (werkzeug). Users live in the app
database (:mod:`mapper.appdb`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from werkzeug.security import check_password_hash, generate_password_hash

from mapper.appdb import AppDB, now
from mapper.errors import MapperError

ROLES = ("public", "partner", "officer", "admin")
ROLE_HELP = {
    "public": "maps, aggregate figures, group names and categories; no contact details",
    "partner": "a Joint Action Board member: contacts for their own neighbourhoods",
    "officer": "edits groups, premises and incidents, uploads files; sees all contacts",
    "admin": "also manages users, imports, settings and analysis runs",
}
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
#: a hash that no password matches: checked when the user does not exist, so a sign-in
#: takes as long for an unknown name as for a wrong password
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def rank(role: str) -> int:
    return ROLES.index(role)


@dataclass(frozen=True)
class User:
    username: str
    role: str = "public"
    neighbourhoods: tuple[str, ...] = field(default_factory=tuple)
    password_stamp: str = ""

    @property
    def signed_in(self) -> bool:
        return self.role != "public"

    def at_least(self, role: str) -> bool:
        return rank(self.role) >= rank(role)

    def may_see_contacts(self, neighbourhood_ids: set[str] | None = None) -> bool:
        """Officers and admins see every contact; partners only in their neighbourhoods."""
        if self.at_least("officer"):
            return True
        if self.role == "partner" and neighbourhood_ids is not None:
            return bool(set(self.neighbourhoods) & neighbourhood_ids)
        return False


ANONYMOUS = User("", "public")


def check_role(role: str) -> str:
    if role not in ROLES or role == "public":
        raise MapperError(
            f"role must be one of partner, officer, admin (got {role!r}): "
            + "; ".join(f"{r}: {ROLE_HELP[r]}" for r in ROLES[1:])
        )
    return role


def check_password_strength(password: str, username: str = "") -> None:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters (got {len(password)})")
    if username and password.lower() == username.lower():
        problems.append("not the same as the user name")
    if problems:
        raise MapperError("the password must be " + " and ".join(problems))


def _row_user(row) -> User:
    return User(row["username"], row["role"], tuple(json.loads(row["neighbourhoods"])),
                row["password_hash"][-16:])


def get_user(db: AppDB, username: str) -> User | None:
    """The active user with this name, or None."""
    rows = db.query("SELECT * FROM users WHERE username = ? AND disabled = 0", (username,))
    return _row_user(rows[0]) if rows else None


def list_users(db: AppDB) -> list[dict]:
    rows = db.query("SELECT username, role, neighbourhoods, created_at, disabled FROM users "
                    "ORDER BY username")
    return [dict(r) | {"neighbourhoods": json.loads(r["neighbourhoods"])} for r in rows]


def create_user(db: AppDB, username: str, password: str, role: str, *,
                neighbourhoods: list[str] | tuple[str, ...] = (), actor: str = "cli") -> User:
    """Add a user; MapperError when the name is taken or invalid, or the password weak."""
    if not _USERNAME.match(username or ""):
        raise MapperError(
            f"user name {username!r} is not allowed: use 2-64 letters, digits, '.', '_', "
            "'@' or '-'"
        )
    check_role(role)
    check_password_strength(password, username)
    with db.write() as conn:
        if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise MapperError(f"there is already a user called {username!r}")
        conn.execute(
            "INSERT INTO users (username, password_hash, role, neighbourhoods, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (username, generate_password_hash(password), role,
             json.dumps(sorted(set(neighbourhoods))), now()),
        )
        conn.execute(
            "INSERT INTO audit (at, actor, action, register, record_id, fields, detail) "
            "VALUES (?, ?, 'user', 'users', ?, '[]', ?)", (now(), actor, username,
                                                           f"created with role {role}"))
    user = get_user(db, username)
    assert user is not None
    return user


def update_user(db: AppDB, username: str, *, role: str | None = None,
                neighbourhoods: list[str] | None = None, password: str | None = None,
                disabled: bool | None = None, actor: str = "cli") -> None:
    """Change a user's role, neighbourhoods, password or disabled flag."""
    changes, params, said = [], [], []
    if role is not None:
        changes.append("role = ?")
        params.append(check_role(role))
        said.append(f"role {role}")
    if neighbourhoods is not None:
        changes.append("neighbourhoods = ?")
        params.append(json.dumps(sorted(set(neighbourhoods))))
        said.append("neighbourhoods " + (", ".join(sorted(set(neighbourhoods))) or "none"))
    if password is not None:
        check_password_strength(password, username)
        changes.append("password_hash = ?")
        params.append(generate_password_hash(password))
        said.append("password changed")
    if disabled is not None:
        changes.append("disabled = ?")
        params.append(int(disabled))
        said.append("disabled" if disabled else "enabled")
    if not changes:
        return
    with db.write() as conn:
        cursor = conn.execute(f"UPDATE users SET {', '.join(changes)} WHERE username = ?",
                              (*params, username))
        if cursor.rowcount == 0:
            raise MapperError(f"there is no user called {username!r}")
        conn.execute(
            "INSERT INTO audit (at, actor, action, register, record_id, fields, detail) "
            "VALUES (?, ?, 'user', 'users', ?, '[]', ?)", (now(), actor, username,
                                                           "; ".join(said)))


def authenticate(db: AppDB, username: str, password: str) -> User | None:
    """The user when the password is right, else None (same work either way)."""
    rows = db.query("SELECT * FROM users WHERE username = ? AND disabled = 0", (username,))
    stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
    ok = check_password_hash(stored, password)
    return _row_user(rows[0]) if (ok and rows) else None


def count_admins(db: AppDB) -> int:
    return int(db.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND "
                        "disabled = 0")[0]["n"])
