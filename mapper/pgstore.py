"""The workspace layers in PostgreSQL/PostGIS: the store behind :class:`mapper.store.Workspace`
when a database URL is set (``--database`` / ``$MAPPER_DATABASE_URL``).

Everything lives in the schema ``mapper_data`` (the app database is ``mapper_app``):

* one table per layer: a ``fid`` (row order, as the GeoPackage's), the attribute columns
  (BIGINT/INTEGER, DOUBLE PRECISION, BOOLEAN, TIMESTAMP, TEXT) and, for geometry layers, a
  ``geometry`` column of type ``geometry(Geometry, 27700)`` with a GiST index;
* ``mapper_layers``: provenance, one row per layer and source file (as the GeoPackage's);
* ``mapper_meta``: key/value facts about the workspace (as the GeoPackage's);
* ``mapper_columns``: each layer's columns and the pandas dtype they were written with, so
  :func:`read_layer` returns the frame the GeoPackage returns (same columns, order, dtypes,
  CRS).

The schema changes by numbered migrations (:data:`MIGRATIONS`, applied by
:func:`mapper.database.apply_migrations`).

**One transaction per import or build.** :class:`PgTransaction` opens one database
transaction, takes an advisory lock (a second import fails at once, as with the embedded
store's lock file), writes each new layer into a staging schema (``mapper_stage``,
invisible to others until commit) with ``COPY`` of WKB geometry, builds its GiST index,
and at the end moves the new tables into ``mapper_data`` in place of the old ones and
rewrites provenance and meta, then commits. Readers see the old layers until the commit
and the new ones after; a failed, interrupted or killed import is rolled back by the
server and leaves the previous layers as they were.

Data larger than memory stays here and is summarised in SQL: :func:`incident_summary`
counts the incidents by source file, type, month, ward and district (what the analysis
counts of them: ``mapper analyse`` never reads their rows), :func:`incident_counts` by
ward and month.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper import database
from mapper.database import DatabaseURL
from mapper.errors import MapperError

SCHEMA = "mapper_data"
STAGE = "mapper_stage"
SRID = 27700
GEOMETRY = "geometry"
LAYERS_TABLE = "mapper_layers"
META_TABLE = "mapper_meta"
COLUMNS_TABLE = "mapper_columns"
BOOKKEEPING = (LAYERS_TABLE, META_TABLE, COLUMNS_TABLE, "schema_migrations")
#: the advisory lock an import holds for its transaction ('mapl' in ASCII)
IMPORT_LOCK = 0x6D61706C
#: seconds a process trusts what it last read of the store's version (see :func:`version`)
VERSION_POLL_S = 0.25

#: provenance columns (the fields of :class:`mapper.store.Provenance`, in order) and types
PROVENANCE_COLUMNS = {
    "layer": "TEXT", "kind": "TEXT", "source_file": "TEXT", "vintage": "TEXT",
    "detail": "TEXT", "rows_read": "BIGINT", "rows_imported": "BIGINT", "licence": "TEXT",
    "attribution": "TEXT", "source_sha256": "TEXT", "notes": "TEXT", "imported_at": "TEXT",
    "coverage": "TEXT",
}

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public",
        "CREATE TABLE mapper_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE mapper_layers (position INTEGER NOT NULL, "
        + ", ".join(f"{name} {kind}" for name, kind in PROVENANCE_COLUMNS.items()) + ")",
        "CREATE TABLE mapper_columns (layer TEXT PRIMARY KEY, columns TEXT NOT NULL, "
        "geometry BOOLEAN NOT NULL, position BIGINT GENERATED ALWAYS AS IDENTITY)",
    ),
}

_LOCK = threading.RLock()
_VERSIONS: dict[str, tuple[float, str | None]] = {}
_LAYERS: dict[str, tuple[str | None, list[str]]] = {}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(name: str, schema: str = SCHEMA) -> str:
    return f"{schema}.{_quote(name)}"


def _migrated(conn) -> None:
    database.apply_migrations(conn, SCHEMA, MIGRATIONS)


def _connect(url: DatabaseURL):
    conn = database.connect(url)
    try:
        _migrated(conn)
    except BaseException:
        conn.close()  # (a user who may not set the schema up: not left open)
        raise
    return conn


@contextmanager
def reading(url: DatabaseURL) -> Iterator[Any]:
    """A connection to `url` (autocommit) from the process's pool
    (:func:`mapper.database.pooled`: up to :data:`mapper.database.POOL_MAX` readers at
    once, each its own connection), the schema migrated when the pool was made."""
    with database.pooled(url, prepare=_migrated) as conn:
        yield conn


def close_all() -> None:
    """Close this process's connections (tests, before dropping a database)."""
    with _LOCK:
        database.close_pools()
        _VERSIONS.clear()
        _LAYERS.clear()


