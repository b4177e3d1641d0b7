"""OGC API Features (Part 1: Core, GeoJSON) under ``/ogc``, so GIS clients can add the app.

QGIS ("Add WFS / OGC API - Features layer", URL ``http://host:port/ogc``), GDAL's OAPIF
driver and OWSLib read these routes:

``/ogc``
    the landing page: links to the conformance declaration and the collections.
``/ogc/conformance``
    the conformance classes implemented (:data:`CONFORMANCE`: core, GeoJSON, OpenAPI 3.0).
``/ogc/api``
    this API as an OpenAPI 3.0 document (:func:`openapi_document`).
``/ogc/collections`` and ``/ogc/collections/{id}``
    wards, neighbourhoods (Community Action Neighbourhoods), groups, premises and
    incidents (those the workspace has), each with its extent and attribution.
``/ogc/collections/{id}/items``
    a page of features (GeoJSON, WGS84 longitude/latitude: CRS84, so no ``crs``) with
    ``numberMatched``, ``numberReturned``, ``timeStamp`` and ``self``/``next``/``prev``
    links. Parameters: ``bbox`` (west,south,east,north in degrees; six numbers with
    heights are taken as their 2D box), ``datetime`` (incidents only: an RFC 3339
    instant or ``start/end`` interval, ``..`` open, against each incident's date, else
    its month), ``type`` (incidents only: their types, checked as ``/api/incidents``
    checks them), ``limit`` (default :data:`LIMIT_DEFAULT`; a
    larger one than :data:`LIMIT_MAX` is served as :data:`LIMIT_MAX`, as the standard
    asks, never refused) and ``offset`` (what the ``next`` link sets).
``/ogc/collections/{id}/items/{featureId}``
    one feature.

The features are exactly those of ``/api`` (:mod:`mapper.web.layers`): no personal data
in any layer's text, and a group's ``contact`` member only where the signed-in user may
see it (:func:`mapper.web.contacts.contacts_for`, the one rule, which also audits it).
Answers are JSON (``f=json``, or an Accept header taking JSON; anything else is 400 or
406). Every problem with a request is named, with the value seen and what was expected,
in one 400 ``{"code": ..., "description": ...}``; unknown parameters are errors (the
standard's rule, so a typo does not silently widen a query).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import numpy as np
import shapely
from flask import Blueprint, abort, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from mapper import geojson
from mapper.web import data, layers
from mapper.web.layers import Table

bp = Blueprint("features", __name__, url_prefix="/ogc")

#: features in a page when no ``limit`` is given, and the most a page holds (a larger
#: ``limit`` is served as this one: OGC API Features Part 1, 7.15.3)
LIMIT_DEFAULT = 1_000
LIMIT_MAX = layers.PAGE_LIMIT_MAX  # the one maximum of /api and /ogc pages
OFFSET_MAX = layers.OFFSET_MAX
JSON = "application/json"
GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
#: parameters every route takes: the format, and the cache-buster some clients add
COMMON_PARAMETERS = ("f", "_")
ITEMS_PARAMETERS = (*COMMON_PARAMETERS, "bbox", "datetime", "type", "limit", "offset")


@dataclass(frozen=True)
class Collection:
    """One feature collection: what it is, and its features (:mod:`mapper.web.layers`)."""

    id: str
    title: str
    description: str
    table: Callable[[], Table | None]
    #: the workspace layer it is made from (absent: the collection is not offered)
    layer: str
    #: groups: each feature carries its ``contact`` where the user may see it
    contacts: bool = False
    #: its features have a time (incidents: the date, else the month): ``datetime``
    #: filters on it; a collection without one refuses ``datetime``
    timed: bool = False


COLLECTIONS = {
    c.id: c
    for c in (
        Collection(
            "wards", "Wards",
            "One feature per ward with its need and asset measures (the analysis' "
            "ward_summary; the bare boundaries before an analysis): ward_code, ward_name, "
            "borough_code, borough_name, population, imd_score, unmet_need, can_id and "
            "every indicator of the registry.",
            layers.wards_table, "wards"),
        Collection(
            "neighbourhoods", "Community Action Neighbourhoods",
            "One feature per Community Action Neighbourhood (its wards dissolved), in rank "
            "order, with its summary: can_id, rank, name, wards, population, unmet_need, "
            "reasons, stability.",
            layers.neighbourhoods_table, "neighbourhoods"),
        Collection(
            "groups", "VCS groups",
            "The voluntary and community sector groups register: name, category, "
            "description, emergency offer, opening hours, status, areas. Contact details "
            "only for signed-in officers, and partners for their granted wards.",
            layers.groups_table, "groups", contacts=True),
        Collection(
            "premises", "Community premises",
            "Community premises: name, type, capacity, step-free access, owning group, "
            "status, areas.",
            layers.premises_table, "premises"),
        Collection(
            "incidents", "Incidents",
            "Incident records, newest first: date, month, type, severity, description, "
            "outcome, areas.",
            layers.incidents_table, "incidents", timed=True),
    )
}


# == requests: format and parameters =====================================================


def _check(allowed: tuple[str, ...], *, geojson: bool = False) -> None:
    """400 for unknown parameters or an ``f`` other than json; 406 when the Accept header
    takes no JSON."""
    _finish(_unknown(allowed, geojson=geojson))


def _unknown(allowed: tuple[str, ...], *, geojson: bool = False) -> list[str]:
    """The problems with the query's parameter names and ``f``."""
    problems = [
        f"{name}={request.args.get(name)!r}: unknown parameter (this path takes "
        f"{', '.join(p for p in allowed if p != '_')})"
        for name in request.args if name not in allowed
    ]
    formats = ("json", "geojson") if geojson else ("json",)
    f = request.args.get("f")
    if f is not None and f.strip().lower() not in formats:
        problems.append(f"f={f!r}: unknown format; expected {' or '.join(formats)} "
                        "(this API answers JSON only)")
    return problems


