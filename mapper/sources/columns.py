"""What the columns of a point table mean, read from their headers *and* their content.

:func:`understand` takes a table's column names and its first rows and returns an
:class:`Understanding`: for each register field (name, postcode, latitude ...) the column
chosen and why, every other column and why it was ignored, and each assumption made where
the file was ambiguous (two name-like columns, coordinate columns whose values say they are
swapped or are eastings rather than longitudes ...). The CLI and the web upload print it,
so nothing is guessed silently.

Headers are normalised (case, punctuation, dots, camelCase, Shapefile's 10-character cut)
and matched against :data:`SYNONYMS`, first whole, then with leading words that name the
kind of record dropped (``charity_name``, ``pharmacy_postcode``), then by their last word
(``venue_name``, ``SITENM``). Content then finds postcodes, e-mail addresses, UK phone
numbers, web addresses, GSS area codes, dates and coordinates whose headers say nothing,
and checks the coordinate columns found by header against their value ranges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mapper import personal_text, registers
from mapper.postcodes import normalise_postcodes
from mapper.sources.codes import KIND_LABEL, column_vintage, dominant_kind
from mapper.sources.points import BNG_E, BNG_N, UK_LAT, UK_LON

#: field -> header spellings (normalised: lower case words separated by single spaces)
SYNONYMS: dict[str, list[str]] = {
    "name": [
        "name", "title", "org", "org name", "organisation", "organization", "organisation name",
        "organization name", "group name", "group", "premises name", "venue", "site name",
        "distinctive name", "establishment name", "place name", "facility name",
    ],
    "lat": ["lat", "latitude", "y lat", "wgs84 lat", "lat wgs84"],
    "lon": ["lon", "lng", "long", "longitude", "x lon", "wgs84 long", "long wgs84"],
    "easting": ["easting", "eastings", "os easting", "x", "bng e", "east", "grid easting",
                "x coordinate", "point x"],
    "northing": ["northing", "northings", "os northing", "y", "bng n", "north",
                 "grid northing", "y coordinate", "point y"],
    "postcode": ["postcode", "post code", "postal code", "pcd", "pcds", "zip", "zip code"],
    "category": ["category", "group type", "sector", "activity", "activities type"],
    "type": ["type", "premises type", "incident type", "crime type", "building type",
             "classification", "class", "kind", "site type", "facility type",
             "feature type", "amenity"],
    "description": ["description", "summary", "details", "notes", "activities"],
    "address": ["address", "full address", "street address", "address line", "addr"],
    "phone": ["phone", "telephone", "tel", "phone number", "telephone number", "contact phone",
              "contact telephone", "mobile"],
    "email": ["email", "e mail", "email address", "contact email"],
    "website": ["website", "url", "web", "web address", "web site", "homepage", "link"],
    "contact_name": ["contact name", "contact person", "main contact"],
    "contact": ["contact", "contact details", "contact info", "how to contact"],
    "contact_role": ["contact role", "role of contact", "contact type", "role",
                     "contact purpose", "contact for"],
    "emergency_consent": ["emergency consent", "emergency contact consent",
                          "consent to emergency contact", "consent to be contacted",
                          "agreed to emergency contact", "emergency contact agreed",
                          "consent to contact in an emergency", "emergency contact ok",
                          "consent"],
    "consent_confirmed": ["consent confirmed", "consent date", "date consent confirmed",
                          "consent last confirmed", "consent confirmed on",
                          "date of consent", "consent given on"],
    "charity_number": ["charity number", "registered charity number", "charity no",
                       "charity reg no", "charity registration number", "reg charity number"],
    "date": ["date", "incident date", "date of incident", "reported date", "occurred date"],
    "month": ["month"],
    "last_verified": ["last verified", "verified", "last checked", "date checked", "updated",
                      "last updated", "date updated", "updated at"],
    "source_id": ["id", "reference", "ref", "source id", "fid", "objectid", "object id", "uid"],
    "source": ["source", "data source", "publisher", "published by"],
}
#: leading words that say what kind of record a column belongs to (dropped before matching)
RECORD_WORDS = {
    "charity", "pharmacy", "org", "organisation", "organization", "group", "site", "venue",
    "premises", "establishment", "provider", "facility", "service", "location", "place",
    "building", "school", "library", "club", "centre", "center", "business", "company",
    "practice", "surgery", "branch", "the", "main", "primary", "registered", "contact",
    "feature", "poi", "asset", "station", "hall", "bank", "food", "church", "worship",
}
#: words that make "... name" the name of an area, not of the record
AREA_WORDS = {
    "ward", "lsoa", "msoa", "oa", "borough", "district", "lad", "la", "local", "authority",
    "county", "region", "country", "parish", "constituency", "pcon", "ccg", "icb", "nhs",
    "force", "street", "road", "town", "city", "locality", "area", "neighbourhood", "falls",
    "reported", "lsoa11", "lsoa21", "msoa11", "msoa21",
}
#: words that make "... name" a person's name (personal data, never the record's name)
PERSON_WORDS = {
    "contact", "person", "first", "last", "surname", "forename", "given", "family",
    "trustee", "manager", "owner", "coordinator", "leader", "chair", "secretary", "officer",
    "user", "author", "editor", "creator",
}
#: abbreviations seen in published headers -> their words
ABBREVIATIONS = {
    "distname": "distinctive name", "classifica": "classification", "featcode": "feature code",
    "nm": "name", "pcode": "postcode", "postcd": "postcode", "tel": "telephone",
    "orgname": "organisation name", "sitename": "site name", "lng": "lng",
}
#: leading words of a header that name a field by its last word ("venue_name" -> name)
LAST_WORD = {"name": "name", "type": "type", "category": "category", "postcode": "postcode",
             "email": "email", "phone": "phone", "telephone": "phone", "website": "website",
             "url": "website", "classification": "type", "latitude": "lat",
             "longitude": "lon", "easting": "easting", "northing": "northing"}
#: a file's columns whose values are mostly of one kind are read as that kind
CONTENT_SHARE = 0.8
#: Shapefile (dBase) field names are cut to this many characters
DBF_WIDTH = 10

_EMAIL = re.compile(r"^[\w.+'-]+@[\w-]+(?:\.[\w-]+)+$")
#: an e-mail address or a UK phone number inside free text ("call 0113 496 0000 or ..."):
#: the one rule, in mapper/personal_text.py
EMAIL_IN_TEXT, PHONE_IN_TEXT = personal_text.EMAIL, personal_text.PHONE
_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
_PHONE = re.compile(r"^(?:\+44|0044|0)\d{9,10}$")
_COORDS = ("lat", "lon", "easting", "northing")
#: the fields that place a record
LOCATION_FIELDS = (*_COORDS, "postcode")
_SYNONYM_INDEX = {s: f for f, names in SYNONYMS.items() for s in names}


@dataclass(frozen=True)
class Choice:
    """A field of the register and the column that feeds it."""

    field: str
    column: str
    reason: str
    #: further columns joined to it (address lines)
    also: tuple[str, ...] = ()


@dataclass
class Understanding:
    """What a file's columns were taken to mean; printed for every file read by meaning."""

    fields: dict[str, Choice] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)  # column -> why
    assumptions: list[str] = field(default_factory=list)
    #: e.g. "latitude/longitude then postcode", "the features' own geometry (Polygon)"
    location: str = ""

    def mapping(self) -> dict[str, str]:
        """Field -> column, for the fields found."""
        return {f: c.column for f, c in self.fields.items()}

    def choose(self, field_: str, column: str, reason: str, *, also=()) -> None:
        self.fields[field_] = Choice(field_, column, reason, tuple(also))
        for col in (column, *also):
            self.ignored.pop(col, None)

    def drop(self, field_: str, reason: str) -> None:
        choice = self.fields.pop(field_, None)
        if choice is not None:
            for col in (choice.column, *choice.also):
                self.ignored[col] = reason

    def lines(self) -> list[str]:
        """What was understood, one line each, for people."""
        out = [f"location: {self.location or 'none found'}"]
        for choice in self.fields.values():
            joined = f" (+ {', '.join(choice.also)})" if choice.also else ""
            out.append(f"{choice.field} <- '{choice.column}'{joined}: {choice.reason}")
        out += [f"ignored '{col}': {why}" for col, why in self.ignored.items()]
        out += [f"assumed: {text}" for text in self.assumptions]
        return out


