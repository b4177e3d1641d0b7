"""The ``mapper`` command: thin over :mod:`mapper.pipeline` and :mod:`mapper.store`.

Domain errors become clean messages and a non-zero exit in one place, :func:`main`.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import click

from mapper import __version__, cli_admin, overlay
from mapper.analysis.nearest import K_DEFAULT, K_MAX
from mapper.analysis.verification import VERIFICATION_MONTHS
from mapper.cli_common import workspace_of
from mapper.database import DATABASE_URL_ENV, parse_url
from mapper.errors import MapperError
from mapper.registers import STATUSES
from mapper.sources.points import MAX_FAILED_SHARE
from mapper.store import WORKSPACE_ENV, Workspace

EXIT_ERROR = 1
EXIT_INTERNAL = 70
#: worker threads of `mapper serve`: one process's pool (waitress), and each worker
#: process's (gunicorn) when there are several. A request runs Python code most of its
#: time and a process runs one thread's code at a time, so a worker process needs only a
#: couple of threads (more only contend); one process keeps more for slow clients.
SERVE_THREADS = 8
WORKER_THREADS = 2
MISREAD_PERCENT = f"{MAX_FAILED_SHARE:.0%}"


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False),
    envvar=WORKSPACE_ENV,
    default="workspace",
    show_default=True,
    help=f"Workspace directory (also set by ${WORKSPACE_ENV}).",
)
@click.option(
    "--database",
    metavar="URL",
    envvar=DATABASE_URL_ENV,
    default=None,
    help="A postgresql://USER@HOST:PORT/DBNAME URL: keep the map layers (PostGIS), users, "
    "sessions, edits, audit and settings in that PostgreSQL database, shared by several "
    f"app servers; every command then uses it (also set by ${DATABASE_URL_ENV}; unset: "
    "the workspace's own GeoPackage and SQLite files).",
)
@click.version_option(__version__, prog_name="mapper")
@click.pass_context
def cli(ctx: click.Context, workspace: str, database: str | None) -> None:
    """Neighbourhood needs and asset mapper: deprivation, community assets and incidents
    per ward, from the open-data files you already have.

    \b
    Quick start:
      mapper serve                     show the map (builds a synthetic demo first if needed)
      mapper build --from DIR          build a workspace from a folder of downloaded files
      mapper info                      list the workspace's layers, vintages and counts
    """
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace
    use_database(ctx, database)


def use_database(ctx: click.Context, database: str | None) -> None:
    """Every command (and the server processes it starts) uses the database `database`
    names: it is checked, then set as ``$MAPPER_DATABASE_URL`` while the command runs."""
    if not database or not database.strip():
        return
    checked = parse_url(database)
    before = os.environ.get(DATABASE_URL_ENV)
    if before == checked.url:
        return
    os.environ[DATABASE_URL_ENV] = checked.url

    def restore() -> None:
        if before is None:
            os.environ.pop(DATABASE_URL_ENV, None)
        else:
            os.environ[DATABASE_URL_ENV] = before
    ctx.call_on_close(restore)


@cli.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder holding the downloaded files (boundaries, IoD, lookups, ...).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Leave out files matching this name pattern (repeatable), e.g. "
    "--exclude 'wards_2018.geojson' to use the other ward file of the same vintage.",
)
@click.option(
    "--name",
    metavar="TEXT",
    help="Name of the study area, shown on every page (e.g. 'West Yorkshire'). "
    "Default: from the districts' names, e.g. 'Calderdale, Kirklees and Leeds'.",
)
@click.option("--dry-run", is_flag=True, help="Detect and validate every file, but write nothing.")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the usable rows even of a point file held back as probably misread "
    f"(more than {MISREAD_PERCENT} of its rows cannot be used).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Reject a point file whole when any of its rows is invalid (by default such rows "
    "are rejected, each with its reason, and the others imported).",
)
@click.pass_context
def build(
    ctx: click.Context,
    source: str,
    exclude: tuple[str, ...],
    name: str | None,
    dry_run: bool,
    skip_invalid: bool,
    strict: bool,
) -> None:
    """Build the workspace from every file in a folder.

    Each file's kind and vintage are detected from its content. The command says what
    it took each file to be, which files it skipped and why, validates everything
    (listing every problem at once), and replaces the workspace in one step: if anything
    fails, the previous workspace is left exactly as it was.
    """
    from mapper.pipeline import build as run_build
    from mapper.pipeline import summary_lines

    _one_row_policy(skip_invalid, strict)
    report = run_build(
        Path(source),
        workspace_of(ctx),
        progress=_progress,
        exclude=exclude,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        name=name,
        strict=strict,
    )
    for line in summary_lines(report):
        click.echo(line)
    if not dry_run:
        meta = report.workspace.meta()
        how = "" if name else " (from its districts; set it with --name)"
        click.echo(f"Study area: {meta.get('study_area')}{how}")
        from mapper.analysis_run import INCIDENT_COLUMNS

        held = report.registers.get("incidents")  # the build's, not read again
        if held is not None:  # only what the analysis reads: the ids and points go
            held = held[[c for c in INCIDENT_COLUMNS if c in held]]
        report.registers.clear()
        _analyse_if_possible(report.workspace, via="mapper build", incidents=held)
        click.echo(f"Workspace ready: {report.workspace.location}")


@cli.command(name="import")
@click.argument("file", type=click.Path(exists=True))
@click.option(
    "--as",
    "register",
    type=click.Choice(["groups", "premises", "incidents"]),
    help="Read a generic point table as this register, whatever its columns suggest.",
)
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read this column as this field (repeatable), e.g. --map name='Site name' "
    "--map type=Kind --map postcode=PC.",
)
@click.option(
    "--category",
    metavar="C",
    help="The category (groups) or type (premises) of every record, e.g. food, library.",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the usable rows even when the file is held back as probably misread "
    f"(more than {MISREAD_PERCENT} of its rows cannot be used).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Reject the file whole when any row is invalid (by default such rows are "
    "rejected, each with its reason, and the others imported).",
)
@click.pass_context
def import_(
    ctx: click.Context, file: str, register: str | None, pairs: tuple[str, ...],
    category: str | None, skip_invalid: bool, strict: bool
) -> None:
    """Import one FILE into the existing workspace.

    A boundary or table file replaces the layer it feeds. A point file (VCS groups,
    premises, incidents) replaces the records previously imported from a file of the
    same name and keeps the others; its rows that cannot be used (no location, postcode
    not found, outside the study area, unreadable date) are rejected with their reasons.
    The file is validated against the layers already there (study area, vintages); on
    any problem the workspace is left unchanged.

    --as, --map and --category correct what was understood of a generic point table;
    they are saved in the workspace and reused for files with the same columns (by
    later imports and by 'mapper build'): see 'mapper mapping list'.
    """
    from mapper.pipeline import import_file, rejection_reasons
    from mapper.sources.choices import parse_map

    _one_row_policy(skip_invalid, strict)
    imported = import_file(
        Path(file),
        workspace_of(ctx),
        progress=_progress,
        skip_invalid=skip_invalid,
        strict=strict,
        register=register,
        mapping=parse_map(pairs),
        category=category,
    )
    for warning in imported.warnings:
        click.echo(f"warning: {warning}")
    for reason in rejection_reasons(imported.rejected):
        click.echo(f"rejected: {reason}")
    click.echo(
        f"Imported {len(imported.frame):,} of {imported.rows_read:,} rows "
        f"into layer '{imported.kind}'."
    )
    if "gains" in imported.extra:
        click.echo(f"Gained: {imported.extra['gains']}")
    if "saved_mapping" in imported.extra:
        sig, where = imported.extra["saved_mapping"]
        click.echo(f"Saved this mapping as {sig} in {where}: files with these columns are "
                   f"read the same way (mapper mapping show {sig}; delete {sig} to forget it).")
    _audit_personal(workspace_of(ctx), "import", imported.kind, imported.frame,
                    f"{Path(file).name}: {len(imported.frame):,} records")
    _analyse_if_possible(workspace_of(ctx), via="mapper import")


def _one_row_policy(skip_invalid: bool, strict: bool) -> None:
    if skip_invalid and strict:
        raise MapperError("--strict and --skip-invalid contradict each other: use one")


def _audit_personal(ws: Workspace, action: str, register: str, frame, detail: str) -> None:
    """An audit row when personal data (contact columns with values) was moved."""
    from mapper.registers import PERSONAL_COLUMNS

    held = [c for c in PERSONAL_COLUMNS if c in getattr(frame, "columns", ())
            and frame[c].notna().any()]
    if held:
        ws.appdb.audit("cli", action, register=register, fields=held, detail=detail)


def cli_actor() -> str:
    """Who runs a command, for the audit trail: the operating-system user, else "cli"."""
    import getpass

    try:
        return getpass.getuser() or "cli"
    except (KeyError, OSError):  # no user name in the environment or the password file
        return "cli"


def _analyse_if_possible(ws: Workspace, settings=None, *, via: str, incidents=None) -> None:
    """Re-run the analysis after a change, when the workspace has what it needs; `via`
    says what started it (the audit row of the run); `incidents`, the incidents the
    build holds (:func:`mapper.analysis_run.analyse`)."""
    from mapper.analysis_run import analyse, can_analyse
    from mapper.analysis_run import summary_lines as analysis_lines

    if not can_analyse(ws):
        click.echo("Analysis not run: it needs wards, LSOAs and a deprivation file.")
        return
    report = analyse(ws, settings, progress=_progress, actor=cli_actor(),
                     via=f"{via} (command line)", incidents=incidents)
    for line in analysis_lines(report):
        click.echo(line)


def _reanalyse_if_stale(ws: Workspace) -> None:
    """At start: re-run an analysis the data has moved on from (an import or build that
    was interrupted between its data and its analysis, or an upload since)."""
    from mapper.analysis_run import STATE_TEXT, analysis_state

    state = analysis_state(ws.meta(), ws.layers())
    if state not in STATE_TEXT:
        return
    click.echo(f"The analysis is out of date: {STATE_TEXT[state]}. Re-running it now.",
               err=True)
    try:
        _analyse_if_possible(ws, via=f"mapper serve (the analysis was {state})")
    except MapperError as exc:  # serve what there is; every page says it is out of date
        click.echo(f"The analysis could not be re-run: {exc}", err=True)


@cli.command()
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="Change a setting (repeatable), e.g. --set weight_need=0.6 "
                   "--set coverage_radius_m=500. See --list for every setting.")
@click.option("--list", "show", is_flag=True, help="List the settings, their values and help.")
@click.option("--reset", is_flag=True, help="Go back to the default settings first.")
@click.option("--incident-types", "types", metavar="TYPES", default=None,
              help="The incident types the rates, trends and index count, ';'-separated "
                   "(e.g. 'Burglary;Anti-social behaviour'; '' = the types every district "
                   "with incident data has): the same as --set incident_types=TYPES.")
@click.pass_context
def analyse(ctx: click.Context, assignments: tuple[str, ...], show: bool, reset: bool,
            types: str | None) -> None:
    """Compute ward need, asset supply, incident pressure, the unmet-need index,
    Community Action Neighbourhoods and coverage gaps, and store them in the workspace
    with the settings used. Settings persist: later runs (and builds) reuse them."""
    from mapper.config import Settings, describe

    ws = workspace_of(ctx)
    if not ws.exists():
        raise MapperError(f"no workspace at {ws.directory}: run 'mapper demo' or "
                          "'mapper build --from DIR' first")
    current = Settings() if reset else Settings.from_json(ws.meta().get("analysis_settings"))
    try:
        settings = current.updated(list(assignments) + (
            [f"incident_types={types}"] if types is not None else []))
    except MapperError as exc:  # a bad --set is a usage error: exit 2, like click's own
        raise click.BadParameter(str(exc), ctx=ctx, param_hint="'--set'") from None
    if show:
        for name, default, text in describe():
            value = getattr(settings, name)
            changed = "" if value == default else f" (default {default})"
            click.echo(f"{name} = {value}{changed}\n    {text}")
        return
    _analyse_if_possible(ws, settings, via="mapper analyse")


@cli.command(name="export")
@click.argument("register", type=click.Choice(["groups", "premises", "incidents"]))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(),
    help="File to write (.csv, .geojson or .gpkg), or a folder for --format oruk.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "geojson", "gpkg", "oruk"]),
    help="Export format; by default taken from the file name.",
)
@click.option("--borough", metavar="CODE",
              help="Only records in this district (a GSS code: E06-E09, W06).")
@click.option("--ward", metavar="CODE", help="Only records in this ward (a GSS code: E05, W05).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(list(STATUSES)),
    help="Only records of this status (repeat for several); closed records are exported, "
    "marked, unless left out here.",
)
@click.option(
    "--include-personal-data",
    is_flag=True,
    help="Include contact names, phone numbers, e-mails and websites (personal data "
    "under UK GDPR: share only with people entitled to it).",
)
@click.pass_context
def export_(
    ctx: click.Context,
    register: str,
    output: str,
    fmt: str | None,
    borough: str | None,
    ward: str | None,
    statuses: tuple[str, ...],
    include_personal_data: bool,
) -> None:
    """Export VCS groups, premises or incidents with their provenance and attribution."""
    from mapper.exports import export

    count, path = export(
        workspace_of(ctx),
        register,
        Path(output),
        fmt=fmt,
        borough=borough,
        ward=ward,
        include_personal_data=include_personal_data,
        statuses=statuses,
    )
    if include_personal_data:
        ws = workspace_of(ctx)
        frame = overlay.read_layer(ws, register)
        _audit_personal(ws, "export", register, frame, f"{count:,} records to {path.name}")
    note = (
        " including personal data"
        if include_personal_data
        else " (contact details left out; --include-personal-data to add them)"
    )
    click.echo(f"Exported {count:,} {register} to {path}{note}.")


@cli.command(name="import-context")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Read only this layer of the files (repeatable); others are skipped.")
@click.option("--kind", type=click.Choice(["roads", "water", "rail", "buildings", "places"]),
              help="Take the chosen layers as this kind (when their columns do not say).")
@click.option("--attribution", metavar="TEXT",
              help="The attribution the maps show, for files whose licence is not "
              "recognised (OS OpenData and OpenStreetMap are).")
@click.option("--clear", is_flag=True, help="Remove the imported context layers.")
@click.pass_context
def import_context(ctx: click.Context, files: tuple[str, ...], layers: tuple[str, ...],
                   kind: str | None, attribution: str | None, clear: bool) -> None:
    """Import context layers drawn under the data: roads, rivers and water, railway,
    building outlines and place names (OS Open Roads, OS Open Zoomstack, an OpenStreetMap
    .osm.pbf extract, or any GeoPackage, shapefile, GeoJSON or FlatGeobuf). Kinds found
    replace the same kinds imported before; the others are kept."""
    from mapper.context_store import ContextStore
    from mapper.sources.context_layers import read_context

    ws = workspace_of(ctx)
    store = ContextStore(ws.directory)
    if clear:
        if files:
            raise MapperError("give either --clear or files to import, not both")
        click.echo("Context layers removed." if store.clear() else "No context layers to remove.")
        return
    if not files:
        raise MapperError("give one or more files to import (or --clear)")
    if not ws.exists():
        raise MapperError(f"no workspace at {ws.directory}: run 'mapper demo' or "
                          "'mapper build --from DIR' first (the context is cut to its area)")
    extent_layer = "wards" if ws.has_layer("wards") else "boroughs"
    west, south, east, north = (float(b) for b in
                                ws.read_layer(extent_layer, columns=[]).total_bounds)
    found = read_context(list(files), (west, south, east, north), kind=kind,
                         layers=list(layers) or None,
                         attribution=attribution, progress=_progress)
    store.replace(found.frames, found.sources)
    for note in found.notes:
        click.echo(f"  {note}")
    click.echo(f"Context layers stored in {store.path}:")
    for name, classes in found.counts().items():
        each = ", ".join(f"{c} {n:,}" for c, n in classes.items())
        click.echo(f"  {name:<10} {sum(classes.values()):>9,}  ({each})")
    for source in found.sources:
        click.echo(f"  {source['source_file']}: {source['vintage']}; "
                   f"{source['licence'] or 'licence not recorded'}; "
                   f"{source['attribution'] or 'no attribution'}")


@cli.command()
@click.pass_context
def info(ctx: click.Context) -> None:
    """Print the workspace's layers, their sources, vintages, row counts and licences."""
    from mapper.registers import REGISTERS

    ws = workspace_of(ctx)
    if not ws.exists():
        raise MapperError(
            f"no workspace at {ws.directory}: run 'mapper demo' or 'mapper build --from DIR' first"
        )
    meta = ws.meta()
    label = " (SYNTHETIC DEMO DATA)" if meta.get("synthetic") == "yes" else ""
    click.echo(f"Workspace {ws.location}{label}")
    click.echo(f"Study area: {meta.get('study_area', '?')}; updated {meta.get('updated_at', '?')}")
    db = ws.appdb
    click.echo(f"App database: PostgreSQL {db.url} (schema mapper_app)" if db.url is not None
               else f"App database: {db.path} (SQLite)")
    if meta.get("analysed_at"):
        from mapper.config import Settings, describe

        settings = Settings.from_json(meta.get("analysis_settings"))
        changed = [f"{n}={getattr(settings, n)}" for n, d, _ in describe()
                   if getattr(settings, n) != d]
        click.echo(f"Analysis: {meta['analysed_at']}; LSOAs shared by "
                   f"{meta.get('analysis_method', '?')}; settings: "
                   f"{', '.join(changed) or 'defaults'} (mapper analyse --list)")
    from mapper.analysis_run import STATE_TEXT, analysis_state

    state = analysis_state(meta, ws.layers())
    if state in STATE_TEXT:
        click.echo(f"Analysis OUT OF DATE: {STATE_TEXT[state]}. Run 'mapper analyse' (or "
                   "restart 'mapper serve', which re-runs it).")
    prov = ws.provenance()
    click.echo(f"{'layer':<18} {'rows':>9}  {'vintage':<24} source")
    for layer in ws.layers():
        rows = prov[prov["layer"] == layer]
        if rows.empty:
            click.echo(f"{layer:<18} {len(overlay.read_layer(ws, layer)):>9,}")
            continue
        total = int(rows["rows_imported"].sum())
        if len(rows) > 1 and layer not in REGISTERS:  # IoD files combined on the LSOA
            total = len(overlay.read_layer(ws, layer))
        for n, row in enumerate(rows.to_dict("records")):
            count = f"{total:,}" if n == 0 else ""
            name = layer if n == 0 else ""
            each = f" ({int(row['rows_imported']):,})" if len(rows) > 1 else ""
            click.echo(f"{name:<18} {count:>9}  {row['vintage']:<24} {row['source_file']}{each}")
            click.echo(f"{'':<18} {'':>9}  licence: {row['licence']}")
            if row.get("coverage"):
                click.echo(f"{'':<18} {'':>9}  covers: {row['coverage']}")
            for note in row["notes"]:
                click.echo(f"{'':<18} {'':>9}  note: {note}")
    from mapper.context_store import ContextStore

    context = ContextStore(ws.directory)
    if context.exists():
        click.echo(f"Context layers ({context.path}; mapper import-context): "
                   f"{', '.join(context.kinds()) or 'none'}")
        for row in context.sources().to_dict("records"):
            click.echo(f"  {row['source_file']}: {row['kinds']} features; {row['vintage']}; "
                       f"{row['licence'] or 'licence not recorded'}")
    from mapper.saved_mappings import describe as describe_mapping  # not config's describe

    saved = ws.saved_mappings()
    entries = saved.load()
    if entries:
        click.echo(f"Saved column mappings ({saved.where}; mapper mapping list|show|delete):")
        for sig, entry in entries.items():
            click.echo("  " + describe_mapping(sig, entry))