def _finish(problems: list[str]) -> None:
    """One 400 naming every problem found; then 406 when the client takes no JSON."""
    if problems:
        abort(400, description="; ".join(problems))
    if (request.args.get("f") is None and request.accept_mimetypes
            and not request.accept_mimetypes.best_match([JSON, GEOJSON])):
        abort(406, description=f"this API answers {JSON} and {GEOJSON} only (Accept: "
              f"{request.headers.get('Accept')!r})")


def _integer(name: str, default: int, low: int, high: int | None,
             problems: list[str]) -> int:
    """A whole-number parameter from `low` (and up to `high`, when given)."""
    text = (request.args.get(name) or "").strip()
    if not text:
        return default
    top = f" to {high:,}" if high is not None else " or more"
    if not text.lstrip("+").isdigit() or int(text) < low or (high is not None
                                                              and int(text) > high):
        problems.append(f"{name}={text!r}: expected a whole number from {low:,}{top}")
        return default
    return int(text)


def _bbox(problems: list[str]) -> tuple[float, float, float, float] | None:
    """The checked ``bbox``: west, south, east, north in WGS84 degrees (CRS84)."""
    text = request.args.get("bbox")
    if text is None:
        return None
    expected = ("expected four numbers west,south,east,north (WGS84 longitude and "
                "latitude in degrees, e.g. -0.2,51.4,0.1,51.6) or six with heights")
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        problems.append(f"bbox={text!r}: {expected}")
        return None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    west, south, east, north = values
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90
            and -90 <= north <= 90):
        problems.append(f"bbox={text!r}: longitudes must be from -180 to 180 and latitudes "
                        f"from -90 to 90 (is it in metres, or latitude first? {expected})")
        return None
    if south > north or west > east:
        problems.append(f"bbox={text!r}: south must not be above north, nor west east of "
                        "east (boxes across the antimeridian are not taken)")
        return None
    return west, south, east, north


def _datetime(problems: list[str]) -> tuple[np.datetime64, np.datetime64] | None:
    """The checked ``datetime``: an instant or an interval ``start/end`` (RFC 3339 dates
    or date-times; ``..`` or nothing for an open end), as [start, end] in seconds."""
    text = request.args.get("datetime")
    if text is None:
        return None
    expected = ("expected an RFC 3339 date or date-time (2024-06-01, "
                "2024-06-01T00:00:00Z) or an interval start/end with .. for an open end")
    parts = text.strip().split("/")
    if len(parts) > 2 or not text.strip():
        problems.append(f"datetime={text!r}: {expected}")
        return None
    bounds = []
    for n, part in enumerate(parts):
        if part in ("", "..") and len(parts) == 2:
            bounds.append(np.datetime64("0001-01-01T00:00:00") if n == 0
                          else np.datetime64("9999-12-31T23:59:59"))
            continue
        try:
            moment = datetime.fromisoformat(part.strip())
        except ValueError:
            problems.append(f"datetime={text!r}: {part!r} is not a date; {expected}")
            return None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        bounds.append(np.datetime64(moment.replace(microsecond=0), "s"))
    start, end = bounds[0], bounds[-1]
    if len(parts) == 1 and "T" not in parts[0]:  # a date: that whole day
        end = start + np.timedelta64(86_399, "s")
    if start > end:
        problems.append(f"datetime={text!r}: the start is after the end")
        return None
    return start, end


