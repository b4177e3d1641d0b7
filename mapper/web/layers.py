"""The workspace's layers as GeoJSON feature texts, made once per workspace version.

Shared by the JSON API (:mod:`mapper.web.api`) and the OGC API Features routes
(:mod:`mapper.web.features`): each layer (wards, neighbourhoods, groups, premises,
incidents) is turned once into a :class:`Table` (columns to filter on, each row's id,
properties and geometry as JSON text); a request only picks rows and joins the texts.
Personal data (:data:`mapper.registers.PERSONAL_COLUMNS`) is never part of a row's text:
a group's ``contact`` member is added per request by :func:`features` with
:func:`with_contacts`, for the groups the signed-in user may see
(:func:`mapper.web.contacts.contacts_for`, the one rule).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper import geojson
from mapper.geo import to_display
from mapper.registers import PERSONAL_COLUMNS
from mapper.web import data

#: decimals of longitude/latitude in answers (1e-6 degree is about 0.1 m)
COORD_DECIMALS = geojson.COORD_DECIMALS
#: the most features in one page of a list, /api and /ogc alike (``limit``), and the
#: largest ``offset`` taken
PAGE_LIMIT_MAX = 5_000
OFFSET_MAX = 10_000_000


#: ward properties every /api/wards feature has (null when the workspace is not analysed)
WARD_PROPERTIES = (
    "ward_code",
    "ward_name",
    "borough_code",
    "borough_name",
    "population",
    "imd_score",
    "unmet_need",
    "can_id",
)


#: layers the analysis reads: the sources a derived layer's attribution must credit
ANALYSIS_INPUTS = (
    "boroughs",
    "wards",
    "lsoas",
    "deprivation",
    "lsoa_ward_lookup",
    "population",
    "postcodes",
    "groups",
    "premises",
    "incidents",
)


@dataclass(frozen=True)
class Table:
    """A layer ready to serve: columns to filter on, and each row as GeoJSON text.

    Row ``i`` of `frame` is the feature with id ``ids[i]``, properties ``properties[i]``
    (a JSON object) and geometry ``geometry[i]`` (``null`` when missing), encoded by
    :mod:`mapper.geojson` (bytes), so an edit re-encodes only its own rows.
    """

    frame: pd.DataFrame
    ids: list
    properties: list[bytes]
    geometry: list[bytes]
    layers: tuple[str, ...]
    positions: dict = field(default_factory=dict)  # id -> row
    id_texts: list[bytes] = field(default_factory=list)  # ids as JSON

    @cached_property
    def features(self) -> list[bytes]:
        """Each row's whole feature (made on first use, then kept)."""
        return geojson.features_of(self.geometry, self.properties, self.id_texts)

    @cached_property
    def bare(self) -> list[bytes]:
        """Each row's feature without its geometry (``geometry=false``)."""
        return geojson.features_of([b"null"] * len(self.ids), self.properties, self.id_texts)

    @cached_property
    def halves(self) -> list[tuple[bytes, bytes]]:
        """Each row's feature cut open at its properties (:func:`mapper.geojson.feature_halves`):
        answers that put members of their own first (``distance_m``) join them with
        :func:`mapper.geojson.join_halves`, without taking the properties apart."""
        return geojson.halves_of(self.geometry, self.properties, self.id_texts)

    @cached_property
    def shapes(self) -> np.ndarray:
        """Each row's geometry as served (WGS84, rounded) as a shapely object, None when
        missing: what a bounding-box filter tests."""
        texts = np.array([None if g in ("null", b"null") else g for g in self.geometry],
                         dtype=object)
        return shapely.from_geojson(texts)

    @cached_property
    def periods(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's time as [start, end) in whole seconds (``datetime64[s]``): its
        ``date`` property (that day), else its ``month`` (that month); NaT when it has
        neither. What a datetime filter tests."""
        starts, ends = [], []
        for text in self.properties:
            row = geojson.loads(text)
            day, month = row.get("date"), row.get("month")
            start: np.datetime64 | None = None
            end: np.datetime64 | None = None
            if isinstance(day, str) and len(day) >= 10:
                start = np.datetime64(day[:10], "D")
                end = start + np.timedelta64(1, "D")
            elif isinstance(month, str) and len(month) == 7:
                start = np.datetime64(month, "M")
                end = start + np.timedelta64(1, "M")
            starts.append(np.datetime64("NaT") if start is None else start)
            ends.append(np.datetime64("NaT") if end is None else end)
        return (np.array(starts, dtype="datetime64[s]"), np.array(ends, dtype="datetime64[s]"))

    @cached_property
    def extent(self) -> list[float] | None:
        """[west, south, east, north] of every row's geometry, None when there is none."""
        shapes = self.shapes[~shapely.is_missing(self.shapes)]
        if not len(shapes):
            return None
        return [round(float(v), COORD_DECIMALS) for v in shapely.total_bounds(shapes)]


def json_value(value: object) -> object:
    """A value as the API writes it: missing, non-finite and placeholder text -> None."""
    return geojson.json_value(value, placeholders=True)


def _table(
    frame: gpd.GeoDataFrame, id_column: str, filters: pd.DataFrame, layers: tuple[str, ...]
) -> Table:
    frame = frame.reset_index(drop=True)
    ids, properties, geometry = _row_texts(frame, id_column)
    return Table(
        frame=filters.reset_index(drop=True),
        ids=ids,
        properties=properties,
        geometry=geometry,
        layers=layers,
        positions={i: n for n, i in enumerate(ids)},
        id_texts=geojson.encode_ids(ids),
    )


def _row_texts(frame: gpd.GeoDataFrame, id_column: str
               ) -> tuple[list, list[bytes], list[bytes]]:
    """Each row's id, properties (personal data left out) and geometry (WGS84) as JSON."""
    hidden = set(PERSONAL_COLUMNS) | {frame.geometry.name}
    ids = [json_value(v) for v in frame[id_column].tolist()]
    properties = geojson.encode_properties(frame, [c for c in frame.columns if c not in hidden],
                                           placeholders=True)
    return ids, properties, geojson.encode_geometries(to_display(frame.geometry))


def _key(series: pd.Series) -> pd.Series:
    """Values as compared in filters: text, stripped, lower case, '' when missing."""
    return series.astype(object).where(series.notna(), "").astype(str).str.strip().str.lower()


def _text(frame: pd.DataFrame, columns: Iterable[str]) -> pd.Series:
    parts = [_key(frame[c]) for c in columns if c in frame.columns]
    if not parts:
        return pd.Series("", index=frame.index)
    text = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return text


def _register_filters(frame: pd.DataFrame, kind_column: str) -> pd.DataFrame:
    codes = {
        c: _key(frame[c]).str.upper() if c in frame.columns else ""
        for c in ("borough_code", "ward_code")
    }
    return pd.DataFrame(
        {
            **codes,
            "kind": _key(frame[kind_column]) if kind_column in frame.columns else "",
            "status": (_key(frame["status"]) if "status" in frame.columns
                       else pd.Series("", index=frame.index)).replace("", "unknown"),
            "text": _text(frame, ("name", "description")),
        },
        index=frame.index,
    )


@data.memoised("api:wards")
def wards_table(workspace) -> Table:
    """The wards (with the analysis' figures when it has run) as a Table, by ward code."""
    summary = data.layer("ward_summary", required=False)
    layer = "ward_summary" if summary is not None else "wards"
    frame = summary if summary is not None else data.layer("wards")
    frame = frame.sort_values("ward_code", kind="stable").copy()
    for column in WARD_PROPERTIES:
        if column not in frame.columns:
            frame[column] = None
    first = [*WARD_PROPERTIES, *(c for c in frame.columns if c not in WARD_PROPERTIES)]
    frame = frame[first]
    filters = pd.DataFrame(
        {
            "borough_code": _key(frame["borough_code"]).str.upper(),
            "can_id": _key(frame["can_id"]).str.upper(),
        },
        index=frame.index,
    )
    return _table(frame, "ward_code", filters, (layer,))


@data.memoised("api:neighbourhoods")
def neighbourhoods_table(workspace) -> Table:
    """The Community Action Neighbourhoods as a Table, by rank."""
    frame = data.layer("neighbourhoods")
    if "rank" in frame.columns:
        frame = frame.sort_values(["rank", "can_id"], kind="stable")
    return _table(frame, "can_id", pd.DataFrame(index=frame.index), ("neighbourhoods",))


def _register_table(name: str, id_column: str, kind_column: str) -> Table | None:
    frame = data.layer(name, required=False)
    if frame is None:
        return None
    return _register_table_of(frame, name, id_column, kind_column)


def _register_table_of(frame: gpd.GeoDataFrame, name: str, id_column: str,
                       kind_column: str) -> Table:
    if name == "incidents":  # newest first, so a limit keeps the most recent
        order = [c for c in ("month", "date", id_column) if c in frame.columns]
        frame = frame.sort_values(
            order, ascending=[c == id_column for c in order], na_position="last", kind="stable"
        )
    return _table(frame, id_column, _filters(frame, kind_column), (name,))


def _filters(frame: pd.DataFrame, kind_column: str) -> pd.DataFrame:
    filters = _register_filters(frame, kind_column)
    if "month" in frame.columns:
        filters["month"] = _key(frame["month"])
    return filters


def groups_table() -> Table | None:
    """The groups' features: made once per GeoPackage, then changed for edited groups."""
    return data.with_overlay("api:groups", "groups",
                             lambda: _register_table("groups", "group_id", "category"),
                             patch_groups_table)


def patch_groups_table(table: Table | None, changed: list[str], before: dict,
                        now: dict) -> Table | None:
    """`table` with the edited groups as they now are: rows exactly as a full build makes
    them, in its order (imported groups never edited, then every edited one by id)."""
    from mapper.overlay import apply_edits

    if table is None or not data.text_ids("groups"):
        return None
    imported = data.imported("groups")
    edited = set(before) | set(now)
    keep = [r for r, i in enumerate(table.ids) if i not in edited]
    # every edited record, so that columns take the types a full build gives them
    rows = apply_edits(imported.iloc[:0], "groups", list(now.values())).reset_index(drop=True)
    fresh = set(changed)
    remade = rows[rows["group_id"].isin(fresh)]
    ids, properties, geometry = _row_texts(remade, "group_id")
    made = {i: (p, s) for i, p, s in zip(ids, properties, geometry, strict=True)}
    old = table.positions
    new_ids = [table.ids[r] for r in keep] + [json_value(v) for v in rows["group_id"]]
    texts = [made.get(i) or (table.properties[old[i]], table.geometry[old[i]])
             for i in new_ids[len(keep):]]
    frame = pd.concat([table.frame.iloc[keep], _filters(rows, "category")], ignore_index=True)
    return Table(
        frame=frame,
        ids=new_ids,
        properties=[table.properties[r] for r in keep] + [t[0] for t in texts],
        geometry=[table.geometry[r] for r in keep] + [t[1] for t in texts],
        layers=table.layers,
        positions={i: n for n, i in enumerate(new_ids)},
        id_texts=[table.id_texts[r] for r in keep] + geojson.encode_ids(new_ids[len(keep):]),
    )


@data.memoised("api:premises")
def premises_table(workspace) -> Table | None:
    """The premises register as a Table; None when the workspace has none."""
    return _register_table("premises", "premises_id", "type")


@data.memoised("api:incidents")
def incidents_table(workspace) -> Table | None:
    """The incidents register as a Table, newest first; None when the workspace has none."""
    return _register_table("incidents", "incident_id", "type")


def incidents_in_box(box: tuple[float, float, float, float] | None) -> Table | None:
    """On PostgreSQL with a large incident layer (:func:`mapper.web.data.large_in_database`), the
    incidents meeting `box` (west, south, east, north in WGS84) as a Table made for this
    request: read by the database's bounding-box search, the web app's edits laid over
    them (every edited record, which the caller's box test then keeps or drops), rows as
    :func:`incidents_table` makes them. None otherwise: use :func:`incidents_table`."""
    if box is None or not data.large_in_database("incidents"):
        return None
    frame = register_in_box("incidents", box)
    return None if frame is None else _register_table_of(frame, "incidents", "incident_id",
                                                          "type")


def register_in_box(name: str, box: tuple[float, float, float, float]):
    """The rows of register `name` (with the web app's edits) whose points fall in `box`
    (west, south, east, north in WGS84), or None without the layer. On PostgreSQL with a
    large layer (:func:`mapper.web.data.large_in_database`) only the box is read, by the
    database's bounding-box search; otherwise the held layer is cut. A point on the box's
    edge is in it."""
    from mapper.overlay import apply_edits

    west, south, east, north = _grid_box(box)
    if data.large_in_database(name):
        frame = data.open_workspace().read_layer(name, bbox=(west, south, east, north))
        frame = apply_edits(frame, name, list(data.overlay(name).values()))
    else:
        frame = data.layer(name, required=False)
        if frame is None:
            return None
    frame = frame.cx[west:east, south:north]  # then exactly: the grid box is wider
    shown = to_display(frame.geometry)
    lon, lat = shown.x.to_numpy(), shown.y.to_numpy()
    return frame[(lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])]


