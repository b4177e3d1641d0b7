"""Incident response: the groups nearest a postcode or a point, and a printable call sheet.

For a duty officer under pressure. ``/incident`` is a plain GET form (postcode, or
latitude and longitude; how many groups; category; what they must be able to offer; a
distance limit). Submitting it reloads the page with a map centred on the point (rings at
250 m, 500 m and 1 km, numbered markers) and the same groups as a numbered list, nearest
first. ``/incident/callsheet`` takes the same query and gives a print-ready table with
blank columns to fill in by hand. ``/incident/results.csv`` and ``/incident/results.geojson``
take the same query and give the groups found as a file, with the search point and radius,
the filters and the sources (:mod:`mapper.web.downloads`); contact details only for users
allowed to see them, and then each download is audited (:func:`contacts_for`).

Every answer comes from the cached nearest-groups index and a cached postcode table
(:mod:`mapper.web.data`), so a search costs a few milliseconds plus drawing the map.
Problems with the query are shown next to the field at fault, all at once, with a 400
status. Contact details (:data:`mapper.registers.PERSONAL_COLUMNS`) are shown only to
signed-in officers (partners: for groups in their granted wards), through
:mod:`mapper.web.contacts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import pandas as pd
from flask import Blueprint, abort, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from mapper import geojson
from mapper.analysis import verification
from mapper.analysis.nearest import K_DEFAULT, K_MAX, parse_capabilities
from mapper.geo import CRS_ANALYSIS, UK_LONLAT_BOUNDS, grid_from_lonlat, to_display
from mapper.maps import map_parts, ward_map
from mapper.maps.incidents import (
    RING_PATTERNS,
    RING_RADII_M,
    RING_STYLES,
    incident_map,
    ring_label,
)
from mapper.missing import clean_record
from mapper.postcodes import normalise_postcode, postcode_point
from mapper.registers import EMERGENCY_OFFERS, GROUP_CATEGORIES, PERSONAL_COLUMNS
from mapper.web import basemap, data, downloads, places
from mapper.web.contacts import contacts_for, partner_wards

bp = Blueprint("incidents", __name__)

#: distance limits offered, in metres (none is also a choice)
RADIUS_CHOICES_M = (250, 500, 1000, 2000)
#: the time zone of the "generated at" stamp and of "today" for record ages
LOCAL_TIME = verification.LOCAL_TIME

#: group columns these pages show to everyone; contact details (registers.PERSONAL_COLUMNS)
#: are added only for users allowed to see them (mapper.web.contacts)
DETAIL_COLUMNS = (
    "name",
    "category",
    "emergency_offer",
    "offer_source",
    "status",
    "communities_served",
    "languages",
    "opening_hours",
    "address",
    "postcode",
    "location_note",
    "last_verified",
)

#: provenance columns in the data sources notes, with their headings
SOURCE_COLUMNS = {
    "layer": "Layer",
    "source_file": "Source file",
    "vintage": "Release",
    "licence": "Licence",
    "attribution": "Attribution",
}
#: layers whose sources these pages cite
SOURCE_LAYERS = ("groups", "postcodes", "wards")

#: the query's fields, in the order of the form (and of its error summary)
FIELDS = ("postcode", "lat", "lon", "k", "category", "radius_m", "offer")
#: the fields folded under "Options"
OPTION_FIELDS = ("k", "category", "radius_m", "offer")


# -- the query -------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """A checked query: where (a postcode or latitude/longitude) and which groups."""

    x: float
    y: float
    postcode: str | None = None
    lat: float | None = None
    lon: float | None = None
    k: int = K_DEFAULT
    category: str | None = None
    offers: tuple[str, ...] = ()
    radius_m: int | None = None

    def params(self) -> list[tuple[str, str]]:
        """The query string's fields, blanks left out (for links to this same search)."""
        where = (
            [("postcode", self.postcode)]
            if self.postcode
            else [("lat", f"{self.lat:.6f}"), ("lon", f"{self.lon:.6f}")]
        )
        params = [*where, ("k", str(self.k))]
        if self.category:
            params.append(("category", self.category))
        params += [("offer", offer) for offer in self.offers]
        if self.radius_m is not None:
            params.append(("radius_m", str(self.radius_m)))
        return params

    def describe_where(self) -> str:
        if self.postcode:
            return f"postcode {self.postcode}"
        return f"latitude {self.lat:.5f}, longitude {self.lon:.5f}"

    def describe_filters(self) -> list[str]:
        """The filters in words: ``["within 500 m", "in the category “faith”"]``."""
        out = []
        if self.radius_m is not None:
            out.append(f"within {self.radius_m:,} m")
        if self.category:
            out.append(f"in the category “{self.category}”")
        if self.offers:
            out.append("that can offer " + _and(self.offers))
        return out


