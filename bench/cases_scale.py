"""``mapper build`` at London size, a quarter of England and England, with 10^5 to 1.2x10^7
police.uk incidents: wall time, CPU time and peak memory of the build in a subprocess,
and how they grow (memory per extra million incidents; CPU and memory exponents in area).

The inputs are written in the real file formats the importer reads, from the seeded
synthetic areas of :mod:`bench.generate`: boundaries as GeoPackages (EPSG:27700) with a
vertex every 20 m along every edge (the spacing of ONS's generalised boundaries), the
IoD2019 File 7 CSV, an ONS LSOA-to-ward lookup, ONS mid-year population by LSOA, a
Code-Point Open postcode CSV (about 50 postcodes an LSOA: 1.7 million for England) and
police.uk street-crime CSVs, one per month and force (``2024-01/2024-01-force-3-street.csv``)
with police.uk's twelve columns, 64-hex crime ids (blank for anti-social behaviour),
about 1% of rows without a location, and LSOA codes of the LSOA each point lies in.
About half a million incidents a month (England's rate): 10^5 is one month, 1.2x10^7
two years. Forces are groups of districts (43 for England).

The files are cached in a temporary folder (``MAPPER_BENCH_CACHE`` or
``$TMPDIR/mapper-bench-scale``), never in the repository: areas once per scale,
incidents once per (scale, count).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

from bench.core import Check, Comparison, Result, log
from bench.generate import SCALES, make_areas, random_xy

#: the area sizes of the grid: London, a quarter of England (a box half England's side)
#: and England
AREA_SCALES: dict[str, dict] = {
    "london": SCALES["london"],
    "quarter": {"wards": 1_750, "lsoas": 8_250, "boroughs": 78, "side": 180_000.0,
                "origin": (330_000.0, 150_000.0)},
    "england": SCALES["england"],
    # tests/test_bench_quick.py: the same code on a tiny area
    "tiny": {"wards": 12, "lsoas": 60, "boroughs": 2, "side": 4_000.0,
             "origin": (520_000.0, 170_000.0)},
}
#: police forces per scale (England has 43; London 2: the Met and the City)
FORCES = {"london": 2, "quarter": 11, "england": 43, "tiny": 1}
INCIDENT_COUNTS = (100_000, 1_000_000, 5_000_000, 12_000_000)
#: England records about 6 million street crimes a year
PER_MONTH = 500_000
#: metres between boundary vertices (ONS's generalised, 20 m, boundaries)
VERTEX_SPACING_M = 20.0
POSTCODES_PER_LSOA = 50
NO_LOCATION_SHARE = 0.01
#: the memory target of issue 19: GB of peak memory per extra million incidents
GB_PER_MILLION_TARGET = 0.3

CRIME_TYPES = (
    ("Anti-social behaviour", 28), ("Violence and sexual offences", 30),
    ("Criminal damage and arson", 8), ("Shoplifting", 7), ("Other theft", 6),
    ("Vehicle crime", 6), ("Public order", 6), ("Burglary", 4), ("Drugs", 3),
    ("Theft from the person", 2), ("Robbery", 1), ("Bicycle theft", 1),
    ("Possession of weapons", 1), ("Other crime", 1),
)
OUTCOMES = (
    "Investigation complete; no suspect identified", "Unable to prosecute suspect",
    "Under investigation", "Status update unavailable", "Awaiting court outcome",
    "Local resolution", "Offender given a caution",
)
POLICE_COLUMNS = ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
                  "Location", "LSOA code", "LSOA name", "Crime type",
                  "Last outcome category", "Context")


def cache_dir() -> Path:
    """Where generated inputs are kept between runs (outside the repository)."""
    given = os.environ.get("MAPPER_BENCH_CACHE")
    return Path(given) if given else Path(tempfile.gettempdir()) / "mapper-bench-scale"


def _segmentize(shapes: np.ndarray) -> np.ndarray:
    return shapely.segmentize(shapes, VERTEX_SPACING_M)


def _lsoa_names(codes: np.ndarray) -> np.ndarray:
    return np.array([f"Area {c[-6:]}" for c in codes], dtype=object)


def write_areas(scale: str, directory: Path, *, seed: int) -> dict:
    """Boundaries, IoD, lookup, population and postcodes for `scale` (cached); returns
    what the incident writer needs (LSOA cells, codes, forces)."""
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / "done"
    areas = make_areas(AREA_SCALES[scale], seed=seed)
    lsoas, wards, boroughs = areas.lsoas, areas.wards, areas.boroughs
    rng = np.random.default_rng(seed + 100)
    force_of_borough = rng.integers(0, FORCES[scale], len(boroughs))
    force_of_borough[: FORCES[scale]] = np.arange(FORCES[scale])  # every force has a district
    borough_pos = pd.Index(boroughs["borough_code"]).get_indexer(lsoas["borough_code"])
    info = {"lsoas": lsoas, "force_of_lsoa": force_of_borough[borough_pos], "box": areas.box}
    if done.is_file():
        return info
    log(f"  writing {scale} areas to {directory}")
    lad = boroughs["borough_code"].to_numpy()
    lad_name = boroughs.set_index("borough_code")["borough_name"]
    ward_name = wards.set_index("ward_code")["ward_name"]
    lsoa_names = _lsoa_names(lsoas["lsoa_code"].to_numpy())
    layers = {
        "boundaries_lad.gpkg": gpd.GeoDataFrame(
            {"LAD18CD": lad, "LAD18NM": boroughs["borough_name"].to_numpy()},
            geometry=_segmentize(boroughs.geometry.to_numpy()), crs=boroughs.crs),
        "boundaries_wards.gpkg": gpd.GeoDataFrame(
            {"WD18CD": wards["ward_code"].to_numpy(), "WD18NM": wards["ward_name"].to_numpy(),
             "LAD18CD": wards["borough_code"].to_numpy(),
             "LAD18NM": wards["borough_name"].to_numpy()},
            geometry=_segmentize(wards.geometry.to_numpy()), crs=wards.crs),
        "boundaries_lsoa.gpkg": gpd.GeoDataFrame(
            {"LSOA11CD": lsoas["lsoa_code"].to_numpy(), "LSOA11NM": lsoa_names,
             "LAD11CD": lsoas["borough_code"].to_numpy(),
             "LAD11NM": lad_name.reindex(lsoas["borough_code"]).to_numpy()},
            geometry=_segmentize(lsoas.geometry.to_numpy()), crs=lsoas.crs),
    }
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, directory / name, driver="GPKG")
    _write_tables(areas, directory, lsoa_names, ward_name, lad_name, rng)
    done.write_text("ok\n")
    return info


def _write_tables(areas, directory: Path, lsoa_names, ward_name, lad_name, rng) -> None:
    from mapper import demo

    lsoas = areas.lsoas
    n = len(lsoas)
    codes = lsoas["lsoa_code"].to_numpy()
    lad = lsoas["borough_code"].to_numpy()
    people = rng.integers(1_000, 3_000, n)
    columns: dict[str, object] = dict(zip(demo.IOD_KEY_COLUMNS, [
        codes, lsoa_names, lad, lad_name.reindex(lad).to_numpy()], strict=True))
    national = demo.N_NATIONAL_LSOAS
    for _, stem, suffix in demo.IOD_DOMAINS:
        score = rng.gamma(2.0, 10.0, n) / (100.0 if suffix else 1.0)
        rank = np.ceil(pd.Series(-score).rank(method="first").to_numpy() / n * national)
        columns[f"{stem} Score{suffix}"] = np.round(score, 3)
        columns[f"{stem} {demo._RANK}"] = rank.astype(int)
        columns[f"{stem} {demo._DECILE}"] = np.ceil(rank / national * 10).astype(int)
    shares = (0.2, 0.55, 0.25, 0.6)
    columns[demo.IOD_POPULATION_COLUMNS[0]] = people
    for column, share in zip(demo.IOD_POPULATION_COLUMNS[1:], shares, strict=True):
        columns[column] = np.round(people * share).astype(int)
    pd.DataFrame(columns)[list(demo.IOD_COLUMNS)].to_csv(
        directory / "iod2019_file7.csv", index=False)
    wards = lsoas["ward_code"].to_numpy()
    pd.DataFrame({"LSOA11CD": codes, "LSOA11NM": lsoa_names, "WD18CD": wards,
                  "WD18NM": ward_name.reindex(wards).to_numpy(), "LAD18CD": lad,
                  "LAD18NM": lad_name.reindex(lad).to_numpy()}).to_csv(
        directory / "lsoa11_ward18_lookup.csv", index=False)
    total = np.rint(people * 1.03).astype(int)
    bands = np.column_stack([total * s for s in (0.2, 0.18, 0.22, 0.24)]).astype(int)
    population = pd.DataFrame({
        "LSOA11CD": codes, "LSOA11NM": lsoa_names, "LAD11CD": lad,
        "LAD11NM": lad_name.reindex(lad).to_numpy(), "Persons_All-Ages": total})
    for k, band in enumerate(demo.POPULATION_BANDS[:4]):
        population[band] = bands[:, k]
    population[demo.POPULATION_BANDS[4]] = total - bands.sum(axis=1)
    population.to_csv(directory / "lsoa_population_mid2020.csv", index=False)
    count = n * POSTCODES_PER_LSOA
    xy = np.rint(random_xy(count, areas.box, seed=int(rng.integers(1 << 30)))).astype(np.int64)
    where = _lsoa_of(xy.astype(float), lsoas.geometry.to_numpy())
    keep = where >= 0
    xy, where = xy[keep], where[keep]
    pd.DataFrame({
        "Postcode": _postcodes(len(xy)), "Positional_quality_indicator": 10,
        "Eastings": xy[:, 0], "Northings": xy[:, 1], "Admin_district_code": lad[where],
        "Admin_ward_code": wards[where]}).to_csv(directory / "codepoint_postcodes.csv",
                                                 index=False)


def _postcodes(n: int) -> np.ndarray:
    """`n` distinct valid postcodes (``AB1 2CD`` shapes)."""
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    i = np.arange(n)
    unit = np.char.add(letters[i % 20], letters[(i // 20) % 20])
    sector = ((i // 400) % 10).astype(str)
    district = ((i // 4_000) % 99 + 1).astype(str)
    area = i // 396_000
    area_letters = np.char.add(letters[(area // 20) % 20], letters[area % 20])
    return np.char.add(np.char.add(np.char.add(area_letters, district), " "),
                       np.char.add(sector, unit)).astype(object)


def _lsoa_of(xy: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Position of the LSOA cell holding each point, -1 for none (chunked)."""
    tree = shapely.STRtree(cells)
    out = np.full(len(xy), -1, dtype=np.int64)
    step = 1_000_000
    for start in range(0, len(xy), step):
        part = shapely.points(xy[start:start + step])
        pi, si = tree.query(part, predicate="intersects")
        out[start + pi[::-1]] = si[::-1]
    return out


