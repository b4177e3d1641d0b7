"""One registry of the ward and area indicators: every column of ``ward_summary``.

Each :class:`Indicator` says once what a column is: its label (long, for the map's
indicator list, legends and the API schema; short, for profile tables), unit, how areas
of several wards combine it (``aggregate``), which way is worse (``direction``), the group
it is listed under, help text, what a missing value reads as, and how a value is written
(``kind``). The analysis, the maps' indicator list, the profile pages, the API schema, the
ward exports and the README's table all read it; ``tests/analysis/test_indicators.py``
fails when a column of the ward summary has no entry or the README's table misses one.

Columns that come in families (one per group category, premises type, incident type,
deprivation domain or index component) are registered by a rule (:data:`PATTERNS`, a
regular expression and the indicator it makes); every other column is listed in
:data:`INDICATORS`. :func:`indicator` resolves a column either way and raises KeyError
for one it does not know.

Adding an indicator: compute it in ``mapper/analysis/`` and write it in
``mapper/analysis_run.py``; add one :class:`Indicator` here (or a rule, for a family);
add its row to the README's indicator table (the test prints the row to paste). The map,
pages, API and exports pick it up from here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mapper.analysis.need import DEFINITIONS

#: how areas of several wards combine a column
AGGREGATES = {
    "sum": "summed over the wards",
    "population": "population-weighted mean over the wards",
    "lsoas": "mean weighted by the wards' (apportioned) LSOAs",
    "any": "true when true for any ward",
    "none": "not combined: a ward's own value (ranks and per-ward results)",
}
#: which way a higher value points
DIRECTIONS = ("higher is worse", "higher is better", "neutral")
#: how values are written (see :func:`format_value`)
KINDS = ("index", "score", "share", "rate", "count", "distance", "area", "rank", "number",
         "flag", "text")
#: the groups of the maps' indicator list, in order; then the columns not offered on maps
GROUPS = (
    "Priority",
    "Deprivation (English Indices of Deprivation)",
    "Deprivation domains",
    "Community assets",
    "Incidents",
    "Coverage",
    "People and places",
    "Identity and flags",
)
#: the text a missing value reads as, unless an indicator says otherwise
NO_DATA = "no data"


@dataclass(frozen=True)
class Indicator:
    """One column of the ward summary and how every consumer reads it."""

    column: str
    label: str  # long label: the map's indicator list, legends, API schema, exports
    short: str  # short label: profile tables, key figures
    kind: str  # how a value is written: one of KINDS
    aggregate: str  # one of AGGREGATES
    direction: str  # one of DIRECTIONS
    group: str  # one of GROUPS
    unit: str = ""
    help: str = ""
    missing: str = NO_DATA
    on_map: bool = True  # offered in the maps' indicator list (numeric columns only)

    def __post_init__(self) -> None:
        for name, allowed in (("kind", KINDS), ("aggregate", AGGREGATES),
                              ("direction", DIRECTIONS), ("group", GROUPS)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"indicator {self.column!r}: {name} {value!r} is not one of "
                                 f"{', '.join(allowed)}")

    @property
    def description(self) -> str:
        """Label, unit, direction and help in one sentence (API schema, exports)."""
        parts = [self.label]
        if self.unit:
            parts.append(f"unit: {self.unit}")
        if self.direction != "neutral":
            parts.append(self.direction)
        text = "; ".join(parts)
        return f"{text}. {self.help}" if self.help else f"{text}."


_UNITS = {"rate": "per 1,000 residents", "distance": "metres", "area": "km²",
          "share": "share 0-1", "index": "robust standard deviations (0 = median ward)",
          "count": "count", "rank": "rank"}


def _make(column: str, label: str, short: str, kind: str, aggregate: str, direction: str,
          group: str, help: str = "", **extra) -> Indicator:
    return Indicator(column, label, short, kind, aggregate, direction, group,
                     unit=extra.pop("unit", _UNITS.get(kind, "")), help=help, **extra)


P, DEP, DOM, AST, INC, COV, PPL, IDN = GROUPS
W, B, N = DIRECTIONS
_SMOOTHED = ("small counts pulled toward the borough's rate (empirical Bayes); the rate the "
             "unmet-need index uses")

#: every column of the ward summary not covered by a rule of :data:`PATTERNS`
INDICATORS: dict[str, Indicator] = {i.column: i for i in (
    # -- identity and flags (not offered on maps)
    _make("ward_code", "Ward code (GSS)", "Ward code", "text", "none", N, IDN, on_map=False),
    _make("ward_name", "Ward name", "Ward", "text", "none", N, IDN, on_map=False),
    _make("borough_code", "Borough (district) code (GSS)", "Borough code", "text", "none", N,
          IDN, on_map=False),
    _make("borough_name", "Borough (district) name", "Borough", "text", "none", N, IDN,
          on_map=False),
    _make("can_id", "Community Action Neighbourhood the ward belongs to", "CAN", "text",
          "none", N, IDN, missing="not in a CAN", on_map=False),
    _make("candidate", "Candidate ward for a CAN", "Candidate", "flag", "any", N, IDN,
          "its unmet-need index is in the top share and it passes the CAN conditions",
          on_map=False),
    _make("incomplete", "Index computed with a component missing", "Incomplete", "flag",
          "any", N, IDN, "a missing component counts as the median ward's", on_map=False),
    _make("unreliable", "Figures to read with care", "Read with care", "flag", "any", N, IDN,
          "few residents, a rate smoothing moved far, or a capped component", on_map=False),
    _make("unreliable_reason", "Why the figures need care", "Why", "text", "none", N, IDN,
          missing="", on_map=False),
    _make("spike", "Incident spike in the recent months", "Spike", "flag", "any", W, INC,
          "at least 5 recent incidents, ratio 1.5 or more and a one-sided Poisson p < 0.01",
          on_map=False),
    _make("spike_p", "Incident spike test p-value", "Spike p", "number", "none", N, INC,
          "one-sided Poisson test of the recent months against the baseline", on_map=False),
    # -- priority
    _make("unmet_need", "Unmet-need index (higher = more unmet need)", "Unmet-need index",
          "index", "population", W, P,
          "in robust standard deviations from the study area's median ward (0 = the median "
          "ward); higher = more unmet need (need, low supply, incidents)"),
    _make("unmet_need_rank", "Rank on the unmet-need index (1 = most unmet need)",
          "Unmet-need rank", "rank", "none", N, P),
    _make("stability", "Stability: share of re-runs with other weights and thresholds in "
          "which the ward stays a candidate", "Stability", "share", "population", B, P),
    # -- deprivation
    _make("imd_score", "IMD score: Index of Multiple Deprivation (higher = more deprived)",
          "IMD average score", "score", "population", W, DEP, DEFINITIONS["imd_score"],
          unit="IMD score"),
    _make("imd_avg_rank", "IMD average rank (MHCLG: higher = more deprived)",
          "IMD average rank", "rank", "population", W, DEP, DEFINITIONS["imd_avg_rank"],
          unit="national rank turned round (32,844 = most deprived)"),
    _make("imd_extent", "IMD extent: share of residents in the most deprived 30% of areas",
          "IMD extent", "share", "population", W, DEP, DEFINITIONS["imd_extent"]),
    _make("imd_local_concentration", "IMD local concentration (MHCLG: higher = more "
          "deprived)", "IMD local concentration", "rank", "none", W, DEP,
          DEFINITIONS["imd_local_concentration"] + " (computed for several wards together "
          "from their small areas: it does not average across wards)",
          unit="national rank turned round (32,844 = most deprived)"),
    _make("imd_most_deprived_10_share", "Share of areas in the most deprived 10% in England",
          "In the most deprived 10 %", "share", "lsoas", W, DEP,
          DEFINITIONS["imd_most_deprived_10_share"]),
    _make("imd_most_deprived_20_share", "Share of areas in the most deprived 20% in England",
          "In the most deprived 20 %", "share", "lsoas", W, DEP,
          DEFINITIONS["imd_most_deprived_20_share"]),
    _make("income_scale", "Income scale: people income deprived", "Income scale", "count",
          "sum", W, DEP, DEFINITIONS["income_scale"], unit="people"),
    _make("employment_scale", "Employment scale: people employment deprived",
          "Employment scale", "count", "sum", W, DEP, DEFINITIONS["employment_scale"],
          unit="people"),
    _make("imd_rank_in_area", "IMD rank in the study area (1 = most deprived)",
          "IMD rank in the study area", "rank", "none", N, DEP),
    # -- assets
    _make("groups_total", "VCS groups", "VCS groups", "count", "sum", B, AST,
          "likely duplicates counted once"),
    _make("groups_total_per_1000", "VCS groups per 1,000 residents",
          "VCS groups per 1,000 residents", "rate", "population", B, AST,
          "likely duplicates counted once"),
    _make("groups_total_per_1000_eb", "VCS groups per 1,000 residents, small counts "
          "smoothed toward the borough's rate (used in the index)",
          "VCS groups per 1,000 residents, smoothed", "rate", "population", B, AST,
          _SMOOTHED),
    _make("premises_total", "Community premises", "Community premises", "count", "sum", B,
          AST),
    _make("premises_total_per_1000", "Community premises per 1,000 residents",
          "Premises per 1,000 residents", "rate", "population", B, AST),
    _make("mean_distance_any_m", "Average distance from home to the nearest VCS group (m)",
          "Distance to the nearest group", "distance", "population", W, AST,
          "straight line from where residents live (postcode centroids)"),
    # -- incidents
    _make("incidents", "Incidents counted (the types and months that cover the ward)",
          "Incidents counted", "count", "sum", W, INC,
          "only the incident types and months that cover the area (see Incident trend)"),
    _make("incident_months", "Months of incidents counted", "Months counted", "count",
          "none", N, INC, "the months of the window its incident sources cover",
          unit="months"),
    _make("incidents_per_1000", "Incidents a month per 1,000 residents",
          "Incidents a month per 1,000 residents", "rate", "population", W, INC,
          "incidents / months counted / residents x 1,000", unit="a month per 1,000 residents"),
    _make("incidents_per_1000_eb", "Incidents a month per 1,000 residents, small counts "
          "smoothed toward the borough's rate (used in the index)",
          "Incidents a month per 1,000 residents, smoothed", "rate", "population", W, INC,
          _SMOOTHED, unit="a month per 1,000 residents"),
    _make("trend_recent_period", "Recent months of the incident trend", "Recent months",
          "text", "none", N, INC, "the months covered where the ward is (YYYY-MM to YYYY-MM)",
          on_map=False),
    _make("trend_baseline_period", "Baseline months of the incident trend",
          "Baseline months", "text", "none", N, INC,
          "the months covered where the ward is (YYYY-MM to YYYY-MM)", on_map=False),
    _make("recent_mean", "Incidents per month, recent months", "Recent incidents a month",
          "number", "sum", W, INC, unit="incidents a month"),
    _make("baseline_mean", "Incidents per month, baseline months",
          "Baseline incidents a month", "number", "sum", N, INC, unit="incidents a month"),
    _make("trend_ratio", "Incident trend: recent against baseline (1 = no change)",
          "Incident trend", "number", "none", W, INC, unit="ratio"),
    # -- coverage
    _make("uncovered_share", "Share of residents beyond the coverage radius of any group",
          "Residents beyond walking distance of any group", "share", "population", W, COV),
    _make("uncovered_population", "Residents beyond the coverage radius of any group",
          "Residents beyond the coverage radius", "count", "sum", W, COV),
    _make("uncovered_area_km2", "Area beyond the coverage radius of any group (km²)",
          "Area beyond the coverage radius", "area", "sum", W, COV),
    _make("uncovered_area_share", "Share of the area beyond the coverage radius",
          "Share of the area beyond the coverage radius", "share", "none", W, COV),
    _make("gap_rank", "Coverage gap rank among high-need wards (1 = most uncovered "
          "residents)", "Coverage gap rank", "rank", "none", N, COV),
    # -- people and places
    _make("population", "Residents", "Residents", "count", "sum", N, PPL,
          unit="residents"),
    _make("area_km2", "Area (km²)", "Area", "area", "sum", N, PPL),
    _make("lsoas", "LSOAs sharing residents with the ward", "LSOAs", "count", "sum", N, PPL,
          "apportioned: an LSOA shared between wards counts its share"),
)}

#: the IoD domain scores' names (others get one from their column)
DOMAIN_LABELS = {
    "income": "Income",
    "employment": "Employment",
    "education": "Education, skills and training",
    "health": "Health and disability",
    "crime": "Crime",
    "barriers": "Barriers to housing and services",
    "living_environment": "Living environment",
    "idaci": "Income deprivation affecting children (IDACI)",
    "idaopi": "Income deprivation affecting older people (IDAOPI)",
}
#: domain scores that are proportions of people (income-deprived, ...): written as a share
SHARE_DOMAINS = frozenset({"income", "employment", "idaci", "idaopi"})

#: the unmet-need index's components, as "why chosen" and the pages name them
COMPONENTS = {
    "need": "deprivation (IMD score)",
    "supply": "few VCS groups for the population",
    "incidents": "incident pressure",
}
#: need's driver label when the index measured need by the IMD average rank (deprivation
#: data with ranks but no scores)
NEED_BY_RANK = "deprivation (IMD average rank)"
_COMPONENT_NAMES = {"need": "deprivation", "supply": "few VCS groups",
                    "incidents": "incidents"}


def driver_label(component: str, *, need_by_rank: bool = False) -> str:
    """How a component of the unmet-need index reads as a driver ('incident pressure');
    need names the measure the index used (`need_by_rank`: the IMD average rank)."""
    if component == "need" and need_by_rank:
        return NEED_BY_RANK
    return COMPONENTS.get(component, component.replace("_", " "))


def _words(text: str) -> str:
    return text.replace("_", " ")


def _domain(m: re.Match) -> Indicator:
    name = m["name"]
    label = DOMAIN_LABELS.get(name) or _words(name)[:1].upper() + _words(name)[1:]
    share = name in SHARE_DOMAINS
    return _make(m.string, f"{label} deprivation score" if name not in DOMAIN_LABELS
                 else f"{label} score", label, "share" if share else "score", "population",
                 W, DOM, "IoD domain score, population-weighted; higher = more deprived",
                 unit="share of residents" if share else "IoD domain score")


def _per_1000(register: str, noun: str) -> Callable[[re.Match], Indicator]:
    def make(m: re.Match) -> Indicator:
        what = noun.format(_words(m["name"]))
        what = what[:1].upper() + what[1:]
        return _make(m.string, f"{what} per 1,000 residents", f"{what} per 1,000 residents",
                     "rate", "population", B, AST, f"{register} per 1,000 residents")
    return make


def _count(noun: str, group: str, direction: str) -> Callable[[re.Match], Indicator]:
    def make(m: re.Match) -> Indicator:
        what = noun.format(_words(m["name"]))
        what = what[:1].upper() + what[1:]
        return _make(m.string, what, what, "count", "sum", direction, group)
    return make


def _distance(m: re.Match) -> Indicator:
    what = f"Average distance to the nearest {_words(m['name'])} group"
    return _make(m.string, f"{what} (m)", what, "distance", "population", W, AST,
                 "straight line from where residents live (postcode centroids)")


def _z(m: re.Match) -> Indicator:
    name = m["name"]
    return _make(m.string, f"Standardised {_words(name)} (robust z-score, capped at 3)",
                 f"Standardised {_words(name)}", "index", "population", N, P,
                 "(value - the median ward's) / robust standard deviation, capped at +/-3")


def _contrib(m: re.Match) -> Indicator:
    name = m["name"]
    what = _COMPONENT_NAMES.get(name, _words(name))
    return _make(m.string, f"Unmet need from {what} (contribution to the index)",
                 f"Unmet need from {what}", "index", "population", W, P,
                 f"weight x direction x capped robust z-score of {_words(name)}")


_NAME = r"(?P<name>[a-z0-9_]+?)"
#: families of columns: (pattern, its README form, its README label, the indicator a match
#: makes); first match wins, so the more specific patterns come first
PATTERNS: tuple[tuple[re.Pattern, str, str, Callable[[re.Match], Indicator]], ...] = (
    (re.compile(rf"groups_{_NAME}_per_1000"), "groups_<category>_per_1000",
     "VCS groups of a category per 1,000 residents",
     _per_1000("VCS groups of the category", "{} groups")),
    (re.compile(rf"premises_{_NAME}_per_1000"), "premises_<type>_per_1000",
     "Community premises of a type per 1,000 residents",
     _per_1000("community premises of the type", "Premises: {}")),
    (re.compile(rf"mean_distance_{_NAME}_m"), "mean_distance_<category>_m",
     "Average distance to the nearest group of a category", _distance),
    (re.compile(rf"groups_{_NAME}"), "groups_<category>", "VCS groups of a category",
     _count("{} groups", AST, B)),
    (re.compile(rf"premises_{_NAME}"), "premises_<type>", "Community premises of a type",
     _count("Premises: {}", AST, B)),
    (re.compile(rf"incidents_{_NAME}"), "incidents_<type>", "Incidents of a type",
     _count("Incidents: {}", INC, W)),
    (re.compile(rf"z_{_NAME}"), "z_<component>",
     "Standardised component of the index (robust z-score, capped at 3)", _z),
    (re.compile(rf"contrib_{_NAME}"), "contrib_<component>",
     "A component's contribution to the unmet-need index", _contrib),
    (re.compile(rf"{_NAME}_score"), "<domain>_score", "IoD domain score", _domain),
)


def indicator(column: str) -> Indicator:
    """The registry's entry for `column`; KeyError naming it when there is none."""
    found = INDICATORS.get(column)
    if found is not None:
        return found
    for pattern, _, _, make in PATTERNS:
        match = pattern.fullmatch(column)
        if match:
            return make(match)
    raise KeyError(f"ward summary column {column!r} has no entry in the indicator registry "
                   "(mapper/analysis/indicators.py): add one to INDICATORS or a rule to "
                   "PATTERNS")