# == answers =============================================================================


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


def _link(href: str, rel: str, kind: str = JSON, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": kind}
    return link | ({"title": title} if title else {})


def _json(value: dict, kind: str = JSON):
    return current_app.response_class(_encode(value), mimetype=kind)


def _encode(value: object) -> bytes:
    """This API's own members as compact JSON (UTF-8, :func:`mapper.geojson.dumps`); the
    features come encoded from :mod:`mapper.web.layers`."""
    return geojson.dumps(value)


def _collection(collection_id: str) -> tuple[Collection, Table]:
    """The collection and its features; 404 naming those offered when it is not one."""
    collection = COLLECTIONS.get(collection_id)
    if collection is None or collection.id not in _offered():
        offered = ", ".join(_offered()) or "none (the workspace has no layers yet)"
        abort(404, description=f"no collection {collection_id!r} here (collections: "
              f"{offered})")
    table = collection.table()
    if table is None:  # the layer went between two reads
        abort(404, description=f"the workspace has no {collection.layer!r} layer")
    return collection, table


def _offered() -> list[str]:
    """The collections this workspace has (a register or analysis may be missing)."""
    return [c.id for c in COLLECTIONS.values()
            if data.layer(c.layer, required=False) is not None]


def _collection_json(collection: Collection, table: Table) -> dict:
    attribution, licences = layers.sources(table.layers)
    items = _url("features.items", collection_id=collection.id)
    out: dict[str, object] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "links": [
            _link(_url("features.collection", collection_id=collection.id), "self",
                  title=collection.title),
            _link(items, "items", GEOJSON, f"{collection.title} (GeoJSON)"),
        ],
    }
    extent: dict[str, object] = {}
    if table.extent is not None:
        extent["spatial"] = {"bbox": [table.extent], "crs": CRS84}
    if collection.timed:
        starts, ends = table.periods
        known = ~np.isnat(starts)
        if known.any():
            extent["temporal"] = {"interval": [[
                f"{starts[known].min()}Z", f"{ends[known].max() - np.timedelta64(1, 's')}Z"]]}
    if extent:
        out["extent"] = extent
    if attribution:
        out["attribution"] = "; ".join(a.rstrip(".") for a in attribution)
    if licences:
        out["license"] = "; ".join(licences)
    return out


@bp.get("/", strict_slashes=False)
def landing():
    """The landing page: what this API is and links to the rest."""
    _check(COMMON_PARAMETERS)
    meta = data.meta()
    area = meta.get("study_area") or "this workspace"
    return _json({
        "title": f"Neighbourhood needs and asset mapper: {area}",
        "description": "The workspace's wards, Community Action Neighbourhoods, VCS groups, "
        "premises and incidents as OGC API Features (GeoJSON, WGS84). Contact details only "
        "for signed-in users allowed to see them.",
        "links": [
            _link(_url("features.landing"), "self", title="This document"),
            _link(_url("features.conformance"), "conformance",
                  title="Conformance classes implemented"),
            _link(_url("features.collections"), "data", title="The feature collections"),
            _link(_url("features.openapi"), "service-desc", OPENAPI,
                  title="This API as an OpenAPI 3.0 document"),
            _link(_url("api.docs"), "service-doc", "text/html",
                  title="The app's JSON API (the same features, more filters)"),
        ],
    })


@bp.get("/conformance")
def conformance():
    """The conformance classes this API implements."""
    _check(COMMON_PARAMETERS)
    return _json({"conformsTo": list(CONFORMANCE)})