def _months(n: int) -> list[str]:
    count = max(1, min(24, round(n / PER_MONTH)))
    start = pd.Period("2025-02", "M") - (count - 1)
    return [str(start + k) for k in range(count)]


def write_incidents(scale: str, n: int, directory: Path, info: dict, *, seed: int) -> int:
    """`n` incidents as police.uk street CSVs, one per month and force; returns the rows."""
    done = directory / "done"
    if done.is_file():
        return int(done.read_text())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    log(f"  writing {n:,} {scale} incidents to {directory}")
    rng = np.random.default_rng(seed + n)
    months = _months(n)
    lsoas = info["lsoas"]
    cells = lsoas.geometry.to_numpy()
    codes = lsoas["lsoa_code"].to_numpy()
    names = _lsoa_names(codes)
    to_lonlat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    types = np.array([t for t, _ in CRIME_TYPES], dtype=object)
    weights = np.array([w for _, w in CRIME_TYPES], dtype=float)
    streets = np.array([f"On or near Street {k}" for k in range(5_000)], dtype=object)
    hexpairs = np.array([f"{b:02x}" for b in range(256)], dtype="S2")
    written = 0
    for m, month in enumerate(months):
        count = n // len(months) + (1 if m < n % len(months) else 0)
        xy = random_xy(count, info["box"], seed=seed + n + m)
        where = _lsoa_of(xy, cells)
        lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
        kind = types[rng.choice(len(types), count, p=weights / weights.sum())]
        asb = kind == "Anti-social behaviour"
        ids = hexpairs[rng.integers(0, 256, (count, 32), dtype=np.uint8)].view("S64")[:, 0]
        crime_id = np.where(asb, "", ids.astype("U64").astype(object))
        outcome = np.where(asb, "", np.array(OUTCOMES, dtype=object)[
            rng.integers(0, len(OUTCOMES), count)])
        located = rng.random(count) >= NO_LOCATION_SHARE
        force = info["force_of_lsoa"][np.maximum(where, 0)]
        table = pd.DataFrame({
            "Crime ID": crime_id, "Month": month,
            "Longitude": np.where(located, np.round(lon, 6).astype(str), ""),
            "Latitude": np.where(located, np.round(lat, 6).astype(str), ""),
            "Location": np.where(located, streets[rng.integers(0, len(streets), count)],
                                 "No Location"),
            "LSOA code": np.where(located, codes[where], ""),
            "LSOA name": np.where(located, names[where], ""),
            "Crime type": kind, "Last outcome category": outcome, "Context": ""})
        folder = directory / month
        folder.mkdir()
        for f in range(FORCES[scale]):
            part = table[force == f]
            name = f"Force {f + 1} Police"
            part.insert(2, "Reported by", name)
            part.insert(3, "Falls within", name)
            part[list(POLICE_COLUMNS)].to_csv(
                folder / f"{month}-force-{f + 1}-street.csv", index=False)
            written += len(part)
    done.write_text(str(written))
    return written


