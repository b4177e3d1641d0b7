"""The workspace on disk: one GeoPackage that QGIS opens, written atomically.

A workspace is a directory holding ``mapper.gpkg``. Every imported layer is stored in
EPSG:27700 next to two attribute tables:

``mapper_layers``
    one row per layer: kind, vintage, source file, its SHA-256, rows read and imported,
    import time, licence, attribution and the warnings raised while importing it.
``mapper_meta``
    key/value facts about the workspace (study area name, whether it is synthetic,
    mapper version, build time).

GIS software sees the same provenance in the GeoPackage's own tables, written when a
transaction ends (:func:`_describe_layers`): each layer's ``gpkg_contents`` row has a
human-readable ``identifier`` (its title, :data:`LAYER_TITLES`) and a ``description``
(what it is, source files, vintage, licence, attribution); and the metadata extension
(``gpkg_metadata`` and ``gpkg_metadata_reference``, registered in ``gpkg_extensions``)
holds one QGIS layer-metadata document per layer (title, abstract, licences, rights and
a history line per source file with its SHA-256, counts and import time), which QGIS
shows under Layer Properties > Metadata.

Atomicity: a transaction writes to a temporary copy in the same directory and swaps it
in with ``os.replace`` only after everything has been written and flushed to disk. A
failed, interrupted or killed import therefore leaves the previous ``mapper.gpkg``
byte-for-byte as it was. One import runs at a time (an exclusive lock file).

Data and analysis are written by separate transactions (an import, then the analysis):
a transaction that changes data layers stamps a new ``data_version``; the analysis
records the one it read, so a run killed between the two leaves an analysis that says it
is stale (``mapper.analysis_run.analysis_state``), never one that passes for current.

**PostgreSQL.** When a database URL is set (``--database`` / ``$MAPPER_DATABASE_URL``)
the same API keeps every layer, its provenance and the meta in PostGIS instead
(:mod:`mapper.pgstore`: schema ``mapper_data``, EPSG:27700 geometry with GiST indexes,
one database transaction per import, staged and swapped in at commit); ``read_layer``
returns the same frames from either store. The GeoPackage-only parts below (the file
lock, the temporary copy, ``gpkg_contents`` descriptions) do not apply there.

The store knows only the layers. The workspace directory also holds the app database
(:mod:`mapper.appdb`: users, the web app's edits, the audit log), which
:attr:`Workspace.appdb` opens; laying those edits over the imported registers is the work
of :mod:`mapper.overlay`, a layer above.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from filelock import FileLock, Timeout

from mapper import __version__, compact, database, pgstore
from mapper.appdb import AppDB, open_appdb
from mapper.database import DatabaseURL
from mapper.errors import MapperError
from mapper.private_files import FILE_MODE, private_dir, private_file
from mapper.saved_mappings import SavedMappings

STORE_FILE = "mapper.gpkg"
LOCK_FILE = ".mapper.lock"
TMP_PREFIX = ".mapper-import-"
LAYERS_TABLE = "mapper_layers"
META_TABLE = "mapper_meta"
DEFAULT_WORKSPACE = "workspace"
#: mapper_meta keys: a new token each time a transaction changes data layers, and the
#: token of the data the stored analysis was computed from (see
#: :func:`mapper.analysis_run.analysis_state`)
DATA_VERSION = "data_version"
#: the app database's meta key holding the saved column mappings (PostgreSQL store)
MAPPINGS_META = "saved_mappings"
ANALYSED_DATA_VERSION = "analysed_data_version"
WORKSPACE_ENV = "MAPPER_WORKSPACE"
#: what each layer is: its ``gpkg_contents.identifier`` and the start of its description
#: (a layer not listed is named by its table name)
LAYER_TITLES = {
    "boroughs": "Borough (local authority district) boundaries",
    "wards": "Ward boundaries",
    "lsoas": "LSOA (Lower layer Super Output Area) boundaries",
    "deprivation": "Indices of Deprivation by LSOA",
    "lsoa_ward_lookup": "LSOA to ward lookup",
    "population": "Population estimates by LSOA",
    "postcodes": "Postcode centroids",
    "groups": "Voluntary and community sector groups",
    "premises": "Community premises",
    "incidents": "Incidents",
    "ward_summary": "Need and asset measures per ward",
    "borough_summary": "Need measures per borough",
    "neighbourhoods": "Community Action Neighbourhoods",
    "coverage_gaps": "Parts of each ward beyond the coverage radius from any group",
    "lsoa_ward_weights": "How each LSOA is shared between wards",
    "lsoa_access": "Population-weighted distance to the nearest group, per LSOA",
    LAYERS_TABLE: "Provenance of every layer (mapper)",
    META_TABLE: "Facts about this workspace (mapper)",
}
#: the metadata standard of the documents in gpkg_metadata: QGIS layer metadata, which
#: QGIS reads from a GeoPackage (md_scope dataset, reference_scope table)
QGIS_METADATA_URI = "http://mrcc.com/qgis.dtd"
METADATA_EXTENSION = "http://www.geopackage.org/spec120/#extension_metadata"


#: GeoPackage path -> (its inode, modification time and size; its layers' names)
_LISTED: dict[str, tuple[tuple, list[str]]] = {}


@dataclass
class Provenance:
    """Where a stored layer came from. One row of ``mapper_layers``."""

    layer: str
    kind: str
    source_file: str
    vintage: str = ""
    detail: str = ""
    rows_read: int = 0
    rows_imported: int = 0
    licence: str = ""
    attribution: str = ""
    source_sha256: str = ""
    notes: list[str] = field(default_factory=list)
    imported_at: str = ""
    #: incident sources: what the file covers, from its content (incident types, months,
    #: districts; ``mapper.analysis.incidents.coverage_words``); "" for other layers
    coverage: str = ""

    def as_row(self) -> dict:
        row = asdict(self)
        row["notes"] = json.dumps(self.notes, ensure_ascii=False)
        row["imported_at"] = self.imported_at or _now()
        return row


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def resolve_workspace(directory: str | os.PathLike | None = None) -> Path:
    """The workspace directory: the argument, else $MAPPER_WORKSPACE, else ./workspace."""
    chosen = directory or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
    return Path(chosen)


class Workspace:
    """Read access to a workspace directory, and atomic transactions to change it."""

    def __init__(self, directory: str | os.PathLike | None = None,
                 url: str | DatabaseURL | None = None):
        """`url`: the PostgreSQL database holding the layers (default
        ``$MAPPER_DATABASE_URL``; "" forces the GeoPackage)."""
        self.directory = resolve_workspace(directory)
        self.path = self.directory / STORE_FILE
        self.url: DatabaseURL | None = (url if isinstance(url, DatabaseURL)
                                        else database.configured_url(url))

    def __repr__(self) -> str:
        return f"Workspace({str(self.directory)!r}{', ' + repr(self.url) if self.url else ''})"

    @property
    def location(self) -> str:
        """Where the layers are, for messages: the GeoPackage, or the database (no
        password) and schema."""
        if self.url is not None:
            return f"PostgreSQL {self.url} (schema {pgstore.SCHEMA})"
        return str(self.path)

    def exists(self) -> bool:
        if self.url is not None:
            return pgstore.version(self.url) is not None
        return self.path.is_file()

    def version(self) -> tuple:
        """What changes whenever a transaction commits (caches key on it): the
        GeoPackage's identity (inode, modification time, size), or the database's store
        version (asked again at most every :data:`mapper.pgstore.VERSION_POLL_S`).
        OSError when the GeoPackage is gone."""
        if self.url is not None:  # (URL, when committed in ns, the version's nonce)
            token = pgstore.version(self.url) or "0-"
            stamp, _, nonce = token.partition("-")
            return (str(self.url), int(stamp) if stamp.isdigit() else 0, nonce)
        stat = self.path.stat()
        return (str(self.path), stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def fingerprint(self) -> str:
        """A digest of the whole stored content: equal exactly when nothing changed (the
        GeoPackage's bytes; on PostgreSQL every layer's rows, the provenance and meta)."""
        if self.url is not None:
            return pgstore.fingerprint(self.url)
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def _require(self) -> None:
        if not self.exists():
            raise MapperError(
                f"no workspace at {self.directory}: run 'mapper build --from DIR' or "
                "'mapper demo' first (or point --workspace / MAPPER_WORKSPACE elsewhere)"
            )

    def layers(self) -> list[str]:
        """Names of the data layers (the bookkeeping tables excluded); listed again only
        when the GeoPackage has changed (every write replaces the file)."""
        if self.url is not None:
            return pgstore.layers(self.url) if self.exists() else []
        try:
            stat = self.path.stat()
        except OSError:
            return []
        key, identity = str(self.path), (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        seen = _LISTED.get(key)
        if seen is None or seen[0] != identity:
            names = [str(n) for n, _ in pyogrio.list_layers(self.path)]
            seen = _LISTED[key] = (identity, [n for n in names
                                              if n not in (LAYERS_TABLE, META_TABLE)])
        return list(seen[1])

    def has_layer(self, name: str) -> bool:
        return name in self.layers()

    @property
    def appdb(self) -> AppDB:
        """The app database beside the GeoPackage (users, edits, audit). The store does
        not read it: laying its edits over the registers is :mod:`mapper.overlay`'s work."""
        return open_appdb(self.directory, self.url.url if self.url is not None else "")

    def saved_mappings(self) -> SavedMappings:
        """The column mappings saved by imports (:mod:`mapper.saved_mappings`): the
        directory's ``mappings.json``, or with a database URL the app database's (shared
        by every host)."""
        if self.url is None:
            return SavedMappings(self.directory)
        db = self.appdb
        return SavedMappings(
            self.directory, where=f"the database {self.url}",
            stored=(lambda: db.get_meta(MAPPINGS_META),
                    lambda text: db.put_meta(MAPPINGS_META, text)))

    def read_layer(self, name: str, **kwargs) -> gpd.GeoDataFrame | pd.DataFrame:
        """Read one layer as stored (registers as imported: the web app's edits are laid
        over them by :func:`mapper.overlay.read_layer`); geometry layers come back in
        EPSG:27700. `kwargs` go to :func:`pyogrio.read_dataframe` (``columns``,
        ``where``, ``bbox``, ``read_geometry`` ...)."""
        self._require()
        if name not in self.layers():
            present = ", ".join(self.layers()) or "none"
            raise MapperError(f"the workspace has no layer '{name}' (layers: {present})")
        if self.url is not None:
            return pgstore.read_layer(self.url, name, **kwargs)
        return pyogrio.read_dataframe(self.path, layer=name, **kwargs)

    def incident_counts(self) -> pd.DataFrame:
        """Incidents counted by ward and month (``ward_code``, ``month``, ``incidents``,
        sorted): on PostgreSQL counted in the database without reading the points
        (:func:`mapper.pgstore.incident_counts`: for incident layers larger than memory),
        on the GeoPackage from the two columns alone. Edits are not laid over (incidents
        are not edited in the web app)."""
        if self.url is not None:
            return pgstore.incident_counts(self.url)
        frame = self.read_layer("incidents", columns=["ward_code", "month"],
                                read_geometry=False)
        return (frame.groupby(["ward_code", "month"]).size().rename("incidents")
                .reset_index().astype({"incidents": "int64"}))

    def row_count(self, name: str) -> int:
        """How many rows a layer has (counted by the store, nothing read)."""
        self._require()
        if self.url is not None:
            return pgstore.row_count(self.url, name)
        return int(pyogrio.read_info(self.path, layer=name)["features"])

    def distinct_values(self, name: str, column: str) -> list:
        """The distinct values of one column of a layer as stored (missing left out; on
        PostgreSQL found by the database)."""
        if self.url is not None:
            return pgstore.distinct_values(self.url, name, column)
        frame = self.read_layer(name, columns=[column], read_geometry=False)
        return frame[column].dropna().unique().tolist() if column in frame else []

    def incident_summary(self, *, leave_out=()) -> pd.DataFrame | None:
        """On PostgreSQL, the incidents grouped in the database by source file, type,
        month, ward and district with ``n_records`` counting each group
        (:func:`mapper.pgstore.incident_summary`: what the analysis counts, without
        reading the rows; `leave_out`: incident ids not counted). None on the GeoPackage,
        whose analysis reads the rows (in chunks, without the points)."""
        if self.url is None:
            return None
        return pgstore.incident_summary(self.url, leave_out=leave_out)

    def provenance(self) -> pd.DataFrame:
        """One row per layer: kind, vintage, source, counts, licence, attribution, notes."""
        if self.url is not None:
            if not self.exists():
                return pd.DataFrame(columns=list(Provenance.__dataclass_fields__))
            frame = pgstore.provenance(self.url)
        elif not self.exists() or LAYERS_TABLE not in _table_names(self.path):
            return pd.DataFrame(columns=list(Provenance.__dataclass_fields__))
        else:
            frame = pyogrio.read_dataframe(self.path, layer=LAYERS_TABLE)
        frame["notes"] = frame["notes"].map(lambda s: json.loads(s) if s else [])
        for name, spec in Provenance.__dataclass_fields__.items():
            if name not in frame:  # a workspace written before the field existed
                frame[name] = spec.default if isinstance(spec.default, str) else ""
        return frame

    def meta(self) -> dict[str, str]:
        if self.url is not None:
            return pgstore.meta(self.url)
        if not self.exists() or META_TABLE not in _table_names(self.path):
            return {}
        frame = pyogrio.read_dataframe(self.path, layer=META_TABLE)
        return dict(zip(frame["key"], frame["value"], strict=True))

    def copy_from(self, source: Workspace) -> None:
        """Replace this workspace's layers, provenance and meta with `source`'s, as they
        are (one transaction; the data version too, so a current analysis stays current):
        a GeoPackage into PostgreSQL, PostgreSQL into a GeoPackage (``mapper backup``
        and ``restore``), or either into the other kind."""
        source._require()
        with self.transaction(fresh=True) as tx:
            for name in source.layers():
                tx.write_layer(name, source.read_layer(name), analysis_input=False)
            tx._provenance = {}
            for row in source.provenance().to_dict("records"):
                row["notes"] = json.dumps(row["notes"], ensure_ascii=False)
                tx._provenance[f"{row['layer']}\t{row['source_file']}"] = row
            tx._meta = dict(source.meta())
            tx._data_changed = False
            tx._keep_times = True

    @contextmanager
    def transaction(self, *, fresh: bool = False) -> Iterator[Transaction]:
        """Change the workspace atomically.

        Parameters
        ----------
        fresh : start from an empty store instead of a copy of the current one
            (``mapper build`` rebuilds the whole workspace this way).

        Everything written inside the ``with`` block becomes visible at once when the
        block ends without error; on any error, or if the process dies, the previous
        store is untouched.
        """
        if self.url is not None:
            pg = pgstore.PgTransaction(self.url, fresh=fresh, where=self.location)
            try:
                tx = Transaction(None, previous=None if fresh else self, pg=pg)
                yield tx
                tx._finish()
            finally:
                pg.close()
            return
        private_dir(self.directory)
        with _exclusive_lock(self.directory / LOCK_FILE):
            _remove_stale_temporaries(self.directory)
            with replaced_atomically(self.path, copy=not fresh) as tmp:
                tx = Transaction(tmp, previous=None if fresh else self)
                yield tx
                tx._finish()