# -- headers ------------------------------------------------------------------------------


def words(header: str) -> list[str]:
    """'charity_name' -> ['charity', 'name']; 'CharityName' and 'Charity.Name' alike;
    'DISTNAME' -> ['distinctive', 'name']; 'SITENM' -> ['site', 'name']."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(header).strip())
    out: list[str] = []
    for word in re.sub(r"[^0-9a-z]+", " ", text.lower()).split():
        if word in ABBREVIATIONS:
            out += ABBREVIATIONS[word].split()
        elif len(word) > 4 and word.endswith("name") and not word.endswith("surname"):
            out += [word[:-4], "name"]
        elif len(word) > 3 and word.endswith("nm") and word[:-2].isalpha():
            out += [word[:-2], "name"]
        elif m := re.fullmatch(r"([a-z]{3,})(\d)", word):  # "address1", "line2"
            out += [m[1], m[2]]
        else:
            out.append(word)
    return out


def normalise(header: str) -> str:
    """Lower case words separated by single spaces (no abbreviations expanded)."""
    return re.sub(r"[^0-9a-z]+", " ", str(header).lower()).strip()


def _register_columns() -> set[str]:
    every = set().union(*registers.REGISTER_COLUMNS.values())
    return {c for c in every if c not in ("name", "type", "category", "date", "month")}


def header_field(header: str) -> tuple[str | None, str]:
    """(field, reason) from a header alone; (None, why not) when it names no field."""
    raw = normalise(header)
    split = words(header)
    joined = " ".join(split)
    own = {normalise(c): c for c in _register_columns()}
    if raw in own:
        return own[raw], f"header '{header}' names the register's {own[raw]} column"
    numbered = " ".join(w for w in split if not w.isdigit())  # "address line 2"
    for text in dict.fromkeys((raw, joined, numbered)):
        if text in _SYNONYM_INDEX:
            return _SYNONYM_INDEX[text], f"header '{header}' means {_SYNONYM_INDEX[text]}"
    if area := _area_header(header, split):
        return None, area
    if split and split[-1] == "name" and set(split[:-1]) & PERSON_WORDS:
        return None, "a person's name (personal data), not the record's name"
    rest = list(split)
    dropped = []
    while len(rest) > 1 and rest[0] in RECORD_WORDS:
        dropped.append(rest.pop(0))
        for text in (" ".join(rest), " ".join(w for w in rest if not w.isdigit())):
            if text in _SYNONYM_INDEX:
                return _SYNONYM_INDEX[text], (
                    f"header '{header}' read as '{text}' ({' '.join(dropped)!r} dropped)"
                )
    if len(split) > 2 and split[0] in ("type", "category", "classification") and split[1] == "of":
        return LAST_WORD[split[0]], f"header '{header}' begins '{split[0]} of'"
    if len(split) > 1 and split[-1] in LAST_WORD and not set(split[:-1]) & PERSON_WORDS:
        found = LAST_WORD[split[-1]]
        return found, f"header '{header}' ends in '{split[-1]}'"
    if len(raw) == DBF_WIDTH and " " not in raw:
        for synonym, found in _SYNONYM_INDEX.items():
            if len(synonym) > DBF_WIDTH and synonym.replace(" ", "").startswith(raw):
                return found, (
                    f"header '{header}' read as '{synonym}' (Shapefile field names are cut "
                    f"to {DBF_WIDTH} characters)"
                )
    return None, "header not recognised"


def _area_header(header: str, split: list[str]) -> str | None:
    kind, year, what = column_vintage(header)
    if kind:
        label = KIND_LABEL[kind].split(" (")[0]
        noun = "code" if what == "CD" else "name"
        return f"the {noun} of the {label} ({year}); areas are found from each point's location"
    split = [w for w in split if not w.isdigit()]
    if len(split) > 1 and split[-1] in ("name", "code") and split[0] in AREA_WORDS:
        return (f"the {split[-1]} of an area ({' '.join(split[:-1])}); areas are found from "
                "each point's location")
    return None


# -- content ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """What the first values of a column look like."""

    kind: str  # postcode, email, phone, website, area code, date, number, text, blank
    share: float = 0.0
    low: float = np.nan
    high: float = np.nan
    decimals: float = 0.0  # share of numbers with a fractional part
    distinct: float = 0.0  # share of distinct values among the non-blank

    def describe(self) -> str:
        if self.kind == "number":
            return f"numbers {self.low:g}..{self.high:g}"
        if self.kind == "mostly number":
            return f"numbers {self.low:g}..{self.high:g} in {self.share:.0%} of the values"
        if self.kind == "blank":
            return "blank in the rows looked at"
        if self.kind == "text":
            return f"text, {self.distinct:.0%} of it distinct"
        return f"{self.share:.0%} of the values look like {self.kind}s"


def content(values: pd.Series) -> Content:
    """What the non-blank values of a column look like (from the first
    :data:`registers.MAX_TEXT` characters of each: a hostile 5 MB cell must not make
    reading a file's columns take minutes)."""
    text = values.astype("string").str.slice(0, registers.MAX_TEXT).str.strip().dropna()
    text = text[text != ""]
    if text.empty:
        return Content("blank")
    distinct = text.nunique() / len(text)
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    got = numbers[np.isfinite(numbers)]
    if numbers.notna().mean() >= CONTENT_SHARE or not len(got) < len(text) / 2:
        kind = "number" if numbers.notna().mean() >= CONTENT_SHARE else "mostly number"
        return Content(kind, float(numbers.notna().mean()), float(got.min()),
                       float(got.max()), float((got % 1 != 0).mean()), distinct)
    tests = (
        ("postcode", lambda t: normalise_postcodes(t).notna()),
        ("email", lambda t: t.str.match(_EMAIL)),
        ("website", lambda t: t.str.match(_URL)),
        ("phone", lambda t: t.str.replace(r"[\s()-]", "", regex=True).str.match(_PHONE)),
    )
    for kind, test in tests:
        share = float(test(text).fillna(False).mean())
        if share >= CONTENT_SHARE:
            return Content(kind, share, distinct=distinct)
    either = text.str.contains(EMAIL_IN_TEXT) | text.str.contains(PHONE_IN_TEXT)
    if float(either.mean()) >= CONTENT_SHARE:
        return Content("contact detail", float(either.mean()), distinct=distinct)
    if area := dominant_kind(text, share=CONTENT_SHARE):
        return Content(f"area code:{area}", 1.0, distinct=distinct)
    dates = pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=True)
    if dates.notna().mean() >= CONTENT_SHARE and text.str.contains(r"\d", regex=True).all():
        return Content("date", float(dates.notna().mean()), distinct=distinct)
    return Content("text", 1.0, distinct=distinct)


