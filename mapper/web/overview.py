"""The overview page: every ward on a map and in a table, with the data sources.

Routes
------
``GET /``
    the ward map (borough outlines on top; the VCS groups as a layer to switch on).
``GET /wards``
    the same wards as a table (the map's text alternative, linked from above the map):
    its own page, so the map page does not parse hundreds of rows while the map loads.
``GET /overview/groups.json``
    the groups layer's rows, ``[lat, lon, name, category]`` (public fields only, never
    contact details), fetched by the map in the background while the page loads and
    drawn when the layer is switched on.

Everything heavy is prepared once per workspace version (:mod:`mapper.web.data`): the
rendered map, the ward table's rows and the groups layer. Only the page around them is
rendered per request, because it carries this request's CSP nonce (stamped on the
cached map parts by the ``with_nonce`` filter) and the user's own header.

Compression: for a client that accepts gzip, the page is sent gzipped without
compressing the map for every request. The map's script (nearly all of the page's bytes)
is deflated once per version; each request deflates only the page around it and joins
the pieces into one gzip stream (:func:`gzip_joined`). A page reached with a query
string is sent uncompressed: the header's sign-in link repeats the query next to the
session's CSRF token, and compressing request input together with a secret would let an
eavesdropper guess the secret from the response sizes (BREACH). The groups layer holds
no secret and is sent gzipped (compressed once per version) with an ETag.
"""

from __future__ import annotations

import secrets
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import pandas as pd
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from mapper.maps import MapParts, map_parts, ward_map
from mapper.maps.base import OVERVIEW_DECIMALS, compact_json
from mapper.maps.points import point_rows
from mapper.web import data

bp = Blueprint("overview", __name__)

#: provenance columns shown in the data sources footer, with their headings
SOURCE_COLUMNS = {
    "layer": "Layer",
    "source_file": "Source file",
    "vintage": "Release",
    "coverage": "Covers",
    "licence": "Licence",
    "attribution": "Attribution",
}

#: deflate level of the parts compressed once per workspace version / once per request
CACHED_LEVEL, REQUEST_LEVEL = 9, 6
#: how long browsers may keep the groups layer of one workspace version, in seconds
GROUPS_MAX_AGE = 24 * 3600
#: stands for the map's script while the page around it is rendered: markup no template
#: output can hold by accident (escaped text never has "<"), random per process
_SCRIPT_MARK = f"<mapper-map-script-{secrets.token_hex(8)}>"


@bp.get("/")
def index():
    """The ward map page."""
    facts = data.cached("overview:facts", _facts)
    parts, script = _map()
    body = render_template(
        "overview.html",
        map=replace(parts, script=_SCRIPT_MARK),
        study_area=facts["study_area"],
        synthetic=facts["synthetic"],
        ward_count=len(facts["rows"]),
        borough_count=facts["borough_count"],
        group_count=facts["group_count"],
        sources=facts["sources"],
        source_columns=SOURCE_COLUMNS,
        tiles=current_app.config["TILES"],
    )
    pieces = body.split(_SCRIPT_MARK)
    if len(pieces) != 2:  # not reached: the template shows the script exactly once
        return _response(body.replace(_SCRIPT_MARK, script.plain.decode()).encode(), "text/html")
    before, after = (piece.encode() for piece in pieces)
    if request.query_string or not _accepts_gzip():
        return _response(before + script.plain + after, "text/html")
    return _response(gzip_joined([before, script, after]), "text/html", gzipped=True)


@bp.get("/wards")
def wards_table():
    """Every ward of the study area as a table, by borough: the map's text alternative."""
    facts = data.cached("overview:facts", _facts)
    return render_template(
        "wards.html",
        study_area=facts["study_area"],
        synthetic=facts["synthetic"],
        wards=facts["rows"],
        borough_count=facts["borough_count"],
        profiles=facts["profiles"],
        sources=facts["sources"],
        source_columns=SOURCE_COLUMNS,
    )


def prepare() -> None:
    """Build what the overview needs for the current workspace version (for a server
    starting up: its first visitor then gets the page at once). Needs a request
    context."""
    data.cached("overview:facts", _facts)
    _map()


