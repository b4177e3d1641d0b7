"""Uploads of point-register files from the web app: check, report, then commit.

An officer uploads a CSV, GeoJSON, GeoPackage or zipped Shapefile of VCS groups,
premises or incidents. :func:`inspect_upload` checks it and says what an import would do,
without changing the workspace; :func:`commit_upload` then imports it atomically through
the same path as ``mapper import`` (:func:`mapper.pipeline.import_file`), or
:func:`discard_upload` throws it away.

Checks, in order (each rejection says why, in words):

1. **before anything is parsed**: the extension (``.csv``, ``.geojson``/``.json``,
   ``.gpkg``, ``.zip`` holding a shapefile); the size (:attr:`Limits.max_bytes`); for
   CSV, the encoding (UTF-8 or Windows-1252, never UTF-16 or binary) and the length of
   the longest line; for GeoJSON, UTF-8 text starting with ``{``; for GeoPackage, the
   SQLite header; for a zip, every entry's name (no absolute paths, ``..``, backslashes,
   drive letters or symlinks), the number of entries, the total unzipped size and each
   entry's compression ratio, from the zip's headers, and then the real sizes while
   extracting (a streaming byte cap, in case the headers lie);
2. **in a child process killed after** :attr:`Limits.parse_seconds` (and with at most
   :attr:`Limits.max_memory_bytes` more memory): for GeoPackage, its schema (no views,
   virtual or computed layers, or triggers of its own:
   :func:`mapper.sources.files.check_geopackage`); for GeoJSON, that it
   is a FeatureCollection of Features; for vector files, the number of vertices per
   feature and in all; then the detection and validation of ``mapper import``, as a dry
   run (:func:`mapper.pipeline.check_register_import`): rows read, accepted, rejected
   with reasons, likely duplicates against the register already there, warnings
   (including spreadsheet formula cells such as ``=HYPERLINK(...)``).

The commit (:func:`commit_upload`) runs the import in a child process with the same
limits, so a file that would take longer or more memory to import than to check cannot
pin a server thread.

The upload waits in a private staging folder, ``<workspace>/.uploads/<token>/``, bound to
the user who uploaded it, for :attr:`Limits.ttl_s` seconds (1 hour); stale folders are
removed whenever another upload is inspected or committed.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os
import re
import secrets
import shutil
import stat
import time
import traceback
import warnings
import zipfile
import zlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath

from mapper import registers
from mapper.errors import DataValidationError, MapperError, Problem
from mapper.private_files import private_dir, private_file
from mapper.store import Workspace

log = logging.getLogger(__name__)

MB = 1024 * 1024
STAGING_DIR = ".uploads"
META_FILE = "upload.json"
REPORT_FILE = "report.json"
#: the sub-folder of a staging folder holding the file itself (never clashing with the above)
FILE_DIR = "file"
BUSY_SUFFIX = ".busy"

#: extension -> format name for people
FORMATS = {
    ".csv": "CSV",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".zip": "zipped Shapefile",
}
REGISTER_CHOICES = ("groups", "premises", "incidents")
#: the parts of a shapefile taken from a zip (anything else in it is ignored)
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: how many rejected rows, duplicates and formula cells a report lists (all are counted)
MAX_LISTED = 1000
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")


@dataclass(frozen=True)
class Limits:
    """What an upload may be. The defaults are documented in README ("Uploads")."""

    max_bytes: int = 50 * MB
    max_zip_entries: int = 50
    max_unzipped_bytes: int = 200 * MB
    #: an entry's uncompressed size over its compressed size ...
    max_ratio: float = 100.0
    #: ... checked for entries bigger than this (tiny files of padding may compress more)
    ratio_min_bytes: int = 1 * MB
    max_line_bytes: int = 1 * MB
    max_feature_vertices: int = 100_000
    max_total_vertices: int = 1_000_000
    parse_seconds: float = 30.0
    #: memory the checking (and committing) child may take beyond what it starts with
    max_memory_bytes: int = 2048 * MB
    #: how long an upload waits for its commit
    ttl_s: int = 3600
    #: uploads one user may have waiting (the oldest are discarded beyond it)
    max_waiting_per_user: int = 20
    #: parse in this process, without the time limit (only for tests that say so)
    in_process: bool = False


class UploadError(MapperError):
    """An upload that cannot be used: `reason` says why, `problems` list the details.

    `status` is the HTTP status the web app answers with: 400, 413 (too large) or 404
    (no such upload).
    """

    def __init__(self, reason: str, problems: list[dict] | None = None, *, status: int = 400):
        self.reason = _short(reason, 2000)
        self.problems = problems or []
        self.status = status
        super().__init__(self.reason)


class UploadNotFound(UploadError):
    """No upload is waiting under this token (HTTP 404)."""

    def __init__(self, reason: str | None = None):
        super().__init__(
            reason
            or "There is no upload waiting with this reference: it may have been imported "
            "or discarded already, it may have expired (uploads wait for 1 hour), or it was "
            "uploaded by someone else. Upload the file again.",
            status=404,
        )


@dataclass
class Report:
    """What importing an upload would do."""

    token: str
    file: str
    size: int
    format: str
    register: str
    detail: str
    layout: str | None
    requested_register: str
    rows_read: int
    accepted: int
    #: rows that would not be imported: one dict each (row, row_label, column, value,
    #: reason, expected, invalid); `invalid` rows block "import all" (the others are left
    #: out by rule, e.g. outside the study area)
    rejected: list[dict] = field(default_factory=list)
    rejected_count: int = 0
    invalid_count: int = 0
    #: rows read but neither accepted nor rejected (e.g. OpenStreetMap features of other
    #: types): accepted + rejected_count + not_used == rows_read
    not_used: int = 0
    #: the reasons for rejection grouped, commonest first, with example row numbers
    #: (:func:`mapper.pipeline.rejection_reasons`, as ``mapper import`` prints them)
    reasons: list[str] = field(default_factory=list)
    #: why the file would be held back as probably misread (too many rows fail; "" when
    #: not): importing only its valid rows is then a deliberate choice
    held_back: str = ""
    duplicates: list[dict] = field(default_factory=list)
    duplicate_count: int = 0
    formula_cells: list[dict] = field(default_factory=list)
    formula_count: int = 0
    warnings: list[str] = field(default_factory=list)
    #: records already in the register from a file of the same name (an import replaces them)
    replaces: int = 0
    personal_fields: list[str] = field(default_factory=list)
    #: what a generic point table was understood to hold (mapper.sources.columns) or the
    #: columns a known layout names, one line each, as the CLI prints them
    understanding: list[str] = field(default_factory=list)
    vertices: int | None = None
    #: what the import would add to each register and category: 'groups +3 (food +3)'
    gains: str = ""
    #: the corrections asked for on the form (as --as/--map/--category do), or the saved
    #: mapping used; '' when the file was read by evidence alone
    choice: str = ""
    seconds: float = 0.0
    created_at: float = 0.0
    expires_at: float = 0.0

    @property
    def can_import_all(self) -> bool:
        """Every row is valid (rows left out by rule aside) and there is something to import."""
        return self.invalid_count == 0 and self.accepted > 0

    @property
    def can_import_valid(self) -> bool:
        """Some rows are invalid, and the others can be imported on their own."""
        return self.invalid_count > 0 and self.accepted > 0

    def as_json(self) -> dict:
        data = asdict(self)
        data["can_import_all"] = self.can_import_all
        data["can_import_valid"] = self.can_import_valid
        return data

    @classmethod
    def from_json(cls, data: dict) -> Report:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class CommitResult:
    """What committing an upload imported: counts of rows accepted and rejected."""

    token: str
    file: str
    register: str
    rows_read: int
    accepted: int
    rejected: int
    skip_invalid: bool
    personal_fields: list[str]
    gains: str = ""
    #: the signature the form's corrections were saved under, if any
    saved_mapping: str = ""

    def as_json(self) -> dict:
        return asdict(self)


# -- inspecting ---------------------------------------------------------------------------


def inspect_upload(
    filename: str,
    data: bytes,
    workspace: Workspace,
    register: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so a safe default
    *,
    owner: str = "",
    mapping: dict[str, str] | None = None,
    category: str | None = None,
) -> Report:
    """Check an uploaded file and report what importing it would do (nothing is imported).

    `register`, `mapping` (field -> column) and `category` correct what was understood of
    a generic point table, as ``mapper import --as/--map/--category`` do; they are saved
    for files with the same columns when the upload is imported.

    Raises UploadError (with ``status`` 400, or 413 when too large) when the file as a
    whole cannot be used. Returns the report of a file that can be read, even when every
    row in it is rejected; the upload then waits under ``report.token`` for
    :func:`commit_upload` or :func:`discard_upload`.
    """
    started = time.monotonic()
    name = safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        shown = Path(name).suffix or "no extension"
        raise UploadError(
            f"{name}: not a file type this tool takes ({shown}); upload a CSV (.csv), "
            "GeoJSON (.geojson or .json), GeoPackage (.gpkg) or zipped Shapefile (.zip)"
        )
    requested = _register(register)
    mapping, category = dict(mapping or {}), (category or "").strip() or None
    if len(data) > limits.max_bytes:
        raise UploadError(
            f"{name}: the file is {human_size(len(data))}, more than the upload limit of "
            f"{human_size(limits.max_bytes)}",
            status=413,
        )
    if not data.strip():
        raise UploadError(f"{name}: the file is empty")
    members: list[zipfile.ZipInfo] = []
    if suffix == ".csv":
        _check_csv(name, data, limits)
    elif suffix in (".geojson", ".json"):
        _check_geojson_text(name, data)
    elif suffix == ".gpkg":
        if not data.startswith(b"SQLite format 3\x00"):
            raise UploadError(
                f"{name}: not a GeoPackage (a GeoPackage is an SQLite database; this file "
                "does not start like one)"
            )
    else:
        members = _check_zip(name, data, limits)
    if not workspace.exists():
        raise UploadError(
            "There is no workspace to import into yet: build one first ('mapper build "
            "--from DIR' or 'mapper demo')"
        )
    cleanup_stale(workspace, limits, owner=owner)
    token = secrets.token_urlsafe(24)
    staging = staging_root(workspace) / token
    private_dir(staging_root(workspace))  # (mkdir's parents ignore its mode)
    staging.mkdir(mode=0o700)
    try:
        (staging / FILE_DIR).mkdir(mode=0o700)
        if suffix == ".zip":
            notes = _stage_zip(name, data, members, staging, limits)
        else:
            private_file(staging / FILE_DIR / name).write_bytes(data)
            notes = []
        outcome = _run_limited(
            _dry_run, (staging / FILE_DIR / name, workspace.directory, requested, limits,
                       mapping, category), limits
        )
        found = _result(name, outcome, staging, workspace, limits)
        if not found["rows_read"]:
            raise UploadError(f"{name}: the file has no rows (or features) to import")
        now = time.time()
        report = Report(
            token=token,
            file=name,
            size=len(data),
            format=FORMATS[suffix],
            requested_register=requested or "auto",
            created_at=now,
            expires_at=now + limits.ttl_s,
            **found,
        )
        report.warnings = notes + report.warnings
        report.seconds = round(time.monotonic() - started, 3)
        meta = {
            "owner": owner,
            "file": name,
            "register": requested,
            "map": mapping,
            "category": category,
            "created_at": now,
            "size": len(data),
        }
        private_file(staging / REPORT_FILE).write_text(json.dumps(report.as_json()),
                                                       encoding="utf-8")
        private_file(staging / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def safe_name(filename: str | None) -> str:
    """The file name to stage and record: its last path part, in safe characters."""
    base = re.split(r"[\\/]", str(filename or ""))[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip().lstrip(".")
    base = re.sub(r"[^\w .()+-]", "_", base)
    base = re.sub(r"\s+", " ", base).strip()
    if len(base) > 120:
        stem, suffix = os.path.splitext(base)
        base = stem[: 120 - len(suffix[:12])] + suffix[:12]
    return base or "upload"


def _register(register: str | None) -> str | None:
    if register in (None, "", "auto"):
        return None
    if register not in REGISTER_CHOICES:
        raise UploadError(
            f"unknown register {_short(register, 40)!r}: choose automatic detection, "
            f"{', '.join(REGISTER_CHOICES)}"
        )
    return register


def human_size(n: int) -> str:
    """A byte count for people: '50 MB', '2 KB', '120 bytes'."""
    if n >= MB:
        return f"{n / MB:,.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:,.0f} KB"
    return f"{n:,} bytes"


def _short(value: object, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- checks before parsing ------------------------------------------------------------------

_MAGIC = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel workbook (.xls)"),
    (b"SQLite format 3\x00", "an SQLite database or GeoPackage"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)
_SAVE_AS = "save it as CSV UTF-8 (in Excel: File > Save As > 'CSV UTF-8') and upload it again"


def _utf16(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    sample = head[:400]
    if len(sample) < 4:
        return False
    # ASCII text in UTF-16 without a byte-order mark: every other byte is NUL
    evens, odds = sample[0::2], sample[1::2]
    return evens.count(0) > 0.8 * len(evens) or odds.count(0) > 0.8 * len(odds)


def _check_csv(name: str, data: bytes, limits: Limits) -> None:
    head = data[:8192]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise UploadError(f"{name}: this is {what}, not CSV text; {_SAVE_AS}")
    if _utf16(head):
        raise UploadError(f"{name}: the file is UTF-16 (or UTF-32) text; {_SAVE_AS}")
    if b"\x00" in data:
        raise UploadError(f"{name}: a binary file (it holds NUL bytes), not CSV text; {_SAVE_AS}")
    from mapper.sources.files import decode

    try:
        text, _ = decode(data, file=name)
    except MapperError as exc:
        raise UploadError(str(exc)) from None
    if not text.strip():
        raise UploadError(f"{name}: the file is empty")
    lengths = [len(line) for line in data.split(b"\n")]
    longest = max(lengths)
    if longest > limits.max_line_bytes:
        line = lengths.index(longest) + 1
        raise UploadError(
            f"{name}: line {line:,} is {human_size(longest)} long, more than the limit of "
            f"{human_size(limits.max_line_bytes)} per line; is this really a CSV table?"
        )


def _check_geojson_text(name: str, data: bytes) -> None:
    if _utf16(data[:8192]):
        raise UploadError(f"{name}: the file is UTF-16 text; GeoJSON must be UTF-8 (RFC 7946)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(
            f"{name}: not UTF-8 text (byte {exc.start + 1:,} is {data[exc.start]:#04x}); "
            "GeoJSON must be UTF-8 (RFC 7946): save it as UTF-8 and upload it again"
        ) from None
    first = text.lstrip()[:1]
    if first != "{":
        shown = "[" if first == "[" else repr(_short(text.lstrip()[:20], 20))
        raise UploadError(
            f"{name}: not a GeoJSON FeatureCollection: it should start with '{{' (a JSON "
            f"object), but starts with {shown}"
        )


def _unsafe_name(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = (info.external_attr >> 16) & 0o170000
    if mode == stat.S_IFLNK:
        return "a symbolic link"
    if not name:
        return "an empty name"
    if "\\" in name:
        return "a backslash in its name"
    if name.startswith("/"):
        return "an absolute path"
    if re.match(r"^[A-Za-z]:", name):
        return "a drive letter"
    if ".." in PurePosixPath(name).parts:
        return "'..' (a parent folder) in its path"
    if re.search(r"[\x00-\x1f\x7f]", name):
        return "control characters in its name"
    return None


def _check_zip(name: str, data: bytes, limits: Limits) -> list[zipfile.ZipInfo]:
    """The shapefile entries to extract, after checking every entry from the headers."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
            NotImplementedError, KeyError, IndexError, UnicodeDecodeError):
        raise UploadError(f"{name}: not a valid zip archive (truncated or damaged?)") from None
    if not infos:
        raise UploadError(f"{name}: the zip archive is empty")
    if len(infos) > limits.max_zip_entries:
        raise UploadError(
            f"{name}: the zip holds {len(infos):,} entries; at most "
            f"{limits.max_zip_entries} are allowed (a shapefile needs 3 to 6)"
        )
    problems = []
    for info in infos:
        why = _unsafe_name(info)
        if why:
            problems.append(_problem(name, f"unsafe entry: {why}", value=info.filename))
        elif info.flag_bits & 0x1:
            problems.append(_problem(name, "the entry is encrypted (password-protected)",
                                     value=info.filename))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1:,} more)" if len(problems) > 1 else ""
        raise UploadError(
            f"{name}: the zip has {len(problems)} entr{'ies' if len(problems) > 1 else 'y'} "
            f"that cannot be accepted: {first['value']!r}: "
            f"{first['message'].removeprefix('unsafe entry: ')}{more}",
            problems,
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            raise UploadError(
                f"{name}: the entry {_short(info.filename, 80)!r} unzips to "
                f"{human_size(info.file_size)} from {human_size(info.compress_size)} (a "
                f"compression ratio of {ratio:,.0f}, more than the limit of "
                f"{limits.max_ratio:g}): "
                "this looks like a zip bomb"
            )
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise UploadError(
            f"{name}: the zip unzips to {human_size(total)}, more than the limit of "
            f"{human_size(limits.max_unzipped_bytes)}"
        )
    wanted = [
        info for info in infos
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not PurePosixPath(info.filename).name.startswith(".")
        and PurePosixPath(info.filename).suffix.lower() in SHAPEFILE_PARTS
    ]
    shps = [i for i in wanted if i.filename.lower().endswith(".shp")]
    listed = ", ".join(_short(i.filename, 60) for i in infos[:10]) + (
        " ..." if len(infos) > 10 else "")
    if not shps:
        others = [i.filename for i in infos
                  if PurePosixPath(i.filename).suffix.lower() in (".csv", ".geojson", ".gpkg")]
        hint = (f"; upload {PurePosixPath(others[0]).name} itself, not zipped"
                if len(others) == 1 else "")
        raise UploadError(f"{name}: the zip holds no shapefile (.shp); found: {listed}{hint}")
    if len(shps) > 1:
        raise UploadError(
            f"{name}: the zip holds {len(shps)} shapefiles "
            f"({', '.join(_short(i.filename, 60) for i in shps[:5])}); upload one per zip"
        )
    stem = PurePosixPath(shps[0].filename).stem
    parts = {PurePosixPath(i.filename).suffix.lower(): i for i in wanted
             if PurePosixPath(i.filename).stem == stem}
    missing = [s for s in (".shx", ".dbf") if s not in parts]
    if missing:
        raise UploadError(
            f"{name}: the zip holds {stem}.shp but not {' or '.join(stem + s for s in missing)}"
            " (a shapefile needs its .shp, .shx and .dbf files)"
        )
    return list(parts.values())


def _ignored(members: list[zipfile.ZipInfo], data: bytes) -> list[str]:
    """A note naming the zip's files that are not part of the shapefile, if any."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        taken = {i.filename for i in members}
        others = [i.filename for i in archive.infolist()
                  if not i.is_dir() and i.filename not in taken
                  and not i.filename.startswith("__MACOSX/")]
    if not others:
        return []
    shown = ", ".join(_short(o, 60) for o in others[:5]) + (" ..." if len(others) > 5 else "")
    return [f"{len(others)} other file{'s' if len(others) > 1 else ''} in the zip "
            f"{'were' if len(others) > 1 else 'was'} ignored: {shown}"]


def _stage_zip(name: str, data: bytes, members: list[zipfile.ZipInfo], staging: Path,
               limits: Limits) -> list[str]:
    """Extract the shapefile with a byte cap, then zip it again as `name` in `staging`.

    The archive read later is one written here, from bytes counted and CRC-checked while
    extracting, whatever the uploaded zip's headers claimed.
    """
    parts = staging / "parts"
    parts.mkdir(mode=0o700)
    written = 0
    stem = "layer"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in members:
                suffix = PurePosixPath(info.filename).suffix.lower()
                if suffix == ".shp":
                    stem = safe_name(PurePosixPath(info.filename).stem) or "layer"
                count = 0
                with archive.open(info) as source, \
                        open(private_file(parts / suffix), "wb") as target:
                    while chunk := source.read(MB):
                        count += len(chunk)
                        written += len(chunk)
                        if count > info.file_size or written > limits.max_unzipped_bytes:
                            raise UploadError(
                                f"{name}: the entry {_short(info.filename, 80)!r} unzips to "
                                "more than its header says (a zip bomb?)"
                            )
                        target.write(chunk)
    except UploadError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        what = "a CRC check failed" if "CRC" in str(exc) else "it cannot be unzipped"
        raise UploadError(f"{name}: the zip archive is damaged ({what})") from None
    with zipfile.ZipFile(private_file(staging / FILE_DIR / name), "w",
                         zipfile.ZIP_DEFLATED) as clean:
        for part in sorted(parts.iterdir()):
            clean.write(part, f"{stem}{part.name}")
    shutil.rmtree(parts)
    return _ignored(members, data)


# -- the dry run, in a child process -------------------------------------------------------


def _run_limited(func, args: tuple, limits: Limits) -> tuple:
    """Run ``func(*args)`` in a forked child killed after ``limits.parse_seconds``.

    Returns the outcome tuple of :func:`_outcome`: ("ok", value), ("rejected", reason,
    problems, status) or ("failed", description).
    """
    if limits.in_process:
        return _outcome(func, args)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a threaded process: the child only reads files
        warnings.simplefilter("ignore", DeprecationWarning)
        child = context.Process(target=_child,
                                args=(sender, func, args, limits.max_memory_bytes), daemon=True)
        child.start()
    sender.close()
    try:
        if not receiver.poll(limits.parse_seconds):
            file = Path(args[0]).name
            return ("rejected",
                    f"{file}: took longer than {limits.parse_seconds:g} s to read; split it "
                    "into smaller files or simplify its geometry", [], 400)
        try:
            return receiver.recv()
        except (EOFError, OSError):
            child.join(timeout=5)
            return ("failed", f"the reader stopped unexpectedly (exit code {child.exitcode})")
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=10)
        receiver.close()


def _child(sender, func, args, memory: int) -> None:  # pragma: no cover - in the child
    try:
        _limit_memory(memory)
        sender.send(_outcome(func, args))
    finally:
        sender.close()


def _limit_memory(extra: int) -> None:
    """Cap this process's address space at its present size plus `extra` bytes (Linux;
    elsewhere only the time limit applies). Beyond it allocations fail: MemoryError."""
    try:
        import resource

        with open("/proc/self/statm") as handle:
            size = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + extra, size + extra))
    except (ImportError, OSError, ValueError):
        pass


def _outcome(func, args: tuple) -> tuple:
    try:
        return ("ok", func(*args))
    except UploadError as exc:
        return ("rejected", exc.reason, exc.problems, exc.status)
    except DataValidationError as exc:
        head = str(exc).split("\n", 1)[0].rstrip(":")
        return ("rejected", head, [problem_dict(p) for p in exc.problems[:MAX_LISTED]], 400)
    except MapperError as exc:
        return ("rejected", str(exc), [], 400)
    except MemoryError:
        return ("rejected", "the file needs more memory to read than this server has", [], 400)
    except RecursionError:
        return ("rejected", "the file is nested too deeply to read", [], 400)
    except UnicodeError as exc:  # e.g. GDAL handing over names or text that are not UTF-8
        where = f" (byte {exc.start:,})" if isinstance(exc, UnicodeDecodeError) else ""
        return ("rejected", f"{Path(args[0]).name}: the file holds text that is not valid in "
                f"its encoding{where}; save it as UTF-8 and upload it again", [], 400)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a rejection, logged
        return ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _result(name: str, outcome: tuple, staging: Path, workspace: Workspace,
            limits: Limits) -> dict:
    """The dry run's findings, or the UploadError it ended in (paths removed)."""
    def clean(text: str) -> str:
        for folder in (str(staging / FILE_DIR) + os.sep, str(staging) + os.sep, str(staging),
                       str(workspace.directory)):
            text = text.replace(folder, "")
        return text

    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "rejected":
        _, reason, problems, status = outcome
        for p in problems:
            p["message"] = clean(str(p.get("message", "")))
        raise UploadError(clean(reason), problems, status=status)
    log.warning("upload %s could not be read: %s\n%s", name, outcome[1],
                outcome[2] if len(outcome) > 2 else "")
    raise UploadError(
        f"{name}: the file could not be read ({_short(clean(str(outcome[1])), 300)}); check "
        "that it is a valid CSV, GeoJSON, GeoPackage or zipped Shapefile"
    )