@cli.group()
def mapping() -> None:
    """The column mappings saved by 'mapper import --as/--map/--category' (in the
    workspace's mappings.json, which may also be edited by hand; with a database URL, in
    the database)."""


def _saved(ctx: click.Context):
    return workspace_of(ctx.find_root()).saved_mappings()


@mapping.command(name="list")
@click.pass_context
def mapping_list(ctx: click.Context) -> None:
    """List the saved mappings: signature, what each says, the file it was saved from."""
    from mapper.saved_mappings import describe

    saved = _saved(ctx)
    entries = saved.load()
    click.echo(f"{len(entries)} saved mapping{'s' if len(entries) != 1 else ''} in "
               f"{saved.where}")
    for sig, entry in entries.items():
        click.echo("  " + describe(sig, entry))


@mapping.command(name="show")
@click.argument("signature")
@click.pass_context
def mapping_show(ctx: click.Context, signature: str) -> None:
    """Show one saved mapping (a signature or its first characters) as JSON."""
    import json

    saved = _saved(ctx)
    sig = saved.find(signature)
    click.echo(json.dumps({sig: saved.load()[sig]}, indent=2, ensure_ascii=False))


@mapping.command(name="delete")
@click.argument("signature")
@click.pass_context
def mapping_delete(ctx: click.Context, signature: str) -> None:
    """Forget one saved mapping: files with its columns are read by evidence again."""
    from mapper.saved_mappings import describe

    sig, entry = _saved(ctx).delete(signature)
    click.echo(f"Deleted {describe(sig, entry)}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv"]), default="markdown",
              show_default=True, help="markdown: the README's indicator table; csv: a data "
              "dictionary (column, label, unit, aggregate, direction, group, help).")