def _facts(workspace) -> dict:
    """The pages' figures and tables (everything but the map)."""
    wards = data.layer("wards")
    meta = data.meta()
    groups = _groups_count()
    return {
        "study_area": meta.get("study_area") or "Study area",
        "synthetic": meta.get("synthetic", "").lower() == "yes",
        "rows": _ward_rows(wards),
        "borough_count": wards["borough_code"].nunique(),
        "group_count": groups,
        "sources": _source_rows(data.provenance()),
        "profiles": workspace.has_layer("ward_summary"),  # ward pages exist
    }


def _map() -> tuple[MapParts, Deflated]:
    """The rendered map parts and its script, deflated: once per workspace version, base
    URL and tiles."""
    tiles = current_app.config["TILES"]
    root = request.script_root
    key = f"overview:map:{tiles}:{root}"

    def build(workspace):
        groups = _groups_count()
        m = ward_map(
            data.layer("wards"),
            data.layer("boroughs", required=False),
            tiles=tiles,
            asset_base_url=f"{root}/vendor",
            ward_url=f"{root}/ward/" if workspace.has_layer("ward_summary") else None,
            groups_url=(url_for("overview.groups_json", v=data.version_tag())
                        if groups is not None else None),
            groups_count=groups,
            json_strings=True,
        )
        parts = map_parts(m)
        return parts, deflated(parts.script.encode())

    return data.cached(key, build)


def _ward_rows(wards) -> list[dict]:
    table = pd.DataFrame(wards[["ward_name", "ward_code", "borough_name"]])
    table = table.sort_values(["borough_name", "ward_name", "ward_code"], kind="stable")
    return table.to_dict("records")


def _source_rows(provenance: pd.DataFrame) -> list[dict]:
    columns = [c for c in SOURCE_COLUMNS if c in provenance.columns]
    rows = provenance[columns].fillna("").astype(str)
    return rows.to_dict("records")


# -- the groups layer -------------------------------------------------------------------


@bp.get("/overview/groups.json")
def groups_json():
    """The VCS groups for the overview map: ``{"layer", "count", "rows": [[lat, lon,
    name, category], ...], "attribution", "licences"}`` in pages (:func:`rows_page`);
    404 without a groups layer."""
    limit, offset = rows_page_args()
    response = versioned_json("overview:groups", lambda: _groups_page(limit, offset),
                              variant=(limit, offset))
    if response is None:
        data.layer("groups")  # 404 naming the layers present
    return response


def _groups_page(limit: int, offset: int) -> dict | None:
    doc = _groups_doc()
    return None if doc is None else rows_page(doc, limit, offset)


def _groups_doc() -> dict | None:
    groups = data.layer("groups", required=False)
    if groups is None:
        return None
    rows = point_rows(groups, "groups")
    for row in rows:  # 5 decimals (~1 m) are plenty for a marker
        row[0], row[1] = round(row[0], OVERVIEW_DECIMALS), round(row[1], OVERVIEW_DECIMALS)
    attribution, licences = _credits("groups")
    return {"layer": "groups", "count": len(rows), "rows": rows,
            "attribution": attribution, "licences": licences}


#: rows of a map's point layer per page, at most and by default (a row is about 60-150
#: bytes of JSON, so a page stays under about 3 MB)
LAYER_ROWS_MAX = 20_000


def rows_page_args() -> tuple[int, int]:
    """The checked ``limit`` and ``offset`` of a point layer's page (400 naming a bad one)."""
    out = []
    for name, default, low, high in (("limit", LAYER_ROWS_MAX, 1, LAYER_ROWS_MAX),
                                     ("offset", 0, 0, 10_000_000)):
        text = request.args.get(name) or ""
        value = int(text) if text.isdigit() else (default if text == "" else None)
        if value is None or not low <= value <= high:
            abort(400, description=f"{name}={text!r}: expected a whole number from {low:,} "
                  f"to {high:,}")
        out.append(value)
    return out[0], out[1]


def rows_page(doc: dict, limit: int, offset: int) -> dict:
    """`doc` with only the rows of one page: ``count`` (rows here), ``total``, ``offset``
    and ``next`` (the URL of the next page, same parameters; null on the last)."""
    rows = doc["rows"]
    end = min(len(rows), offset + limit)
    following = None
    if end < len(rows):
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
        following = f"{request.script_root}{request.path}?" + urlencode([*kept, ("offset", end)])
    return doc | {"rows": rows[offset:end], "count": max(0, end - offset),
                  "total": len(rows), "offset": offset, "next": following}