@contextmanager
def replaced_atomically(path: Path, *, copy: bool) -> Iterator[Path]:
    """A temporary file beside `path` to write (a private copy of `path` with `copy`,
    else none yet) that replaces `path` at once when the block ends without error:
    owner-only (every contact detail), flushed to disk, the directory too. On any error,
    or if the process dies, `path` is untouched. The caller holds the directory's lock
    (the temporary's name is the process's)."""
    tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}{path.suffix}"
    try:
        if copy and path.exists():
            shutil.copyfile(path, private_file(tmp))
        yield tmp
        os.chmod(tmp, FILE_MODE)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


class Transaction:
    """Writes layers into the temporary store of one workspace transaction."""

    def __init__(self, path: Path | None, previous: Workspace | None,
                 pg: pgstore.PgTransaction | None = None):
        self.path = path
        self._pg = pg
        self._provenance: dict[str, dict] = {}
        self._meta: dict[str, str] = {}
        self._data_changed = previous is None
        self._keep_times = False  # a copy (copy_from) keeps the source's times
        if previous is not None and previous.exists():
            for row in previous.provenance().to_dict("records"):
                row["notes"] = json.dumps(row["notes"], ensure_ascii=False)
                self._provenance[f"{row['layer']}\t{row['source_file']}"] = row
            self._meta.update(previous.meta())

    def write_layer(
        self,
        name: str,
        frame: gpd.GeoDataFrame | pd.DataFrame,
        provenance: Provenance | list[Provenance] | None = None,
        *,
        analysis_input: bool = True,
    ) -> None:
        """Write (or replace) a layer; geometry must already be in EPSG:27700.

        `provenance` replaces the layer's provenance: one record, or one per source file
        for layers gathered from several files (the point registers). A layer whose
        provenance is not of kind ``analysis`` is data: writing it stamps a new data
        version (the stored analysis is then stale), unless `analysis_input` is false
        (a change no analysis reads, such as erasing contact details).
        """
        if name in (LAYERS_TABLE, META_TABLE):
            raise ValueError(f"{name!r} is a reserved table name")
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
            if frame.crs.to_epsg() != 27700:
                raise ValueError(f"layer {name!r} must be in EPSG:27700, got {frame.crs}")
        if self._pg is not None:
            if compact.is_compact(frame):  # the points, made a chunk at a time, in one frame
                frame = gpd.GeoDataFrame(pd.concat(
                    list(compact.geo_chunks(frame, WRITE_CHUNK_ROWS)), ignore_index=True))
            self._pg.write_layer(name, _storable(frame))
        else:
            assert self.path is not None  # the GeoPackage store's file
            _write_chunked(frame, self.path, name)
        records = [] if provenance is None else (
            provenance if isinstance(provenance, list) else [provenance])
        if analysis_input and not (records and all(r.kind == "analysis" for r in records)):
            self._data_changed = True
        if provenance is not None:
            records = provenance if isinstance(provenance, list) else [provenance]
            self._provenance = {k: v for k, v in self._provenance.items() if v["layer"] != name}
            for record in records:
                self._provenance[f"{name}\t{record.source_file}"] = record.as_row()

    def drop_layer(self, name: str) -> None:
        """Remove a layer (and its provenance) if present, as GDAL deletes a GeoPackage
        layer: the table, its spatial index and its rows in the GeoPackage catalogue."""
        if name in (LAYERS_TABLE, META_TABLE):
            raise ValueError(f"{name!r} is a reserved table name")
        self._provenance = {k: v for k, v in self._provenance.items() if v["layer"] != name}
        if self._pg is not None:
            self._pg.drop_layer(name)
            return
        if self.path is None or not self.path.exists():
            return
        with closing(sqlite3.connect(self.path)) as db, db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if name not in tables:
                return
            for (column,) in db.execute(
                "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,)
            ).fetchall():
                db.execute(f'DROP TABLE IF EXISTS "rtree_{name}_{column}"')
            db.execute(f'DROP TABLE "{name}"')
            for catalogue in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents",
                              "gpkg_extensions", "gpkg_data_columns"):
                if catalogue in tables:
                    db.execute(f"DELETE FROM {catalogue} WHERE table_name = ?", (name,))

    def set_meta(self, key: str, value: object) -> None:
        self._meta[key] = str(value)

    def _finish(self) -> None:
        self._meta.setdefault("created_at", _now())
        if not self._keep_times:
            self._meta["updated_at"] = _now()
            self._meta["mapper_version"] = __version__
        if self._data_changed:
            self._meta[DATA_VERSION] = secrets.token_hex(8)
        if self._pg is not None:
            self._pg.finish(list(self._provenance.values()), self._meta)
            return
        assert self.path is not None
        if self._provenance:
            rows = pd.DataFrame(list(self._provenance.values()))
            pyogrio.write_dataframe(rows, self.path, layer=LAYERS_TABLE, driver="GPKG")
        meta = pd.DataFrame({"key": list(self._meta), "value": list(self._meta.values())})
        pyogrio.write_dataframe(meta, self.path, layer=META_TABLE, driver="GPKG")
        _describe_layers(self.path, list(self._provenance.values()))


