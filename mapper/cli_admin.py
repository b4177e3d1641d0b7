"""``mapper`` commands for administrators: users, audit trail, backups, personal data.

Added to the main command group by :mod:`mapper.cli` (:data:`COMMANDS`); errors are
reported there.
Personal data (contact details) is never printed by these commands except by
``mapper group export``, which exists to print it (a subject access request) and is
itself audited.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mapper.cli_common import workspace_of
from mapper.errors import MapperError

ACTOR = "cli"


def _password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


# -- users ------------------------------------------------------------------------------


@click.group()
@click.pass_context
def user(ctx: click.Context) -> None:
    """Manage the people who sign in to the web app (roles: partner, officer, admin).

    \b
    Create the first administrator:
      mapper user add alice --role admin
    Grant a partner the wards of a neighbourhood (kept as wards):
      mapper user add sam --role partner --area CAN-03
    """
    from mapper.users import migrate_grants

    for line in migrate_grants(workspace_of(ctx)):
        click.echo(line, err=True)


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["partner", "officer", "admin"]),
              help="partner: contacts for the wards granted; officer: edits and all "
              "contacts; admin: also users, imports and settings.")
@click.option("--area", "--neighbourhood", "areas", multiple=True, metavar="WARD_OR_CAN",
              help="A ward code, or a CAN id (granted as that neighbourhood's wards today), "
              "whose groups' contacts a partner may see (repeatable).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.pass_context
def user_add(ctx: click.Context, username: str, role: str, areas: tuple[str, ...],
             password_stdin: bool) -> None:
    """Add a user (asks for the password twice unless --password-stdin).

    A partner's areas are stored as ward codes, so re-running the analysis (which
    renumbers CANs) does not change what they see.
    """
    from mapper.users import create_user, describe_grant, resolve_grant

    ws = workspace_of(ctx)
    grant = resolve_grant(ws, areas)
    password = _password(password_stdin)
    create_user(ws.appdb, username, password, role, grant=grant, actor=ACTOR)
    said = f"; {describe_grant(grant.wards, grant.labels)}" if grant.wards else ""
    click.echo(f"Added {username} ({role}{said}). They can sign in at /signin.")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List users, their roles and granted wards."""
    from mapper.users import describe_grant, list_users

    rows = list_users(workspace_of(ctx).appdb)
    if not rows:
        click.echo("No users yet. Add the first administrator with "
                   "'mapper user add NAME --role admin'.")
        return
    click.echo(f"{'user':<24} {'role':<8} {'status':<9} areas")
    for r in rows:
        status = "disabled" if r["disabled"] else "active"
        areas = describe_grant(r["wards"], r["grant_labels"]) if r["wards"] else "-"
        if r["neighbourhoods"]:
            areas += (f" (CAN ids {', '.join(r['neighbourhoods'])} granted before wards "
                      "were stored: not in force until an analysis run)")
        click.echo(f"{r['username']:<24} {r['role']:<8} {status:<9} {areas}")


@user.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(["partner", "officer", "admin"]))
@click.option("--area", "--neighbourhood", "areas", multiple=True, metavar="WARD_OR_CAN",
              help="Replace the partner's wards: ward codes or CAN ids (repeatable).")