def _dry_run(path: Path, workspace_dir: Path, register: str | None, limits: Limits,
             mapping: dict[str, str] | None = None, category: str | None = None) -> dict:
    """Runs in the child: structure and vertex checks, then the import's dry run."""
    from mapper.pipeline import check_register_import

    notes: list[str] = []
    suffix = path.suffix.lower()
    vertices = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if suffix in (".geojson", ".json"):
            notes += _check_geojson(path)
        if suffix != ".csv":
            vertices = _check_vertices(path, limits)
        imp, frame = check_register_import(path, Workspace(workspace_dir), register=register,
                                           mapping=mapping, category=category)
        found = _summarise(imp, frame, path, Workspace(workspace_dir))
    seen = dict.fromkeys(
        f"while reading: {_short(w.message, 300)}" for w in caught
        if issubclass(w.category, RuntimeWarning | UserWarning)
    )
    found["vertices"] = vertices
    found["warnings"] = notes + found["warnings"] + list(seen)
    return found


#: what a JSON document that is not an object is, for messages
_JSON_KINDS: dict[type, str] = {list: "a JSON array", str: "a JSON string"}


def _check_collection(name: str, doc: object) -> None:
    """Raise an UploadError saying what `doc` is when it is not a GeoJSON FeatureCollection."""
    if not isinstance(doc, dict):
        what = _JSON_KINDS.get(type(doc), "a single value")
        raise UploadError(f"{name}: not a GeoJSON FeatureCollection: the file is {what}")
    kind = doc.get("type")
    if kind != "FeatureCollection":
        if kind == "Feature":
            hint = "a single Feature; wrap it in a FeatureCollection"
        elif isinstance(kind, str) and kind in ("Point", "MultiPoint", "LineString",
                                                "MultiLineString", "Polygon", "MultiPolygon",
                                                "GeometryCollection"):
            hint = f"a bare {kind} geometry, with no features or properties"
        else:
            hint = f"its type is {_short(kind, 40)!r}" if kind is not None else "it has no type"
        raise UploadError(f"{name}: not a GeoJSON FeatureCollection: {hint}")