def known(column: str) -> bool:
    """Whether the registry resolves `column`."""
    try:
        indicator(column)
    except KeyError:
        return False
    return True


def unregistered(columns: Iterable[str]) -> list[str]:
    """The columns (geometry aside) the registry does not resolve."""
    return [c for c in columns if c != "geometry" and not known(str(c))]


def resolve(column: str) -> Indicator:
    """:func:`indicator`, or a neutral numeric entry for a column it does not know (a
    consumer never fails on a new column; the registry test does)."""
    try:
        return indicator(column)
    except KeyError:
        words = _words(column)
        return Indicator(column, words[:1].upper() + words[1:], words, "number", "none", N,
                         PPL)


def label(column: str) -> str:
    """The display label of an indicator column."""
    return resolve(column).label


def kind(column: str) -> str:
    """The kind of an indicator column (how its values are formatted and compared)."""
    return resolve(column).kind


def grouped(columns: Iterable[str]) -> list[tuple[str, list[Indicator]]]:
    """`columns` as (group, [indicator, ...]) in :data:`GROUPS` order, each group in the
    order the columns came."""
    out: dict[str, list[Indicator]] = {g: [] for g in GROUPS}
    for column in columns:
        entry = resolve(str(column))
        out[entry.group].append(entry)
    return [(g, items) for g, items in out.items() if items]