#: what a ``bbox`` parameter must be (the one rule: the API, the map layers)
BBOX_EXPECTED = ("expected four numbers west,south,east,north (WGS84 longitude and "
                 "latitude in degrees, e.g. -0.2,51.4,0.1,51.6)")


def parse_bbox(text: str) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """A ``bbox`` parameter's box (west, south, east, north in WGS84 degrees) and None,
    or None and what was expected instead."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return None, BBOX_EXPECTED
    west, south, east, north = values
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None, ("expected west <= east within -180..180 and south <= north within "
                      "-90..90 (is it in metres, or latitude first?)")
    return (west, south, east, north), None


def _grid_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A WGS84 box's extent in British National Grid metres (its edges followed, and a
    metre more each side: coordinates are served rounded)."""
    from mapper.geo import CRS_ANALYSIS

    edge = shapely.segmentize(shapely.box(*box), 0.01)
    grid = gpd.GeoSeries([edge], crs="EPSG:4326").to_crs(CRS_ANALYSIS)
    west, south, east, north = grid.total_bounds
    return (west - 1.0, south - 1.0, east + 1.0, north + 1.0)


def sources(layers: Iterable[str]) -> tuple[list[str], list[str]]:
    """Distinct attributions and licences of `layers`, with the sources of derived ones."""
    layers = tuple(sorted(set(layers)))
    return data.cached(f"api:sources:{','.join(layers)}", lambda _: _find_sources(layers))