def _feature_problems(name: str, features: list) -> list[dict]:
    """A problem for each of the first MAX_LISTED members that is not a well-formed Feature."""
    problems = []
    for n, feature in enumerate(features, 1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(_problem(name, "not a Feature object", row=n, label="feature"))
        elif not isinstance(feature.get("geometry"), dict | None):
            problems.append(_problem(name, "its geometry is not a GeoJSON geometry object",
                                     row=n, label="feature"))
        elif not isinstance(feature.get("properties"), dict | None):
            problems.append(_problem(name, "its properties are not a JSON object", row=n,
                                     label="feature"))
        if len(problems) >= MAX_LISTED:
            break
    return problems


def _check_geojson(path: Path) -> list[str]:
    """A FeatureCollection of Features; NaN and Infinity (not JSON) are noted."""
    name = path.name
    odd: list[str] = []

    def constant(word: str) -> float:
        odd.append(word)
        return float("nan")

    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"), parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise UploadError(
            f"{name}: not valid JSON ({exc.msg} at line {exc.lineno:,} column {exc.colno:,})"
        ) from None
    except UnicodeDecodeError:
        raise UploadError(f"{name}: not UTF-8 text; GeoJSON must be UTF-8") from None
    _check_collection(name, doc)
    features = doc.get("features")
    if not isinstance(features, list):
        raise UploadError(f"{name}: the FeatureCollection has no list of 'features'")
    if not features:
        raise UploadError(f"{name}: the FeatureCollection has no features")
    problems = _feature_problems(name, features)
    if problems:
        raise UploadError(
            f"{name}: {len(problems):,} feature{'s are' if len(problems) > 1 else ' is'} "
            "malformed; nothing can be imported", problems,
        )
    if odd:
        words = ", ".join(sorted(set(odd)))
        return [f"the file holds {len(odd):,} {words} value{'s' if len(odd) > 1 else ''}, "
                "which JSON does not allow; features with such coordinates have no location "
                "and are rejected"]
    return []