# -- the GeoPackage's own description of its layers (gpkg_contents, metadata extension) --


def _describe_layers(path: Path, provenance: list[dict]) -> None:
    """Write each layer's identifier and description into ``gpkg_contents`` and its
    provenance as a QGIS layer-metadata document in the GeoPackage metadata extension,
    replacing what an earlier transaction wrote there."""
    by_layer: dict[str, list[dict]] = {}
    for row in provenance:
        by_layer.setdefault(str(row["layer"]), []).append(row)
    with closing(sqlite3.connect(path)) as db, db:
        tables = [r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")]
        _metadata_tables(db)
        stale = [r[0] for r in db.execute(
            "SELECT id FROM gpkg_metadata WHERE md_standard_uri = ?", (QGIS_METADATA_URI,))]
        db.executemany("DELETE FROM gpkg_metadata_reference WHERE md_file_id = ?",
                       [(i,) for i in stale])
        db.executemany("DELETE FROM gpkg_metadata WHERE id = ?", [(i,) for i in stale])
        db.execute("UPDATE gpkg_contents SET identifier = NULL")  # titles are unique
        for table in tables:
            rows = by_layer.get(table, [])
            title = LAYER_TITLES.get(table, table)
            db.execute("UPDATE gpkg_contents SET identifier = ?, description = ? "
                       "WHERE table_name = ?", (title, _description(title, rows), table))
            cursor = db.execute(
                "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                "VALUES ('dataset', ?, 'text/xml', ?)",
                (QGIS_METADATA_URI, _metadata_document(table, title, rows)))
            db.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, "
                       "md_file_id) VALUES ('table', ?, ?)", (table, cursor.lastrowid))