def readme_rows() -> list[str]:
    """The README's indicator table rows, one per entry of :func:`dictionary`."""
    return [_row(entry.column, entry.short, entry) for entry in dictionary()]


def dictionary() -> list[Indicator]:
    """Every entry of :data:`INDICATORS`, then one per rule of :data:`PATTERNS` (its column
    written with a placeholder, e.g. ``groups_<category>``)."""
    out = list(INDICATORS.values())
    for pattern, form, text, make in PATTERNS:
        out.append(replace(make(_example(pattern)), column=form, label=text, short=text))
    return out


def _example(pattern: re.Pattern) -> re.Match:
    """A match of a rule's pattern, standing for the whole family."""
    match = pattern.fullmatch(pattern.pattern.replace(_NAME, "example"))
    if match is None:
        raise ValueError(f"the indicator pattern {pattern.pattern!r} does not match its example")
    return match


def _row(column: str, text: str, entry: Indicator) -> str:
    return (f"| `{column}` | {entry.group} | {text} | {entry.unit or '-'} | "
            f"{entry.aggregate} | {entry.direction} |")


# -- combining wards into an area ------------------------------------------------------


def weighted_mean(frame: pd.DataFrame, column: str, weight: str = "population") -> float:
    """Mean of `column` over the rows of `frame` weighted by `weight` (rows missing either,
    or with no weight, skipped); NaN when none is left."""
    if column not in frame.columns or weight not in frame.columns:
        return float("nan")
    values, weights = _floats(frame[column]), _floats(frame[weight])
    usable = ~np.isnan(values) & ~np.isnan(weights) & (weights > 0)
    if not usable.any():
        return float("nan")
    return float((values[usable] * weights[usable]).sum() / weights[usable].sum())


