"""People who sign in, and what each role may do.

Roles, from least to most trusted:

``public``   anyone, signed in or not: maps, aggregate figures, group names and categories;
             never a personal contact detail.
``partner``  a Joint Action Board member: also the contact details of the groups in the
             wards granted to them.
``officer``  a council officer: edits groups, premises and incidents, uploads files, sees
             every contact (the incident page with contacts).
``admin``    also manages users, imports, settings and analysis runs.

Passwords are stored only as salted scrypt hashes (werkzeug). Users live in the app
database (:mod:`mapper.appdb`).

A partner's grant is a set of **ward codes**, fixed when it is made. Administrators may
name a Community Action Neighbourhood (CAN id) instead: :func:`resolve_grant` turns it
into that CAN's wards *at the time of the grant*: a CAN keeps its id across runs
(:mod:`mapper.analysis.can_identity`) but its wards may change, and a partner's access
must not change with them unseen. The CAN's id and name are kept beside the wards to
say how the grant was made. A retired CAN id is refused, saying what replaced it.
"""

from __future__ import annotations

import difflib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from werkzeug.security import check_password_hash, generate_password_hash

from mapper.appdb import AppDB, now
from mapper.can_history import resolve_id, retired_sentence
from mapper.errors import MapperError

ROLES = ("public", "partner", "officer", "admin")
ROLE_HELP = {
    "public": "maps, aggregate figures, group names and categories; no contact details",
    "partner": "a Joint Action Board member: contacts for the wards granted to them",
    "officer": "edits groups, premises and incidents, uploads files; sees all contacts",
    "admin": "also manages users, imports, settings and analysis runs",
}
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
#: a hash that no password matches: checked when the user does not exist, so a sign-in
#: takes as long for an unknown name as for a wrong password
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def rank(role: str) -> int:
    """A role's rank: higher ranks may do everything lower ones may."""
    return ROLES.index(role)


@dataclass(frozen=True)
class User:
    """A person who signs in: their role and, for a partner, the wards granted."""

    username: str
    role: str = "public"
    #: the wards whose contacts a partner may see (ward codes, fixed when granted)
    wards: tuple[str, ...] = field(default_factory=tuple)
    #: how the grant was made (e.g. "CAN-03 (A & B) as found on 2026-12-07: ..."):
    #: for display only
    grant_labels: tuple[str, ...] = field(default_factory=tuple)
    #: sessions carry the generation they began in; a new one ends them all
    session_gen: int = 0

    @property
    def signed_in(self) -> bool:
        return self.role != "public"

    def at_least(self, role: str) -> bool:
        return rank(self.role) >= rank(role)


ANONYMOUS = User("", "public")


def check_role(role: str) -> str:
    """`role` if it is one a user can have, else a MapperError listing the roles."""
    if role not in ROLES or role == "public":
        raise MapperError(
            f"role must be one of partner, officer, admin (got {role!r}): "
            + "; ".join(f"{r}: {ROLE_HELP[r]}" for r in ROLES[1:])
        )
    return role