@click.option("--no-areas", is_flag=True, help="Take away every granted ward.")
@click.option("--password", "change_password", is_flag=True, help="Set a new password.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@click.option("--disable/--enable", default=None, help="Stop (or allow) signing in.")
@click.pass_context
def user_set(ctx: click.Context, username: str, role: str | None,
             areas: tuple[str, ...], no_areas: bool, change_password: bool,
             password_stdin: bool, disable: bool | None) -> None:
    """Change a user's role, areas or password, or disable the account.

    Changes end the user's current sessions at their next request.
    """
    from mapper.users import NO_GRANT, resolve_grant, update_user

    ws = workspace_of(ctx)
    if areas and no_areas:
        raise MapperError("give --area or --no-areas, not both")
    grant = resolve_grant(ws, areas) if areas else (NO_GRANT if no_areas else None)
    password = _password(password_stdin, "New password") if (
        change_password or password_stdin) else None
    update_user(ws.appdb, username, role=role, grant=grant, password=password,
                disabled=disable, actor=ACTOR)
    click.echo(f"Updated {username}.")


@click.group()
def secret() -> None:
    """The key that signs session cookies (the workspace's 'secret' file, never in backups)."""


@secret.command("rotate")
@click.pass_context
def secret_rotate(ctx: click.Context) -> None:
    """Replace the session key with a new one: every session ends, everyone signs in again.

    Running web apps switch to the new key at their next request.
    """
    from mapper.admin import end_every_session

    ws = workspace_of(ctx)
    if not ws.directory.is_dir():
        raise MapperError(f"no workspace at {ws.directory}: nothing to rotate")
    end_every_session(ws)
    ws.appdb.audit(ACTOR, "update", register="settings", record_id="secret",
             detail="session key rotated; every session ended")
    click.echo(f"New session key written to {ws.directory / 'secret'}; every session has "
               "ended.")


# -- audit ------------------------------------------------------------------------------


@click.command()
@click.option("--register", help="Only this register (groups, premises, incidents, users).")
@click.option("--record", "record_id", help="Only this record id.")
@click.option("--user", "actor", help="Only what this user did.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only from this date (YYYY-MM-DD).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def audit(ctx: click.Context, register: str | None, record_id: str | None, actor: str | None,
          since, limit: int, as_json: bool) -> None:
    """Who created, changed, retired, erased, imported or exported what, newest first.

    Lists field names, never their values.
    """
    rows = workspace_of(ctx).appdb.read_audit(
        register=register, record_id=record_id, actor=actor,
        since=since.date().isoformat() if since else None, limit=limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("No audit entries match.")
        return
    for r in rows:
        what = "/".join(x for x in (r["register"], r["record_id"]) if x)
        fields = f" fields: {', '.join(r['fields'])}" if r["fields"] else ""
        detail = f" ({r['detail']})" if r["detail"] else ""
        click.echo(f"{r['at']}  {r['actor']:<16} {r['action']:<7} {what}{fields}{detail}")


# -- backups ----------------------------------------------------------------------------


@click.command()
@click.argument("destination", type=click.Path(file_okay=False))
@click.pass_context
def backup(ctx: click.Context, destination: str) -> None:
    """Copy the workspace (map data, users, edits, audit) into a new directory.

    Safe while the app is running: the embedded store is copied with SQLite's online
    backup API; a PostgreSQL store (--database) as its committed layers and one snapshot
    of its app tables. Either way DESTINATION gets a GeoPackage and an SQLite file that
    'mapper restore' loads into either store, and the copies are checked. The backup
    holds personal data: keep it as safe as the workspace.
    """
    from mapper.admin import backup as do_backup

    manifest = do_backup(workspace_of(ctx), Path(destination), actor=ACTOR)
    sizes = ", ".join(f"{n} {f['bytes'] / 1e6:.1f} MB" for n, f in manifest["files"].items())
    click.echo(f"Backed up to {destination}: {sizes}; integrity check ok.")


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def restore(ctx: click.Context, source: str, yes: bool) -> None:
    """Replace the workspace's data, users and edits (in PostgreSQL with --database) with
    a backup made by 'mapper backup'.

    First lists what it would undo (users, passwords, roles, partner access, erasures and
    edits since the backup) and asks. The audit trail is kept and the restore added to
    it; everyone signs in again; contact details erased since stay erased.
    """
    from mapper.admin import plan_restore
    from mapper.admin import restore as do_restore

    ws = workspace_of(ctx)
    plan = plan_restore(ws, Path(source))
    manifest = plan.manifest
    for line in plan.lines():
        click.echo(line)
    if not yes:
        try:
            agreed = click.confirm(f"Replace everything in {ws.location} with the backup "
                                   f"made {manifest['created_at']}?")
        except click.Abort:  # Ctrl+C at a terminal, or no answer at all (no terminal)
            if sys.stdin.isatty():
                raise
            raise MapperError("mapper restore replaces everything and no answer came on "
                              "standard input: read what it undoes (above) and run it in "
                              "a terminal, or pass --yes.") from None
        if not agreed:
            raise click.Abort()
    do_restore(ws, Path(source), actor=ACTOR)
    click.echo(f"Restored {ws.location} from {source} (made {manifest['created_at']}).")


# -- personal data --------------------------------------------------------------------


@click.group()
def group() -> None:
    """One group's personal data: export it (subject access) or erase it."""


@group.command("export")
@click.argument("group_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Write to this JSON file instead of standard output.")
@click.pass_context
def group_export(ctx: click.Context, group_id: str, output: str | None) -> None:
    """Everything held about one group (its record and audit trail), as JSON."""
    from mapper.editing import personal_data_of
    from mapper.registers import PERSONAL_COLUMNS

    ws = workspace_of(ctx)
    data = personal_data_of(ws, group_id)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    ws.appdb.audit(ACTOR, "export", register="groups", record_id=group_id,
                   fields=[c for c in PERSONAL_COLUMNS if data["group"].get(c)],
                   detail="subject access export")
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote {output}.")
    else:
        click.echo(text)


@group.command("erase")
@click.argument("group_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def group_erase(ctx: click.Context, group_id: str, yes: bool) -> None:
    """Erase one group's contact details (name, phone, e-mail, website) everywhere."""
    from mapper.editing import erase_personal_data

    ws = workspace_of(ctx)
    if not yes:
        click.confirm(f"Erase the contact details of group {group_id}? This cannot be "
                      "undone (backups made before keep them).", abort=True)
    held = erase_personal_data(ws, group_id, actor=ACTOR)
    click.echo(f"Erased {', '.join(held) if held else 'nothing (no contact details held)'} "
               f"for group {group_id}.")


@click.command()
@click.option("--months", type=int, help="Set the retention period for incident reports.")
@click.option("--apply", "apply_now", is_flag=True, help="Delete the expired reports now.")
@click.pass_context
def retention(ctx: click.Context, months: int | None, apply_now: bool) -> None:
    """Show, set or apply the retention period of incident reports.

    Applies to incidents people entered or uploaded (which may hold personal data), not
    to police.uk open data. Without --apply nothing is deleted.
    """
    from mapper.admin import apply_retention, plan_retention, set_retention_months

    ws = workspace_of(ctx)
    if months is not None:
        set_retention_months(ws, months, actor=ACTOR)
    plan = apply_retention(ws, actor=ACTOR) if apply_now else plan_retention(ws)
    verb = "Deleted" if apply_now else "Would delete"
    click.echo(f"Incident reports are kept {plan.months} months (reports dated before "
               f"{plan.cutoff} expire). {verb} {plan.count:,} expired report"
               f"{'s' if plan.count != 1 else ''}."
               + ("" if apply_now or not plan.count else " Run with --apply to delete them."))


__all__ = ["user", "secret", "audit", "backup", "restore", "group", "retention", "MapperError"]


#: the administrators' commands, added to ``mapper`` by :mod:`mapper.cli`
COMMANDS = (user, secret, audit, backup, restore, group, retention)