def _and(items) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class Form:
    """The form as typed (to show again) and the problem with each field."""

    values: MultiDict
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default).strip()

    def ordered_errors(self) -> list[tuple[str, str]]:
        return [(name, self.errors[name]) for name in FIELDS if name in self.errors]

    def options_open(self) -> bool:
        """Show the options when one of them is wrong (they are folded away otherwise)."""
        return any(name in self.errors for name in OPTION_FIELDS)

    def options_summary(self) -> str:
        """The options as typed, in words: "10 groups · any category · no distance limit"."""
        k = self.value("k") or str(K_DEFAULT)
        radius = self.value("radius_m")
        offers = [o.strip() for o in self.values.getlist("offer") if o.strip()]
        parts = [
            f"{k} group{'' if k == '1' else 's'}",
            self.value("category") or "any category",
            f"within {radius} m" if radius and radius != "none" else "no distance limit",
            "offering " + _and(offers) if offers else "any offer",
        ]
        return " · ".join(parts)


def submitted(args: MultiDict) -> bool:
    """True when the query asks for a search (a bare ``/incident`` shows the empty form)."""
    return any(name in args for name in ("postcode", "lat", "lon"))


def parse_search(args: MultiDict, postcodes: pd.DataFrame) -> tuple[Search | None, Form]:
    """Check every field of the query; a Search when all is well, and the form either way.

    `postcodes` is indexed by normalised postcode with ``x`` and ``y`` columns. A postcode,
    when given, is used instead of latitude and longitude. Every problem is collected.
    """
    form = Form(args)
    where = _parse_where(form, postcodes)
    k = _parse_k(form)
    category = _parse_choice(form, "category", GROUP_CATEGORIES, "category")
    offers = _parse_offers(form)
    radius = _parse_radius(form)
    if form.errors or where is None:
        return None, form
    return Search(**where, k=k, category=category, offers=offers, radius_m=radius), form


def _parse_where(form: Form, postcodes: pd.DataFrame) -> dict | None:
    typed = form.value("postcode")
    if typed:
        postcode = normalise_postcode(typed)
        if postcode is None:
            like = data.example_postcode()
            form.errors["postcode"] = (
                f"“{typed}” is not a full UK postcode. Enter one like {like or 'AB1 2CD'}, "
                "or leave it blank and use latitude and longitude."
            )
            return None
        if not len(postcodes):
            form.errors["postcode"] = (
                "This workspace has no postcode list, so it cannot find postcodes. Leave the "
                "postcode blank and use latitude and longitude, or click the map."
            )
            return None
        if postcode not in postcodes.index:
            form.errors["postcode"] = (
                f"Postcode {postcode} is not in this workspace's postcode list. Check it, "
                "or leave it blank and use latitude and longitude."
            )
            return None
        x, y = postcode_point(postcode, postcodes)
        return {"x": x, "y": y, "postcode": postcode}
    west, south, east, north = UK_LONLAT_BOUNDS
    lat = _parse_number(form, "lat", "Latitude", f"from {south:g} to {north:g} in the UK")
    lon = _parse_number(form, "lon", "Longitude", f"from {west:g} to {east:g} in the UK")
    if "lat" in form.errors or "lon" in form.errors:
        return None
    if lat is None and lon is None:
        form.errors["postcode"] = "Enter a postcode, or a latitude and longitude."
        return None
    if lat is None or lon is None:
        missing = "lat" if lat is None else "lon"
        form.errors[missing] = (
            f"Enter a {'latitude' if lat is None else 'longitude'} as well as a "
            f"{'longitude' if lat is None else 'latitude'}, or use a postcode instead."
        )
        return None
    if not _in_uk(lat, lon):
        form.errors["lat"] = _outside_uk_message(lat, lon)
        return None
    x, y = grid_from_lonlat(lon, lat)
    return {"x": x, "y": y, "lat": lat, "lon": lon}


