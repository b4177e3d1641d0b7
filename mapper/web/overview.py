"""The overview page: every ward on a map and in a table, with the data sources."""

from __future__ import annotations

import pandas as pd
from flask import Blueprint, current_app, render_template, request

from mapper.maps import map_parts, ward_map
from mapper.web import open_workspace, read_layer

bp = Blueprint("overview", __name__)

#: provenance columns shown in the data sources footer, with their headings
SOURCE_COLUMNS = {
    "layer": "Layer",
    "source_file": "Source file",
    "vintage": "Release",
    "licence": "Licence",
    "attribution": "Attribution",
}


@bp.get("/")
def index():
    """The ward map page."""
    workspace = open_workspace()
    wards = read_layer(workspace, "wards")
    boroughs = read_layer(workspace, "boroughs", required=False)
    meta = workspace.meta()

    m = ward_map(
        wards,
        boroughs,
        tiles=current_app.config["TILES"],
        asset_base_url=f"{request.script_root}/vendor",
        ward_url=f"{request.script_root}/ward/" if workspace.has_layer("ward_summary") else None,
    )
    study_area = meta.get("study_area") or "Study area"
    rows = _ward_rows(wards)
    return render_template(
        "overview.html",
        map=map_parts(m),
        study_area=study_area,
        synthetic=meta.get("synthetic", "").lower() == "yes",
        wards=rows,
        ward_count=len(rows),
        borough_count=wards["borough_code"].nunique(),
        sources=_source_rows(workspace.provenance()),
        source_columns=SOURCE_COLUMNS,
        tiles=current_app.config["TILES"],
    )


def _ward_rows(wards) -> list[dict]:
    table = pd.DataFrame(wards[["ward_name", "ward_code", "borough_name"]])
    table = table.sort_values(["borough_name", "ward_name", "ward_code"], kind="stable")
    return table.to_dict("records")


def _source_rows(provenance: pd.DataFrame) -> list[dict]:
    columns = [c for c in SOURCE_COLUMNS if c in provenance.columns]
    rows = provenance[columns].fillna("").astype(str)
    return rows.to_dict("records")