def _check_vertices(path: Path, limits: Limits) -> int:
    import numpy as np
    import pyogrio
    import shapely

    from mapper.sources.files import _gdal_error, _layer, _vector_source

    source = _vector_source(path)
    try:
        frame = pyogrio.read_dataframe(source, layer=_layer(path), columns=[])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise _gdal_error(path, exc) from None
    counts = np.asarray(shapely.get_num_coordinates(frame.geometry.array), dtype="int64")
    big = np.flatnonzero(counts > limits.max_feature_vertices)
    if len(big):
        raise UploadError(
            f"{path.name}: {len(big):,} feature{'s have' if len(big) > 1 else ' has'} more "
            f"than {limits.max_feature_vertices:,} vertices (the most: "
            f"{int(counts.max()):,}); simplify the geometry, or use points",
            [_problem(path.name, f"{int(counts[i]):,} vertices; the limit is "
                      f"{limits.max_feature_vertices:,} per feature", row=int(i) + 1,
                      label="feature") for i in big[:MAX_LISTED]],
        )
    total = int(counts.sum())
    if total > limits.max_total_vertices:
        raise UploadError(
            f"{path.name}: the features have {total:,} vertices in all, more than the limit "
            f"of {limits.max_total_vertices:,}; simplify the geometry or split the file"
        )
    return total


