"""Downloads from the pages: one way to write a table or a layer as CSV, GeoJSON or
GeoPackage with its provenance and the filters of the page it came from.

Every file says where its data came from (sources, releases, licences, attribution), which
analysis it reflects (when it ran, the data version, the app version), when it was made,
and the page's filters (borough, indicator, incident months and type, search point ...):

- **GeoJSON**: foreign members of the FeatureCollection (``about``, ``filters``,
  ``attribution``, ``licences``, ``provenance``, ``generated_at``); QGIS ignores them, and
  :mod:`mapper.geojson` is the one writer.
- **GeoPackage**: the layer's metadata (GDAL's ``gpkg_metadata`` table, shown in QGIS's
  layer properties) and an ``about`` table of ``key``/``value`` rows that any GeoPackage
  reader lists as a table.
- **CSV**: the table starts on the first line with its header, so Excel, LibreOffice and
  QGIS's "Add delimited text layer" all read it without settings (an "about" block above
  the header would need QGIS's "header lines to discard"); the provenance and filters ride
  in the last columns of every row (``filters``, ``sources``, ``licence``, ``attribution``,
  ``analysis``, ``generated_at``). Written by :func:`mapper.exports.spreadsheet_csv`
  (byte-order mark for Excel, formula guard).

Contact details are never added here: a caller that may include them asks
:func:`mapper.web.contacts.contacts_for` (which audits the download) and passes the columns.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from flask import Response

from mapper import __version__, geojson
from mapper.exports import spreadsheet_csv
from mapper.geo import CRS_ANALYSIS, to_display
from mapper.web import data

#: provenance columns a download carries, in order
PROVENANCE_COLUMNS = ("layer", "source_file", "vintage", "licence", "attribution")
#: the columns :func:`csv_response` adds to every row, in order
ABOUT_COLUMNS = ("filters", "sources", "licence", "attribution", "analysis", "generated_at")


def about(title: str, filters: dict, *, layers=None) -> dict:
    """What a download says about itself: `title`, the study area, the sources of
    `layers` (default: every layer), the analysis, the filters (blanks left out) and when
    it was made."""
    meta = data.meta()
    prov = data.provenance()
    if layers is not None and "layer" in prov:
        prov = prov[prov["layer"].isin(list(layers))]
    columns = [c for c in PROVENANCE_COLUMNS if c in prov]
    rows = prov[columns].astype(object)
    sources = rows.where(rows.notna(), None).to_dict("records")
    attribution = " ".join(t for t in dict.fromkeys(
        str(s.get("attribution") or "") for s in sources) if t)
    licences = sorted({str(s["licence"]) for s in sources if s.get("licence")})
    return {
        "title": title,
        "study_area": meta.get("study_area", ""),
        "synthetic": str(meta.get("synthetic", "")).lower() == "yes",
        "filters": {k: v for k, v in filters.items() if v not in ("", None, [], ())},
        "provenance": sources,
        "attribution": attribution,
        "licences": licences,
        "analysis": {"analysed_at": meta.get("analysed_at", ""),
                     "data_version": meta.get("analysed_data_version",
                                              meta.get("data_version", "")),
                     "method": meta.get("analysis_method", ""),
                     "mapper_version": __version__},
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }


def filters_text(filters: dict) -> str:
    """``{"borough": "E09..", "offer": ["food"]}`` -> ``"borough=E09..; offer=food"``."""
    return "; ".join(f"{k}={', '.join(map(str, v)) if isinstance(v, list | tuple) else v}"
                     for k, v in filters.items())


def _sources_text(info: dict) -> str:
    return "; ".join(
        f"{s.get('layer')}: {s.get('source_file') or 'not recorded'}"
        f" ({', '.join(str(s[k]) for k in ('vintage', 'licence') if s.get(k))})"
        for s in info["provenance"])


def _analysis_text(info: dict) -> str:
    a = info["analysis"]
    return (f"analysed {a['analysed_at'] or 'not recorded'}; data version "
            f"{a['data_version'] or 'not recorded'}; mapper {a['mapper_version']}")


def about_rows(info: dict) -> list[tuple[str, str]]:
    """`info` as ``(key, value)`` text rows (the GeoPackage's ``about`` table)."""
    return [("title", info["title"]), ("study_area", info["study_area"]),
            ("synthetic", "yes" if info["synthetic"] else "no"),
            ("filters", filters_text(info["filters"]) or "none"),
            ("sources", _sources_text(info)), ("licences", "; ".join(info["licences"])),
            ("attribution", info["attribution"]), ("analysis", _analysis_text(info)),
            ("generated_at", info["generated_at"]),
            ("provenance_json", json.dumps(info["provenance"], default=str))]


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def csv_bytes(table: pd.DataFrame, info: dict) -> bytes:
    """`table` with :data:`ABOUT_COLUMNS` on every row, as spreadsheet CSV."""
    out = pd.DataFrame(table).astype(object).copy()
    out = out.where(out.notna(), None)
    values = {"filters": filters_text(info["filters"]) or "none",
              "sources": _sources_text(info), "licence": "; ".join(info["licences"]),
              "attribution": info["attribution"], "analysis": _analysis_text(info),
              "generated_at": info["generated_at"]}
    for column in ABOUT_COLUMNS:
        out[column] = values[column]
    return spreadsheet_csv(out)


def csv_response(table: pd.DataFrame, info: dict, filename: str) -> Response:
    """:func:`csv_bytes` as an attachment named `filename`."""
    return _attachment(csv_bytes(table, info), "text/csv", filename)


def geojson_bytes(frame: gpd.GeoDataFrame, info: dict, *, extra: dict | None = None,
                  leading: tuple[bytes, ...] = ()) -> bytes:
    """`frame` (any CRS; written WGS84) as a FeatureCollection whose foreign members are
    `info` (and `extra`); `leading` features (already encoded) come first."""
    shown = gpd.GeoDataFrame(pd.DataFrame(frame.drop(columns=frame.geometry.name)),
                             geometry=to_display(frame.geometry).array)
    features = [*leading, *geojson.encode_features(shown, placeholders=True)]
    members = {"name": info["title"], **(extra or {}), **info}
    return geojson.collection(features, members)


def geojson_response(frame: gpd.GeoDataFrame, info: dict, filename: str,
                     **options) -> Response:
    """:func:`geojson_bytes` as an attachment named `filename`."""
    return _attachment(geojson_bytes(frame, info, **options), geojson.MEDIA_TYPE, filename)


def gpkg_bytes(layers: dict[str, pd.DataFrame], info: dict) -> bytes:
    """A GeoPackage of `layers` (name -> frame; spatial ones in EPSG:27700), each with
    `info` as its metadata, and an ``about`` table."""
    metadata = dict(about_rows(info))
    with tempfile.TemporaryDirectory(prefix="mapper-download-") as tmp:
        path = Path(tmp) / "download.gpkg"
        for name, frame in layers.items():
            if isinstance(frame, gpd.GeoDataFrame):
                frame = frame.set_crs(CRS_ANALYSIS) if frame.crs is None else frame
            table = frame.copy()
            for column in table.columns:
                if table[column].dtype == object:
                    table[column] = table[column].map(
                        lambda v: v if v is None or isinstance(v, str | int | float) else str(v))
            pyogrio.write_dataframe(table, path, layer=name, driver="GPKG",
                                    layer_metadata=metadata)
        about_table = pd.DataFrame(about_rows(info), columns=["key", "value"])
        pyogrio.write_dataframe(about_table, path, layer="about", driver="GPKG")
        body = path.read_bytes()
    return body


def gpkg_response(layers: dict[str, pd.DataFrame], info: dict, filename: str) -> Response:
    """:func:`gpkg_bytes` as an attachment named `filename`."""
    return _attachment(gpkg_bytes(layers, info), "application/geopackage+sqlite3", filename)


__all__ = ["about", "csv_response", "geojson_response", "gpkg_response"]
