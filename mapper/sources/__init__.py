"""Sources: one module per external format. Each detects its format from the content
of a file (never its name), validates it, and returns canonical frames.

:func:`detect_file` tries every source in turn and says what a file was taken to be,
or why it was skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mapper.errors import MapperError
from mapper.sources import (
    boundaries,
    charity,
    columns,
    deprivation,
    lookups,
    openreferral,
    osm,
    pointfiles,
    policeuk,
    population,
    postcodes,
)
from mapper.sources.base import Context, Detection, Imported
from mapper.sources.choices import Choice, signature
from mapper.sources.files import SIDECAR_SUFFIXES, TABLE_SUFFIXES, VECTOR_SUFFIXES, Peek, peek

__all__ = [
    "Context",
    "Detection",
    "Imported",
    "Skipped",
    "detect_file",
    "list_inputs",
    "walk_inputs",
    "KINDS",
    "REGISTER_KINDS",
]

#: order matters: the most specific layouts first
DETECTORS = [
    deprivation.detect,
    postcodes.detect,
    lookups.detect,
    population.detect,
    boundaries.detect,
    # point registers: the known layouts and police.uk first, the generic reader last
    policeuk.detect,
    charity.detect,
    osm.detect,
    pointfiles.detect,
]

#: workspace layers the sources feed, with a word for people
KINDS = {
    "boroughs": "borough (local authority district) boundaries",
    "wards": "ward boundaries",
    "lsoas": "LSOA boundaries",
    "deprivation": "English Indices of Deprivation by LSOA",
    "lsoa_ward_lookup": "LSOA-to-ward best-fit lookup",
    "population": "LSOA population estimates",
    "postcodes": "postcode centroids",
    "groups": "VCS groups",
    "premises": "community premises",
    "incidents": "incidents",
}
#: layers gathered from any number of files (every file found is imported)
REGISTER_KINDS = ("groups", "premises", "incidents")


@dataclass
class Skipped:
    """A file the build did not use, and why."""

    path: Path
    reason: str

    @property
    def name(self) -> str:
        return self.path.name


def list_inputs(directory: Path) -> list[Path]:
    """Files and sub-folders of a folder that could be inputs (shapefile side files and
    dot-files left out). Sub-folders may be Open Referral UK packages."""
    if not directory.is_dir():
        raise MapperError(f"{directory} is not a folder")
    return sorted(
        p for p in directory.iterdir()
        if not p.name.startswith(".")
        and (p.is_dir() or (p.is_file() and p.suffix.lower() not in SIDECAR_SUFFIXES))
    )


#: how deep :func:`walk_inputs` descends into sub-folders
MAX_DEPTH = 4


def walk_inputs(directory: Path, *, depth: int = MAX_DEPTH) -> list[Path]:
    """:func:`list_inputs`, descending into sub-folders (to `depth` levels) that are not
    Open Referral UK packages: a folder of GeoJSON files kept apart is read like the rest."""
    found: list[Path] = []
    for path in list_inputs(directory):
        if path.is_dir() and not path.is_symlink() and depth > 0 and (
            openreferral.detect_package(path) is None
        ):
            found += walk_inputs(path, depth=depth - 1)
        else:
            found.append(path)
    return found


def package_members(path: Path) -> set[str]:
    """Names of the files an Open Referral UK package in folder `path` is made of."""
    found = openreferral.detect_package(path) if path.is_dir() else None
    return {Path(m).name for m in found.extra["members"]} | {"datapackage.json"} if found else set()


def _detect_package_or_charity(path: Path, suffix: str) -> Detection | Skipped | None:
    """An Open Referral UK package (folder or zip) or a Charity Commission file, if `path` is
    one (or why it cannot be used); None for any other file."""
    if path.is_dir() or suffix == ".zip":
        package = openreferral.detect_package(path)
        if package is not None:
            package.path = path
            return package
        if path.is_dir():
            return Skipped(path, "a folder that is not an Open Referral UK package (no "
                           "organizations, services and locations tables)")
    if suffix in (".json", ".zip", ".txt", ".tsv", ".csv"):
        if charity.is_classification(path):
            return Skipped(path, "Charity Commission classification table: read together "
                           "with the charity register beside it")
        register = charity.detect_path(path)
        if register is not None:
            register.path = path
            if register.rows is None and suffix in TABLE_SUFFIXES:
                register.rows = _count_rows(path)
            return register
    return None


def detect_file(
    path: Path, *, choice: Choice | None = None, saved: Callable | None = None
) -> Detection | Skipped:
    """What `path` is, from its content; or why it cannot be used.

    `choice` is what the user said about a generic point table (--as, --map,
    --category); without one, `saved` (signature -> Choice or None) may hold one saved
    for files with the same columns.
    """
    suffix = path.suffix.lower()
    special = _detect_package_or_charity(path, suffix)
    if special is not None:
        return special
    if suffix not in VECTOR_SUFFIXES | TABLE_SUFFIXES:
        return Skipped(
            path,
            f"not a data file this tool reads ({suffix or 'no extension'}; "
            "expected CSV, GeoJSON, GeoPackage, Shapefile or zipped Shapefile)",
        )
    try:
        seen = peek(path)
    except MapperError as exc:
        return Skipped(path, str(exc).removeprefix(f"{path.name}: "))
    refused = deprivation.refusal(seen)
    if refused:
        return Skipped(path, refused)
    if not choice and saved is not None:
        choice = saved(signature(seen.columns))
    for detector in DETECTORS:
        found = pointfiles.detect(seen, choice) if detector is pointfiles.detect else (
            detector(seen))
        if found is not None and found.extra.get("question"):
            return Skipped(path, found.extra["question"].removeprefix(f"{path.name}: "))
        if found is not None:
            found.path = path
            if found.rows is None and seen.format == "table":
                found.rows = (seen.rows if seen.rows is not None else _count_rows(path)) + bool(
                    found.extra.get("headerless")
                )
            return found
    return Skipped(path, _why_not(seen))


def _count_rows(path: Path) -> int:
    """Data rows of a CSV file: a line count when no field is quoted (fast), else a CSV
    parse (quoted fields may hold line breaks, as in multi-line addresses)."""
    import csv
    import io

    with open(path, "rb") as handle:
        head = handle.read(1 << 18)
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        if size:
            handle.seek(size - 1)
        unterminated = size > 0 and handle.read(1) != b"\n"
    if b'"' not in head:
        with open(path, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        return max(lines + unterminated - 1, 0)
    from mapper.sources.files import decode

    text, _ = decode(path.read_bytes(), file=path.name)
    return max(sum(1 for row in csv.reader(io.StringIO(text, newline="")) if row) - 1, 0)


def _why_not(seen: Peek) -> str:
    shown = ", ".join(seen.columns[:12]) + (" ..." if len(seen.columns) > 12 else "")
    if postcodes.is_codepoint_headers(seen):
        return ("Code-Point Open column headers: the names of the columns of a Code-Point "
                "Open CSV without a header row, which is read without it")
    found = pointfiles.understand(seen)
    if seen.format == "table" and found.location:
        where = ", ".join(f"'{c.column}'" for f, c in found.fields.items()
                          if f in columns.LOCATION_FIELDS)
        return (f"a table with a location ({found.location}: {where}) but no column that "
                "names or types each record, so not a register of groups, premises or "
                f"incidents. Columns: {shown}")
    if seen.format == "vector":
        return (f"no column of ward, LSOA or borough codes (E05/E01/E06-E09) and no name "
                f"column found. Columns: {shown}")
    return f"not a layout this tool recognises. Columns: {shown}"
