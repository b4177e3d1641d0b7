"""Timing, results and the report: what every case shares.

A case returns a :class:`Result`: the seconds of the project's own code path, one or more
:class:`Comparison` rows (each a baseline measured in the same run, the ratio, its target
and whether it was met), and a correctness :class:`Check`. A failed check fails the run;
a missed target is only reported.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Comparison:
    """One ratio against a baseline measured in the same run.

    ``ratio`` is computed as stated in ``ratio_is``; the target is met when
    ``ratio <op> target`` (``op`` is ">=" or "<=").
    """

    baseline: str
    baseline_value: float
    ours_value: float
    ratio: float
    ratio_is: str
    op: str | None = None
    target: float | None = None
    unit: str = "s"
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.op is None or self.target is None or not math.isfinite(self.ratio):
            return None
        return self.ratio >= self.target if self.op == ">=" else self.ratio <= self.target

    def as_dict(self) -> dict:
        return asdict(self) | {"met": self.met}


def speedup(baseline: str, baseline_s: float, ours_s: float, target: float | None = None,
            note: str = "") -> Comparison:
    """baseline seconds / our seconds (higher is better), target as ">= target"."""
    return Comparison(baseline, baseline_s, ours_s, _div(baseline_s, ours_s),
                      "baseline time / our time (speed-up)", ">=" if target else None,
                      target, note=note)


def slowdown(baseline: str, baseline_s: float, ours_s: float, target: float | None = None,
             note: str = "") -> Comparison:
    """our seconds / baseline seconds (lower is better), target as "<= target"."""
    return Comparison(baseline, baseline_s, ours_s, _div(ours_s, baseline_s),
                      "our time / baseline time", "<=" if target is not None else None,
                      target, note=note)


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


@dataclass
class Check:
    """Whether a case's answer was right, and why."""

    passed: bool
    detail: str


@dataclass
class Result:
    """One benchmark case's timing, comparisons and checks."""

    case: str
    size: str
    ours: str = ""
    seconds: float | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    check: Check | None = None
    status: str = "ok"  # ok, FAILED (check failed or the case raised), SKIPPED
    reason: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"

    def finish(self) -> Result:
        if self.check is not None and not self.check.passed and self.status == "ok":
            self.status = "FAILED"
            self.reason = self.reason or self.check.detail
        return self

    def as_dict(self) -> dict:
        out = asdict(self)
        out["comparisons"] = [c.as_dict() for c in self.comparisons]
        return out


def best_of(func: Callable[[], object], repeat: int = 3, *, budget_s: float | None = None
            ) -> tuple[float, object]:
    """The shortest of `repeat` timed calls (seconds) and the last call's value.

    With `budget_s`, stop repeating once the calls so far have taken that long.
    """
    best, value, spent = math.inf, None, 0.0
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        value = func()
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
        if budget_s is not None and spent >= budget_s:
            break
    return best, value


def machine() -> dict:
    """The machine the benchmark ran on: date, cores, Python and platform."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


# -- the report ----------------------------------------------------------------------------


def _num(value: float | None, unit: str = "s") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "s":
        if value >= 100:
            return f"{value:,.0f} s"
        if value >= 1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.1f} ms"
        return f"{value * 1e6:.0f} µs"
    if unit == "B":
        return f"{value / 1e6:.2f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    return f"{value:,.3g} {unit}".strip()


def _ratio(value: float) -> str:
    if not math.isfinite(value):
        return "∞"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def markdown(results: list[Result], info: dict, *, mode: str) -> str:
    """The results as a Markdown table with the machine and mode."""
    lines = [
        f"Benchmark ({mode}) run {info['date']} on {info['cpu_count']} cores, "
        f"Python {info['python']} ({info['platform']}).",
        "",
        "| case | size | ours | baseline | baseline value | ratio | target | met | check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        check = ("FAILED: " + r.reason if r.failed else
                 "skipped: " + r.reason if r.status == "SKIPPED" else
                 "pass" if r.check and r.check.passed else "–")
        check = check.replace("|", "\\|")
        rows = r.comparisons or [None]
        for i, c in enumerate(rows):
            if c is None:
                lines.append(f"| {r.case} | {r.size} | {_num(r.seconds)} | – | – | – | – | – "
                             f"| {check} |")
                continue
            target = f"{c.op} {c.target:g}" if c.op else "–"
            met = {True: "met", False: "**NOT MET**", None: "–"}[c.met]
            ours = _num(c.ours_value, c.unit)
            lines.append(
                f"| {r.case if i == 0 else ''} | {r.size if i == 0 else ''} | {ours} "
                f"| {c.baseline} | {_num(c.baseline_value, c.unit)} | {_ratio(c.ratio)} "
                f"| {target} | {met} | {check if i == 0 else ''} |")
    lines.append("")
    lines.append("Ratios: speed-ups are baseline time / our time (higher is better); "
                 "'our time / baseline time', bytes and load-time ratios are lower-is-better; "
                 "throughput is our requests per second / the baseline's.")
    notes = [f"- {r.case} ({r.size}): {c.note}" for r in results for c in r.comparisons
             if c.note]
    notes += [f"- {r.case} ({r.size}): {r.extra['note']}" for r in results
              if r.extra.get("note")]
    if notes:
        lines += ["", "Notes:", *notes]
    checks = [f"- {r.case} ({r.size}): {r.check.detail}" for r in results if r.check]
    if checks:
        lines += ["", "Correctness checks:", *checks]
    return "\n".join(lines) + "\n"


def write_report(results: list[Result], info: dict, *, mode: str,
                 directory: Path = RESULTS_DIR) -> tuple[Path, Path, str]:
    """Write the results as JSON lines and Markdown; returns both paths and the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    jsonl = directory / "latest.jsonl"
    with jsonl.open("w", encoding="utf-8") as out:
        for r in results:
            record = _finite({"mode": mode, **info, **r.as_dict()})
            out.write(json.dumps(record, default=_json, allow_nan=False) + "\n")
    text = markdown(results, info, mode=mode)
    md = directory / "latest.md"
    md.write_text(text, encoding="utf-8")
    return jsonl, md, text


def _finite(value: object) -> object:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def log(message: str) -> None:
    """Print a progress message to stderr."""
    print(message, file=sys.stderr, flush=True)