def run_build(inputs: Path, workspace: Path) -> dict:
    """`mapper build` (and the analysis it runs) in a subprocess: wall and CPU seconds,
    peak resident memory (the child's own maximum, as the kernel counts it)."""
    shutil.rmtree(workspace, ignore_errors=True)
    env = dict(os.environ)
    # the code measured: this checkout, or another (MAPPER_BENCH_CODE: a baseline branch)
    root = os.environ.get("MAPPER_BENCH_CODE") or str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    log_path = workspace.parent / f"{workspace.name}.log"
    start = time.perf_counter()
    with open(log_path, "w") as out:
        command = [sys.executable, "-m", "mapper", "--workspace", str(workspace), "build",
                   "--from", str(inputs)]
        # run from the code's folder: ``python -m`` puts the working folder first on the path
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                 cwd=root)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_gb": usage.ru_maxrss * 1024 / 1e9, "status": child.returncode,
            "log": log_path}


def _inputs(scale: str, n: int, *, seed: int) -> Path:
    root = cache_dir() / f"seed{seed}"
    info = write_areas(scale, root / scale / "areas", seed=seed)
    police = root / scale / f"police-{n}"
    write_incidents(scale, n, police, info, seed=seed)
    folder = root / scale / f"inputs-{n}"
    if not folder.is_dir():
        folder.mkdir()
        for member in (root / scale / "areas").iterdir():
            if member.name != "done":
                (folder / member.name).symlink_to(member)
        for month in sorted(p for p in police.iterdir() if p.is_dir()):
            (folder / month.name).mkdir()
            for csv in month.iterdir():
                (folder / month.name / csv.name).symlink_to(csv)
    return folder