@bp.get("/collections")
def collections():
    """Every collection the workspace has."""
    _check(COMMON_PARAMETERS)
    described = [_collection_json(*_collection(i)) for i in _offered()]
    return _json({
        "links": [_link(_url("features.collections"), "self", title="The collections")],
        "collections": described,
    })


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    """One collection: what it holds, its extent and its items link."""
    _check(COMMON_PARAMETERS)
    return _json(_collection_json(*_collection(collection_id)))


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """A page of a collection's features, filtered by ``bbox``."""
    found, table = _collection(collection_id)
    problems = _unknown(ITEMS_PARAMETERS, geojson=True)
    box = _bbox(problems)
    when = _datetime(problems)
    limit = min(_integer("limit", LIMIT_DEFAULT, 1, None, problems), LIMIT_MAX)
    offset = _integer("offset", 0, 0, OFFSET_MAX, problems)
    if "datetime" in request.args and not found.timed:
        timed = ", ".join(c.id for c in COLLECTIONS.values() if c.timed)
        problems.append(f"datetime={request.args['datetime']!r}: the {found.id} have no "
                        f"time to filter on (only {timed} do)")
    kinds = _incident_types(found, problems)
    _finish(problems)  # every problem in one answer
    mask = np.ones(len(table.ids), dtype=bool)
    if kinds:
        mask &= table.frame["kind"].isin([k.lower() for k in kinds]).to_numpy()
    if box is not None:
        mask &= shapely.intersects(table.shapes, shapely.box(*box))
    if when is not None:  # the feature's [start, end) meets [from, to]
        starts, ends = table.periods
        mask &= (starts <= when[1]) & (ends > when[0])  # NaT compares False: left out
    rows = np.flatnonzero(mask)
    chosen = rows[offset:offset + limit].tolist()
    extra = layers.with_contacts(table, chosen) if found.contacts else None
    features = layers.features(table, chosen, extra=extra)
    links = [_link(_page_url(offset, limit), "self", GEOJSON, "This page"),
             _link(_url("features.collection", collection_id=found.id), "collection",
                   title=found.title)]
    end = offset + len(chosen)
    if end < len(rows):
        links.append(_link(_page_url(end, limit), "next", GEOJSON, "The next page"))
    if offset > 0:
        links.append(_link(_page_url(max(offset - limit, 0), limit), "prev", GEOJSON,
                           "The previous page"))
    body = geojson.collection(features, {
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "numberMatched": int(len(rows)),
        "numberReturned": len(chosen),
        "links": links,
    })
    return current_app.response_class(body, mimetype=GEOJSON)


def _incident_types(found: Collection, problems: list[str]) -> list[str]:
    """The incident types asked for (``type``: repeated or comma-separated, any spelling
    of the vocabulary), checked by the one rule of the pages and /api
    (:func:`mapper.analysis.incidents.check_incident_filter`); incidents only."""
    from mapper.analysis.incidents import check_incident_filter

    asked = [v.strip() for raw in request.args.getlist("type") for v in raw.split(",")
             if v.strip()]
    if not asked:
        return []
    if found.id != "incidents":
        problems.append(f"type={request.args.get('type')!r}: only the incidents have a "
                        "type to filter on")
        return []
    _, _, kinds, more = check_incident_filter("", "", asked, data.incident_types(),
                                              names=("from", "to", "type"))
    problems += more
    return kinds


