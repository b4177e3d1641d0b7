"""``python -m bench [--quick] [--only GROUP ...]``: run the benchmarks and write the report.

Writes ``bench/results/latest.jsonl`` (one JSON object per case) and
``bench/results/latest.md`` (the table, also printed). Exits 1 when a correctness check
failed or a case crashed; missed targets are reported but do not change the exit status.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.core import RESULTS_DIR, log, machine, write_report
from bench.runner import GROUPS, run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark cases and write the report; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (for CI, under two minutes)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="+", choices=GROUPS, metavar="GROUP",
                        help=f"run only these case groups: {', '.join(GROUPS)}")
    parser.add_argument("--seed", type=int, default=20240607, help="data generator seed")
    parser.add_argument("--grid", default="london:1e5,1e6",
                        help="with --only scale: the areas and incident counts to build, e.g. "
                        "'london:1e5,1e6 quarter:1e6 england:1e5,1e6,5e6,1.2e7', or 'all'")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR,
                        help=f"directory for latest.jsonl and latest.md (default {RESULTS_DIR})")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    info = machine()
    log(f"benchmark ({mode}) on {info['cpu_count']} cores, Python {info['python']}")
    start = time.perf_counter()
    results = run(mode, only=set(args.only) if args.only else None, seed=args.seed,
                  grid=args.grid)
    info["wall_s"] = round(time.perf_counter() - start, 1)
    jsonl, md, text = write_report(results, info, mode=mode, directory=args.out)
    print(text)
    if any("scale" in r.extra for r in results):
        from bench.cases_scale import table

        scale_md = args.out / "scale.md"
        scale_md.write_text(table(results), encoding="utf-8")
        log(f"wrote {scale_md}")
    failed = [r for r in results if r.failed]
    missed = [c for r in results for c in r.comparisons if c.met is False]
    log(f"{len(results)} cases in {info['wall_s']} s: {len(failed)} FAILED, "
        f"{sum(r.status == 'SKIPPED' for r in results)} skipped, {len(missed)} targets not met")
    log(f"wrote {jsonl} and {md}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