def _parse_number(form: Form, name: str, label: str, expected: str) -> float | None:
    text = form.value(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        form.errors[name] = f"{label} must be a number in decimal degrees, {expected}."
        return None
    return value


def _in_uk(lat: float, lon: float) -> bool:
    west, south, east, north = UK_LONLAT_BOUNDS
    return west <= lon <= east and south <= lat <= north


def _outside_uk_message(lat: float, lon: float) -> str:
    west, south, east, north = UK_LONLAT_BOUNDS
    where = f"Latitude {lat:g}, longitude {lon:g} is outside the UK"
    expected = (
        f"In the UK latitude is between {south:g} and {north:g}, "
        f"longitude between {west:g} and {east:g}."
    )
    if _in_uk(lon, lat):
        return f"{where}: are latitude and longitude swapped? {expected}"
    return f"{where}. {expected}"


def _whole(text: str) -> bool:
    """True for plain digits 0-9 (``"²".isdigit()`` is true, but int() refuses it)."""
    return text.isascii() and text.isdigit()


def _parse_k(form: Form) -> int:
    text = form.value("k")
    if not text:
        return K_DEFAULT
    if _whole(text) and 1 <= int(text) <= K_MAX:
        return int(text)
    form.errors["k"] = f"Number of groups must be a whole number from 1 to {K_MAX}; got “{text}”."
    return K_DEFAULT


def _parse_choice(form: Form, name: str, choices, label: str) -> str | None:
    text = form.value(name)
    if not text:
        return None
    if text not in choices:
        form.errors[name] = (
            f"There is no {label} “{text}”. Choose one of: {', '.join(choices)} (or any)."
        )
        return None
    return text


def _parse_offers(form: Form) -> tuple[str, ...]:
    typed = [o.strip() for o in form.values.getlist("offer") if o.strip()]
    unknown = [o for o in typed if o not in EMERGENCY_OFFERS]
    if unknown:
        form.errors["offer"] = (
            f"Unknown offer {', '.join(f'“{o}”' for o in unknown)}. "
            f"Tick any of: {', '.join(EMERGENCY_OFFERS)}."
        )
    # in vocabulary order, each once, so the same search always has the same URL
    return tuple(o for o in EMERGENCY_OFFERS if o in typed)


def _parse_radius(form: Form) -> int | None:
    text = form.value("radius_m")
    if text in ("", "none"):
        return None
    if _whole(text) and int(text) in RADIUS_CHOICES_M:
        return int(text)
    choices = ", ".join(str(r) for r in RADIUS_CHOICES_M)
    form.errors["radius_m"] = (
        f"Distance limit must be none or one of {choices} metres; got “{text}”."
    )
    return None


# -- cached data -----------------------------------------------------------------------


def group_details() -> pd.DataFrame:
    """What these pages show of each group, indexed by ``group_id``: no personal data."""
    return data.cached("incident_group_details", _build_group_details)


def _build_group_details(_workspace) -> pd.DataFrame:
    groups = data.layer("groups", required=False)
    if groups is None:
        return pd.DataFrame(columns=list(DETAIL_COLUMNS), index=pd.Index([], name="group_id"))
    table = pd.DataFrame(index=pd.Index(groups["group_id"].to_numpy(), name="group_id"))
    for column in DETAIL_COLUMNS:
        values = groups[column] if column in groups else pd.Series(None, index=groups.index)
        table[column] = values.astype(object).where(values.notna(), None).to_numpy()
    return table


def ward_names() -> dict[str, str]:
    """Ward code -> "Ward name, Borough name"."""

    def build(_workspace) -> dict[str, str]:
        wards = data.layer("wards", required=False)
        if wards is None:
            return {}
        names = wards["ward_name"].astype(str)
        if "borough_name" in wards:
            names = names + ", " + wards["borough_name"].astype(str)
        return dict(zip(wards["ward_code"], names, strict=True))

    return data.cached("incident_ward_names", build)


def _ward_of(x: float, y: float, postcode: str | None) -> str | None:
    postcodes = data.postcode_index()
    code = None
    if postcode and "ward_code" in postcodes and postcode in postcodes.index:
        code = postcodes.at[postcode, "ward_code"]
    if not isinstance(code, str):
        wards = data.layer("wards", required=False)
        if wards is None:
            return None
        hits = wards.sindex.query(gpd.points_from_xy([x], [y])[0], predicate="intersects")
        code = wards["ward_code"].iloc[hits[0]] if len(hits) else None
    return ward_names().get(code) if code else None


def _nearest_postcode(x: float, y: float) -> tuple[str, float] | None:
    """The postcode whose centroid is nearest the point, and how far it is."""

    def build(_workspace):
        from scipy.spatial import cKDTree

        table = data.postcode_index()
        if not len(table):
            return None
        return cKDTree(table[["x", "y"]].to_numpy()), table.index.to_numpy()

    found = data.cached("incident_postcode_tree", build)
    if found is None:
        return None
    tree, names = found
    distance, i = tree.query([x, y])
    return str(names[i]), float(distance)


# -- results -------------------------------------------------------------------------


def today() -> date:
    """Today in London (a function so tests can fix it)."""
    return verification.today()


def find_groups(search: Search) -> pd.DataFrame:
    """The nearest groups for `search`: rank, id, distance, x, y and the shown details."""
    found = data.nearest_index().query(
        search.x,
        search.y,
        k=search.k,
        category=search.category,
        capabilities=search.offers,
        radius_m=search.radius_m,
    )
    details = group_details()
    found = found.rename(columns={"id": "group_id", "category": "_category"})
    found = found.join(details, on="group_id")
    found.insert(0, "rank", np.arange(1, len(found) + 1))
    return found.drop(columns="_category")


def result_rows(found: pd.DataFrame, *, on: date) -> list[dict]:
    """One dict per group found, with the contact details the signed-in user may see."""
    contacts = contacts_for(found["group_id"].tolist()) if "group_id" in found else {}
    rows = []
    for record in found.to_dict("records"):
        record = clean_record(record)  # None, never NaN ("nan" on the page)
        record["contact"] = contacts.get(str(record.get("group_id")))
        record["distance_text"] = f"{round(record['distance_m']):,} m"
        record["offers"] = sorted(
            parse_capabilities(record.get("emergency_offer")), key=_offer_order
        )
        record["verified"] = verification.verified_note(record.get("last_verified"), on=on)
        rows.append(record)
    return rows


def _offer_order(offer: str) -> tuple[int, str]:
    return (EMERGENCY_OFFERS.index(offer) if offer in EMERGENCY_OFFERS else 99, offer)


def _source_rows(layers=SOURCE_LAYERS) -> list[dict]:
    provenance = data.provenance()
    if provenance is None or "layer" not in provenance:
        return []
    rows = provenance[provenance["layer"].isin(layers)]
    columns = [c for c in SOURCE_COLUMNS if c in rows.columns]
    return rows[columns].fillna("").astype(str).to_dict("records")


# -- views -----------------------------------------------------------------------------


def _page_context() -> dict:
    meta = data.meta()
    return {
        "study_area": meta.get("study_area") or "Study area",
        "example": data.example_place(),
        "synthetic": str(meta.get("synthetic", "")).lower() == "yes",
        "categories": GROUP_CATEGORIES,
        "offers": EMERGENCY_OFFERS,
        "radius_choices": RADIUS_CHOICES_M,
        "k_max": K_MAX,
        "k_default": K_DEFAULT,
        "source_columns": SOURCE_COLUMNS,
        "tiles": basemap.kind(),
        "rings": [
            {
                "label": ring_label(r),
                "dash": RING_STYLES[r]["dash_array"],
                "weight": RING_STYLES[r]["weight"],
                "pattern": RING_PATTERNS[r],
            }
            for r in RING_RADII_M
        ],
        "stale_months": verification.VERIFICATION_MONTHS,
        "area_bounds": places.area_bounds(),  # "Use my location" checks a position
    }


def _show_form(form: Form, status: int):
    """The form alone (status 200), or with the problems found (400), over a map of the
    whole area to click on."""
    return (
        render_template(
            "incident.html",
            form=form,
            search=None,
            map=_area_map(),
            sources=_source_rows() if status == 200 else [],
            **_page_context(),
        ),
        status,
    )


def _area_map():
    """The ward map of the whole area (drawn once per workspace version), or None."""
    wards = data.layer("wards", required=False)
    if wards is None or not len(wards):
        return None
    tiles = basemap.map_tiles()
    context_layers = basemap.context_overlay()
    base = f"{request.script_root}/vendor"

    def build(_workspace):
        boroughs = data.layer("boroughs", required=False)
        return map_parts(ward_map(wards, boroughs, tiles=tiles,
                                  context_layers=context_layers, asset_base_url=base))

    return data.cached("incident_area_map", build, variant=(tiles, base, context_layers))


def prepare() -> None:
    """Make what a search reads (postcodes, their nearest-postcode tree, the groups'
    details, ward names) and the area map now, not on the first search (call in a
    request context)."""
    group_details()
    ward_names()
    _nearest_postcode(0.0, 0.0)  # builds the tree (the answer is not wanted)
    _area_map()


def _located(search: Search) -> dict:
    """Where the search point is, in words: ward, nearest postcode, grid reference."""
    nearest = None if search.postcode else _nearest_postcode(search.x, search.y)
    return {
        "where": search.describe_where(),
        "ward": _ward_of(search.x, search.y, search.postcode),
        "nearest_postcode": nearest,
        "grid": f"E {search.x:,.0f}, N {search.y:,.0f}",
    }


def _query_url(endpoint: str, search: Search) -> str:
    return f"{url_for(endpoint)}?{urlencode(search.params())}"


def _search(args: MultiDict) -> tuple[Search | None, Form]:
    """:func:`parse_search`, and a search from far outside the study area refused."""
    search, form = parse_search(args, data.postcode_index())
    area = data.study_area()
    refused = search is not None and area and area.refuse(search.x, search.y,
                                                           search.describe_where())
    if refused and search is not None:
        form.errors["postcode" if search.postcode else "lat"] = refused
        return None, form
    return search, form


@bp.get("/incident")
def incident():
    """The incident page: the form, and for a search the map and the nearest groups."""
    form = Form(request.args)
    if not submitted(request.args):
        return _show_form(form, 200)
    search, form = _search(request.args)
    if search is None:
        return _show_form(form, 400)

    found = find_groups(search)
    place = _located(search)
    groups = gpd.GeoDataFrame(
        found[["rank", "name", "distance_m"]].assign(name=found["name"].fillna("")),
        geometry=gpd.points_from_xy(found["x"], found["y"]),
        crs=CRS_ANALYSIS,
    )
    m = incident_map(
        search.x,
        search.y,
        groups,
        point_label=place["where"],
        wards=data.layer("wards", required=False),
        tiles=basemap.map_tiles(),
        context_layers=basemap.context_overlay(),
        asset_base_url=f"{request.script_root}/vendor",
    )
    return render_template(
        "incident.html",
        form=form,
        search=search,
        place=place,
        filters=search.describe_filters(),
        groups=result_rows(found, on=today()),
        groups_in_workspace=len(data.nearest_index()),
        map=map_parts(m),
        callsheet_url=_query_url("incidents.callsheet", search),
        results_urls={f: _query_url(f"incidents.results_{f}", search)
                      for f in RESULT_FORMATS},
        sources=_source_rows(),
        **_page_context(),
    )


@bp.get("/incident/callsheet")
def callsheet():
    """The printable call sheet for the same query as the incident page."""
    form = Form(request.args)
    if not submitted(request.args):
        return _show_form(form, 200)
    search, form = _search(request.args)
    if search is None:
        return _show_form(form, 400)
    found = find_groups(search)
    generated = datetime.now(LOCAL_TIME)
    return render_template(
        "callsheet.html",
        search=search,
        place=_located(search),
        filters=search.describe_filters(),
        groups=result_rows(found, on=today()),
        groups_in_workspace=len(data.nearest_index()),
        generated=f"{generated.day} {generated:%B %Y, %H:%M %Z}",
        incident_url=_query_url("incidents.incident", search),
        sources=_source_rows(),
        **_page_context(),
    )


# -- the results as a file ----------------------------------------------------------------

#: the formats of the results download
RESULT_FORMATS = ("csv", "geojson")
#: the results' columns, in order (contact columns follow the name for users allowed them)
RESULT_COLUMNS = ("rank", "group_id", "name", "distance_m", *DETAIL_COLUMNS[1:])


def _results(fmt_name: str):
    """The groups found for the query, with the search point and radius, as a table
    (EPSG:27700 points) and what the file says about itself; 400 like the page."""
    search, form = _search(request.args)
    if search is None:
        problems = "; ".join(message for _name, message in form.ordered_errors())
        abort(400, description=problems or "Give a postcode, or a latitude and longitude.")
    found = find_groups(search)
    table = pd.DataFrame({c: found[c] if c in found else None for c in RESULT_COLUMNS})
    table["distance_m"] = table["distance_m"].round().astype("Int64")
    if partner_wards() != set():  # a role that may see some contacts: audited download
        shown = contacts_for(found["group_id"].tolist(),
                             export=f"incident results as {fmt_name.upper()}")
        for offset, column in enumerate(PERSONAL_COLUMNS):
            table.insert(3 + offset, column, [shown.get(str(g), {}).get(column)
                                               for g in found["group_id"]])
    points = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(found["x"], found["y"]),
                              crs=CRS_ANALYSIS)
    filters = {"postcode": search.postcode or "",
               "lat": "" if search.postcode else f"{search.lat:.6f}",
               "lon": "" if search.postcode else f"{search.lon:.6f}",
               "k": search.k, "category": search.category or "",
               "offer": list(search.offers), "radius_m": search.radius_m or ""}
    info = downloads.about(f"Groups nearest {search.describe_where()}", filters,
                           layers=SOURCE_LAYERS)
    return search, points, info