def indicators(fmt: str) -> None:
    """List every ward and area indicator of the registry (mapper/analysis/indicators.py)."""
    from mapper.analysis import indicators as registry

    if fmt == "markdown":
        click.echo("| column | group | label | unit | areas combine it by | direction |")
        click.echo("|---|---|---|---|---|---|")
        for row in registry.readme_rows():
            click.echo(row)
        return
    import csv
    import sys

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["column", "label", "unit", "aggregate", "direction", "group", "help"])
    for entry in registry.dictionary():
        out.writerow([entry.column, entry.label, entry.unit, entry.aggregate, entry.direction,
                      entry.group, entry.help])


@cli.command()
@click.option("--postcode", help="Search from this postcode (any case or spacing).")
@click.option("--at", "point", nargs=2, type=float, metavar="LAT LON",
              help="Search from this latitude and longitude instead.")
@click.option("-k", "k", default=K_DEFAULT, show_default=True, type=click.IntRange(1, K_MAX),
              help="How many groups to list.")
@click.option("--category", multiple=True, help="Only groups of this category (repeatable).")
@click.option("--offer", "offers", multiple=True,
              help="Only groups offering this in an emergency, e.g. interpreters (repeatable; "
                   "all must match).")
@click.option("--radius", "radius_m", type=click.FloatRange(min=1), help="Maximum distance, m.")
@click.pass_context
def nearest(ctx: click.Context, postcode: str | None, point, k: int, category, offers,
            radius_m: float | None) -> None:
    """List the VCS groups nearest a postcode or a point, by straight-line distance.

    Shows each group's name, category, what it can offer in an emergency and when the
    record was last verified. Contact details are not shown here.
    """
    from mapper import geo
    from mapper.analysis.nearest import NearestIndex, StudyArea
    from mapper.analysis.verification import is_due, today
    from mapper.postcodes import normalise_postcode, postcode_point

    ws = workspace_of(ctx)
    if (postcode is None) == (not point):
        raise MapperError("give either --postcode or --at LAT LON")
    groups = overlay.read_layer(ws, "groups")
    if point:
        lat, lon = point
        if not (49 <= lat <= 61 and -9 <= lon <= 3):
            raise MapperError(f"--at {lat} {lon}: expected a latitude from 49 to 61 and a "
                              "longitude from -9 to 3 (in the UK; swapped?)")
        (x, y), origin = geo.grid_from_lonlat(lon, lat), f"{lat:.5f}, {lon:.5f}"
    else:
        assert postcode is not None  # exactly one of --postcode and --at (checked above)
        x, y = postcode_point(postcode, ws.read_layer("postcodes"))
        origin = normalise_postcode(postcode) or postcode
    area = StudyArea.of([ws.read_layer(n) if ws.has_layer(n) else None
                         for n in ("boroughs", "wards")], ws.meta().get("study_area", ""))
    where = (f"postcode {origin}" if postcode
             else f"latitude {point[0]:.5f}, longitude {point[1]:.5f}")
    refused = area and area.refuse(x, y, where)
    if refused:
        raise MapperError(refused)
    found = NearestIndex(groups).query(x, y, k=k, category=set(category) or None,
                                       capabilities=offers, radius_m=radius_m)
    if found.empty:
        click.echo(f"No groups match near {origin}.")
        return
    info = groups.set_index("group_id")
    click.echo(f"Nearest groups to {origin}:")
    for row in found.itertuples():
        record = info.loc[row.id]
        offer = record.get("emergency_offer")
        checked = record.get("last_verified")
        click.echo(f"{row.distance_m:>7,.0f} m  {record['name']} ({record['category']})"
                   + (f"; offers: {offer}" if isinstance(offer, str) and offer else "")
                   + (f"; verified {checked}" if isinstance(checked, str) and checked else "")
                   + ("; due for re-checking" if is_due(checked, today()) else ""))