def _metadata_tables(db: sqlite3.Connection) -> None:
    """The metadata extension's two tables (as the GeoPackage standard defines them, and
    GDAL creates them) and their registration in ``gpkg_extensions``."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY "
        "ASC NOT NULL, md_scope TEXT NOT NULL DEFAULT 'dataset', md_standard_uri TEXT NOT "
        "NULL, mime_type TEXT NOT NULL DEFAULT 'text/xml', metadata TEXT NOT NULL DEFAULT '')")
    db.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (reference_scope TEXT NOT NULL, "
        "table_name TEXT, column_name TEXT, row_id_value INTEGER, timestamp DATETIME NOT "
        "NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), md_file_id INTEGER NOT NULL, "
        "md_parent_id INTEGER, CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES "
        "gpkg_metadata(id), CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES "
        "gpkg_metadata(id))")
    db.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
        "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
        "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))")
    for table in ("gpkg_metadata", "gpkg_metadata_reference"):
        if not db.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND "
                          "extension_name = 'gpkg_metadata'", (table,)).fetchone():
            db.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_metadata', ?, "
                       "'read-write')", (table, METADATA_EXTENSION))


def _distinct(rows: list[dict], column: str) -> list[str]:
    values = (str(r.get(column) or "").strip() for r in rows)
    return list(dict.fromkeys(v for v in values if v and v.lower() not in ("nan", "none")))


def _description(title: str, rows: list[dict]) -> str:
    """What the layer is, where it came from (files and vintages), licence, attribution."""
    parts = [title + "."]
    sources = []
    for row in rows:
        vintage = str(row.get("vintage") or "").strip()
        sources.append(str(row.get("source_file") or "") + (f" ({vintage})" if vintage else ""))
    if sources:
        parts.append("Source: " + "; ".join(dict.fromkeys(s for s in sources if s)) + ".")
    licences, attribution = _distinct(rows, "licence"), _distinct(rows, "attribution")
    if licences:
        parts.append("Licence: " + "; ".join(v.rstrip(".") for v in licences) + ".")
    if attribution:
        parts.append("Attribution: " + "; ".join(v.rstrip(".") for v in attribution) + ".")
    imported = _distinct(rows, "imported_at")
    if imported:
        parts.append(f"Imported {max(imported)} by mapper {__version__}.")
    return " ".join(parts)


def _count(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):  # missing (NaN) in an old workspace's provenance
        return 0


def _metadata_document(table: str, title: str, rows: list[dict]) -> str:
    """The layer's provenance as a QGIS layer-metadata document (qgis.dtd)."""
    root = ET.Element("qgis", version=__version__)
    for tag, text in (("identifier", table), ("parentidentifier", ""), ("language", "en"),
                      ("type", "dataset"), ("title", title),
                      ("abstract", _description(title, rows))):
        ET.SubElement(root, tag).text = text
    keywords = ET.SubElement(root, "keywords", vocabulary="mapper")
    for kind in _distinct(rows, "kind"):
        ET.SubElement(keywords, "keyword").text = kind
    for row in rows:
        counts = (f"{_count(row.get('rows_imported')):,} of "
                  f"{_count(row.get('rows_read')):,} rows imported")
        line = [f"{row.get('source_file')}", str(row.get("detail") or ""),
                f"vintage {row.get('vintage') or 'not stated'}", counts,
                f"SHA-256 {row.get('source_sha256')}" if row.get("source_sha256") else "",
                f"imported {row.get('imported_at')}" if row.get("imported_at") else "",
                str(row.get("coverage") or "")]
        notes = json.loads(row["notes"]) if isinstance(row.get("notes"), str) and row[
            "notes"] else []
        line += [f"note: {n}" for n in notes]
        ET.SubElement(root, "history").text = "; ".join(p for p in line if p.strip())
    for tag, column in (("rights", "attribution"), ("license", "licence")):
        for value in _distinct(rows, column):
            ET.SubElement(root, tag).text = value
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode"))