def _search_point(search: Search) -> dict:
    lon, lat = (float(v) for v in to_display(
        gpd.GeoSeries(gpd.points_from_xy([search.x], [search.y]), crs=CRS_ANALYSIS))
        .get_coordinates().iloc[0])
    return {"latitude": round(lat, 6), "longitude": round(lon, 6),
            "easting": round(search.x, 1), "northing": round(search.y, 1),
            "postcode": search.postcode, "radius_m": search.radius_m}


def _filename(search: Search, suffix: str) -> str:
    where = (search.postcode or f"{search.lat:.4f}_{search.lon:.4f}").replace(" ", "")
    return f"incident-groups-{where}.{suffix}"


@bp.get("/incident/results.csv")
def results_csv():
    """The groups found as CSV: rank, distance, details, each row with the search point
    and radius, the filters and the sources."""
    search, points, info = _results("csv")
    table = pd.DataFrame(points.drop(columns="geometry"))
    shown = to_display(points.geometry)
    table["latitude"], table["longitude"] = shown.y.round(6), shown.x.round(6)
    point = _search_point(search)
    for key in ("latitude", "longitude", "postcode", "radius_m"):
        table[f"search_{key}"] = point[key]
    return downloads.csv_response(table, info, _filename(search, "csv"))


@bp.get("/incident/results.geojson")
def results_geojson():
    """The groups found as GeoJSON (WGS84): the search point first (and the search radius
    as a circle when one is set), then the groups, nearest first; the search as a member."""
    search, points, info = _results("geojson")
    point = _search_point(search)
    marks = [{"feature": "search point", **point}]
    shapes = [gpd.points_from_xy([search.x], [search.y])[0]]
    if search.radius_m:
        marks.append({"feature": "search radius", **point})
        shapes.append(shapes[0].buffer(search.radius_m, 64))
    leading = gpd.GeoDataFrame(pd.DataFrame(marks), geometry=to_display(
        gpd.GeoSeries(shapes, crs=CRS_ANALYSIS)).array)
    encoded = tuple(geojson.encode_features(leading, placeholders=True))
    points.insert(0, "feature", "group")
    return downloads.geojson_response(points, info, _filename(search, "geojson"),
                                      extra={"search": point}, leading=encoded)