def parse_grid(text: str) -> list[tuple[str, int]]:
    """``london:1e5,1e6 england:1e6`` -> [(london, 100000), ...]; ``all`` is the full grid."""
    if text.strip() == "all":
        return [(s, n) for s in AREA_SCALES if s != "tiny" for n in INCIDENT_COUNTS]
    grid = []
    for part in text.split():
        scale, _, counts = part.partition(":")
        if scale not in AREA_SCALES:
            raise ValueError(f"unknown scale {scale!r}: one of {', '.join(AREA_SCALES)}")
        for count in (counts or ",".join(str(c) for c in INCIDENT_COUNTS)).split(","):
            grid.append((scale, int(float(count))))
    return grid


def case_scale(grid: list[tuple[str, int]], *, seed: int, workdir: Path) -> list[Result]:
    """One row per (scale, incidents) and the growth rates; a failed build is a FAILED row."""
    results: list[Result] = []
    measured: dict[tuple[str, int], dict] = {}
    for scale, n in grid:
        size = f"{scale}, {n:,} incidents"
        log(f"mapper build: {size}")
        inputs = _inputs(scale, n, seed=seed)
        got = run_build(inputs, workdir / f"ws-{scale}-{n}")
        log(f"    {got['wall_s']:.0f} s wall, {got['cpu_s']:.0f} s CPU, "
            f"{got['peak_gb']:.2f} GB peak (exit {got['status']})")
        row = Result(case="mapper build (subprocess)", size=size, ours="mapper build",
                     seconds=got["wall_s"],
                     extra={k: v for k, v in got.items() if k != "log"} | {
                         "scale": scale, "incidents": n})
        row.comparisons.append(Comparison("CPU seconds", got["cpu_s"], got["cpu_s"], 1.0,
                                          "CPU time (user + system)", unit="s"))
        row.comparisons.append(Comparison("peak RSS", got["peak_gb"] * 1e9,
                                          got["peak_gb"] * 1e9, 1.0, "peak memory", unit="B"))
        if got["status"] != 0:
            tail = Path(got["log"]).read_text(errors="replace")[-400:]
            row.status, row.reason = "FAILED", f"exit {got['status']}: {tail}"
        else:
            measured[(scale, n)] = got
        results.append(row)
    results += growth(measured)
    return results


