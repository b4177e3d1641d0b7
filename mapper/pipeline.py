"""The one place that strings files -> sources -> store together.

``build`` looks at every file in a folder, decides what each is, chooses one file per
layer where several could serve, validates them all (reporting every problem in every
file at once), checks them against each other (vintages, join rates) and writes the
workspace in one atomic transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from mapper.errors import DataValidationError, MapperError, Problem
from mapper.sources import KINDS, Context, Detection, Imported, Skipped, detect_file, list_inputs
from mapper.sources.boundaries import assign_boroughs
from mapper.sources.files import sha256
from mapper.store import Provenance, Workspace

Progress = Callable[[str], None]

#: the order layers are read in: boundaries first, as they define the study area
IMPORT_ORDER = ["boroughs", "wards", "lsoas", "deprivation", "lsoa_ward_lookup", "population",
                "postcodes"]
#: the order files are chosen in: each choice may depend on the ones before it
CHOOSE_ORDER = ["deprivation", "lsoas", "boroughs", "wards", "lsoa_ward_lookup", "population",
                "postcodes"]
LONDON_BOROUGHS = 33


def _quiet(_: str) -> None:
    pass


@dataclass
class BuildPlan:
    """What a folder holds: the file chosen for each layer, and every file left out."""

    chosen: dict[str, Detection] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    detected: list[Detection] = field(default_factory=list)


@dataclass
class BuildReport:
    plan: BuildPlan
    imported: dict[str, Imported]
    warnings: list[Problem]
    seconds: float
    workspace: Workspace


def _year(vintage: str) -> int:
    digits = [int(tok) for tok in vintage.replace("/", " ").replace("-", " ").split()
              if tok.isdigit()]
    return max(digits) if digits else 0


def plan_build(directory: Path, *, exclude: tuple[str, ...] = ()) -> BuildPlan:
    """Detect every file in `directory` and choose one per workspace layer.

    When several files could feed one layer, the choice is documented in README
    ("Which file is used when several fit"): deprivation, the newest release; LSOAs, the
    vintage the deprivation file uses; wards and boroughs, the newest vintage and then
    the coarser file (fewer features); the lookup whose LSOA vintage matches the LSOAs and
    whose ward codes best match the wards; population, the matching LSOA vintage.
    """
    plan = BuildPlan()
    for path in list_inputs(directory):
        if any(path.match(pattern) for pattern in exclude):
            plan.skipped.append(Skipped(path, "excluded with --exclude"))
            continue
        found = detect_file(path)
        if isinstance(found, Skipped):
            plan.skipped.append(found)
        else:
            plan.detected.append(found)
    by_kind: dict[str, list[Detection]] = {}
    for det in plan.detected:
        by_kind.setdefault(det.kind, []).append(det)
    for kind in CHOOSE_ORDER:
        candidates = by_kind.get(kind, [])
        if not candidates:
            continue
        best = _choose(kind, candidates, plan.chosen)
        plan.chosen[kind] = best
        for other in candidates:
            if other is not best:
                plan.skipped.append(Skipped(other.path, f"another {KINDS[kind]} file was used "
                                            f"({best.path.name}): {_why(kind, best, other)}"))
    return plan


def _lsoa_vintage(det: Detection) -> str:
    return det.extra.get("lsoa_vintage") or det.vintage


def _choose(kind: str, candidates: list[Detection], chosen: dict[str, Detection]) -> Detection:
    if len(candidates) == 1:
        return candidates[0]
    deprivation = chosen.get("deprivation")
    lsoas = chosen.get("lsoas")

    def key(det: Detection):
        if kind == "lsoas" and deprivation is not None:
            return (det.vintage == _lsoa_vintage(deprivation), _year(det.vintage))
        if kind in ("lsoa_ward_lookup", "population") and lsoas is not None:
            return (_lsoa_vintage(det) == lsoas.vintage, _year(det.vintage))
        if kind in ("wards", "boroughs"):
            return (_year(det.vintage), -(det.rows or 0))
        return (_year(det.vintage),)

    return max(candidates, key=key)


def _why(kind: str, best: Detection, other: Detection) -> str:
    if kind == "lsoas":
        return f"its vintage ({best.vintage}) matches the deprivation file"
    if kind in ("lsoa_ward_lookup", "population"):
        return f"its LSOA vintage matches the LSOA boundaries ({_lsoa_vintage(best)})"
    if kind in ("wards", "boroughs") and best.vintage == other.vintage:
        return (f"same vintage; the coarser file is used ({best.rows} against {other.rows} "
                "features); use --exclude to choose the other")
    return f"newer vintage ({best.vintage} against {other.vintage})"


def describe_plan(plan: BuildPlan) -> list[str]:
    """Lines for people: what each file was taken to be, and what was skipped and why."""
    lines = ["Files used:"]
    for kind in IMPORT_ORDER:
        det = plan.chosen.get(kind)
        if det:
            rows = f"{det.rows:,} rows" if det.rows is not None else "rows unknown"
            lines.append(f"  {det.path.name}: {det.detail}; vintage {det.vintage}; {rows} "
                         f"-> layer '{kind}'")
    if plan.skipped:
        lines.append("Files skipped:")
        lines += [f"  {s.name}: {s.reason}" for s in plan.skipped]
    return lines


def _study_area(imported: dict[str, Imported]) -> Context:
    for kind in ("boroughs", "wards"):
        if kind in imported:
            frame = imported[kind].frame
            area = shapely.union_all(frame.geometry.array)
            return Context(study_area=area, study_area_name=_area_name(imported))
    return Context()


def _area_name(imported: dict[str, Imported]) -> str:
    if "boroughs" not in imported:
        wards = imported.get("wards")
        return f"{len(wards.frame)} wards" if wards is not None else ""
    boroughs = imported["boroughs"].frame
    codes = set(boroughs["borough_code"])
    if len(boroughs) == 1:
        return str(boroughs["borough_name"].iloc[0])
    if {f"E090000{n:02d}" for n in range(1, LONDON_BOROUGHS + 1)} <= codes:
        return f"London ({len(boroughs)} boroughs)"
    return f"{len(boroughs)} local authorities"


def read_all(plan: BuildPlan, *, progress: Progress = _quiet,
             context: Context | None = None) -> tuple[dict[str, Imported], list[Problem]]:
    """Read and validate every chosen file; raise one error listing every problem."""
    imported: dict[str, Imported] = {}
    problems: list[Problem] = []
    ctx = context or Context()
    steps = [k for k in IMPORT_ORDER if k in plan.chosen]
    for n, kind in enumerate(steps, 1):
        det = plan.chosen[kind]
        rows = f" ({det.rows:,} rows)" if det.rows else ""
        progress(f"[{n}/{len(steps)}] reading {det.path.name}{rows} as {KINDS[kind]}")
        try:
            imported[kind] = det.reader(det.path, det, ctx)
        except DataValidationError as exc:
            problems += exc.problems
            continue
        except MapperError as exc:
            problems.append(Problem(det.path.name, str(exc).removeprefix(f"{det.path.name}: ")))
            continue
        if kind in ("boroughs", "wards") and ctx.study_area is None:
            ctx = _study_area(imported)
    if problems:
        raise DataValidationError(problems)
    return imported, ctx


def cross_check(imported: dict[str, Imported]) -> list[Problem]:
    """Checks between files: vintages and join rates. Errors stop the build."""
    problems: list[Problem] = []
    lsoas, dep = imported.get("lsoas"), imported.get("deprivation")
    if "wards" in imported and "boroughs" in imported:
        wards = imported["wards"]
        wards.frame = assign_boroughs(wards.frame, imported["boroughs"].frame)
    if lsoas is not None and "boroughs" in imported:
        lsoas.frame = assign_boroughs(lsoas.frame, imported["boroughs"].frame)
    if lsoas is not None and dep is not None:
        problems += _check_deprivation_join(lsoas, dep)
    lookup, wards = imported.get("lsoa_ward_lookup"), imported.get("wards")
    if lookup is not None and wards is not None:
        codes = set(wards.frame["ward_code"])
        hit = lookup.frame["ward_code"].isin(codes)
        if not hit.all():
            problems.append(Problem(
                lookup_name(imported), f"{int(hit.sum()):,} of {len(hit):,} LSOAs "
                f"({hit.mean():.1%}) point to a ward in the ward boundaries (lookup "
                f"{lookup.vintage}; wards {wards.vintage}); the others are placed by location "
                "in the analysis", severity="warning"))
    return problems


def lookup_name(imported: dict[str, Imported]) -> str:
    return imported["lsoa_ward_lookup"].extra.get("file", "LSOA-to-ward lookup")


def _check_deprivation_join(lsoas: Imported, dep: Imported) -> list[Problem]:
    file = dep.extra.get("file", "deprivation file")
    codes = set(lsoas.frame["lsoa_code"])
    joined = dep.frame["lsoa_code"].isin(codes)
    has = lsoas.frame["lsoa_code"].isin(set(dep.frame["lsoa_code"]))
    dep_vintage, lsoa_vintage = dep.extra.get("lsoa_vintage"), lsoas.vintage
    rate = f"{int(has.sum()):,} of {len(has):,} LSOA boundaries ({has.mean():.1%}) have a score"
    if dep_vintage and lsoa_vintage not in ("unknown", dep_vintage) and not has.all():
        return [Problem(file, f"mismatched vintages: the deprivation file is on {dep_vintage} "
                        f"LSOAs ({dep.vintage}) but the LSOA boundaries are {lsoa_vintage}; {rate}. "
                        f"Use {dep_vintage} LSOA boundaries (ONS 'LSOA (December {dep_vintage}) "
                        "Boundaries')")]
    notes = []
    if not has.all():
        notes.append(Problem(file, f"{rate}; the rest have no deprivation figures",
                             severity="warning"))
    if not joined.all():
        notes.append(Problem(file, f"{int((~joined).sum()):,} rows are for LSOAs outside the "
                             "study area and were left out", severity="warning"))
        dep.frame = dep.frame[joined].reset_index(drop=True)
    return notes


def _provenance(kind: str, imp: Imported) -> Provenance:
    path: Path = imp.extra["path"]
    return Provenance(
        layer=kind, kind=kind, source_file=path.name, vintage=imp.vintage, detail=imp.detail,
        rows_read=imp.rows_read, rows_imported=len(imp.frame), licence=imp.licence,
        attribution=imp.attribution, source_sha256=sha256(path),
        notes=[str(w) for w in imp.warnings],
    )


def build(
    directory: Path,
    workspace: Workspace,
    *,
    progress: Progress = _quiet,
    exclude: tuple[str, ...] = (),
    dry_run: bool = False,
    extra_layers: dict[str, tuple[pd.DataFrame, Provenance]] | None = None,
    meta: dict[str, str] | None = None,
) -> BuildReport:
    """Build a workspace from every file in `directory`, atomically.

    Raises DataValidationError (listing every problem in every file) or MapperError;
    the previous workspace is then left exactly as it was.
    """
    started = time.monotonic()
    plan = plan_build(Path(directory), exclude=exclude)
    for line in describe_plan(plan):
        progress(line)
    if not plan.chosen:
        raise MapperError(f"found no boundary, deprivation, lookup, population or postcode "
                          f"file in {Path(directory).name}/ ({len(plan.skipped)} files skipped)")
    imported, context = read_all(plan, progress=progress)
    for kind, imp in imported.items():
        imp.extra["path"] = plan.chosen[kind].path
        imp.extra["file"] = plan.chosen[kind].path.name
    checks = cross_check(imported)
    errors = [p for p in checks if p.severity == "error"]
    if errors:
        raise DataValidationError(errors)
    warnings = [w for imp in imported.values() for w in imp.warnings] + checks
    for kind, imp in imported.items():
        imp.warnings += [c for c in checks if c.file == imp.extra["file"]]
    if dry_run:
        progress("dry run: nothing written")
        return BuildReport(plan, imported, warnings, time.monotonic() - started, workspace)
    progress(f"writing the workspace {workspace.directory}/")
    with workspace.transaction(fresh=True) as tx:
        for kind in IMPORT_ORDER:
            if kind in imported:
                progress(f"  writing layer '{kind}' ({len(imported[kind].frame):,} rows)")
                tx.write_layer(kind, imported[kind].frame, _provenance(kind, imported[kind]))
        for name, (frame, prov) in (extra_layers or {}).items():
            progress(f"  writing layer '{name}' ({len(frame):,} rows)")
            tx.write_layer(name, frame, prov)
        tx.set_meta("study_area", context.study_area_name or "unnamed study area")
        tx.set_meta("synthetic", "no")
        tx.set_meta("built_from", Path(directory).resolve().name)
        for key, value in (meta or {}).items():
            tx.set_meta(key, value)
    return BuildReport(plan, imported, warnings, time.monotonic() - started, workspace)


def summary_lines(report: BuildReport) -> list[str]:
    lines = []
    if report.warnings:
        lines.append(f"Warnings ({len(report.warnings)}):")
        lines += [f"  - {w}" for w in report.warnings]
    counts = ", ".join(f"{len(imp.frame):,} {kind}" for kind, imp in report.imported.items())
    lines.append(f"Imported {counts} in {report.seconds:.1f} s.")
    dep, lsoas = report.imported.get("deprivation"), report.imported.get("lsoas")
    if dep is not None and lsoas is not None:
        joined = lsoas.frame["lsoa_code"].isin(set(dep.frame["lsoa_code"])).sum()
        lines.append(f"Deprivation ({dep.vintage}) joined to {joined:,} of "
                     f"{len(lsoas.frame):,} LSOAs.")
    return lines


def boundary_frames(workspace: Workspace) -> dict[str, gpd.GeoDataFrame]:
    """The boundary layers a map needs, as stored (EPSG:27700)."""
    return {k: workspace.read_layer(k) for k in ("boroughs", "wards", "lsoas")
            if workspace.has_layer(k)}


def import_file(path: Path, workspace: Workspace, *, progress: Progress = _quiet) -> Imported:
    """Import one file into an existing workspace, replacing the layer it feeds, atomically.

    The file is checked against the layers already there (study area, vintages).
    """
    path = Path(path)
    if not path.is_file():
        raise MapperError(f"no such file: {path}")
    found = detect_file(path)
    if isinstance(found, Skipped):
        raise MapperError(f"{path.name}: cannot import it: {found.reason}")
    progress(f"{path.name}: {found.detail}; vintage {found.vintage} -> layer '{found.kind}'")
    existing: dict[str, Imported] = {}
    for kind in ("boroughs", "wards", "lsoas", "deprivation"):
        if kind != found.kind and workspace.has_layer(kind):
            row = workspace.provenance().set_index("layer").loc[kind]
            existing[kind] = Imported(kind, workspace.read_layer(kind), row["vintage"],
                                      row["detail"], int(row["rows_read"]), "", "",
                                      extra={"file": row["source_file"],
                                             "lsoa_vintage": _stored_lsoa_vintage(row)})
    context = _study_area(existing) if found.kind not in ("boroughs",) else Context()
    imp = found.reader(path, found, context)
    imp.extra.update(path=path, file=path.name)
    checks = cross_check({**existing, found.kind: imp})
    errors = [p for p in checks if p.severity == "error"]
    if errors:
        raise DataValidationError(errors)
    imp.warnings += [c for c in checks if c.file == path.name]
    with workspace.transaction() as tx:
        tx.write_layer(found.kind, imp.frame, _provenance(found.kind, imp))
    return imp


def _stored_lsoa_vintage(row) -> str:
    vintage = str(row["vintage"])
    return vintage.rsplit("LSOA ", 1)[-1].split()[0] if "LSOA " in vintage else vintage


SYNTHETIC_LICENCE = "Synthetic data generated by mapper; no real places or people; free to use"


def build_demo(workspace: Workspace, *, progress: Progress = _quiet) -> BuildReport:
    """Build the synthetic demo workspace through the same importers as real data."""
    import tempfile

    from mapper import demo

    with tempfile.TemporaryDirectory(prefix="mapper-demo-") as tmp:
        progress("generating the synthetic demo area (a fictional borough)")
        demo.write_demo_inputs(Path(tmp))
        registers = demo.demo_registers(Path(tmp))
        extra = {
            name: (frame, Provenance(
                layer=name, kind=name, source_file="generated by mapper.demo",
                vintage="synthetic", detail=f"synthetic demo {name}", rows_read=len(frame),
                rows_imported=len(frame), licence=SYNTHETIC_LICENCE,
                attribution="Synthetic demo data: not real places, groups or people."))
            for name, frame in registers.items()
        }
        report = build(Path(tmp), workspace, progress=progress, extra_layers=extra,
                       meta={"synthetic": "yes"})
    return report