def _summarise(imp, frame, path: Path, workspace: Workspace) -> dict:
    """The report's findings from the dry run's import and the register after it."""
    import pandas as pd

    from mapper.pipeline import rejection_reasons
    from mapper.sources.points import misread

    register = imp.kind
    id_col = registers.ID_COLUMN[register]
    rejected = [problem_dict(p) for p in sorted(imp.rejected, key=lambda p: p.row or 0)]
    invalid = sum(1 for p in imp.rejected if p.severity == "error")
    accepted = len(imp.frame)
    mine = frame[frame["source_file"] == path.name]
    label_col = "name" if "name" in frame else "type"

    def text(value) -> str:
        return "" if value is None or value is pd.NA or value != value else str(value)

    def label(row) -> str:
        return _short(text(row.get(label_col)), 120)

    by_id = {str(r[id_col]): r for r in frame.drop_duplicates(id_col).to_dict("records")}
    duplicates = []
    for row in mine[mine["duplicate_of"].notna()].to_dict("records"):
        other = by_id.get(str(row["duplicate_of"]), {})
        duplicates.append({
            "row": _int(row.get("source_row")),
            "id": str(row[id_col]),
            "name": label(row),
            "duplicate_of": str(row["duplicate_of"]),
            "duplicate_of_name": label(other) if other else "",
            "duplicate_of_file": text(other.get("source_file")) if other else "",
            "reason": text(row.get("duplicate_reason")) or "likely the same",
        })
    formulas = formula_cells(imp.frame)
    warnings_ = [_short(str(w).removeprefix(f"{path.name}: "), 500) for w in imp.warnings]
    if formulas:
        warnings_.append(
            f"{len(formulas):,} cell{'s start' if len(formulas) > 1 else ' starts'} with =, +, "
            "- or @, which spreadsheets may run as a formula (e.g. =HYPERLINK(...)): they are "
            "stored as text, and CSV exports put ' before them so spreadsheets show them as text"
        )
    prov = workspace.provenance()
    same = prov[(prov["layer"] == register) & (prov["source_file"] == path.name)]
    replaces = int(pd.to_numeric(same["rows_imported"], errors="coerce").fillna(0).sum())
    if replaces:
        warnings_.append(
            f"the {register} register already holds {replaces:,} records from a file named "
            f"{path.name}: importing replaces them with this file's records"
        )
    personal = [c for c in registers.PERSONAL_COLUMNS
                if c in imp.frame and imp.frame[c].astype("string").fillna("").str.strip()
                .ne("").any()]
    return {
        "register": register,
        "detail": imp.detail,
        "layout": (imp.extra or {}).get("layout"),
        "rows_read": int(imp.rows_read),
        "accepted": accepted,
        "rejected": rejected[:MAX_LISTED],
        "rejected_count": len(rejected),
        "invalid_count": invalid,
        "not_used": max(int(imp.rows_read) - accepted - len(rejected), 0),
        "reasons": rejection_reasons(imp.rejected),
        "held_back": (lambda p: "" if p is None else p.message)(misread(imp)),
        "duplicates": duplicates[:MAX_LISTED],
        "duplicate_count": len(duplicates),
        "formula_cells": formulas[:MAX_LISTED],
        "formula_count": len(formulas),
        "warnings": warnings_,
        "replaces": replaces,
        "personal_fields": personal,
        "gains": imp.extra.get("gains", ""),
        "choice": _choice_text(imp.extra.get("choice")),
        "understanding": list((imp.extra or {}).get("understood_lines", [])),
    }


