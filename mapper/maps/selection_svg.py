"""A static map of a CAN selection as inline SVG: drawn on the server from the ward
geometry, so it prints, works offline and needs no script.

Every ward is outlined in grey; the wards of a CAN are filled (one of a few colours, in
CAN rank order, so neighbouring CANs differ more often than not) and each CAN is labelled
with its id at a point inside it. Coordinates stay in EPSG:27700 metres (a projected grid:
no distortion to correct), shifted and scaled into the SVG's box with y flipped.
"""

from __future__ import annotations

from html import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper.can_history import id_order
from mapper.geo import CRS_ANALYSIS

#: width of the drawing in SVG units (it scales to the page)
WIDTH = 800
#: fills of CANs, in turn (colour-blind-safe, dark enough to carry white-outlined labels)
FILLS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
#: detail kept: geometry simplified to this fraction of the drawing's width
SIMPLIFY_SHARE = 1 / 1500


def selection_svg(wards: gpd.GeoDataFrame, can_id: pd.Series, *, title: str = "") -> str:
    """The SVG document (a string) of `wards` with the CANs of `can_id` filled.

    Parameters
    ----------
    wards
        Ward polygons with ``ward_code``; reprojected to EPSG:27700 when needed.
    can_id
        CAN id per ward code (<NA> for wards in no CAN), e.g. the ward summary's column.
    title
        The drawing's accessible title.
    """
    if wards.crs is not None and wards.crs != CRS_ANALYSIS:
        wards = wards.to_crs(CRS_ANALYSIS)
    codes = wards["ward_code"].astype(str).to_numpy()
    cans = pd.Series(can_id.to_numpy(), index=can_id.index.astype(str)).reindex(codes)
    geoms = np.asarray(wards.geometry.array, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, codes, cans = geoms[keep], codes[keep], cans[keep]
    if not len(geoms):
        return _document(WIDTH, WIDTH // 2, title, "")
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    scale = WIDTH / span_x
    height = int(np.ceil(span_y * scale))
    simple = shapely.simplify(geoms, span_x * SIMPLIFY_SHARE, preserve_topology=True)

    def path(geom) -> str:
        parts = []
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            for ring in (poly.exterior, *poly.interiors):
                xy = np.asarray(ring.coords)[:, :2]
                x = (xy[:, 0] - minx) * scale
                y = (maxy - xy[:, 1]) * scale
                parts.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y,
                                                                              strict=True))
                             + "Z")
        return "".join(parts)

    order = sorted(set(cans.dropna().astype(str)), key=id_order)
    fill_of = {c: FILLS[i % len(FILLS)] for i, c in enumerate(order)}
    body = ['<g class="sel-wards" fill="#f3f2f1" stroke="#b1b4b6" stroke-width="0.5">']
    for geom, code, can in zip(simple, codes, cans, strict=True):
        if pd.isna(can):
            body.append(f'<path d="{path(geom)}"><title>{escape(code)}</title></path>')
    body.append("</g>")
    body.append('<g class="sel-cans" stroke="#0b0c0c" stroke-width="0.6">')
    for geom, code, can in zip(simple, codes, cans, strict=True):
        if not pd.isna(can):
            body.append(f'<path d="{path(geom)}" fill="{fill_of[str(can)]}">'
                        f"<title>{escape(str(can))}: {escape(code)}</title></path>")
    body.append("</g>")
    body.append('<g class="sel-labels" font-family="sans-serif" font-size="11" '
                'font-weight="bold" text-anchor="middle" fill="#0b0c0c" stroke="#ffffff" '
                'stroke-width="3" paint-order="stroke">')
    for can in order:
        members = (cans.astype("string") == can).to_numpy(bool, na_value=False)
        union = shapely.union_all(geoms[members])
        point = shapely.point_on_surface(union)
        x, y = (point.x - minx) * scale, (maxy - point.y) * scale
        body.append(f'<text x="{x:.1f}" y="{y:.1f}">{escape(can)}</text>')
    body.append("</g>")
    return _document(WIDTH, height, title, "".join(body))


def _document(width: int, height: int, title: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" aria-labelledby="sel-title" class="pr-selection-map">'
            f'<title id="sel-title">{escape(title)}</title>{body}</svg>')
