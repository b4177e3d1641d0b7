"""Case: the API's GeoJSON encoding by :mod:`mapper.geojson` (orjson, vectorised
geometry) against the ``json.dumps`` writer it replaced, on the workspace's wards and
groups, in the same process (no HTTP), both timed as the best of several calls:

* **encode a layer** (once per workspace version, and again for each edited group):
  ours, :func:`mapper.geojson.encode_features` of the layer in WGS84; the baseline, the
  API's writer before (a cleaned value per cell, ``json.JSONEncoder`` per row, the
  geometry rounded with ``shapely.transform`` and written by ``shapely.to_geojson``,
  each feature an f-string);
* **answer a list** (every ``/api/wards``, ``/api/groups`` request): ours,
  :func:`mapper.geojson.collection` of the ready features with the answer's members;
  the baseline, the same from the baseline's ready feature texts by string joins
  (the opening members made once, as both do), and a
  plain ``json.dumps`` of the answer as one document (what a naive view would do).

Check: every answer decodes to the same JSON as the baseline's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from bench.core import Check, Result, best_of, log, slowdown
from mapper import geojson, overlay
from mapper.geo import to_display
from mapper.missing import is_missing
from mapper.registers import PERSONAL_COLUMNS

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _value(value: object) -> object:
    """The API's value cleaning before mapper.geojson (one call per cell)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return None if is_missing(value) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def before_features(frame, id_column: str) -> list[str]:
    """Each row as the API wrote it before mapper.geojson (text)."""
    hidden = set(PERSONAL_COLUMNS) | {frame.geometry.name}
    shown = frame[[c for c in frame.columns if c not in hidden]]
    names = [str(c) for c in shown.columns]
    columns = [[_value(v) for v in shown[c].tolist()] for c in shown.columns]
    properties = [_ENCODER.encode(dict(zip(names, row, strict=True)))
                  for row in zip(*columns, strict=True)]
    shapes = np.asarray(to_display(frame.geometry).values, dtype=object)
    rounded = shapely.transform(shapes, lambda c: np.round(c, geojson.COORD_DECIMALS))
    texts = shapely.to_geojson(rounded)
    empty = shapely.is_missing(rounded) | shapely.is_empty(rounded)
    geometry = ["null" if e else t for t, e in zip(texts.tolist(), empty.tolist(), strict=True)]
    ids = [_ENCODER.encode(_value(v)) for v in frame[id_column].tolist()]
    return [f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{p}}}'
            for i, g, p in zip(ids, geometry, properties, strict=True)]


def ours_features(frame, id_column: str) -> list[bytes]:
    """Each row as the API writes it now (mapper.geojson, bytes)."""
    hidden = set(PERSONAL_COLUMNS) | {frame.geometry.name}
    shown = to_display(frame)
    return geojson.encode_features(shown, columns=[c for c in frame.columns if c not in hidden],
                                   id_column=id_column, placeholders=True)


def _head(layer: str) -> dict:
    return {"attribution": ["Contains OS data © Crown copyright and database right"],
            "licences": ["OGL-UK-3.0"], "synthetic": False, "study_area": "London",
            "layer": layer}


def _payload(n: int) -> dict:
    return {"query": {"borough": [], "geometry": True}, "total": n, "offset": 0,
            "returned": n, "truncated": False, "next": None}


def before_head(head: dict) -> str:
    """The answer's opening members as the API made them before, once per version."""
    return _ENCODER.encode({"type": "FeatureCollection", **head})


def before_answer(features: list[str], text: str, payload: dict) -> bytes:
    """The answer as the API joined it before: head text (made once), payload text,
    features joined."""
    members = _ENCODER.encode(payload)
    text = text[:-1] + "," + members[1:]
    return (text[:-1] + ',"features":[' + ",".join(features) + "]}").encode()


def dumps_answer(documents: list[dict], head: dict, payload: dict) -> bytes:
    """The answer as one json.dumps of the whole document (a naive view)."""
    return json.dumps({"type": "FeatureCollection", **head, **payload,
                       "features": documents}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def case_api_encoding(workspace: Path, *, label: str, repeat: int = 5) -> list[Result]:
    """Encoding the wards and groups layers, and answering a list of each, ours against
    the writer before mapper.geojson (see the module's docstring)."""
    from mapper.store import Workspace

    ws = Workspace(workspace)
    layers = []
    summary = ws.read_layer("ward_summary") if "ward_summary" in ws.layers() else None
    layers.append(("wards", summary if summary is not None else ws.read_layer("wards"),
                   "ward_code"))
    layers.append(("groups", overlay.read_layer(ws, "groups"), "group_id"))
    results = []
    for name, frame, id_column in layers:
        frame = frame.reset_index(drop=True)
        log(f"  GeoJSON encoding: {name} ({len(frame):,} features)")
        ours_s, ours = best_of(lambda f=frame, c=id_column: ours_features(f, c), repeat)
        before_s, before = best_of(lambda f=frame, c=id_column: before_features(f, c), repeat)
        head, payload = _head(name), _payload(len(frame))
        documents = [json.loads(t) for t in before]
        head_bytes, head_text = geojson.dumps(head), before_head(head)  # once per version
        answer_s, answer = best_of(lambda o=ours, h=head_bytes, p=payload:
                                   geojson.collection(o, h, p), repeat * 4)
        joined_s, joined = best_of(lambda b=before, h=head_text, p=payload:
                                   before_answer(b, h, p), repeat * 4)
        dumped_s, dumped = best_of(lambda d=documents, h=head, p=payload:
                                   dumps_answer(d, h, p), repeat)
        same = [json.loads(t) for t in ours] == documents
        answers = [json.loads(a) for a in (answer, joined, dumped)]
        same_answers = answers[0] == answers[1] == answers[2]
        detail = (f"{len(frame):,} features: each decodes to the baseline's JSON: {same}; "
                  f"the three answers ({len(answer):,} bytes ours, {len(joined):,} before) "
                  f"decode equal: {same_answers}")
        results.append(Result(
            case=f"API GeoJSON encoding: {name}",
            size=f"{label}: {len(frame):,} {name}",
            ours="mapper.geojson.encode_features + collection (orjson)",
            seconds=ours_s,
            comparisons=[
                slowdown("encode the layer: the API's json.dumps writer before "
                         "(per-cell cleaning, JSONEncoder per row, f-strings)",
                         before_s, ours_s, 1.0),
                slowdown("answer the whole list: string joins of the writer before",
                         joined_s, answer_s, 1.0),
                slowdown("answer the whole list: one json.dumps of the document",
                         dumped_s, answer_s, 1.0),
            ],
            check=Check(same and same_answers, detail),
            extra={"encode_before_s": before_s, "answer_s": answer_s,
                   "answer_before_s": joined_s, "answer_dumps_s": dumped_s},
        ).finish())
    return results