def _floats(series: pd.Series) -> np.ndarray:
    """A column as float64 numbers, NaN where it holds none (in numpy: a ward page
    combines dozens of columns, and pandas' per-call cost was most of the time)."""
    if not pd.api.types.is_numeric_dtype(series.dtype):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype="float64", na_value=np.nan)


def combine(frame: pd.DataFrame, column: str, how: str | None = None) -> float:
    """`column` over the wards (rows) of `frame`, by the registry's ``aggregate`` (or
    `how`): summed, population- or LSOA-weighted, any, or (``none``) a single ward's own
    value. NaN when the column is absent or has no value."""
    if column not in frame.columns:
        return float("nan")
    how = how or resolve(column).aggregate
    if how == "weighted":  # the profile pages' older name
        how = "population"
    values = pd.to_numeric(frame[column], errors="coerce")
    if how == "sum":
        return float(values.sum()) if values.notna().any() else float("nan")
    if how == "any":
        return float(values.fillna(0).astype(bool).any()) if len(values) else float("nan")
    if how == "none":
        return float(values.iloc[0]) if len(values) == 1 else float("nan")
    if how == "lsoas" and "lsoas" in frame.columns:
        return weighted_mean(frame, column, "lsoas")
    return weighted_mean(frame, column)


# -- writing values --------------------------------------------------------------------


