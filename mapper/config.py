"""Analysis settings: one frozen dataclass, every field with a default and help text.

The settings that produced an analysis are stored with it in the workspace
(``mapper_meta`` key ``analysis_settings``), printed by ``mapper info`` and changed with
``mapper analyse --set NAME=VALUE``. A test checks that every setting is documented in
README.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

from mapper.errors import MapperError


def _setting(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class Settings:
    """The analysis settings: every field has a default, a help text and its allowed values."""

    apportionment: str = _setting(
        "dasymetric", "how LSOAs that straddle ward boundaries are shared between wards: "
        "dasymetric (by postcode centroids, where people live), areal or bestfit (the ONS "
        "lookup)", choices=("dasymetric", "areal", "bestfit"))
    weight_need: float = _setting(
        0.5, "weight of need (the ward's IMD score; its IMD average rank, MHCLG's: higher = more "
        "deprived, when the deprivation data has no scores) in the unmet-need index")
    weight_supply: float = _setting(
        0.3, "weight of low asset supply (fewer VCS groups per 1,000 residents, smoothed "
        "toward the borough's rate) in the index")
    weight_incidents: float = _setting(
        0.2, "weight of incident pressure (incidents per 1,000 residents, smoothed toward the "
        "borough's rate) in the index")
    can_top_share: float = _setting(
        0.2, "a ward can join a CAN when its unmet-need index is in this top share of wards "
        "(0-1)")
    can_supply_below_median: bool = _setting(
        True, "and, when true, only if its groups per 1,000 residents (smoothed) are below "
        "the median")
    can_max_imd_decile: int = _setting(
        0, "and, when above 0, only if its average IMD rank lies in this national decile or "
        "a more deprived one (1 = most deprived 10 %)")
    can_min_population: int = _setting(
        5_000, "CANs with fewer residents than this are dropped")
    can_max_population: int = _setting(
        60_000, "CANs with more residents are split by removing their lowest-need wards "
        "(0 = no upper bound)")
    can_split: str = _setting(
        "trim", "how a cluster above can_max_population is split: trim (remove its "
        "lowest-need wards until it fits) or balanced (a SKATER-style regionalisation into "
        "contiguous parts of balanced population, keeping every ward)",
        choices=("trim", "balanced"))
    can_cross_borough: bool = _setting(
        False, "whether a CAN may take in wards of neighbouring boroughs")
    stability_draws: int = _setting(
        200, "re-runs of the stability check (each weight moved by up to +/- the spread, "
        "the share of wards considered by up to half of it)")
    stability_spread: float = _setting(
        1.0, "how far each weight moves in the stability check (1 = anywhere from 0 to "
        "double; the share of wards considered moves by half as much)")
    coverage_radius_m: float = _setting(
        800.0, "coverage radius in metres (800 m is about ten minutes' walk)")
    coverage_category: str = _setting(
        "", "group category the coverage analysis looks at ('' = any group)")
    incident_months: int = _setting(
        12, "incident window: the last N months of each district's incident data, ending "
        "at the last month its sources cover (0 = all months)")
    incident_types: str = _setting(
        "", "incident types counted by rates, trends and the index, ';'-separated names "
        "of the vocabulary in mapper/mappings/incident_types.csv, e.g. 'Burglary;Robbery' "
        "('' = every type that each district with incident data has in its window)")
    trend_recent_months: int = _setting(
        3, "months compared against the baseline in the incident trend")
    trend_baseline_months: int = _setting(12, "baseline months of the incident trend")

    def weights(self) -> dict[str, float]:
        return {"need": self.weight_need, "supply": self.weight_supply,
                "incidents": self.weight_incidents}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Settings:
        if not text:
            return cls()
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def updated(self, assignments: list[str]) -> Settings:
        """Apply ``NAME=VALUE`` strings, checking names, types, ranges and choices."""
        by_name = {f.name: f for f in fields(self)}
        changes, problems = {}, []
        for text in assignments:
            name, sep, raw = text.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in by_name:
                problems.append(f"'{text}': unknown setting; settings are "
                                f"{', '.join(by_name)}")
                continue
            try:
                changes[name] = _parse(by_name[name], raw.strip())
            except ValueError as exc:
                problems.append(f"'{text}': {exc}")
        if problems:
            raise MapperError("bad setting:\n  - " + "\n  - ".join(problems))
        new = replace(self, **changes)
        new.check()
        return new

    def check(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{f.name} must be a finite number (got {value!r})")
        if problems:  # NaN compares false with everything: the checks below would pass it
            raise MapperError("bad settings: " + "; ".join(problems))
        for names, allowed, rule in _RANGES:
            problems += [f"{name} {rule}" for name in names if not allowed(getattr(self, name))]
        if sum(self.weights().values()) <= 0:
            problems.append("at least one weight must be above 0")
        if self.can_max_population and self.can_max_population < self.can_min_population:
            problems.append("can_max_population must be 0 or at least can_min_population")
        if problems:
            raise MapperError("bad settings: " + "; ".join(problems))


#: (settings, test of a value, what the test asks) for :meth:`Settings.check`
_RANGES: tuple[tuple[tuple[str, ...], Callable[[float], bool], str], ...] = (
    (("weight_need", "weight_supply", "weight_incidents", "can_min_population",
      "can_max_population", "incident_months"), lambda v: v >= 0, "must be 0 or more"),
    (("can_top_share",), lambda v: 0 < v <= 1, "must be above 0 and at most 1"),
    (("can_max_imd_decile",), lambda v: 0 <= v <= 10, "must be from 0 to 10"),
    (("stability_draws",), lambda v: v >= 1, "must be a whole number of 1 or more"),
    (("stability_spread",), lambda v: 0 <= v <= 1, "must be from 0 to 1"),
    (("trend_recent_months", "trend_baseline_months"), lambda v: v >= 1, "must be 1 or more"),
    (("coverage_radius_m",), lambda v: v > 0, "must be above 0"),
)


def _parse(f, raw: str):
    kind = type(f.default)
    if kind is bool:
        if raw.lower() in ("true", "yes", "1", "on"):
            return True
        if raw.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError("expected true or false")
    if kind in (int, float):
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"expected {'a whole number' if kind is int else 'a number'}") \
                from None
        if not math.isfinite(value):
            raise ValueError("expected a number (not NaN or infinity)")
        return value
    choices = f.metadata.get("choices")
    if choices and raw not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}")
    return raw


def describe() -> list[tuple[str, object, str]]:
    """(name, default, help) for every setting, for help text and README."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(Settings)]