# -- reading --------------------------------------------------------------------------


def layers(url: DatabaseURL) -> list[str]:
    """The stored layers' names, in the order they were written; listed again only when
    the store's :func:`version` has changed."""
    token = version(url)
    known = _LAYERS.get(url.url)
    if known is not None and token is not None and known[0] == token:
        return list(known[1])
    with reading(url) as conn:
        rows = conn.execute(f"SELECT layer FROM {SCHEMA}.{COLUMNS_TABLE} ORDER BY position")
        names = [str(r[0]) for r in rows]
    _LAYERS[url.url] = (token, names)
    return list(names)


def meta(url: DatabaseURL) -> dict[str, str]:
    """The workspace's key/value facts (as the GeoPackage's ``mapper_meta``)."""
    with reading(url) as conn:
        return {r[0]: r[1] for r in conn.execute(
            f"SELECT key, value FROM {SCHEMA}.{META_TABLE} WHERE key <> 'store_version'")}


def version(url: DatabaseURL) -> str | None:
    """A token that changes with every committed transaction (None: nothing stored yet);
    asked again at most every :data:`VERSION_POLL_S` seconds, so that a server learns of
    a build by another process within a second."""
    now = time.monotonic()
    known = _VERSIONS.get(url.url)
    if known is not None and now - known[0] < VERSION_POLL_S:
        return known[1]
    with reading(url) as conn:
        row = conn.execute(f"SELECT value FROM {SCHEMA}.{META_TABLE} WHERE key = 'store_version'"
                           ).fetchone()
    token = None if row is None else str(row[0])
    _VERSIONS[url.url] = (now, token)
    return token


def provenance(url: DatabaseURL) -> pd.DataFrame:
    """The provenance rows as the GeoPackage's ``mapper_layers`` reads (notes as text)."""
    names = list(PROVENANCE_COLUMNS)
    with reading(url) as conn:
        rows = conn.execute(f"SELECT {', '.join(names)} FROM {SCHEMA}.{LAYERS_TABLE} "
                            "ORDER BY position").fetchall()
    values = list(zip(*[tuple(r) for r in rows], strict=True)) or [() for _ in names]
    return pd.DataFrame({name: _typed(column, "int64" if kind == "BIGINT" else "object")
                         for (name, kind), column in zip(PROVENANCE_COLUMNS.items(), values,
                                                         strict=True)}, columns=names)


def _columns(conn, name: str) -> tuple[list[tuple[str, str]], bool]:
    row = conn.execute(f"SELECT columns, geometry FROM {SCHEMA}.{COLUMNS_TABLE} WHERE layer = %s",
                       (name,)).fetchone()
    if row is None:
        raise MapperError(f"the database has no layer '{name}'")
    return [tuple(c) for c in json.loads(row[0])], bool(row[1])