def _choice_text(choice) -> str:
    if not choice:
        return ""
    said = choice.describe()
    return f"the mapping saved as {choice.signature} ({said})" if choice.signature else said


def formula_cells(frame) -> list[dict]:
    """Text cells a spreadsheet would run as a formula: row, column, value (see
    :func:`mapper.exports.looks_like_formula`; CSV exports neutralise them)."""
    from mapper.exports import FORMULA_START, HARMLESS_SIGNED

    out = []
    rows = frame["source_row"] if "source_row" in frame else None
    for column in frame.columns:
        if column == getattr(frame, "_geometry_column_name", "geometry"):
            continue
        text = frame[column]
        if text.dtype != object and str(text.dtype) not in ("string", "str"):
            continue
        text = text.astype("string")
        hit = text.str.match(FORMULA_START.pattern).fillna(False) & ~text.str.match(
            HARMLESS_SIGNED.pattern).fillna(False)
        for pos in hit.to_numpy().nonzero()[0]:
            out.append({
                "row": _int(rows.iloc[pos]) if rows is not None else int(pos) + 2,
                "column": str(column),
                "value": _short(text.iloc[pos], 200),
            })
    return sorted(out, key=lambda c: (c["row"] or 0, c["column"]))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _expected(message: str) -> str | None:
    found = re.search(r"\bexpected (.+?)(?:\)|;|$)", message)
    return found.group(1).strip() if found else None


