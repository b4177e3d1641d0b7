"""The overview page: every ward on a map and in a table, with the data sources.

Routes
------
``GET /``
    the ward map (borough outlines on top; the VCS groups as a layer to switch on).
``GET /wards``
    the same wards as a table (the map's text alternative, linked from above the map):
    its own page, so the map page does not parse hundreds of rows while the map loads.
``GET /wards.csv``
    the same table as CSV (ward, code, borough, and CAN once analysed) with the sources,
    licences and analysis on every row (:mod:`mapper.web.downloads`).
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
the pieces into one gzip stream (:func:`mapper.web.responses.gzip_joined`). A page
reached with a query string is sent uncompressed: the header's sign-in link repeats the
query next to the session's CSRF token, and compressing request input together with a
secret would let an eavesdropper guess the secret from the response sizes (BREACH). The
groups layer holds no secret and is sent gzipped (compressed once per version) with an
ETag.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import pandas as pd
from flask import Blueprint, abort, render_template, request, url_for

from mapper.maps import MapParts, map_parts, ward_map
from mapper.maps.base import OVERVIEW_DECIMALS, area_label_sets
from mapper.maps.overview import WARD_FIELDS
from mapper.maps.points import point_rows, ward_count_rows
from mapper.web import basemap, data, downloads, wardtiles
from mapper.web.data import SOURCE_COLUMNS
from mapper.web.responses import (
    LAYER_ROWS_MAX,
    Deflated,
    accepts_gzip,
    byte_response,
    deflated,
    gzip_joined,
    json_document,
    rows_page,
    rows_page_args,
    versioned_json,
)

bp = Blueprint("overview", __name__)

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
        tiles=basemap.kind(),
    )
    pieces = body.split(_SCRIPT_MARK)
    if len(pieces) != 2:  # not reached: the template shows the script exactly once
        whole = body.replace(_SCRIPT_MARK, script.plain.decode()).encode()
        return byte_response(whole, "text/html")
    before, after = (piece.encode() for piece in pieces)
    if request.query_string or not accepts_gzip():
        return byte_response(before + script.plain + after, "text/html")
    return byte_response(gzip_joined([before, script, after]), "text/html", gzipped=True)


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


@bp.get("/wards.csv")
def wards_csv():
    """The ward table as CSV, in the page's order, with provenance on every row."""
    facts = data.cached("overview:facts", _facts)
    table = pd.DataFrame(facts["rows"], columns=["ward_name", "ward_code", "borough_name"])
    wards = data.layer("wards")
    codes = dict(zip(wards["ward_code"], wards["borough_code"], strict=True))
    table.insert(2, "borough_code", table["ward_code"].map(codes))
    summary = data.layer("ward_summary", required=False)
    layers = ["wards", "boroughs"]
    if summary is not None and "can_id" in summary:
        table["can_id"] = table["ward_code"].map(dict(zip(summary["ward_code"],
                                                          summary["can_id"], strict=True)))
        layers.append("neighbourhoods")
    info = downloads.about(f"Wards of {facts['study_area']}", {}, layers=layers)
    return downloads.csv_response(table, info, "wards.csv")