def read_layer(url: DatabaseURL, name: str, *, columns: Sequence[str] | None = None,
               where: str | None = None, bbox: Sequence[float] | None = None,
               read_geometry: bool = True, **unsupported) -> gpd.GeoDataFrame | pd.DataFrame:
    """One layer as :func:`pyogrio.read_dataframe` reads it from the GeoPackage: the same
    columns in the same order and dtypes, geometry in EPSG:27700 (``columns``, ``where``
    (SQL), ``bbox`` (features intersecting it) and ``read_geometry`` as pyogrio's)."""
    if unsupported:
        raise TypeError(f"read_layer on PostgreSQL does not take {sorted(unsupported)}")
    with reading(url) as conn:
        stored, has_geometry = _columns(conn, name)
        if columns is not None:
            wanted = set(columns)
            stored = [c for c in stored if c[0] in wanted]
        with_geometry = has_geometry and read_geometry
        select = [_quote(c) for c, _ in stored]
        if with_geometry:
            select.append(f"ST_AsBinary({GEOMETRY})")
        conditions = []
        params: list = []
        if where:
            conditions.append(f"({where})")
        if bbox is not None and has_geometry:
            conditions.append(f"{GEOMETRY} && ST_MakeEnvelope(%s, %s, %s, %s, {SRID}) AND "
                              f"ST_Intersects({GEOMETRY}, ST_MakeEnvelope(%s, %s, %s, %s, {SRID}))")
            params += [float(v) for v in bbox] * 2
        sql = (f"SELECT {', '.join(select) or 'fid'} FROM {_table(name)}"
               + (f" WHERE {' AND '.join(conditions)}" if conditions else "") + " ORDER BY fid")
        from psycopg.rows import tuple_row  # plain tuples: a Row per row costs seconds

        with conn.cursor(row_factory=tuple_row, binary=True) as cursor:
            rows = cursor.execute(sql, params or None).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [
        () for _ in range(len(select) or 1)]
    data = {}
    for (column, dtype), column_values in zip(stored, values, strict=False):
        data[column] = _typed(column_values, dtype)
    frame = pd.DataFrame(data, columns=[c for c, _ in stored])
    if not with_geometry:
        return frame
    geometry = shapely.from_wkb(np.array(values[len(stored)], dtype=object))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=f"EPSG:{SRID}"),
                            crs=f"EPSG:{SRID}")


def _typed(values: Sequence, dtype: str) -> pd.Series:
    """A column read back as pyogrio reads it from a GeoPackage: integers with a missing
    value become float64; text is ``str`` (all missing: object, None)."""
    dtype = dtype.lower()
    if dtype.startswith(("int", "uint")):
        if any(v is None for v in values):
            return pd.Series(np.array([np.nan if v is None else v for v in values],
                                      dtype="float64"))
        return pd.Series(np.array(values, dtype=dtype))
    if dtype.startswith("float"):
        return pd.Series(np.array([np.nan if v is None else v for v in values], dtype=dtype))
    if dtype in ("bool", "boolean"):
        if any(v is None for v in values):
            return pd.Series(list(values), dtype=object)
        return pd.Series(np.array(values, dtype=bool))
    if dtype.startswith("datetime64"):
        series = pd.to_datetime(pd.Series(list(values), dtype=object))
        return series.dt.as_unit("ms")  # as pyogrio reads a GeoPackage's dates
    if all(v is None for v in values):  # none, or all missing
        return pd.Series(list(values), dtype=object)
    return pd.Series(list(values), dtype="str")  # TEXT, as pyogrio reads it


def row_count(url: DatabaseURL, name: str) -> int:
    """How many rows the layer has (counted in the database)."""
    with reading(url) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {_table(name)}").fetchone()[0])


def distinct_values(url: DatabaseURL, name: str, column: str) -> list:
    """The distinct values of one column of a layer, NULL left out (in the database)."""
    with reading(url) as conn:
        stored, _ = _columns(conn, name)
        if column not in {c for c, _ in stored}:
            return []
        rows = conn.execute(f"SELECT DISTINCT {_quote(column)} FROM {_table(name)} "
                            f"WHERE {_quote(column)} IS NOT NULL").fetchall()
    return [r[0] for r in rows]