def check_password_strength(password: str, username: str = "") -> None:
    """Raise a MapperError listing what a password lacks (length, not the user name...)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters (got {len(password)})")
    if username and password.lower() == username.lower():
        problems.append("not the same as the user name")
    if problems:
        raise MapperError("the password must be " + " and ".join(problems))


@dataclass(frozen=True)
class Grant:
    """The wards granted to a partner, and how they were named (display only)."""

    wards: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


NO_GRANT = Grant()


def _areas_of(workspace) -> tuple[dict[str, str], dict[str, list[str]]]:
    """ward code -> name, and CAN id -> its ward codes, in the workspace now."""
    wards, cans, _ = _areas_named(workspace)
    return wards, cans


def _areas_named(workspace) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """ward code -> name, CAN id -> its ward codes and CAN id -> its name, now."""
    wards: dict[str, str] = {}
    if workspace.has_layer("wards"):
        frame = workspace.read_layer("wards", columns=["ward_code", "ward_name"],
                                     read_geometry=False)
        wards = dict(zip(frame["ward_code"].astype(str), frame["ward_name"].astype(str),
                         strict=True))
    cans: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    if workspace.has_layer("neighbourhoods"):
        frame = workspace.read_layer("neighbourhoods", columns=["can_id", "name",
                                                                "ward_codes"],
                                     read_geometry=False)
        cans = {str(r.can_id): sorted(w.strip() for w in str(r.ward_codes).split(";")
                                      if w.strip())
                for r in frame.itertuples(index=False)}
        names = {str(r.can_id): str(r.name) for r in frame.itertuples(index=False)}
    return wards, cans, names


def ward_names(workspace) -> dict[str, str]:
    """ward code -> ward name, for showing a grant."""
    return _areas_of(workspace)[0] if workspace.exists() else {}


def resolve_grant(workspace, areas: Iterable[str]) -> Grant:
    """The grant of `areas` (ward codes and/or CAN ids) in the workspace as it is now.

    A CAN id becomes the wards of that CAN in the current analysis; the grant keeps those
    ward codes, so re-running the analysis (which may change a CAN's wards) does not
    change it.
    MapperError listing every unknown area and the valid ones.
    """
    asked = [a.strip() for a in areas if a and a.strip()]
    if not asked:
        return NO_GRANT
    wards, cans, names = _areas_named(workspace) if workspace.exists() else ({}, {}, {})
    granted: set[str] = set()
    labels: list[str] = []
    unknown: list[str] = []
    today = now()[:10]
    for area in dict.fromkeys(asked):
        key = area.upper()
        if key in wards:
            granted.add(key)
        elif (can_id := resolve_id(area, cans)) is not None:  # any case, any padding
            granted.update(cans[can_id])
            labels.append(f"{can_id} ({names.get(can_id, '')}) as found on {today}: "
                          f"{', '.join(cans[can_id])}")
        else:
            unknown.append(area)
    if unknown:
        if not wards:
            raise MapperError(
                f"cannot grant {', '.join(map(repr, unknown))}: the workspace "
                f"{workspace.directory} has no wards yet (run 'mapper build' or "
                "'mapper demo' first)")
        valid_cans = ", ".join(cans) if cans else "none (the analysis has not run)"
        history = workspace.appdb.can_history() if workspace.appdb.exists() else []
        retired = [note for area in unknown
                   if (note := retired_sentence(area, history))]
        raise MapperError(
            " ".join(retired) + (" " if retired else "") +
            f"unknown area{'s' if len(unknown) != 1 else ''} "
            f"{', '.join(map(repr, unknown))}: give ward codes or CAN ids of the "
            f"current analysis. {_suggestions(unknown, wards)}CAN ids: {valid_cans}. "
            f"Ward codes: {_some_codes(wards)}"
        )
    return Grant(tuple(sorted(granted)), tuple(labels))


#: how many ward codes an "unknown area" message lists (the Wards page lists them all)
SHOWN_CODES = 12


def _suggestions(unknown: list[str], wards: dict[str, str]) -> str:
    """'Did you mean ...?' for unknown areas that are, or are close to, a ward's name; ''
    when none is. (Codes are not guessed: one digit off a code is another ward.)"""
    by_name = {name.lower(): code for code, name in wards.items()}
    found = []
    for area in unknown:
        named = difflib.get_close_matches(area.lower(), list(by_name), n=1, cutoff=0.85)
        code = by_name[named[0]] if named else None
        if code is not None:
            found.append(f"{area!r}: did you mean {code} ({wards[code]})?")
    return " ".join(found) + (" " if found else "")


def _some_codes(wards: dict[str, str]) -> str:
    codes = sorted(wards)
    shown = ", ".join(f"{c} ({wards[c]})" for c in codes[:SHOWN_CODES])
    more = len(codes) - SHOWN_CODES
    return shown + (f" and {more:,} more (the Wards page, /wards, lists every ward with "
                    "its code)" if more > 0 else "")


def describe_grant(wards: Iterable[str], labels: Iterable[str] = ()) -> str:
    """One line for the audit trail and lists: the wards, then how they were named."""
    wards, labels = list(wards), list(labels)
    text = "wards " + (", ".join(wards) if wards else "none")
    if labels:
        text += " (granted as " + "; ".join(labels) + ")"
    return text


def _row_user(row) -> User:
    return User(row["username"], row["role"], tuple(json.loads(row["wards"])),
                tuple(json.loads(row["grant_labels"])), int(row["session_gen"]))


def get_user(db: AppDB, username: str) -> User | None:
    """The active user with this name, or None."""
    rows = db.query("SELECT * FROM users WHERE username = ? AND disabled = 0", (username,))
    return _row_user(rows[0]) if rows else None


def list_users(db: AppDB) -> list[dict]:
    """Every user: name, role, wards, grant labels, legacy CAN ids not yet migrated."""
    rows = db.query("SELECT username, role, wards, grant_labels, neighbourhoods, created_at, "
                    "disabled FROM users ORDER BY username")
    return [dict(r) | {k: json.loads(r[k]) for k in ("wards", "grant_labels",
                                                     "neighbourhoods")} for r in rows]


def create_user(db: AppDB, username: str, password: str, role: str, *,
                grant: Grant = NO_GRANT, actor: str = "cli") -> User:
    """Add a user; MapperError when the name is taken or invalid, or the password weak.

    `grant`: the wards a partner may see contacts for (see :func:`resolve_grant`)."""
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
            "INSERT INTO users (username, password_hash, role, wards, grant_labels, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (username, generate_password_hash(password), role, json.dumps(list(grant.wards)),
             json.dumps(list(grant.labels)), now()),
        )
        detail = f"created with role {role}"
        if grant.wards:
            detail += "; " + describe_grant(grant.wards, grant.labels)
        conn.execute(
            "INSERT INTO audit (at, actor, action, register, record_id, fields, detail) "
            "VALUES (?, ?, 'user', 'users', ?, '[]', ?)", (now(), actor, username, detail))
    user = get_user(db, username)
    assert user is not None
    return user


def update_user(db: AppDB, username: str, *, role: str | None = None,
                grant: Grant | None = None, password: str | None = None,
                disabled: bool | None = None, actor: str = "cli") -> None:
    """Change a user's role, granted wards, password or disabled flag; any change ends
    all of the user's sessions."""
    changes: list[str] = []
    params: list[str | int] = []
    said: list[str] = []
    if role is not None:
        changes.append("role = ?")
        params.append(check_role(role))
        said.append(f"role {role}")
    if grant is not None:
        changes.append("wards = ?, grant_labels = ?, neighbourhoods = '[]'")
        params.extend([json.dumps(list(grant.wards)), json.dumps(list(grant.labels))])
        said.append(describe_grant(grant.wards, grant.labels))
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
    changes.append("session_gen = ?")
    params.append(_new_generation())
    with db.write() as conn:
        cursor = conn.execute(f"UPDATE users SET {', '.join(changes)} WHERE username = ?",
                              (*params, username))
        if cursor.rowcount == 0:
            raise MapperError(f"there is no user called {username!r}")
        conn.execute(
            "INSERT INTO audit (at, actor, action, register, record_id, fields, detail) "
            "VALUES (?, ?, 'user', 'users', ?, '[]', ?)", (now(), actor, username,
                                                           "; ".join(said)))


def _new_generation() -> int:
    """A random session generation, not a count: one brought back by restoring a backup
    cannot line up with the sessions begun since."""
    return secrets.randbits(62)


def end_sessions(db: AppDB, username: str | None = None) -> None:
    """End every session of `username` (None: of everyone) at its next request."""
    with db.write() as conn:
        names = [username] if username is not None else [
            r[0] for r in conn.execute("SELECT username FROM users")]
        conn.executemany("UPDATE users SET session_gen = ? WHERE username = ?",
                         [(_new_generation(), name) for name in names])


def authenticate(db: AppDB, username: str, password: str) -> User | None:
    """The user when the password is right, else None (same work either way)."""
    rows = db.query("SELECT * FROM users WHERE username = ? AND disabled = 0", (username,))
    stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
    ok = check_password_hash(stored, password)
    return _row_user(rows[0]) if (ok and rows) else None


def count_admins(db: AppDB) -> int:
    """How many enabled admin accounts there are."""
    return int(db.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND "
                        "disabled = 0")[0]["n"])