def prepare() -> None:
    """Build what the overview needs for the current workspace version (for a server
    starting up: its first visitor then gets the page at once). Needs a request
    context."""
    data.cached("overview:facts", _facts)
    wardtiles.prepare("wards")
    if data.layer("boroughs", required=False) is not None:
        wardtiles.prepare_outlines(("boroughs",), layer="wards")
    _map()
    if wardtiles.in_view(data.layer("wards")):  # what such a map fetches
        labels_json()
        if data.layer("ward_summary", required=False) is not None and _groups_count():
            counts_json()


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
    tiles = basemap.map_tiles()
    context_layers = basemap.context_overlay()
    root = request.script_root

    def build(workspace):
        groups = _groups_count()
        large = wardtiles.in_view(data.layer("wards"))
        per_ward = groups is not None and workspace.has_layer("ward_summary")
        tag = data.version_tag()
        urls = {"boroughs": f"{root}/overview/outlines/boroughs/{{z}}/{{x}}/{{y}}.json?v={tag}",
                "labels": url_for("overview.labels_json", v=tag)}
        if per_ward:
            urls["groups_per_ward"] = url_for("overview.counts_json", v=tag)
        m = ward_map(
            data.layer("wards"),
            data.layer("boroughs", required=False),
            tiles=tiles,
            context_layers=context_layers,
            asset_base_url=f"{root}/vendor",
            ward_url=f"{root}/ward/" if workspace.has_layer("ward_summary") else None,
            groups_url=(url_for("overview.groups_json", v=data.version_tag())
                        if groups is not None else None),
            groups_count=groups,
            groups_per_ward=(ward_count_rows(data.layer("ward_summary"), "groups")
                             if per_ward and not large else None),
            json_strings=True,
            inview_url=(f"{root}/overview/wards/{{z}}/{{x}}/{{y}}.json?v={tag}"
                        if large else None),
            outline_urls=urls,
        )
        parts = map_parts(m)
        return parts, deflated(parts.script.encode())

    return data.cached("overview:map", build, variant=(tiles, root, context_layers,
                                                       wardtiles.limits()))


@bp.get("/overview/wards/<int:z>/<int:x>/<int:y>.json")
def ward_tiles(z: int, x: int, y: int):
    """The wards of tile z/x/y for the overview map, when it loads them for the view
    (:mod:`mapper.web.wardtiles`)."""

    def properties():
        wards = data.layer("wards")
        return wardtiles.properties_by_row(wards, wards[list(WARD_FIELDS)], layer="wards")

    return wardtiles.tile_response("overview", z, x, y, None, properties, layer="wards")


@bp.get("/overview/outlines/boroughs/<int:z>/<int:x>/<int:y>.json")
def borough_tiles(z: int, x: int, y: int):
    """The borough outlines of tile z/x/y for the overview map, when it loads its wards
    for the view (:mod:`mapper.web.wardtiles`)."""
    if data.layer("boroughs", required=False) is None:
        abort(404, description="the workspace has no borough boundaries")
    return wardtiles.outline_response("overview", "boroughs", z, x, y, None, lambda: None)


@bp.get("/overview/labels.json")
def labels_json():
    """The ward and borough names the overview map writes when zoomed in, for a map
    loading its wards for the view (a small map embeds them)."""
    return versioned_json("overview:labels", lambda: {"sets": area_label_sets(
        data.layer("wards"), data.layer("boroughs", required=False))})


@bp.get("/overview/counts.json")
def counts_json():
    """The VCS groups per ward the overview map shows zoomed out (``{"rows": ...}`` of
    :func:`mapper.maps.points.ward_count_rows`), for a map loading its wards for the
    view."""
    if data.layer("ward_summary", required=False) is None or _groups_count() is None:
        abort(404, description="the workspace has no groups counted per ward")
    return versioned_json("overview:counts", lambda: {"kind": "groups", "rows": ward_count_rows(
        data.layer("ward_summary"), "groups")})


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
    name, category], ...], "attribution", "licences"}`` in pages
    (:func:`mapper.web.responses.rows_page`); 404 without a groups layer."""
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


def _groups_count() -> int | None:
    """How many rows the groups layer has (None without groups)."""
    entry = json_document("overview:groups", lambda: _groups_page(LAYER_ROWS_MAX, 0),
                          variant=(LAYER_ROWS_MAX, 0))  # the page the map asks for first
    return None if entry is None else entry.count


def _credits(layer: str) -> tuple[str, list[str]]:
    """The attributions (one text) and licences of the files a layer was imported from."""
    prov = data.provenance()
    if "layer" in prov.columns:
        prov = prov[prov["layer"] == layer]

    def column(name: str) -> list[str]:
        return prov[name].fillna("").astype(str).tolist() if name in prov else []

    texts = [t for t in dict.fromkeys(column("attribution")) if t]
    return " ".join(texts), sorted({t for t in column("licence") if t})