def _family(seen: Content) -> str | None:
    """'degrees' (UK longitudes or latitudes) or 'metres' (British National Grid), by range."""
    if seen.kind not in ("number", "mostly number"):
        return None
    if UK_LON[0] <= seen.low and seen.high <= UK_LAT[1] and (
        seen.decimals >= CONTENT_SHARE or seen.low >= UK_LAT[0]
    ):
        return "degrees"
    if seen.low >= 0 and seen.high <= BNG_N[1] and seen.high > 1_000:
        return "metres"
    return None


def _in(seen: Content, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= seen.low and seen.high <= bounds[1]


# -- the whole table ----------------------------------------------------------------------


def understand(
    columns: list[str], head: pd.DataFrame, *, geometry_type: str | None = None
) -> Understanding:
    """What each column of a point table means (see the module docstring)."""
    seen = {c: content(head[c]) if c in head else Content("blank") for c in columns}
    out = Understanding()
    candidates: dict[str, list[tuple[str, str]]] = {}
    for col in columns:
        found, why = header_field(col)
        if found is None:
            out.ignored[col] = why
        else:
            candidates.setdefault(found, []).append((col, why))
    for found, options in candidates.items():
        _pick(out, found, options, seen)
    _by_content(out, seen)
    _coordinates(out, seen)
    _name_from_content(out, seen, geometry_type)
    for col, why in list(out.ignored.items()):
        if why == "header not recognised":
            out.ignored[col] = _unused(seen[col])
    out.location = _location(out, geometry_type)
    return out


def _pick(out: Understanding, found: str, options: list[tuple[str, str]], seen) -> None:
    """One column per field: the exact header first, content agreeing; the rest ignored."""
    if found == "address" and len(options) > 1:
        lines = [c for c, _ in options]
        out.choose(found, lines[0], options[0][1] + "; address lines joined", also=lines[1:])
        return
    agreeing = [o for o in options if _agrees(found, seen[o[0]])] or options
    exact = [o for o in agreeing if "means" in o[1] or "register's" in o[1]]
    best = (exact or agreeing)[0]
    if found == "name":
        named = [o for o in agreeing if seen[o[0]].kind == "text"]
        best = max(exact or named or agreeing, key=lambda o: seen[o[0]].distinct)
    out.choose(found, best[0], best[1])
    others = [c for c, _ in options if c != best[0]]
    for col in others:
        out.ignored[col] = f"also looks like {found}; '{best[0]}' was used"
    if others and found in ("name", "type", "category", "postcode", "date"):
        out.assumptions.append(
            f"{len(options)} columns could be the {found} ({', '.join(c for c, _ in options)}): "
            f"'{best[0]}' used; map another column to change it"
        )


def _agrees(found: str, seen: Content) -> bool:
    if found in ("postcode", "email", "website", "phone"):
        return seen.kind == found
    if found in ("name", "type", "category", "address", "description"):
        return seen.kind in ("text", "blank")
    return True


def _by_content(out: Understanding, seen: dict[str, Content]) -> None:
    for col, why in list(out.ignored.items()):
        if why != "header not recognised":
            continue
        got = seen[col]
        if got.kind in ("postcode", "email", "website", "phone") and got.kind not in out.fields:
            out.choose(got.kind, col, f"content: {got.describe()}")
        elif got.kind == "contact detail" and not {"contact", "email", "phone"} & out.fields.keys():
            out.choose("contact", col, f"content: {got.describe()}; e-mail addresses and phone "
                       "numbers are taken from it")
        elif got.kind.startswith("area code:"):
            label = KIND_LABEL[got.kind.split(":")[1]]
            out.ignored[col] = (f"GSS codes of {label}; areas are found from each point's "
                                "location")
        elif got.kind == "date":
            out.ignored[col] = ("dates, but the header does not say which date; name the "
                                "column 'date' (incidents) or 'last_verified' to use it")


#: (axis, family) -> field; axis from the header, family from the values
_AXES = {"lat": "north", "northing": "north", "lon": "east", "easting": "east"}
_FIELD = {("north", "degrees"): "lat", ("east", "degrees"): "lon",
          ("north", "metres"): "northing", ("east", "metres"): "easting"}


def _coordinates(out: Understanding, seen: dict[str, Content]) -> None:
    """Coordinate columns: checked against their values, found by values when unnamed."""
    for found in [f for f in _COORDS if f in out.fields]:
        col = out.fields[found].column
        family = _family(seen[col])
        if seen[col].kind not in ("number", "mostly number"):
            continue  # kept: each row that is not a number is reported as such
        actual = _FIELD.get((_AXES[found], family), found)
        if actual != found and actual not in out.fields:
            out.fields.pop(found)
            out.choose(actual, col, f"header '{col}' suggests {found}, but it holds "
                       f"{seen[col].describe()}: read as {actual}")
            out.assumptions.append(
                f"'{col}' read as {actual}, not {found}, from its values ({seen[col].describe()})"
            )
    if not _has_coordinates(out):
        _coordinates_by_content(out, seen)
    if {"lat", "lon"} <= out.fields.keys():
        la, lo = (seen[out.fields[k].column] for k in ("lat", "lon"))
        if _in(la, UK_LON) and _in(lo, UK_LAT) and not _in(la, UK_LAT):
            _swap(out, "lat", "lon", la, lo)
    if {"easting", "northing"} <= out.fields.keys():
        e, n = (seen[out.fields[k].column] for k in ("easting", "northing"))
        if e.high > BNG_E[1] and n.high <= BNG_E[1]:
            _swap(out, "easting", "northing", e, n)


def _has_coordinates(out: Understanding) -> bool:
    f = out.fields.keys()
    return {"lat", "lon"} <= f or {"easting", "northing"} <= f


def _coordinates_by_content(out: Understanding, seen: dict[str, Content]) -> None:
    """No header names a complete pair: two unnamed number columns in range make one."""
    taken = {c.column for c in out.fields.values()}
    free = [c for c in out.ignored
            if c not in taken and seen[c].kind == "number" and _family(seen[c])]
    lat = [c for c in free if _family(seen[c]) == "degrees" and _in(seen[c], UK_LAT)]
    lon = [c for c in free if _family(seen[c]) == "degrees" and _in(seen[c], UK_LON)
           and not _in(seen[c], UK_LAT)]
    metres = [c for c in free if _family(seen[c]) == "metres"]
    if len(lat) == 1 and len(lon) == 1:
        pair = {"lat": lat[0], "lon": lon[0]}
    elif len(metres) == 2:
        first, second = metres
        if seen[first].high > BNG_E[1] >= seen[second].high:
            first, second = second, first
        pair = {"easting": first, "northing": second}
    else:
        return
    for k, col in pair.items():
        out.choose(k, col, f"content: {seen[col].describe()}")
    a, b = pair
    out.assumptions.append(
        f"no header names the coordinates; '{pair[a]}' and '{pair[b]}' read as {a}/{b} "
        "from their values"
    )


def _swap(out: Understanding, a: str, b: str, seen_a: Content, seen_b: Content) -> None:
    col_a, col_b = out.fields[a].column, out.fields[b].column
    out.choose(a, col_b, f"'{col_b}' holds {seen_b.describe()}: the {a} (columns swapped)")
    out.choose(b, col_a, f"'{col_a}' holds {seen_a.describe()}: the {b} (columns swapped)")
    out.assumptions.append(
        f"'{col_a}' and '{col_b}' look swapped (their values fit the other's range): "
        f"'{col_b}' read as {a} and '{col_a}' as {b}"
    )


def _name_from_content(out: Understanding, seen: dict[str, Content], geometry_type) -> None:
    """No name header in a table: the most varied text column, said aloud; never a code,
    a postcode, or a column of a postcode lookup."""
    if "name" in out.fields:
        return
    taken = {c.column for c in out.fields.values()}
    text = [
        c for c, why in out.ignored.items()
        if c not in taken and why == "header not recognised" and seen[c].kind == "text"
        and seen[c].distinct >= 0.5
    ]
    # tables only: a vector file without a name header is more often areas than records
    if not text or geometry_type or not _has_location(out) or _postcode_lookup(out, seen):
        return
    best = max(text, key=lambda c: seen[c].distinct)
    out.choose("name", best, f"no header names the records; the most varied text column "
               f"({seen[best].distinct:.0%} distinct values)")
    out.assumptions.append(f"'{best}' taken as the name; map another column to change it")


def _postcode_lookup(out: Understanding, seen: dict[str, Content]) -> bool:
    """One row per postcode with coordinates: a postcode lookup (mapper.sources.postcodes
    reads those), never a register whose name is guessed from its content."""
    postcode = out.fields.get("postcode")
    return (postcode is not None and seen[postcode.column].distinct == 1.0
            and _has_coordinates(out))


def _has_location(out: Understanding) -> bool:
    return _has_coordinates(out) or "postcode" in out.fields


def _unused(seen: Content) -> str:
    if seen.kind == "blank":
        return "header not recognised, and blank in the rows looked at"
    return f"header not recognised ({seen.describe()})"


def _location(out: Understanding, geometry_type: str | None) -> str:
    f = out.fields.keys()
    postcode = out.fields.get("postcode")
    if postcode is not None and "contact" in words(postcode.column):
        out.assumptions.append(
            f"'{postcode.column}' is a contact postcode: records without coordinates are "
            "placed at a correspondence address, which may not be where they work"
        )
    if geometry_type:
        return f"the features' own geometry ({geometry_type})"
    ways = []
    if {"lat", "lon"} <= f:
        ways.append("latitude/longitude")
    if {"easting", "northing"} <= f:
        ways.append("eastings/northings")
    if "postcode" in f:
        ways.append("postcode")
    if len(ways) > 1:
        out.assumptions.append(
            f"several locations ({', '.join(ways)}): {ways[0]} used, the others only where "
            f"{ways[0]} is blank"
        )
    return " then ".join(ways)
