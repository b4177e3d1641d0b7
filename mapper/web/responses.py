"""HTTP responses of the web app, in one place: gzip (whole bodies, or pieces deflated once
and joined per request), JSON documents made once per workspace version and sent with an
ETag (a 304 for a client that has them), point layers' pages, and the record versions
the editing API sends as ETags and takes back in If-Match.

Not a blueprint: blueprints import it, it imports no blueprint.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Response, abort, request

from mapper.maps.base import compact_json
from mapper.web import data

#: deflate level of the parts compressed once per workspace version / once per request
CACHED_LEVEL, REQUEST_LEVEL = 9, 6
#: how long browsers may keep a versioned JSON document (its URL names the workspace
#: version, see :func:`versioned_json`), in seconds
VERSIONED_MAX_AGE = 24 * 3600


# -- JSON documents, once per workspace version -----------------------------------------


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
    gzipped = accepts_gzip()
    etag = f"{tag}-gzip" if gzipped else tag
    if not_modified(etag):
        response = Response(status=304)
    else:
        response = byte_response(entry.gzipped if gzipped else entry.raw, mimetype,
                             gzipped=gzipped)
    response.set_etag(etag)
    response.headers["Cache-Control"] = (f"public, max-age={VERSIONED_MAX_AGE}"
                                         if request.args.get("v") == tag else "no-cache")
    return response


# -- compression ------------------------------------------------------------------------


def accepts_gzip() -> bool:
    """Whether the client takes a gzipped body."""
    return request.accept_encodings["gzip"] > 0


def byte_response(body: bytes, mimetype: str, *, gzipped: bool = False) -> Response:
    """A response of ready bytes (gzipped: marked so), varying with Accept-Encoding."""
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
    """`plain` deflated on its own, ready to join others in :func:`gzip_joined`."""
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


# -- record versions as ETags (the editing API) ------------------------------------------

_RECORD_ETAG = re.compile(r'^\s*(?:W/)?"v(\d+)"\s*$')


def record_etag(version: int) -> str:
    """The ETag of a record's `version`: ``"v3"``."""
    return f'"v{version}"'


def record_version(header: str) -> int | None:
    """The version an If-Match header names (``"v3"`` or ``W/"v3"``), or None when it
    names none."""
    match = _RECORD_ETAG.match(header)
    return None if match is None else int(match[1])


def not_modified(etag: str) -> bool:
    """Whether the request's If-None-Match already holds `etag` (quoted or not): the
    one conditional-request check of the app (versioned JSON, records)."""
    return request.if_none_match.contains(etag.strip('"'))
