"""Tiny input files in the real public formats, built in code; and the one grid factory.

:func:`grid` (and :func:`square`, one of its cells) is how every test builds square areas:
cells of ``size`` metres in EPSG:27700 from ``origin``, numbered from 1 west to east, then
south to north. The files below are built from it: a 3x3 grid of 1 km wards (EPSG:27700,
south-west corner 530000, 180000) in three boroughs (one per row); each ward split into 2x2
LSOAs of 500 m. Codes are fictional but well-formed: boroughs E09900001-3, wards
E05900001-9, LSOAs E01900001-36.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Polygon, box

from mapper.demo import IOD_COLUMNS

X0, Y0 = 530_000.0, 180_000.0
CELL_M = 1_000.0
BOROUGHS = [("E09900001", "Southfield"), ("E09900002", "Middleton"), ("E09900003", "Northbrook")]


# -- the grid ---------------------------------------------------------------------------------


def square(col: int, row: int, *, size: float = CELL_M, origin: tuple[float, float] = (X0, Y0),
           gap: float = 0.0) -> Polygon:
    """The cell in column `col` (west to east) and row `row` (south to north), from 0."""
    x, y = origin[0] + col * (size + gap), origin[1] + row * (size + gap)
    return box(x, y, x + size, y + size)


def grid(n_rows: int = 3, n_cols: int = 3, *, size: float = CELL_M,
         origin: tuple[float, float] = (X0, Y0), gap: float = 0.0,
         skip: tuple[int, ...] = ()) -> gpd.GeoDataFrame:
    """Square cells in EPSG:27700: columns ``n`` (1, 2, ... west to east, then south to
    north), ``row`` and ``col`` (from 0) and ``geometry``; cells numbered in `skip` left out;
    `gap` metres between neighbours."""
    cells = [
        {"n": r * n_cols + c + 1, "row": r, "col": c,
         "geometry": square(c, r, size=size, origin=origin, gap=gap)}
        for r in range(n_rows) for c in range(n_cols) if r * n_cols + c + 1 not in skip
    ]
    return gpd.GeoDataFrame(cells, geometry="geometry", crs="EPSG:27700")


def grid_wards() -> gpd.GeoDataFrame:
    """The 3x3 grid of 1 km wards: ``ward_code`` E05900001-9, ``borough_code`` one per row."""
    cells = grid()
    return gpd.GeoDataFrame(
        {"ward_code": [f"E0590000{n}" for n in cells["n"]],
         "borough_code": [BOROUGHS[r][0] for r in cells["row"]]},
        geometry=cells.geometry, crs="EPSG:27700")


# -- the files -------------------------------------------------------------------------------


def wards() -> gpd.GeoDataFrame:
    cells = grid()
    return gpd.GeoDataFrame(
        {"WD22CD": [f"E0590000{n}" for n in cells["n"]],
         "WD22NM": [f"Ward {n}" for n in cells["n"]],
         "LAD22CD": [BOROUGHS[r][0] for r in cells["row"]],
         "LAD22NM": [BOROUGHS[r][1] for r in cells["row"]]},
        geometry=cells.geometry, crs="EPSG:27700")


def boroughs() -> gpd.GeoDataFrame:
    rows = [
        {
            "LAD22CD": code,
            "LAD22NM": name,
            "geometry": box(X0, Y0 + r * CELL_M, X0 + 3 * CELL_M, Y0 + (r + 1) * CELL_M),
        }
        for r, (code, name) in enumerate(BOROUGHS)
    ]
    return gpd.GeoDataFrame(rows, crs="EPSG:27700")


def lsoas(vintage: str = "11") -> gpd.GeoDataFrame:
    cells = grid(6, 6, size=500.0)
    return gpd.GeoDataFrame(
        {f"LSOA{vintage}CD": [f"E0190{n:04d}" for n in cells["n"]],
         f"LSOA{vintage}NM": [f"Grid {n:03d}" for n in cells["n"]],
         "ward": [f"E0590000{(r // 2) * 3 + c // 2 + 1}"
                  for r, c in zip(cells["row"], cells["col"], strict=True)],
         "borough": [BOROUGHS[r // 2][0] for r in cells["row"]]},
        geometry=cells.geometry, crs="EPSG:27700")


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def iod_rows(codes: list[str]) -> list[list]:
    """File 7 rows with plausible numbers: rank and decile by position, scores falling."""
    rows = []
    for i, code in enumerate(codes):
        row = [code, f"Grid {i + 1:03d}", BOROUGHS[0][0], BOROUGHS[0][1]]
        for _ in range(16):
            row += [f"{40 - i * 0.5:.3f}", str(100 + i), str(1 + i % 10)]
        row += ["1500", "300", "900", "300", "950"]
        rows.append(row)
    return rows


def write_iod(
    path: Path,
    codes: list[str],
    *,
    header: list[str] | None = None,
    rows: list[list] | None = None,
    encoding: str = "utf-8",
) -> Path:
    return write_csv(path, list(header or IOD_COLUMNS), rows or iod_rows(codes), encoding)


def write_folder(directory: Path, *, lsoa_vintage: str = "11") -> Path:
    """A complete tiny input folder: boroughs, wards, LSOAs, IoD2019, lookup, population,
    postcodes."""
    directory.mkdir(parents=True, exist_ok=True)
    write_geojson(boroughs(), directory / "boroughs.geojson")
    write_geojson(wards(), directory / "wards.geojson")
    grid = lsoas(lsoa_vintage)
    write_geojson(grid.drop(columns=["ward", "borough"]), directory / "lsoas.geojson")
    codes = list(grid[f"LSOA{lsoa_vintage}CD"])
    write_iod(directory / "iod.csv", codes)
    write_csv(
        directory / "lookup.csv",
        ["LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM"],
        [
            [c, f"Grid {i + 1:03d}", w, f"Ward {w[-1]}"]
            for i, (c, w) in enumerate(zip(codes, grid["ward"], strict=True))
        ],
    )
    write_csv(
        directory / "population.csv",
        ["LSOA11CD", "LSOA11NM", "Persons_All-Ages"],
        [[c, "x", str(1000 + 10 * i)] for i, c in enumerate(codes)],
    )
    pts = grid.geometry.representative_point()
    write_csv(
        directory / "postcodes.csv",
        [
            "Postcode",
            "Positional_quality_indicator",
            "Eastings",
            "Northings",
            "Admin_district_code",
            "Admin_ward_code",
        ],
        [
            [
                f"ZZ{i // 26 + 1} {i % 10}A{chr(65 + i % 26)}",
                "10",
                str(int(p.x)),
                str(int(p.y)),
                b,
                w,
            ]
            for i, (p, b, w) in enumerate(zip(pts, grid["borough"], grid["ward"], strict=True))
        ],
    )
    return directory


def write_rank_only_folder(directory: Path, *, population: bool = True):
    """The grid folder with IoD File 1 (IMD rank and decile) and, when asked, File 6
    (denominators: 1,500 residents an LSOA) instead of File 7 and the population file."""
    folder = write_folder(directory)
    (folder / "population.csv").unlink()
    file7 = pd.read_csv(folder / "iod.csv", dtype=str)
    (folder / "iod.csv").unlink()
    ids = list(file7.columns[:4])
    file7[ids + [c for c in file7.columns[4:] if c.startswith("Index of Multiple Deprivation")
                 and "Score" not in c]].to_csv(folder / "file1.csv", index=False)
    if population:
        file7[ids + list(file7.columns[-5:])].to_csv(folder / "file6.csv", index=False)
    return folder, file7.set_index(ids[0])


def write_grid_folder(directory: Path, n_rows: int, n_cols: int) -> Path:
    """An input folder of `n_rows` x `n_cols` 1 km wards from :func:`grid` (one borough a
    row, one LSOA a ward): wards E0591nnnn, LSOAs E0191nnnn (n from 1, west to east, then
    south to north), boroughs E0991nnnn; LSOA n has 1000 + n residents and an IMD score
    falling with n, so every ward is a CAN of its own when CANs may hold at most 1,999
    residents. For areas with many CANs (hundreds)."""
    directory.mkdir(parents=True, exist_ok=True)
    cells = grid(n_rows, n_cols)
    ward_codes = [f"E0591{n:04d}" for n in cells["n"]]
    lsoa_codes = [f"E0191{n:04d}" for n in cells["n"]]
    borough = [(f"E0991{r + 1:04d}", f"Borough {r + 1}") for r in cells["row"]]
    write_geojson(gpd.GeoDataFrame(
        {"WD22CD": ward_codes, "WD22NM": [f"Ward {n}" for n in cells["n"]],
         "LAD22CD": [b[0] for b in borough], "LAD22NM": [b[1] for b in borough]},
        geometry=cells.geometry, crs="EPSG:27700"), directory / "wards.geojson")
    write_geojson(gpd.GeoDataFrame(
        {"LAD22CD": [f"E0991{r + 1:04d}" for r in range(n_rows)],
         "LAD22NM": [f"Borough {r + 1}" for r in range(n_rows)]},
        geometry=[box(X0, Y0 + r * CELL_M, X0 + n_cols * CELL_M, Y0 + (r + 1) * CELL_M)
                  for r in range(n_rows)], crs="EPSG:27700"), directory / "boroughs.geojson")
    write_geojson(gpd.GeoDataFrame(
        {"LSOA11CD": lsoa_codes, "LSOA11NM": [f"Grid {n:04d}" for n in cells["n"]]},
        geometry=cells.geometry, crs="EPSG:27700"), directory / "lsoas.geojson")
    rows = iod_rows(lsoa_codes)
    for i, row in enumerate(rows):  # scores fall with n, past the 80 of iod_rows
        row[4:52] = [f"{60 - i * 0.1:.3f}" if k % 3 == 0 else value
                     for k, value in enumerate(row[4:52])]
    write_iod(directory / "iod.csv", lsoa_codes, rows=rows)
    write_csv(directory / "lookup.csv", ["LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM"],
              [[c, "x", w, "x"] for c, w in zip(lsoa_codes, ward_codes, strict=True)])
    write_csv(directory / "population.csv", ["LSOA11CD", "LSOA11NM", "Persons_All-Ages"],
              [[c, "x", str(1000 + n)] for c, n in zip(lsoa_codes, cells["n"], strict=True)])
    return directory