def growth(measured: dict[tuple[str, int], dict]) -> list[Result]:
    """Memory per extra million incidents per scale (least squares over the counts; the
    memory-regression check), and CPU and memory exponents in area (LSOAs) at the
    smallest incident count measured at several scales."""
    out = []
    for scale in AREA_SCALES:
        points = sorted((n, m["peak_gb"]) for (s, n), m in measured.items() if s == scale)
        if len(points) < 2:
            continue
        n = np.array([p[0] for p in points], dtype=float) / 1e6
        gb = np.array([p[1] for p in points])
        slope = float(np.polyfit(n, gb, 1)[0])
        ok = slope < GB_PER_MILLION_TARGET
        out.append(Result(
            case="memory per extra million incidents", size=scale, ours=f"{slope:.3f} GB",
            comparisons=[Comparison("target", GB_PER_MILLION_TARGET, slope,
                                    slope / GB_PER_MILLION_TARGET, "GB per million / target",
                                    "<=", 1.0, unit="GB")],
            check=Check(ok, f"{slope:.3f} GB of peak memory per extra million incidents "
                        f"({', '.join(f'{a:g}M: {b:.2f} GB' for a, b in zip(n, gb, strict=True))})"
                        f"; regression limit {GB_PER_MILLION_TARGET} GB"),
            extra={"gb_per_million": slope}).finish())
    for n in sorted({n for _, n in measured}):
        scales = [s for s in AREA_SCALES if (s, n) in measured]
        if len(scales) < 2:
            continue
        size = np.log([AREA_SCALES[s]["lsoas"] for s in scales])
        cpu = np.log([measured[(s, n)]["cpu_s"] for s in scales])
        mem = np.log([measured[(s, n)]["peak_gb"] for s in scales])
        cpu_k, mem_k = float(np.polyfit(size, cpu, 1)[0]), float(np.polyfit(size, mem, 1)[0])
        out.append(Result(case="growth in area (LSOAs)", size=f"{n:,} incidents",
                          ours=f"CPU ~ n^{cpu_k:.2f}, memory ~ n^{mem_k:.2f}",
                          extra={"cpu_exponent": cpu_k, "memory_exponent": mem_k,
                                 "note": f"at {n:,} incidents over {', '.join(scales)}: "
                                 f"CPU ~ n^{cpu_k:.2f}, memory ~ n^{mem_k:.2f}"}))
        break
    return out


def table(results: list[Result]) -> str:
    """The grid as a Markdown table (for README)."""
    lines = ["| area | incidents | wall | CPU | peak memory |", "|---|---:|---:|---:|---:|"]
    for r in results:
        if "scale" in r.extra:
            e = r.extra
            lines.append(f"| {e['scale']} | {e['incidents']:,} | {e['wall_s']:.0f} s "
                         f"| {e['cpu_s']:.0f} s | {e['peak_gb']:.2f} GB |"
                         + ("" if r.status == "ok" else " FAILED |"))
    for r in results:
        if "gb_per_million" in r.extra:
            lines.append(f"\n{r.size}: {r.extra['gb_per_million']:.3f} GB per extra million "
                         "incidents")
        if "cpu_exponent" in r.extra:
            lines.append(f"\n{r.extra['note']}")
    return "\n".join(lines) + "\n"


__all__ = ["case_scale", "parse_grid", "table", "write_areas", "write_incidents",
           "run_build"]