def _find_sources(layers: tuple[str, ...]) -> tuple[list[str], list[str]]:
    provenance = data.provenance()
    if provenance.empty or "layer" not in provenance.columns:
        return [], []
    used = set(layers)
    rows = provenance[provenance["layer"].isin(used)]
    derived = rows["licence"].fillna("").astype(str).str.startswith("derived")
    if derived.any():
        used |= set(ANALYSIS_INPUTS)
        rows = provenance[provenance["layer"].isin(used)]

    def distinct(column: str, skip_derived: bool = False) -> list[str]:
        if column not in rows.columns:
            return []
        values = [str(v).strip() for v in rows[column].tolist() if json_value(v) is not None]
        if skip_derived:
            values = [v for v in values if not v.startswith("derived")]
        return list(dict.fromkeys(v for v in values if v))

    return distinct("attribution"), distinct("licence", skip_derived=True)


def collection_head(layers: tuple[str, ...]) -> bytes:
    """The members every answer drawn from `layers` starts with (a JSON object): the
    same for a workspace version, so encoded once per version, not per request."""
    meta = data.meta()
    attribution, licences = sources(layers)
    return geojson.dumps({
        "attribution": attribution,
        "licences": licences,
        "synthetic": str(meta.get("synthetic", "")).strip().lower() == "yes",
        "study_area": meta.get("study_area") or None,
    })


def features(
    table: Table | None,
    rows: Iterable[int],
    *,
    geometry: bool = True,
    extra: Mapping[int, dict] | None = None,
) -> list[bytes]:
    """The encoded features of `rows` of `table` (a null geometry when not `geometry`), with
    `extra` (row -> members) written first in those rows' properties."""
    if table is None:
        return []
    made = table.features if geometry else table.bare
    if not extra:
        return [made[row] for row in rows]
    return [geojson.feature(table.geometry[row] if geometry else b"null",
                            table.properties[row], table.id_texts[row], first=extra[row])
            if extra.get(row) else made[row] for row in rows]


def contacts_of(table: Table, rows: list[int]) -> dict[int, dict]:
    """row -> the contact details of that group, for those the signed-in user may see."""
    from mapper.web.contacts import contacts_for

    shown = contacts_for(table.ids[r] for r in rows)
    if not shown:
        return {}
    return {r: shown[str(table.ids[r])] for r in rows if str(table.ids[r]) in shown}


def with_contacts(table: Table, rows: list[int]) -> dict[int, dict] | None:
    """A ``contact`` member for the groups the signed-in user may contact (None: none)."""
    return {r: {"contact": c} for r, c in contacts_of(table, rows).items()} or None