def _page_url(offset: int, limit: int) -> str:
    """This items URL at `offset`, with the same other parameters and the limit served."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "limit")]
    query = urlencode([*kept, ("limit", limit), ("offset", offset)])
    return f"{request.base_url}?{query}"


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    """One feature of a collection, by its id."""
    _check(COMMON_PARAMETERS, geojson=True)
    found, table = _collection(collection_id)
    row = table.positions.get(feature_id)
    if row is None and feature_id.isdigit():  # numeric ids
        row = table.positions.get(int(feature_id))
    if row is None:
        abort(404, description=f"no feature {feature_id!r} in {found.id!r}")
    extra = layers.with_contacts(table, [row]) if found.contacts else None
    feature = layers.features(table, [row], extra=extra)[0]
    links = {"links": [
        _link(request.base_url, "self", GEOJSON, "This feature"),
        _link(_url("features.collection", collection_id=found.id), "collection",
              title=found.title),
    ]}
    return current_app.response_class(geojson.with_members(feature, links), mimetype=GEOJSON)


@bp.get("/api")
def openapi():
    """This API as an OpenAPI 3.0 document (what GDAL reads the limits from)."""
    _check(COMMON_PARAMETERS)
    return _json(openapi_document(), OPENAPI)


def _parameter(name: str, where: str, description: str, schema: dict, **more) -> dict:
    return {"name": name, "in": where, "required": where == "path",
            "description": description, "schema": schema, **more}


def openapi_document() -> dict:
    """The OpenAPI 3.0 description of the /ogc routes (Part 1's ``oas30`` class)."""
    f = _parameter("f", "query", "The format: json (the only one).",
                   {"type": "string", "enum": ["json"]})
    collection_id = _parameter("collectionId", "path", "The collection.",
                               {"type": "string", "enum": list(COLLECTIONS)})
    items = [
        collection_id,
        _parameter("bbox", "query", "Only features whose geometry intersects this box: "
                   "west,south,east,north in WGS84 degrees (CRS84); six numbers with "
                   "heights are taken as their 2D box.",
                   {"type": "array", "minItems": 4, "maxItems": 6,
                    "items": {"type": "number"}}, style="form", explode=False),
        _parameter("datetime", "query", "Incidents only: those whose date (else month) "
                   "meets this RFC 3339 instant or interval start/end (.. for open).",
                   {"type": "string"}, style="form", explode=False),
        _parameter("type", "query", "Incidents only: those of these types (comma-"
                   "separated; any spelling of the incident-type vocabulary, e.g. asb).",
                   {"type": "array", "items": {"type": "string"}}, style="form",
                   explode=False),
        _parameter("limit", "query", f"Features in a page; a larger limit is served as "
                   f"{LIMIT_MAX:,}.", {"type": "integer", "minimum": 1,
                                      "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT}),
        _parameter("offset", "query", "Matches to skip (the next link sets it).",
                   {"type": "integer", "minimum": 0, "maximum": OFFSET_MAX, "default": 0}),
        _parameter("f", "query", "The format: json or geojson (the same).",
                   {"type": "string", "enum": ["json", "geojson"]}),
    ]
    feature_id = _parameter("featureId", "path", "The feature's id.", {"type": "string"})

    def get(summary: str, parameters: list, kind: str = JSON) -> dict:
        error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
        return {"get": {
            "summary": summary,
            "operationId": "".join(w.title() for w in summary.split()[:3]),
            "parameters": parameters,
            "responses": {
                "200": {"description": summary, "content": {kind: {"schema": {
                    "type": "object"}}}},
                "400": {"description": "A parameter is malformed or unknown.", **error},
                "404": {"description": "No such collection or feature.", **error},
            },
        }}

    return {
        "openapi": "3.0.3",
        "info": {"title": "Neighbourhood needs and asset mapper: OGC API Features",
                 "version": "1.0.0",
                 "description": "Wards, Community Action Neighbourhoods, VCS groups, "
                 "premises and incidents as GeoJSON (WGS84). Contact details only for "
                 "signed-in users allowed to see them."},
        "servers": [{"url": _url("features.landing").rstrip("/")}],
        "paths": {
            "/": get("Landing page", [f]),
            "/conformance": get("Conformance classes implemented", [f]),
            "/api": get("This API definition", [f], OPENAPI),
            "/collections": get("The feature collections", [f]),
            "/collections/{collectionId}": get("One collection", [collection_id, f]),
            "/collections/{collectionId}/items": get("Features of a collection", items,
                                                     GEOJSON),
            "/collections/{collectionId}/items/{featureId}": get(
                "One feature", [collection_id, feature_id, items[-1]], GEOJSON),
        },
        "components": {"schemas": {"exception": {
            "type": "object", "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        }}},
    }


#: status -> the exception code OGC API servers (pygeoapi, ldproxy) answer with
_ERROR_CODES = {400: "InvalidParameterValue", 404: "NotFound", 406: "NotAcceptable"}


@bp.errorhandler(HTTPException)
def _error(error: HTTPException):
    """Errors as OGC API exceptions: ``{"code": ..., "description": ...}``."""
    code = _ERROR_CODES.get(error.code or 500, error.name.replace(" ", ""))
    body = {"code": code, "description": error.description or error.name}
    return _json(body), error.code or 500


__all__ = ["bp", "COLLECTIONS", "CONFORMANCE", "LIMIT_DEFAULT", "LIMIT_MAX"]