#: rows written at a time: a large layer (England's incidents) is appended chunk by chunk,
#: so the text and WKB copies GDAL needs are made for one chunk at a time
WRITE_CHUNK_ROWS = 250_000


def _write_chunked(frame: pd.DataFrame, path: Path, name: str) -> None:
    """Write `frame` as layer `name` (replacing it): in chunks when it is large, and a
    compact frame (:mod:`mapper.compact`) as points made a chunk at a time."""
    if compact.is_compact(frame):
        chunks = compact.geo_chunks(frame, WRITE_CHUNK_ROWS)
    elif len(frame) > WRITE_CHUNK_ROWS:
        chunks = (frame.iloc[start:start + WRITE_CHUNK_ROWS]
                  for start in range(0, len(frame), WRITE_CHUNK_ROWS))
    else:
        chunks = iter([frame])
    for n, chunk in enumerate(chunks):
        pyogrio.write_dataframe(_storable(chunk), path, layer=name, driver="GPKG",
                                append=n > 0)


#: what :func:`pandas.api.types.infer_dtype` says of a column that holds no list or dict
_NOT_LISTS = frozenset({"string", "empty", "integer", "floating", "boolean", "decimal", "bytes",
                        "date", "datetime", "datetime64", "time", "timedelta", "period"})


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """GeoPackage has no list or object columns: store them as JSON text."""
    out = frame.copy()
    for col in out.columns:
        if col == getattr(out, "_geometry_column_name", None):
            continue
        if out[col].dtype == object and pd.api.types.infer_dtype(
                out[col], skipna=True) not in _NOT_LISTS and out[col].map(
                lambda v: isinstance(v, list | dict)).any():
            out[col] = out[col].map(lambda v: json.dumps(v, ensure_ascii=False))
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            # missing values become NULL (GDAL would otherwise write pd.NA as "<NA>")
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _table_names(path: Path) -> set[str]:
    return {str(n) for n, _ in pyogrio.list_layers(path)}


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    # One holder at a time, across processes, on POSIX (flock) and Windows (msvcrt) alike;
    # never waits: a second import fails at once. On POSIX the lock file stays, owner-only.
    lock = FileLock(lock_path, timeout=0, mode=FILE_MODE)
    try:
        lock.acquire()
    except Timeout:
        raise MapperError(
            f"another import is changing the workspace {lock_path.parent} right now; "
            "wait for it to finish and try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _remove_stale_temporaries(directory: Path) -> None:
    # Called with the lock held, so any temporary store left behind is from a dead import.
    for leftover in directory.glob(f"{TMP_PREFIX}*"):
        leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