@cli.command(help=f"""Count the open records due for re-checking, per neighbourhood.

    A group or premises is due when nobody has confirmed it for over
    {VERIFICATION_MONTHS} months, or ever; closed records are left out. One line per
    Community Action Neighbourhood, then per ward outside any (wards with none due are
    left out). Names and contact details are not printed: the list itself is on the web
    app's "Re-checking" page.
    """)
@click.option("--ward", "wards", multiple=True, metavar="CODE",
              help="Only these wards (GSS codes; repeatable).")
@click.pass_context
def due(ctx: click.Context, wards: tuple[str, ...]) -> None:
    """Count the open records due for re-checking, per neighbourhood (``mapper due``)."""
    import pandas as pd

    from mapper.analysis.verification import due_for_recheck, today

    ws = workspace_of(ctx)
    ward_table = ws.read_layer("ward_summary" if ws.has_layer("ward_summary") else "wards")
    known = set(ward_table["ward_code"])
    unknown = [w for w in wards if w not in known]
    if unknown:
        raise MapperError(f"--ward {', '.join(unknown)}: no such ward code in the workspace "
                          f"({len(known):,} wards, for example {sorted(known)[0]})")
    records = {name: overlay.read_layer(ws, name) if ws.has_layer(name) else None
               for name in ("groups", "premises")}
    found = due_for_recheck(records, ward_table, on=today(),
                            ward_codes=set(wards) if wards else None)
    click.echo(f"Open records not confirmed for over {VERIFICATION_MONTHS} months, or ever: "
               f"{_due_counts(found)}")
    if ws.has_layer("neighbourhoods"):
        cans = ws.read_layer("neighbourhoods").sort_values("rank", kind="stable")
        for row in cans.itertuples():
            here = found[found["can_id"].astype("string").eq(str(row.can_id)).fillna(False)]
            members = ward_table["can_id"].astype("string").eq(str(row.can_id)).fillna(False)
            if wards and not set(ward_table.loc[members, "ward_code"]) & set(wards):
                continue
            click.echo(f"  {row.can_id} {row.name}: {_due_counts(here)}")
    in_a_ward = found["ward_code"].isin(known)
    outside = found[found["can_id"].isna() & in_a_ward]
    wards_by_code = ward_table.set_index("ward_code")
    names = wards_by_code["ward_name"].fillna("").astype(str)
    boroughs = (wards_by_code["borough_name"] if "borough_name" in wards_by_code
                else pd.Series("", index=wards_by_code.index)).fillna("").astype(str)
    for code, here in sorted(outside.groupby("ward_code"),
                             key=lambda item: (boroughs.get(item[0], ""),
                                               names.get(item[0], ""), item[0])):
        click.echo(f"  {code} {names.get(code, '')} (outside any neighbourhood): "
                   f"{_due_counts(here)}")
    if not in_a_ward.all():
        click.echo(f"  in no ward of the study area: {_due_counts(found[~in_a_ward])}")