def format_value(value, kind_or_column: str, *, missing: str | None = None) -> str:
    """`value` written for people, by a kind of :data:`KINDS` or a column's kind: the one
    number formatter of pages, maps, exports and the CLI. A missing value reads as
    `missing` when given (a table's '–'), else the indicator's ``missing`` text ('no
    data')."""
    entry = None if kind_or_column in KINDS else resolve(kind_or_column)
    kind_ = entry.kind if entry else kind_or_column
    missing_text = missing if missing is not None else (entry.missing if entry else NO_DATA)
    if value is None or value is pd.NA:
        return missing_text
    if kind_ == "text":
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return missing_text
    if kind_ == "flag":
        return "yes" if number else "no"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if kind_ == "share":
        return f"{number:.0%}" if abs(number) >= 0.1 or number == 0 else f"{number:.1%}"
    if kind_ in ("count", "rank"):
        return f"{number:,.0f}"
    if kind_ == "distance":
        return f"{number:,.0f} m"
    if kind_ == "area":
        return f"{number:,.2f} km²"
    if kind_ == "index":
        return f"{number:+.2f}" if number else "0.00"
    if kind_ == "score":
        return f"{number:,.1f}"
    if kind_ == "rate":
        return f"{number:,.2f}"
    return f"{number:,.3g}" if abs(number) < 1000 else f"{number:,.0f}"


def schema_properties(columns: Iterable[str] | None = None) -> dict[str, dict]:
    """JSON-schema properties of ward summary columns (default: every listed entry), each
    with its type and the registry's description."""
    out = {}
    for column in columns if columns is not None else INDICATORS:
        entry = resolve(str(column))
        json_type = {"text": "string", "flag": "boolean"}.get(entry.kind, "number")
        out[entry.column] = {"type": [json_type, "null"], "description": entry.description}
    return out


def schema_patterns() -> dict[str, dict]:
    """JSON-schema patternProperties for the families of :data:`PATTERNS`."""
    out = {}
    for pattern, form, text, make in PATTERNS:
        entry = replace(make(_example(pattern)), column=form, label=text)
        out[f"^{pattern.pattern.replace(_NAME, '[a-z0-9_]+')}$"] = {
            "type": ["number", "null"], "description": f"{form}: {entry.description}"}
    return out