def fingerprint(url: DatabaseURL) -> str:
    """A digest of every layer's rows, the provenance and the meta: equal exactly when
    the stored content is (the tests' 'byte for byte' on PostgreSQL)."""
    digest = hashlib.sha256()
    with reading(url) as conn:
        for name in layers(url):
            row = conn.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY fid)) "
                               f"FROM {_table(name)} t").fetchone()
            digest.update(f"{name}={row[0]};".encode())
        for table, order in ((LAYERS_TABLE, "position"), (META_TABLE, "key"),
                             (COLUMNS_TABLE, "layer")):
            row = conn.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY {order})) "
                               f"FROM {SCHEMA}.{table} t").fetchone()
            digest.update(f"{table}={row[0]};".encode())
    return digest.hexdigest()


# -- writing --------------------------------------------------------------------------


def _sql_type(dtype: str) -> str:
    dtype = dtype.lower()  # pandas' nullable Int64, Float64, boolean as numpy's
    if dtype in ("int8", "int16", "int32", "uint8", "uint16"):
        return "INTEGER"
    if dtype.startswith(("int", "uint")):
        return "BIGINT"
    if dtype == "float32":
        return "REAL"
    if dtype.startswith("float"):
        return "DOUBLE PRECISION"
    if dtype in ("bool", "boolean"):
        return "BOOLEAN"
    if dtype.startswith("datetime64") and "," in dtype:
        return "TIMESTAMPTZ"
    if dtype.startswith("datetime64"):
        return "TIMESTAMP"
    return "TEXT"


def _python_values(series: pd.Series, dtype: str) -> list:
    """A column as Python values for COPY (None for NULL)."""
    dtype = dtype.lower()
    if dtype.startswith(("int", "uint")) or dtype in ("bool", "boolean"):
        if series.hasnans:
            return [None if pd.isna(v) else v for v in series.astype(object).tolist()]
        return series.tolist()
    if dtype.startswith("float"):
        array = series.to_numpy(dtype="float64")
        return [None if v != v else v for v in array.tolist()]
    if dtype.startswith("datetime64"):
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    return [None if v is None or (isinstance(v, float) and v != v) or v is pd.NA
            else (v if isinstance(v, str) else str(v)) for v in series.astype(object)]