def _problem(file: str, message: str, *, row: int | None = None, column: str | None = None,
             value: object = None, label: str = "row") -> dict:
    return {
        "file": file,
        "row": row,
        "row_label": label,
        "column": column,
        "value": None if value is None else _short(value),
        "message": _short(message, 500),
        "expected": _expected(message),
        "invalid": True,
    }


def problem_dict(p: Problem) -> dict:
    out = _problem(p.file, p.message, row=_int(p.row), column=p.column, value=p.value,
                   label=p.row_label)
    out["invalid"] = p.severity == "error"
    return out


# -- staging: expiry, owners, commit and discard --------------------------------------------


def staging_root(workspace: Workspace) -> Path:
    return Path(workspace.directory) / STAGING_DIR


def _staged(token: str, workspace: Workspace) -> Path:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise UploadNotFound()
    return staging_root(workspace) / token


def _meta(staging: Path) -> dict | None:
    try:
        return json.loads((staging / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cleanup_stale(workspace: Workspace, limits: Limits = Limits(),  # noqa: B008
                  *, owner: str | None = None) -> int:
    """Remove expired staging folders (and, for `owner`, those beyond the per-user limit
    less one, making room for a new upload). Returns how many were removed."""
    root = staging_root(workspace)
    if not root.is_dir():
        return 0
    now = time.time()
    removed = 0
    mine = []
    for folder in root.iterdir():
        try:
            age = now - folder.stat().st_mtime
        except OSError:
            continue
        busy = folder.name.endswith(BUSY_SUFFIX)
        meta = None if busy else _meta(folder)
        created = float(meta.get("created_at", 0)) if meta else now - age
        # a folder being inspected has no meta yet; one being committed gets more time
        if now - created > limits.ttl_s * (2 if busy else 1):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        elif meta is not None and owner is not None and meta.get("owner") == owner:
            mine.append((created, folder))
    for _, folder in sorted(mine)[: max(len(mine) - limits.max_waiting_per_user + 1, 0)]:
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _waiting(token: str, workspace: Workspace, actor: str | None,
             limits: Limits) -> tuple[Path, dict]:
    staging = _staged(token, workspace)
    meta = _meta(staging)
    if meta is None or (actor is not None and meta.get("owner") != actor):
        raise UploadNotFound()
    if time.time() - float(meta.get("created_at", 0)) > limits.ttl_s:
        shutil.rmtree(staging, ignore_errors=True)
        raise UploadNotFound(
            "This upload expired (uploads wait for "
            f"{limits.ttl_s // 60:g} minutes before they are imported); upload the file again."
        )
    return staging, meta


def load_report(token: str, workspace: Workspace, actor: str | None,
                limits: Limits = Limits()) -> Report:  # noqa: B008
    """The report of an upload waiting for `actor` (UploadNotFound otherwise)."""
    staging, _ = _waiting(token, workspace, actor, limits)
    try:
        return Report.from_json(json.loads((staging / REPORT_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        raise UploadNotFound() from None


def commit_upload(token: str, workspace: Workspace, actor: str, skip_invalid: bool = False,
                  limits: Limits = Limits()) -> CommitResult:  # noqa: B008
    """Import a waiting upload atomically, audit it and remove its staging folder.

    Raises UploadNotFound (not waiting, expired, or someone else's), or the import's
    DataValidationError/MapperError; then the workspace is unchanged and the upload
    still waits (e.g. to import only its valid rows). The import reads the file again, so
    it runs like the check: in a child process with its time and memory limits.
    """
    cleanup_stale(workspace, limits)
    staging, meta = _waiting(token, workspace, actor, limits)
    busy = staging.with_name(staging.name + BUSY_SUFFIX)
    try:
        os.rename(staging, busy)  # claims it: a second commit of the same upload fails here
    except OSError:
        raise UploadNotFound("This upload is being imported already.") from None
    try:
        # the commit reads the file again: in a child with the check's time and memory limits
        outcome = _run_limited(
            _commit, (busy / FILE_DIR / meta["file"], workspace.directory, skip_invalid,
                      meta.get("register"), meta.get("map"), meta.get("category")), limits)
        done = _committed(meta["file"], outcome)
    except BaseException:
        os.rename(busy, staging)
        raise
    rejected = done["rows_read"] - done["accepted"]
    try:
        workspace.appdb.audit(
            actor, "import", register=done["register"], record_id="",
            fields=done["personal"], detail=f"upload {meta['file']}: {done['counted']}"
            + (" (invalid rows skipped)" if skip_invalid else ""),
        )
    finally:
        shutil.rmtree(busy, ignore_errors=True)
    return CommitResult(
        token=token,
        file=meta["file"],
        register=done["register"],
        rows_read=done["rows_read"],
        accepted=done["accepted"],
        rejected=int(rejected),
        skip_invalid=skip_invalid,
        personal_fields=done["personal"],
        gains=done.get("gains", ""),
        saved_mapping=done.get("saved_mapping", ""),
    )


def _commit(path: Path, workspace_dir: Path, skip_invalid: bool, register: str | None,
            mapping: dict[str, str] | None = None, category: str | None = None) -> dict:
    """Runs in the child: the import itself (atomic: a killed child changes nothing)."""
    from mapper.pipeline import counted, import_file

    try:
        # "import all" means every row: any invalid row rejects the file (strict); "import
        # the valid rows" takes the usable ones even of a file held back as misread
        imported = import_file(path, Workspace(workspace_dir), skip_invalid=skip_invalid,
                               strict=not skip_invalid, register=register, mapping=mapping,
                               category=category)
    except DataValidationError as exc:  # sent back whole, to be raised again as it was
        return {"problems": exc.problems, "summary": str(exc).split(":\n", 1)[0]}
    return {
        "register": imported.kind,
        "rows_read": int(imported.rows_read),
        "accepted": len(imported.frame),
        "counted": counted(imported),
        "personal": [c for c in registers.PERSONAL_COLUMNS
                     if c in imported.frame
                     and imported.frame[c].astype("string").fillna("").str.strip().ne("").any()],
        "gains": imported.extra.get("gains", ""),
        "saved_mapping": imported.extra.get("saved_mapping", ("",))[0],
    }


def _committed(name: str, outcome: tuple) -> dict:
    """The commit's findings, or the error it ended in (as `mapper import` would raise)."""
    if outcome[0] == "ok":
        done = outcome[1]
        if "problems" in done:
            raise DataValidationError(done["problems"], summary=done["summary"])
        return done
    if outcome[0] == "rejected":
        raise MapperError(str(outcome[1]).replace("to read;", "to import;"))
    log.warning("upload %s could not be imported: %s\n%s", name, outcome[1],
                outcome[2] if len(outcome) > 2 else "")
    raise UploadError(f"{name}: the file could not be imported ({_short(outcome[1], 300)}); "
                      "the workspace is unchanged")


def discard_upload(token: str, workspace: Workspace, actor: str | None = None,
                   limits: Limits = Limits()) -> None:  # noqa: B008
    """Throw a waiting upload away (UploadNotFound when there is none for `actor`)."""
    staging, _ = _waiting(token, workspace, actor, limits)
    shutil.rmtree(staging, ignore_errors=True)


__all__ = [
    "CommitResult",
    "Limits",
    "Report",
    "UploadError",
    "UploadNotFound",
    "cleanup_stale",
    "commit_upload",
    "discard_upload",
    "formula_cells",
    "human_size",
    "inspect_upload",
    "load_report",
    "safe_name",
]
