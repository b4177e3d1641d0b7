"""Running the analysis on a workspace: read layers, call the pure analysis functions,
write the results back with the settings that produced them (one transaction).

This is the analysis half of the pipeline (``mapper.pipeline`` imports files; this
analyses what the store holds). Outputs:

``ward_summary``      one row per ward (geometry): population, need, supply, access,
                      incidents, the unmet-need index and its components, candidate flag,
                      ``can_id``, ``stability`` and coverage
``borough_summary``   the need measures per borough (local authority)
``neighbourhoods``    one row per Community Action Neighbourhood (dissolved geometry)
``coverage_gaps``     the parts of wards farther than the radius from any group
``lsoa_ward_weights`` how each LSOA was shared between wards
``lsoa_access``       population-weighted distance to the nearest group, per LSOA
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from mapper import compact, incident_types, overlay, registers
from mapper.analysis import apportion as ap
from mapper.analysis.assets import lsoa_access, supply_table, ward_access
from mapper.analysis.can_identity import (
    HISTORY_COLUMNS,
    Identity,
    apply_ids,
    empty_history,
    match_neighbourhoods,
    named_count,
    split_codes,
)
from mapper.analysis.coverage import uncovered_by_category
from mapper.analysis.incidents import (
    MONTHS_COUNTED,
    RATE,
    TREND_COLUMNS,
    WEIGHT,
    covered_districts,
    covered_pressure,
    incident_coverage,
    incident_months,
    incidents_per_district,
    month_span,
    types_words,
)
from mapper.analysis.need import (
    MEASURE_LABELS,
    area_need,
    borough_weights,
    national_lsoas_of,
    unavailable_measures,
)
from mapper.analysis.neighbourhoods import (
    can_stability,
    find_neighbourhoods,
    queen_neighbours,
    selection_draws,
    stability_label,
)
from mapper.analysis.priority import (
    RAW_RATES,
    components_for,
    reliability,
    select_candidates,
    supply_condition_applies,
    unmet_need,
)
from mapper.analysis.rates import eb_rates
from mapper.analysis.reasons import can_reasons
from mapper.analysis.record import selection_json
from mapper.analysis.selections import selection_of
from mapper.areas import area_of_points
from mapper.config import Settings
from mapper.errors import MapperError
from mapper.store import ANALYSED_DATA_VERSION, DATA_VERSION, Provenance, Workspace

Progress = Callable[[str], None]
OUTPUTS = ("ward_summary", "borough_summary", "neighbourhoods", "coverage_gaps",
           "lsoa_ward_weights", "lsoa_access")
REQUIRED = ("wards", "lsoas", "deprivation")
#: app database meta key: the settings of the last run (a rebuild of the GeoPackage
#: forgets its own copy; the audit of the next run compares with this one)
LAST_SETTINGS = "analysis_settings"


@dataclass
class AnalysisReport:
    """What an analysis run computed: settings, ward and CAN tables, coverage and notes."""

    settings: Settings
    wards: pd.DataFrame
    neighbourhoods: pd.DataFrame
    coverage: dict
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: deprivation measures not computed -> why (need.unavailable_measures)
    unavailable: dict[str, str] = field(default_factory=dict)
    #: the ward column measuring need in the unmet-need index (priority.components_for)
    need_measure: str = "imd_score"
    #: how this run's CANs were matched to those issued before (can_identity)
    identity: Identity | None = None


def can_analyse(workspace: Workspace) -> bool:
    """Whether the workspace has every layer the analysis needs."""
    layers = set(workspace.layers())
    return all(name in layers for name in REQUIRED)


#: what each analysis state means, for pages and ``mapper info``
STATE_TEXT = {
    "stale": "the data changed after the analysis ran (an import or build that was "
             "interrupted, or an upload): priority areas, neighbourhoods and coverage "
             "describe the data as it was",
    "missing": "the data has not been analysed yet (a build that was interrupted, or "
               "boundaries imported since): there are no priority areas, neighbourhoods or "
               "coverage results",
}


def analysis_state(meta: dict, layers) -> str:
    """``current``, ``stale`` (the data changed after the stored analysis was computed),
    ``missing`` (analysable data, no analysis) or ``none`` (nothing to analyse).

    The one staleness rule: the analysis records the data version it read
    (:data:`mapper.store.ANALYSED_DATA_VERSION`); every data change stamps a new one.
    """
    layers = set(layers)
    if not all(name in layers for name in REQUIRED):
        return "none"
    if not all(name in layers for name in OUTPUTS) or not meta.get("analysed_at"):
        return "missing"
    return "current" if meta.get(ANALYSED_DATA_VERSION) == meta.get(DATA_VERSION) else "stale"


def _national_lsoas(workspace: Workspace, notes: list[str]) -> int:
    national, note = national_lsoas_of(workspace.provenance())
    if note:
        notes.append(note)
    return national


def _layer(workspace: Workspace, name: str):
    """A layer as the app sees it (registers with their edits), or None when absent."""
    return overlay.read_layer(workspace, name) if workspace.has_layer(name) else None


#: the incident columns the analysis reads (no geometry, no ids: the layer can hold
#: millions of incidents)
INCIDENT_COLUMNS = ["source", "source_file", "type", "month", "date", "lsoa_code",
                    "ward_code", "borough_code", "duplicate_of"]
#: incidents read at a time by :func:`_incidents_layer`
READ_CHUNK_ROWS = 500_000


def _incidents_layer(workspace: Workspace, held: pd.DataFrame | None) -> pd.DataFrame | None:
    """The incidents as the analysis reads them: the columns it uses, text as shared
    string objects (:func:`mapper.compact.shared`). From `held` (the build's compact
    frame) when given and no edits lie over the layer; on PostgreSQL, counted in the
    database (:func:`summarised_incidents`: the rows are never read); else read from the
    workspace in chunks, without geometry (with edits: through :func:`overlay.read_layer`)."""
    if not workspace.has_layer("incidents"):
        return None
    columns = INCIDENT_COLUMNS
    edited = bool(workspace.appdb.records("incidents"))
    if held is not None and compact.is_compact(held) and not edited:
        return compact.shared(held, columns)
    if workspace.url is not None:
        return summarised_incidents(workspace)
    if edited:
        return _layer(workspace, "incidents")
    info = pyogrio.read_info(workspace.path, layer="incidents")
    total = int(info["features"])
    stored = [c for c in columns if c in set(info["fields"])]
    parts = []
    for start in range(0, max(total, 1), READ_CHUNK_ROWS):
        part = workspace.read_layer("incidents", columns=stored, read_geometry=False,
                                    skip_features=start, max_features=READ_CHUNK_ROWS)
        parts.append(compact.shared_text(part))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame["version"] = 1
    return frame


def summarised_incidents(workspace: Workspace) -> pd.DataFrame:
    """The incidents counted in PostgreSQL (:meth:`Workspace.incident_summary`): one row
    per source file, type, month, ward and district, ``n_records`` the incidents in it,
    which the analysis weighs each row by. Records edited in the web app are left out
    of the database's counts and counted as people see them now (a few rows, read with
    their edits: :func:`overlay.read_layer`)."""
    edits = workspace.appdb.records("incidents")
    summary = workspace.incident_summary(leave_out=[e.record_id for e in edits])
    if summary is None:
        raise MapperError("the incidents are counted in the database only on PostgreSQL")
    if edits:
        edited = overlay.read_layer(workspace, "incidents", where="1 = 0")  # edits only
        keys = [c for c in summary.columns if c != WEIGHT]
        rows = pd.DataFrame({c: (incident_months(edited) if c == "month" else
                                 edited[c] if c in edited else None)
                             for c in keys}, index=edited.index).astype(object)
        rows = rows.where(rows.notna(), None)
        counted = rows.groupby(keys, dropna=False, sort=False).size().rename(WEIGHT)
        summary = pd.concat([summary, counted.reset_index()], ignore_index=True)
    return compact.shared_text(summary)


def _resident_population(workspace: Workspace, lsoas, deprivation, notes) -> pd.Series:
    """Residents per LSOA: the population estimates when they cover the LSOAs, else the
    IoD denominators."""
    estimates = _layer(workspace, "population")
    if "pop_total" not in deprivation:
        if estimates is None:
            raise MapperError(
                "the analysis needs the population of each LSOA: the deprivation data has no "
                "population denominators and the workspace has no population estimates; add "
                "IoD File 6 (population denominators) or File 7, or ONS LSOA population "
                "estimates, to the folder (or import one with mapper import FILE)")
        fallback = pd.Series(dtype=float)
    else:
        fallback = deprivation.set_index("lsoa_code")["pop_total"].astype(float)
    if estimates is not None:
        pop = estimates.drop_duplicates("lsoa_code").set_index("lsoa_code")["population"]
        covered = lsoas["lsoa_code"].isin(pop.index).mean()
        if covered >= 0.99:
            return pop.reindex(lsoas["lsoa_code"]).fillna(fallback).astype(float)
        if fallback.empty:
            notes.append(f"population estimates cover {covered:.1%} of the LSOAs (another LSOA "
                         "vintage?) and the deprivation data has no population: LSOAs "
                         "without an estimate count no residents")
            return pop.reindex(lsoas["lsoa_code"]).fillna(0.0).astype(float)
        notes.append(f"population estimates cover {covered:.1%} of the LSOAs (another LSOA "
                     "vintage?): the IoD population denominators were used instead")
    return fallback.reindex(lsoas["lsoa_code"]).fillna(0.0)


def _method(settings: Settings, postcodes, lookup, notes, *, wards, lsoas) -> str:
    method = settings.apportionment
    no_postcodes = postcodes is None or postcodes.empty
    if method == "bestfit":
        usable, rate = ap.usable_lookup(lookup, wards, lsoas)
        if not usable:
            method = "areal" if no_postcodes else "dasymetric"
            notes.append(
                f"the LSOA-to-ward lookup was not used ({rate}; at least "
                f"{ap.LOOKUP_MIN_JOIN:.0%} needed: import the lookup of the ward boundaries' "
                f"vintage): LSOAs were shared between wards by {method} instead of bestfit")
            return method
    if method == "dasymetric" and no_postcodes:
        notes.append("no postcode centroids in the workspace: LSOAs were shared between wards "
                     "by area (areal) instead of by postcodes (dasymetric)")
        return "areal"
    return method


def _fallback_note(weights: pd.DataFrame, method: str, lsoas) -> str | None:
    """'N of M LSOAs fell back from dasymetric to another method: ...', or None."""
    fell = ap.fallbacks(weights, method)
    if not fell:
        return None
    parts = [f"{n:,} to {other}"
             + (f" ({ap.FALLBACK_REASON[method, other]})"
                if (method, other) in ap.FALLBACK_REASON else "")
             for other, n in fell.items()]
    return (f"{sum(fell.values()):,} of {len(lsoas):,} LSOAs fell back from {method} to "
            f"another method: {'; '.join(parts)}")


def _incidents(incidents, wards, population, settings: Settings, notes) -> pd.DataFrame:
    """Incident counts, monthly rates and trends per ward, each over the types and months
    that cover it (:func:`incident_coverage`, :func:`covered_pressure`)."""
    index = pd.Index(wards["ward_code"], name="ward_code")
    if incidents is None or incidents.empty:
        return pd.DataFrame({"incidents": np.nan, RATE: np.nan}, index=index)
    types = incident_types.parse_setting(settings.incident_types)
    _check_types_named(types, incidents)
    plan = incident_coverage(incidents, wards[["ward_code", "borough_code"]],
                             window_months=settings.incident_months, types=types)
    table, more = covered_pressure(
        incidents, wards[["ward_code", "borough_code"]], population, plan,
        recent_months=settings.trend_recent_months,
        baseline_months=settings.trend_baseline_months)
    notes.append(_counted_note(plan, wards))
    notes.extend(more)
    return table


def _check_types_named(types, incidents) -> None:
    if not types:
        return
    known = set(incident_types.vocabulary().types) | set(incidents["type"].dropna())
    unknown = [t for t in types if t not in known]
    if unknown:
        raise MapperError(
            f"incident_types names {', '.join(repr(t) for t in unknown)}, which is neither "
            "a type of the vocabulary (mapper/mappings/incident_types.csv) nor a type in "
            f"the incident data; the vocabulary is {', '.join(incident_types.vocabulary().types)}")


def _counted_note(plan, wards) -> str:
    """'incidents counted: burglary only (...); Sep 2024 - Feb 2025 in 32 districts, ...'"""
    names = (wards.drop_duplicates("borough_code").set_index("borough_code")["borough_name"]
             if "borough_name" in wards else pd.Series(dtype=object))
    why = ("named in the incident_types setting" if plan.named else
           "the types every district with incident data has in its window; set "
           "incident_types to choose others")
    spans: dict[str, list[str]] = {}
    for district, months in sorted(plan.months.items()):
        spans.setdefault(month_span(months) or "none", []).append(
            str(names.get(district, district)))
    where = "; ".join(
        f"{span} in {', '.join(d) if len(d) <= 3 else f'{len(d):,} districts'}"
        for span, d in sorted(spans.items(), key=lambda kv: -len(kv[1])))
    return (f"incidents counted: {types_words(plan.types, plan.every)} ({why}); months "
            f"counted, each district's window ending at its last covered month: {where}; "
            "rates are incidents a month per 1,000 residents")


def _where_covered(pressure: pd.DataFrame, incidents, wards, notes: list[str]) -> pd.DataFrame:
    """Incident rates and trends only for wards of districts the incident data cover
    (:func:`covered_districts`); elsewhere they are unknown (NaN, so the index counts the
    ward at the median ward's for incidents and marks it incomplete), and a note names
    them."""
    if incidents is None or incidents.empty:
        return pressure
    covered = covered_districts(incidents, wards[["ward_code", "borough_code"]])
    by_ward = wards.set_index("ward_code").reindex(pressure.index)
    district = by_ward["borough_code"]
    outside = ~district.isin(covered)
    if not outside.any():
        return pressure
    pressure = pressure.copy()
    unknown = [c for c in pressure if c == RATE or c in TREND_COLUMNS]
    pressure.loc[outside, unknown] = np.nan
    if "spike" in pressure:
        pressure.loc[outside, "spike"] = False
    named = by_ward["borough_name"] if "borough_name" in by_ward else district
    left = sorted(set(named[outside].fillna(district[outside]).dropna()))
    counts = incidents_per_district(incidents)
    stray = int(counts[counts.index.isin(district[outside])].sum())
    notes.append(
        f"incidents: the incident data cover {len(covered):,} of "
        f"{district.nunique():,} districts; incident rates and trends in "
        f"{', '.join(left)} ({int(outside.sum()):,} wards) are unknown, not zero, and the "
        f"index counts those wards at the median ward's for incidents ({stray:,} "
        "incidents there are strays of other districts' files); import incident data "
        "for them, or set weight_incidents=0")
    return pressure


def _smoothed_rates(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each smoothed rate of the index (:data:`mapper.analysis.priority.RAW_RATES`) ->
    :func:`eb_rates` of its count, shrunk toward the ward's district: groups per 1,000 from
    ``groups_total``, incidents per 1,000 from ``incidents`` (only where the raw rate is
    known: incident data cover the district). The incidents' exposure is residents x
    months counted (``incident_months``), so the smoothed rate is, like the raw one,
    incidents a month per 1,000 residents."""
    counts = {"groups_total_per_1000": "groups_total", "incidents_per_1000": "incidents"}
    out = {}
    for column, raw in RAW_RATES.items():
        if raw not in table or counts[raw] not in table:
            continue
        known = table[counts[raw]].where(table[raw].notna())
        exposure = table["population"]
        if raw == RATE and MONTHS_COUNTED in table:
            exposure = exposure * table[MONTHS_COUNTED]
        out[column] = eb_rates(known, exposure, table["borough_code"])
    return out


def analyse(workspace: Workspace, settings: Settings | None = None, *,
            progress: Progress = lambda _: None, actor: str = "cli",
            via: str = "mapper analyse", draft_id: int | None = None,
            incidents: pd.DataFrame | None = None) -> AnalysisReport:
    """Analyse the workspace and store the results (see the module docstring).

    CANs keep the ids issued before (:mod:`mapper.analysis.can_identity`), and the run
    is audited: `actor` (a web user's name, or the OS user of a command), `via` (what
    started it), the settings changed since the last run and the CANs gained, lost and
    changed. The selection this run replaces is kept as ``previous_selection``
    (:func:`mapper.analysis.record.selection_json`) for the decision record, and who ran
    it as ``analysed_by`` (`actor`) and ``analysed_via`` (`via`). Each run is also a new
    published version of the selection (:meth:`mapper.appdb.AppDB.save_version`), whose
    decision record stays available; `draft_id` names the officer's draft it publishes,
    if any. `incidents` is the incidents layer as the build holds it (a compact frame,
    :mod:`mapper.compact`), used instead of reading the layer again when no edits lie
    over it."""
    started = time.monotonic()
    report, stored = _compute(workspace, settings, progress, incidents=incidents)
    previous = _previous_selection(workspace, workspace.meta())
    _write(workspace, report, previous=previous, **stored, actor=actor, via=via,
           draft_id=draft_id)
    report.seconds = time.monotonic() - started
    return report


def compute_selection(workspace: Workspace, settings: Settings, *,
                      progress: Progress = lambda _: None) -> AnalysisReport:
    """The analysis with `settings`, in memory only: the published results, the CAN
    history and the audit trail are left as they were (a draft: :mod:`mapper.analysis.drafts`).
    CAN ids are provisional (``CAN-01``...: the order found)."""
    started = time.monotonic()
    report, _stored = _compute(workspace, settings, progress)
    report.seconds = time.monotonic() - started
    return report


def _compute(workspace: Workspace, settings: Settings | None,
             progress: Progress, *, incidents: pd.DataFrame | None = None
             ) -> tuple[AnalysisReport, dict]:
    """The analysis (see :func:`analyse`) and what :func:`_write` needs to store it."""
    missing = [name for name in REQUIRED if not workspace.has_layer(name)]
    if missing:
        raise MapperError(f"the analysis needs {', '.join(REQUIRED)}; the workspace lacks "
                          f"{', '.join(missing)} (import them with mapper import FILE)")
    meta = workspace.meta()
    data_version = meta.get(DATA_VERSION)  # what this analysis reads (see analysis_state)
    settings = settings or Settings.from_json(meta.get("analysis_settings"))
    settings.check()
    notes: list[str] = []
    wards, lsoas = workspace.read_layer("wards"), workspace.read_layer("lsoas")
    deprivation = workspace.read_layer("deprivation")
    boroughs, postcodes = _layer(workspace, "boroughs"), _layer(workspace, "postcodes")
    lookup = _layer(workspace, "lsoa_ward_lookup")
    groups = _layer(workspace, "groups")
    groups = groups if groups is not None else registers.empty("groups")
    premises = _layer(workspace, "premises")
    premises = premises if premises is not None else registers.empty("premises")
    incidents = _incidents_layer(workspace, incidents)
    national = _national_lsoas(workspace, notes)
    index = pd.Index(wards["ward_code"], name="ward_code")

    population = _resident_population(workspace, lsoas, deprivation, notes)
    method = _method(settings, postcodes, lookup, notes, wards=wards, lsoas=lsoas)
    progress(f"sharing {len(lsoas):,} LSOAs between {len(wards):,} wards ({method})")
    points = ap.population_points(lsoas, population, postcodes)
    points["ward_code"] = area_of_points(points.geometry, wards, "ward_code")
    weights = ap.lsoa_ward_weights(method, lsoas=lsoas, wards=wards, lookup=lookup,
                                   points=points)
    fell = _fallback_note(weights, method, lsoas)
    if fell:
        notes.append(fell)
    need = area_need(deprivation, weights, national_lsoas=national, population=population)
    unavailable = unavailable_measures(deprivation.columns)
    notes += [f"not computed: {why}" for why in unavailable.values()]

    progress("asset supply, access and incident pressure per ward")
    ward_pop = need["population"].reindex(index)
    supply = supply_table(index, ward_pop, groups, premises,
                          group_categories=registers.GROUP_CATEGORIES,
                          premises_types=registers.PREMISES_TYPES)
    access = ward_access(points, groups, index, categories=registers.GROUP_CATEGORIES)
    pressure = _incidents(incidents, wards, ward_pop, settings, notes)
    pressure = _where_covered(pressure, incidents, wards, notes)
    table = (wards.drop(columns="geometry").set_index("ward_code")
             .join(need.reindex(index)).join(supply).join(access).join(pressure))

    progress("unmet-need index, Community Action Neighbourhoods and stability")
    smoothed = _smoothed_rates(table)
    for column, frame in smoothed.items():
        table[column] = frame["rate_eb"]
    components = components_for(table)
    if components["need"][0] != "imd_score":
        label = MEASURE_LABELS.get(components["need"][0], components["need"][0])
        notes.append(f"need in the unmet-need index is measured by the {label} (MHCLG's: "
                     "higher = more deprived) as the deprivation data "
                     "has no IMD scores")
    table = table.join(unmet_need(table, settings.weights(), components))
    table = table.join(reliability(table, components, smoothed))

    def choose(frame: pd.DataFrame) -> pd.Series:
        return select_candidates(frame, top_share=settings.can_top_share,
                                 supply_below_median=settings.can_supply_below_median,
                                 max_imd_decile=settings.can_max_imd_decile,
                                 national_lsoas=national)

    if settings.can_max_imd_decile and "imd_avg_rank" in unavailable:
        notes.append("can_max_imd_decile not applied: the wards have no IMD average rank "
                     "(the deprivation data has no ranks)")
    table["candidate"] = choose(table)
    if settings.can_supply_below_median and not supply_condition_applies(table):
        notes.append("the candidate condition 'groups per 1,000 below the median' was not "
                     "applied: every ward has the same number of groups per 1,000 residents "
                     f"({len(groups):,} groups in the workspace), so it cannot tell wards "
                     "apart; import a register of groups (mapper import FILE) for supply "
                     "to count")
    neighbours = queen_neighbours(wards)
    can_id, cans = find_neighbourhoods(
        wards, table, select=table["candidate"], min_population=settings.can_min_population,
        max_population=settings.can_max_population or None,
        cross_borough=settings.can_cross_borough, neighbours=neighbours,
        split=settings.can_split)
    table["can_id"] = can_id.reindex(table.index)
    base = table.drop(columns=[c for c in table if c.startswith(("z_", "contrib_"))]
                      + ["unmet_need", "unmet_need_rank", "incomplete", "unreliable",
                         "unreliable_reason"])

    def selected_with(weights: dict, threshold_factor: float) -> pd.Series:
        return select_candidates(
            base.join(unmet_need(base, weights, components)),
            top_share=min(1.0, settings.can_top_share * threshold_factor),
            supply_below_median=settings.can_supply_below_median,
            max_imd_decile=settings.can_max_imd_decile, national_lsoas=national)

    draws = selection_draws(selected_with, settings.weights(),
                            draws=settings.stability_draws, spread=settings.stability_spread)
    table["stability"] = draws.mean(axis=1).reindex(table.index)
    cans = _with_stability(cans, can_stability(draws, table["can_id"], table["population"]))

    progress(f"coverage gaps at {settings.coverage_radius_m:g} m")
    coverage_table, gaps, coverage = _coverage(wards, points, groups, settings)
    if groups.empty:
        notes.append("coverage: the workspace has no groups, so every resident counts as "
                     f"farther than {settings.coverage_radius_m:g} m from one; import a "
                     "register of groups (mapper import FILE) for coverage to mean anything")
    table = table.join(coverage_table)
    table["gap_rank"] = _gap_rank(table, settings)
    progress("why each CAN was chosen")
    uncovered = (uncovered_by_category(points, groups, index,
                                       radius_m=settings.coverage_radius_m)
                 if len(groups) else None)
    cans = cans.join(can_reasons(table, deprivation=deprivation, uncovered=uncovered,
                                 radius_m=settings.coverage_radius_m,
                                 national_lsoas=national, lsoa_weights=weights))
    report = AnalysisReport(settings, table, cans, coverage, notes, unavailable=unavailable,
                            need_measure=components["need"][0])
    return report, dict(wards=wards, boroughs=boroughs, lsoas=lsoas,
                        deprivation=deprivation, population=population, weights=weights,
                        points=points, groups=groups, gaps=gaps, national=national,
                        method=method, data_version=data_version)


def _with_stability(cans: pd.DataFrame, stability: pd.Series) -> pd.DataFrame:
    """The CAN summary with ``stability`` (share of perturbed runs in which the CAN is
    found again) and ``stability_label`` (robust, moderate or marginal)."""
    cans = cans.copy()
    cans["stability"] = stability.reindex(cans.index).astype(float)
    cans["stability_label"] = cans["stability"].map(stability_label).astype(object)
    return cans


def _coverage(wards, points, groups, settings: Settings):
    from mapper.analysis.coverage import coverage_gaps, coverage_summary

    category = settings.coverage_category or None
    table, gaps = coverage_gaps(wards, points, groups, radius_m=settings.coverage_radius_m,
                                category=category)
    keep = ["uncovered_population", "uncovered_share", "uncovered_area_km2",
            "uncovered_area_share", "area_km2"]
    return table[[c for c in keep if c in table]], gaps, coverage_summary(table)


def _gap_rank(table: pd.DataFrame, settings: Settings) -> pd.Series:
    """High-need wards (unmet-need index in the CAN top share) ranked by uncovered
    residents: 1 = most residents beyond the coverage radius; <NA> for other wards."""
    from mapper.analysis.coverage import rank_gaps

    ranked = rank_gaps(table, table["unmet_need"], top_share=settings.can_top_share)
    ranked = ranked[ranked["uncovered_population"] > 0]
    order = pd.Series(np.arange(1, len(ranked) + 1), index=ranked.index)
    return order.reindex(table.index).astype("Int64")


def _previous_selection(workspace: Workspace, meta: dict) -> str | None:
    """The selection the stored analysis made (to be replaced by this run), or None."""
    if not meta.get("analysed_at") or not workspace.has_layer("ward_summary"):
        return None
    stored = workspace.read_layer("ward_summary")
    if "can_id" not in stored:
        return None
    return selection_json(stored.set_index("ward_code")["can_id"],
                          analysed_at=meta.get("analysed_at", ""),
                          analysed_by=meta.get("analysed_by", ""),
                          analysed_via=meta.get("analysed_via", ""))


def _write(workspace: Workspace, report: AnalysisReport, *, previous, wards,
           boroughs, lsoas,
           deprivation, population, weights, points, groups, gaps, national, method,
           data_version, actor, via, draft_id=None) -> None:
    settings = report.settings
    lsoa_pop = pd.Series(population.to_numpy(), index=lsoas["lsoa_code"].to_numpy())
    borough_need = area_need(deprivation, borough_weights(deprivation, lsoas),
                             by="borough_code", national_lsoas=national, population=lsoa_pop)
    if boroughs is not None:
        borough_summary = gpd.GeoDataFrame(
            boroughs.drop(columns="geometry").join(borough_need, on="borough_code"),
            geometry=boroughs.geometry, crs=boroughs.crs)
    else:
        borough_summary = borough_need.reset_index()
    access = lsoa_access(points, groups, lsoas["lsoa_code"],
                         categories=registers.GROUP_CATEGORIES).reset_index()
    detail = (f"analysis with settings {settings.to_json()}; LSOAs shared by {method}")
    prov = {name: Provenance(layer=name, kind="analysis", source_file="mapper analyse",
                             vintage="", detail=detail, notes=report.notes,
                             licence="derived from the layers above: their licences apply",
                             attribution="Analysis by mapper from the sources listed.")
            for name in OUTPUTS}
    run_at = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%S+00:00")
    with workspace.transaction() as tx:
        # inside the workspace lock: no other run issues ids between reading and writing
        history = _can_history(workspace)
        names = report.wards["ward_name"] if "ward_name" in report.wards else None
        identity = match_neighbourhoods(report.neighbourhoods, report.wards["population"],
                                        history, run_at=run_at, ward_names=names)
        can_id, report.neighbourhoods = apply_ids(report.wards["can_id"],
                                                  report.neighbourhoods, identity)
        report.wards["can_id"] = can_id
        report.identity = identity
        ward_summary, neighbourhoods = _can_layers(report, wards)
        for name, frame in (("ward_summary", ward_summary), ("borough_summary", borough_summary),
                            ("neighbourhoods", neighbourhoods), ("coverage_gaps", gaps),
                            ("lsoa_ward_weights", weights), ("lsoa_access", access)):
            prov[name].rows_read = prov[name].rows_imported = len(frame)
            tx.write_layer(name, frame, prov[name])
        tx.set_meta("analysis_settings", settings.to_json())
        tx.set_meta("analysis_method", method)
        if data_version is not None:
            tx.set_meta(ANALYSED_DATA_VERSION, data_version)
        tx.set_meta("unavailable_measures", json.dumps(report.unavailable))
        tx.set_meta("analysis_notes", json.dumps(other_notes(report)))
        tx.set_meta("need_measure", report.need_measure)
        tx.set_meta("analysed_by", actor)
        tx.set_meta("analysed_via", via)
        if previous is not None:
            tx.set_meta("previous_selection", previous)
        tx.set_meta("analysed_at", run_at)
        # last: a failure here abandons the whole run (the store is left as it was)
        before = _previous_settings(workspace)
        changes = settings_changes(before, settings)
        workspace.appdb.save_can_history(
            identity.history.to_dict("records"), settings.to_json(), actor=actor,
            fields=[name for name, _, _ in changes],
            detail=run_detail(via, changes, identity, first=before is None))
        workspace.appdb.save_version(
            at=run_at, actor=actor, via=via, settings=settings.to_json(),
            snapshot=version_snapshot(report, workspace, method), draft_id=draft_id)


def version_snapshot(report: AnalysisReport, workspace: Workspace, method: str) -> dict:
    """What a version's decision record needs (:func:`mapper.analysis.selections.selection_of`)
    and the run's context: study area, method, need measure, notes, unavailable measures."""
    meta = workspace.meta()
    return selection_of(report.wards, report.neighbourhoods, report.settings.to_json()) | {
        "study_area": meta.get("study_area", ""),
        "synthetic": meta.get("synthetic", "").lower() == "yes",
        "method": method, "need_measure": report.need_measure,
        "notes": other_notes(report), "unavailable": report.unavailable}


def _can_layers(report: AnalysisReport, wards):
    """The ward_summary and neighbourhoods layers (with geometry) of a run."""
    ward_summary = gpd.GeoDataFrame(
        report.wards.reset_index(), geometry=wards.set_index("ward_code").geometry.reindex(
            report.wards.index).to_numpy(), crs=wards.crs)
    cans = report.neighbourhoods
    if len(cans):
        shapes = ward_summary.dropna(subset=["can_id"]).dissolve(by="can_id")[["geometry"]]
        neighbourhoods = gpd.GeoDataFrame(cans.join(shapes).reset_index(), geometry="geometry",
                                          crs=wards.crs)
    else:
        neighbourhoods = gpd.GeoDataFrame(cans.reset_index(), geometry=gpd.GeoSeries(
            [], crs=wards.crs), crs=wards.crs)
    return ward_summary, neighbourhoods


def _can_history(workspace: Workspace) -> pd.DataFrame:
    """Every CAN id issued before (the app database); on the first run with a history,
    the CANs of the stored analysis, so that ids issued before keep their meaning."""
    rows = workspace.appdb.can_history()
    if rows:
        return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    if not workspace.has_layer("neighbourhoods"):
        return empty_history()
    stored = workspace.read_layer("neighbourhoods", read_geometry=False)
    if stored.empty or "ward_codes" not in stored:
        return empty_history()
    when = workspace.meta().get("analysed_at", "")
    names = stored["name"].fillna("").astype(str)
    counts = stored["ward_codes"].map(lambda t: len(split_codes(t)))
    return pd.DataFrame({
        "can_id": stored["can_id"].astype(str),
        "name": names.str.replace(r" and \d+ more$", "", regex=True),
        "named": [named_count(n, c) for n, c in zip(names, counts, strict=True)],
        "ward_codes": stored["ward_codes"].astype(str),
        "population": pd.to_numeric(stored["population"], errors="coerce").fillna(0.0)
        if "population" in stored else 0.0,
        "first_run": when, "last_run": when, "retired_at": "", "replaced_by": ""})


def _previous_settings(workspace: Workspace) -> Settings | None:
    """The settings of the last run recorded (None: no run yet)."""
    db = workspace.appdb
    text = (db.get_meta(LAST_SETTINGS) if db.exists() else None) \
        or workspace.meta().get("analysis_settings")
    return Settings.from_json(text) if text else None


def settings_changes(before: Settings | None, after: Settings) -> list[tuple[str, str, str]]:
    """(name, old, new) for every setting that differs from the run before (from the
    defaults on a first run), values as JSON."""
    old = json.loads((before or Settings()).to_json())
    new = json.loads(after.to_json())
    return [(name, json.dumps(old.get(name)), json.dumps(value))
            for name, value in new.items() if old.get(name) != value]


def run_detail(via: str, changes: list[tuple[str, str, str]], identity: Identity, *,
               first: bool = False) -> str:
    """The audit line of a run: how it was started, the settings changed (old -> new),
    the CANs gained, lost and changed."""
    listed = "; ".join(f"{n} {a} -> {b}" for n, a, b in changes)
    if first:
        said = "first run" + (f", settings changed from the defaults: {listed}" if changes
                              else ", default settings")
    else:
        said = f"settings changed: {listed}" if changes else "settings unchanged"
    return f"{via}: {said}. {identity.summary()}"


def other_notes(report: AnalysisReport) -> list[str]:
    """The analysis's notes other than the measures it could not compute (which pages
    list on their own, from ``unavailable_measures``)."""
    unavailable = {f"not computed: {why}" for why in report.unavailable.values()}
    return [note for note in report.notes if note not in unavailable]


def summary_lines(report: AnalysisReport) -> list[str]:
    """The analysis report as a few lines for the terminal: counts and the first CANs."""
    wards = report.wards
    lines = [f"Analysed {len(wards):,} wards in {report.seconds:.1f} s: "
             f"{int(wards['candidate'].sum()):,} candidate wards, "
             f"{len(report.neighbourhoods):,} Community Action Neighbourhoods."]
    for can_id, row in report.neighbourhoods.head(5).iterrows():
        n = int(row["wards"])
        lines.append(f"  {can_id} {row['name']}: {n} ward{'s' if n != 1 else ''}, "
                     f"{row['population']:,.0f} residents; "
                     f"{row.get('stability_label', '')}; why: "
                     f"{row.get('reasons', row['top_drivers'])}")
    if len(report.neighbourhoods) > 5:
        lines.append(f"  and {len(report.neighbourhoods) - 5:,} more (mapper serve: "
                     "Priority areas, or the neighbourhoods layer)")
    if report.identity is not None:
        lines.append(f"Since the last run: {report.identity.summary()}.")
    cov = report.coverage
    if cov:
        lines.append(f"Coverage at {report.settings.coverage_radius_m:g} m: "
                     f"{cov.get('uncovered_population', 0):,.0f} residents "
                     f"({cov.get('uncovered_share', 0):.1%}) farther from any group.")
    lines += [f"note: {n}" for n in report.notes]
    return lines