def _groups_count() -> int | None:
    """How many rows the groups layer has (None without groups)."""
    entry = json_document("overview:groups", lambda: _groups_page(LAYER_ROWS_MAX, 0),
                          variant=(LAYER_ROWS_MAX, 0))  # the page the map asks for first
    return None if entry is None else entry.count


@dataclass(frozen=True)
class JsonDocument:
    """A JSON document as sent: its text, gzipped, and its row count (``total`` of a
    paged document, else ``count``)."""

    raw: bytes
    gzipped: bytes
    count: int | None


def json_document(kind: str, make: Callable[[], dict | None], *,
                  variant: object = None) -> JsonDocument | None:
    """`make()`'s document as JSON text and gzipped, made once per workspace version
    (None when `make` gives None); `variant`: see :func:`mapper.web.data.cached`."""

    def build(_workspace):
        doc = make()
        if doc is None:
            return None
        raw = compact_json(doc).encode()
        return JsonDocument(raw, gzip_joined([deflated(raw)]), doc.get("total", doc.get("count")))

    return data.cached(f"json:{kind}", build, variant=variant)


def versioned_json(kind: str, make: Callable[[], dict | None], *, variant: object = None,
                   mimetype: str = "application/json") -> Response | None:
    """The response carrying :func:`json_document` (None when `make` gives None).

    Sent gzipped to a client that accepts it, with an ETag naming the workspace version
    (a 304 for a client that has it). ``v`` in the URL (:func:`mapper.web.data.version_tag`,
    as the pages write it) lets browsers keep the answer for a day: an edit or a rebuild
    changes the URL.
    """
    entry = json_document(kind, make, variant=variant)
    if entry is None:
        return None
    tag = data.version_tag()
    gzipped = _accepts_gzip()
    etag = f"{tag}-gzip" if gzipped else tag
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = _response(entry.gzipped if gzipped else entry.raw, mimetype,
                             gzipped=gzipped)
    response.set_etag(etag)
    response.headers["Cache-Control"] = (f"public, max-age={GROUPS_MAX_AGE}"
                                         if request.args.get("v") == tag else "no-cache")
    return response


def _credits(layer: str) -> tuple[str, list[str]]:
    """The attributions (one text) and licences of the files a layer was imported from."""
    prov = data.provenance()
    if "layer" in prov.columns:
        prov = prov[prov["layer"] == layer]

    def column(name: str) -> list[str]:
        return prov[name].fillna("").astype(str).tolist() if name in prov else []

    texts = [t for t in dict.fromkeys(column("attribution")) if t]
    return " ".join(texts), sorted({t for t in column("licence") if t})


# -- compression ------------------------------------------------------------------------


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _response(body: bytes, mimetype: str, *, gzipped: bool = False) -> Response:
    response = Response(body, mimetype=mimetype)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


@dataclass(frozen=True)
class Deflated:
    """Bytes and their raw deflate stream, ending with a sync flush (byte-aligned and not
    final), so other deflated pieces may follow it in one stream."""

    plain: bytes
    stream: bytes


def deflated(plain: bytes, level: int = CACHED_LEVEL) -> Deflated:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return Deflated(plain, compressor.compress(plain) + compressor.flush(zlib.Z_SYNC_FLUSH))


#: gzip's header (no file name, no time, unknown OS) and an empty final deflate block
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_BLOCK = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def gzip_joined(pieces: Sequence[bytes | Deflated], level: int = REQUEST_LEVEL) -> bytes:
    """One gzip stream (RFC 1952) of the pieces one after another: ready
    :class:`Deflated` ones as they are, bytes deflated now at `level`.

    Deflate blocks stand alone: a piece compressed on its own refers to nothing before
    it, and every piece ends byte-aligned, so their streams simply follow each other.
    The checksum and length cover the whole text.
    """
    out = [_GZIP_HEADER]
    crc, size = 0, 0
    for piece in pieces:
        if not isinstance(piece, Deflated):
            piece = deflated(piece, level)
        out.append(piece.stream)
        crc = zlib.crc32(piece.plain, crc)
        size += len(piece.plain)
    out += [_FINAL_BLOCK, struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)]
    return b"".join(out)