def _due_counts(found) -> str:
    groups = int((found["register"] == "groups").sum())
    return (f"{len(found):,} due ({groups:,} group{'' if groups == 1 else 's'}, "
            f"{len(found) - groups:,} premises)")


@cli.command()
@click.option("--force", is_flag=True, help="Replace an existing workspace.")
@click.pass_context
def demo(ctx: click.Context, force: bool) -> None:
    """Build the synthetic demo workspace (a fictional borough; no real places or people)."""
    from mapper.pipeline import build_demo

    ws = workspace_of(ctx)
    if ws.exists() and not force:
        raise MapperError(
            f"a workspace already exists at {ws.directory}; use --force to "
            "replace it with the demo, or --workspace DIR for another directory"
        )
    build_demo(ws, progress=_progress)
    _analyse_if_possible(ws, via="mapper demo")
    click.echo(f"Demo workspace ready: {ws.location} (synthetic data)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--tiles",
    default="none",
    show_default=True,
    envvar="MAPPER_TILES",
    help="Basemap: none (works offline), osm (OpenStreetMap) or light (CARTO Positron), "
    "both fetched from the internet, or the PATH of an MBTiles or PMTiles file that the "
    "app serves itself, offline: raster (PNG, JPEG or WebP tiles, drawn as they are) or "
    "vector (pbf tiles, drawn in the browser with --tiles-style). Attribution comes from "
    "the file's metadata (or the style's sources). Default: $MAPPER_TILES or none "
    "(README, Basemap).",
)
@click.option(
    "--tiles-style",
    default="",
    envvar="MAPPER_TILES_STYLE",
    metavar="STYLE.json",
    help="For a vector --tiles archive: the Mapbox GL / MapLibre style JSON made for its "
    "tiles (as OS Open Zoomstack, OpenMapTiles and Protomaps ship). Its fill, line and "
    "circle layers are drawn (colours, widths, opacity, zoom ranges, simple filters); "
    "labels and icons are not. Without it a plain built-in style is used, keyed on the "
    "usual layer names of those schemas. Default: $MAPPER_TILES_STYLE (README, Basemap).",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(1, 64),
    help=f"Threads answering requests (a fixed pool, reused for every request): default "
    f"{SERVE_THREADS} in one process, {WORKER_THREADS} per worker process with --workers.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (above 1: gunicorn, Linux and macOS): use up to one per core "
    "on a server many officers use at once. Each holds its own copy of what it changes.",
)
@click.option(
    "--anonymous-rate",
    default=None,
    type=click.FloatRange(0, None),
    help="Requests per second a client that has not signed in may make on average, per "
    "address and worker process, past which it gets 429 with Retry-After (0: no limit; "
    "default: ANON_RATE_PER_S and ANON_BURST of mapper/web/ratelimit.py).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, tiles: str, tiles_style: str,
          threads: int | None, workers: int, anonymous_rate: float | None) -> None:
    """Start the map server. With no workspace yet, builds the synthetic demo first
    (never into a database given by --database / MAPPER_DATABASE_URL: it says to build).

    With --workers 1 the app runs on waitress, a production WSGI server, with a fixed pool
    of worker threads; with more, on gunicorn with that many worker processes (see
    mapper/serving.py). Either way each thread keeps what it set up (such as PROJ's
    context for reprojecting coordinates) from one request to the next.
    """
    from mapper import serving
    from mapper.pipeline import build_demo
    from mapper.web import create_app

    if threads is None:
        threads = WORKER_THREADS if workers > 1 else SERVE_THREADS
    if tiles not in ("none", "osm", "light"):
        from mapper.maps.vectorstyle import open_basemap

        # a clear error now (archive or style), before any demo is built
        click.echo(open_basemap(tiles, tiles_style or None).describe(), err=True)
    elif tiles_style:
        raise MapperError(f"--tiles-style {tiles_style}: a style draws a vector tile "
                          f"archive, and --tiles is {tiles}; pass --tiles FILE.pmtiles "
                          "(or .mbtiles) of vector tiles, or leave out --tiles-style.")
    ws = workspace_of(ctx)
    if ws.url is not None and not ws.exists():
        # a shared database is never filled with the demo by a server: a mistyped
        # database name must not become a service showing made-up places
        raise MapperError(f"The database {ws.url} holds no workspace yet, so there is "
                          "nothing to serve. Build one into it first: 'mapper --database "
                          "URL build --from DIR' (or 'mapper --database URL demo' for the "
                          "synthetic demo); check the database name if you expected one.")
    if not ws.exists():
        click.echo(f"No workspace at {ws.directory}: building the synthetic demo first.", err=True)
        build_demo(ws, progress=_progress)
        _analyse_if_possible(ws, via="mapper serve (a new demo workspace)")
    _reanalyse_if_stale(ws)
    loopback = host in ("127.0.0.1", "localhost", "::1")
    app = create_app({"WORKSPACE": str(ws.directory), "TILES": tiles,
                      "TILES_STYLE": tiles_style,
                      # off loopback, sessions travel only over HTTPS (put a TLS proxy in
                      # front); MAPPER_COOKIE_SECURE=0 overrides for a trusted network
                      "COOKIE_SECURE": not loopback
                      and os.environ.get("MAPPER_COOKIE_SECURE") != "0",
                      **({} if anonymous_rate is None
                         else {"ANON_RATE_PER_S": anonymous_rate})},
                     # the first incident search and the first map must be fast too: the
                     # app makes them now, before any worker process is forked
                     warm=True)
    area = ws.meta().get("study_area", "the workspace")
    how = (f"{workers} worker processes x {threads} threads" if workers > 1
           else f"{threads} threads")

    def ready(chosen_port: int) -> None:
        click.echo(f"Serving {area} at http://{host}:{chosen_port}/ ({how}; Ctrl+C to stop)")

    serving.serve(app, host=host, port=port, workers=workers, threads=threads,
                  on_ready=ready)


# the administrators' commands (users, audit, backup, restore, group, retention)
for _command in cli_admin.COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning every domain error into a message and exit code."""
    try:
        cli.main(args=argv, prog_name="mapper", standalone_mode=False)
    except MapperError as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("Interrupted; the workspace is unchanged.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted; the workspace is unchanged.", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("MAPPER_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"Internal error ({type(exc).__name__}: {exc}). This is a bug in mapper: "
            "please report it with the command you ran (set MAPPER_DEBUG=1 to see the "
            "traceback).",
            err=True,
        )
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