def migrate_grants(workspace, *, actor: str = "migration") -> list[str]:
    """Turn grants of CAN ids made before wards were stored into the wards of those CANs
    in the current analysis; returns one line per user changed or left waiting.

    Until migrated, such a partner sees no contacts (the CAN id alone is not trusted:
    it may have been renumbered). A CAN id the analysis no longer has is dropped and
    said so; one that exists may have been renumbered since the grant, so each line asks
    an administrator to check.
    """
    db = workspace.appdb
    if not db.exists():
        return []
    rows = db.query("SELECT username, wards, grant_labels, neighbourhoods FROM users "
                    "WHERE neighbourhoods NOT IN ('', '[]')")
    if not rows:
        return []
    cans = _areas_of(workspace)[1] if workspace.exists() else {}
    lines = []
    if not cans:
        for row in rows:
            legacy = ", ".join(json.loads(row["neighbourhoods"]))
            lines.append(
                f"user {row['username']}: the grant of {legacy} (CAN ids) waits for an "
                "analysis run to be turned into wards; until then "
                "they see no contacts")
        return lines
    analysed = workspace.meta().get("analysed_at", "?")
    for row in rows:
        legacy = json.loads(row["neighbourhoods"])
        wards = set(json.loads(row["wards"]))
        labels = list(json.loads(row["grant_labels"]))
        dropped = [c for c in legacy if resolve_id(c, cans) is None]
        for can_id in (resolve_id(c, cans) for c in legacy):
            if can_id is None:
                continue
            wards.update(cans[can_id])
            labels.append(f"{can_id} as analysed {analysed[:10]} (migrated {now()[:10]}): "
                          f"{', '.join(cans[can_id])}")
        grant = Grant(tuple(sorted(wards)), tuple(labels))
        update_user(db, row["username"], grant=grant, actor=actor)
        line = (f"user {row['username']}: CAN grant {', '.join(legacy)} migrated to "
                f"{describe_grant(grant.wards)}")
        if dropped:
            line += f"; dropped {', '.join(dropped)} (not in the current analysis)"
        lines.append(line + ". Check with 'mapper user list' and fix with "
                            "'mapper user set NAME --area ...'")
    return lines
