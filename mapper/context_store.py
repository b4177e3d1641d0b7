"""The workspace's context layers (roads, water, rail, buildings, places drawn under the
data): ``context.gpkg`` beside ``mapper.gpkg``, one layer per kind (``class``, ``name``,
``min_zoom``, geometry in EPSG:27700) and ``context_sources`` (file, kinds, features,
vintage, licence, attribution, import time).

Kept apart from ``mapper.gpkg``: nothing analysed reads it, so importing it neither
stamps a new data version nor makes the analysis stale. Written as the store writes
(:mod:`mapper.store`): into a temporary copy in the same directory, swapped in with
``os.replace`` once complete and flushed, under the workspace's import lock, so a failed
or killed import leaves the previous context as it was.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from mapper.context_kinds import KINDS, check_kind
from mapper.private_files import private_dir
from mapper.store import (
    LOCK_FILE,
    _exclusive_lock,
    _fsync_dir,
    replaced_atomically,
    resolve_workspace,
)

CONTEXT_FILE = "context.gpkg"
SOURCES_TABLE = "context_sources"
TMP_PREFIX = ".context-import-"


class ContextStore:
    """The context layers of one workspace directory."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = resolve_workspace(directory)
        self.path = self.directory / CONTEXT_FILE

    def exists(self) -> bool:
        return self.path.is_file()

    def identity(self) -> str | None:
        """A token that changes whenever the file is replaced (None: no context)."""
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"

    def kinds(self) -> list[str]:
        """The kinds stored, in drawing order."""
        if not self.exists():
            return []
        names = {str(n) for n, _ in pyogrio.list_layers(self.path)}
        return [k for k in KINDS if k in names]

    def sources(self) -> pd.DataFrame:
        """One row per imported file (``source_file``, ``kinds`` with their counts:
        "roads 5, water 2", ``features``,
        ``vintage``, ``licence``, ``attribution``, ``imported_at``)."""
        if not self.exists():
            return pd.DataFrame(columns=["source_file", "kinds", "features", "vintage",
                                         "licence", "attribution", "imported_at"])
        return pyogrio.read_dataframe(self.path, layer=SOURCES_TABLE)

    def attributions(self) -> list[str]:
        """The distinct attributions to show, in import order."""
        seen: list[str] = []
        for text in self.sources()["attribution"].fillna(""):
            if text and text not in seen:
                seen.append(str(text))
        return seen

    def read(self, kind: str, bbox: tuple[float, float, float, float],
             zoom: int) -> gpd.GeoDataFrame:
        """The features of `kind` meeting `bbox` (EPSG:27700) drawn at `zoom`
        (``min_zoom <= zoom``), lowest ``min_zoom`` first."""
        check_kind(kind)
        try:
            frame = pyogrio.read_dataframe(self.path, layer=kind, bbox=bbox,
                                           where=f"min_zoom <= {int(zoom)}")
        except pyogrio.errors.DataLayerError:  # not imported
            return gpd.GeoDataFrame({"class": [], "name": [], "min_zoom": []},
                                    geometry=[], crs="EPSG:27700")
        return frame.sort_values("min_zoom", kind="stable").reset_index(drop=True)

    def replace(self, frames: dict[str, gpd.GeoDataFrame], sources: list[dict]) -> None:
        """Store `frames` (kind -> frame), replacing those kinds and keeping the others,
        with `sources` added to the provenance; all at once or not at all."""
        for kind in frames:
            check_kind(kind)
        private_dir(self.directory)
        with _exclusive_lock(self.directory / LOCK_FILE):
            with replaced_atomically(self.path, copy=True) as tmp:
                old = self.sources()
                for kind, frame in frames.items():
                    if frame.crs is None or frame.crs.to_epsg() != 27700:
                        raise ValueError(f"context {kind} must be in EPSG:27700, got "
                                         f"{frame.crs}")
                    pyogrio.write_dataframe(frame[["class", "name", "min_zoom", "geometry"]],
                                            tmp, layer=kind, driver="GPKG",
                                            geometry_type="Unknown")
                kept = _without(old, set(frames))
                now = datetime.now(UTC).replace(microsecond=0).isoformat()
                rows = pd.concat([kept, pd.DataFrame([{**s, "imported_at": now}
                                                      for s in sources])],
                                 ignore_index=True)
                pyogrio.write_dataframe(rows.astype({"features": "int64"}), tmp,
                                        layer=SOURCES_TABLE, driver="GPKG")

    def clear(self) -> bool:
        """Remove the context layers; whether there were any."""
        if not self.exists():
            return False
        with _exclusive_lock(self.directory / LOCK_FILE):
            self.path.unlink()
            _fsync_dir(self.directory)
        return True


def _without(sources: pd.DataFrame, replaced: set[str]) -> pd.DataFrame:
    """`sources` less the kinds `replaced` (``kinds`` reads "roads 5, water 2"): a file
    whose every kind is replaced goes, the others keep what is still theirs."""
    rows = []
    for row in sources.to_dict("records"):
        left = [part for part in str(row["kinds"] or "").split(", ")
                if part and part.rsplit(" ", 1)[0] not in replaced]
        if left:
            counts = [int(p.rsplit(" ", 1)[1]) for p in left if p.rsplit(" ", 1)[-1].isdigit()]
            rows.append({**row, "kinds": ", ".join(left), "features": sum(counts)})
    return pd.DataFrame(rows, columns=sources.columns)


def context_path(directory: str | os.PathLike) -> Path:
    """Where a workspace keeps its context layers."""
    return Path(directory) / CONTEXT_FILE


__all__ = ["CONTEXT_FILE", "SOURCES_TABLE", "ContextStore", "context_path"]