class PgTransaction:
    """One import or build: a database transaction writing into the staging schema,
    swapped in by :meth:`finish` (see the module's notes)."""

    def __init__(self, url: DatabaseURL, *, fresh: bool, where: str):
        self.url, self.fresh = url, fresh
        self.conn = _connect(url)
        self.conn.execute("BEGIN")
        held = self.conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (IMPORT_LOCK,)).fetchone()
        if not held[0]:
            self.conn.close()
            raise MapperError(f"another import is changing the workspace {where} right now; "
                              "wait for it to finish and try again")
        self.conn.execute(f"DROP SCHEMA IF EXISTS {STAGE} CASCADE")
        self.conn.execute(f"CREATE SCHEMA {STAGE}")
        self.written: dict[str, tuple[list[tuple[str, str]], bool]] = {}
        self.dropped: set[str] = set()

    def write_layer(self, name: str, frame: pd.DataFrame) -> None:
        """Write `frame` (made storable: no list columns) as the staged layer `name`."""
        geometry_name = getattr(frame, "_geometry_column_name", None)
        has_geometry = isinstance(frame, gpd.GeoDataFrame) and geometry_name in frame
        columns = [(str(c), str(frame[c].dtype)) for c in frame.columns if c != geometry_name]
        definitions = ["fid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
        definitions += [f"{_quote(c)} {_sql_type(d)}" for c, d in columns]
        if has_geometry:
            definitions.append(f"{GEOMETRY} geometry(Geometry, {SRID})")
        staged = _table(name, STAGE)
        self.conn.execute(f"DROP TABLE IF EXISTS {staged}")
        self.conn.execute(f"CREATE TABLE {staged} ({', '.join(definitions)})")
        names = [_quote(c) for c, _ in columns] + ([GEOMETRY] if has_geometry else [])
        values = [_python_values(frame[c], d) for c, d in columns]
        if has_geometry:
            geoms = shapely.set_srid(_promoted(np.asarray(frame.geometry.values, dtype=object)),
                                     SRID)
            values.append(shapely.to_wkb(geoms, hex=True, include_srid=True).tolist())
        if names and len(frame):
            with self.conn.cursor().copy(
                    f"COPY {staged} ({', '.join(names)}) FROM STDIN") as copy:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
        elif len(frame):
            self.conn.execute(f"INSERT INTO {staged} SELECT FROM generate_series(1, %s)",
                              (len(frame),))
        if has_geometry:
            self.conn.execute(f"CREATE INDEX ON {staged} USING gist ({GEOMETRY})")
        self.written[name] = (columns, has_geometry)
        self.dropped.discard(name)

    def drop_layer(self, name: str) -> None:
        if name in self.written:
            self.conn.execute(f"DROP TABLE IF EXISTS {_table(name, STAGE)}")
            del self.written[name]
        self.dropped.add(name)

    def finish(self, provenance: list[dict], meta: dict[str, str]) -> None:
        """Swap the staged layers in, rewrite provenance and meta, and commit."""
        conn = self.conn
        existing = {r[0] for r in conn.execute(f"SELECT layer FROM {SCHEMA}.{COLUMNS_TABLE}")}
        gone = (existing if self.fresh else self.dropped & existing) | set(self.written)
        for name in sorted(gone):
            conn.execute(f"DROP TABLE IF EXISTS {_table(name)}")
            conn.execute(f"DELETE FROM {SCHEMA}.{COLUMNS_TABLE} WHERE layer = %s", (name,))
        for name, (columns, has_geometry) in self.written.items():
            conn.execute(f"ALTER TABLE {_table(name, STAGE)} SET SCHEMA {SCHEMA}")
            conn.execute(f"INSERT INTO {SCHEMA}.{COLUMNS_TABLE} (layer, columns, geometry) "
                         "VALUES (%s, %s, %s)",
                         (name, json.dumps(columns), has_geometry))
        conn.execute(f"DROP SCHEMA {STAGE} CASCADE")
        conn.execute(f"DELETE FROM {SCHEMA}.{LAYERS_TABLE}")
        names = list(PROVENANCE_COLUMNS)
        with conn.cursor().copy(f"COPY {SCHEMA}.{LAYERS_TABLE} (position, {', '.join(names)}) "
                                "FROM STDIN") as copy:
            for position, row in enumerate(provenance):
                copy.write_row([position] + [_provenance_value(row.get(n), PROVENANCE_COLUMNS[n])
                                             for n in names])
        conn.execute(f"DELETE FROM {SCHEMA}.{META_TABLE}")
        with conn.cursor().copy(f"COPY {SCHEMA}.{META_TABLE} (key, value) FROM STDIN") as copy:
            # when it was committed (nanoseconds: later builds compare greater) and a nonce
            stamp = f"{time.time_ns()}-{os.urandom(4).hex()}"
            for key, value in {**meta, "store_version": stamp}.items():
                copy.write_row((key, str(value)))
        conn.execute("COMMIT")
        _VERSIONS.pop(self.url.url, None)

    def close(self) -> None:
        """Roll back what was not committed and close the connection."""
        if not self.conn.closed:
            try:
                self.conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
            self.conn.close()


#: single geometry type id -> its multi type's id, and the function making it
_MULTI = {0: (4, shapely.multipoints), 1: (5, shapely.multilinestrings),
          3: (6, shapely.multipolygons)}


def _promoted(geoms: np.ndarray) -> np.ndarray:
    """Single geometries made multi when the layer mixes both kinds of one family, as GDAL
    writes such a layer into a GeoPackage (so either store reads the same geometry)."""
    types = shapely.get_type_id(geoms)
    present = set(types[types >= 0].tolist())
    out = geoms
    for single, (multi, make) in _MULTI.items():
        if single in present and multi in present:
            out = out.copy() if out is geoms else out
            mask = types == single
            out[mask] = make(out[mask], indices=np.arange(int(mask.sum())))
    return out


def _provenance_value(value, kind: str):
    if kind == "BIGINT":
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


# -- data larger than memory: summaries in SQL ------------------------------------------


def incident_counts(url: DatabaseURL, *, layer: str = "incidents",
                    area: str = "ward_code", period: str = "month") -> pd.DataFrame:
    """Incidents counted by ward (`area`) and month (`period`) in the database, without
    reading the points: the summary the analysis needs of a national incident layer
    that does not fit in memory (one row per ward and month: ``ward_code``, ``month``,
    ``incidents``). Columns missing from the layer are an error naming them."""
    with reading(url) as conn:
        stored, _ = _columns(conn, layer)
        names = [c for c, _ in stored]
        missing = [c for c in (area, period) if c not in names]
        if missing:
            raise MapperError(f"layer '{layer}' has no column {', '.join(missing)} to count "
                              f"incidents by (columns: {', '.join(names)})")
        rows = conn.execute(
            f"SELECT {_quote(area)}, {_quote(period)}, count(*) FROM {_table(layer)} "
            f"GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[area, period, "incidents"])
    # sorted here as pandas sorts (the database's collation may order text otherwise)
    return frame.astype({"incidents": "int64"}).sort_values([area, period], ignore_index=True)


#: the columns :func:`incident_summary` groups by (those the layer has), and the column
#: counting the incidents of each group (:data:`mapper.analysis._tables.WEIGHT`)
SUMMARY_KEYS = ("source_file", "type", "month", "ward_code", "borough_code")
SUMMARY_COUNT = "n_records"
#: a month as the analysis reads one (mapper.analysis.incidents.incident_months): the
#: first seven characters, spaces trimmed, when they are YYYY-MM
_MONTH_SQL = ("CASE WHEN left(btrim({0}::text, E' \\t\\n\\r\\f\\v'), 7) "
              "~ '^[0-9]{{4}}-(0[1-9]|1[0-2])$' "
              "THEN left(btrim({0}::text, E' \\t\\n\\r\\f\\v'), 7) END")


def incident_summary(url: DatabaseURL, *, layer: str = "incidents",
                     id_column: str = "incident_id",
                     leave_out: Sequence[str] = ()) -> pd.DataFrame:
    """The incidents grouped in the database by source file, type, month, ward and
    district, with ``n_records`` the incidents in each group: everything the analysis
    counts of them (:mod:`mapper.analysis.incidents` weighs each row by ``n_records``),
    without reading the rows. The month is ``month``'s, else ``date``'s first seven
    characters, when they are YYYY-MM (else NULL), as the analysis reads it. Records
    whose `id_column` is in `leave_out` are not counted (the edited ones: the caller adds
    them as edited). Columns the layer lacks are left out of the summary."""
    with reading(url) as conn:
        stored, _ = _columns(conn, layer)
        names = {c for c, _ in stored}
        select, keys = [], []
        for key in SUMMARY_KEYS:
            if key == "month":
                parts = [_MONTH_SQL.format(_quote(c)) for c in ("month", "date") if c in names]
                if not parts:
                    continue
                select.append(f"COALESCE({', '.join(parts)}) AS month")
            elif key in names:
                select.append(_quote(key))
            else:
                continue
            keys.append(key)
        where, params = "", None
        if leave_out and id_column in names:
            where = (f" WHERE {_quote(id_column)} IS NULL OR "
                     f"{_quote(id_column)}::text <> ALL(%s)")
            params = ([str(v) for v in leave_out],)
        numbers = ", ".join(str(i + 1) for i in range(len(keys)))
        sql = (f"SELECT {', '.join(select + ['count(*)'])} FROM {_table(layer)}{where}"
               + (f" GROUP BY {numbers} ORDER BY {numbers}" if keys else ""))
        from psycopg.rows import tuple_row

        with conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute(sql, params).fetchall()
    rows = [r for r in rows if r[-1]]  # no keys: one row, of 0 for an empty layer
    values = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(keys) + 1)]
    frame = pd.DataFrame({c: pd.Series(list(v), dtype=object)
                          for c, v in zip(keys, values, strict=False)}, columns=keys)
    frame[SUMMARY_COUNT] = np.array(values[-1], dtype="int64")
    return frame
