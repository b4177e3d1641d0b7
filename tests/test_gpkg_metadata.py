"""The workspace GeoPackage describes its own layers where GIS software looks: each
``gpkg_contents`` row's identifier and description, and the metadata extension
(``gpkg_metadata`` + ``gpkg_metadata_reference``, registered in ``gpkg_extensions``)
holding a QGIS layer-metadata document with the layer's provenance. Read with sqlite3 as
the standard defines the tables, and with pyogrio/GDAL, which must not complain."""

from __future__ import annotations

import logging
import sqlite3
import warnings
import xml.etree.ElementTree as ET
from contextlib import closing

import geopandas as gpd
import pyogrio
from shapely.geometry import Point

from mapper.store import (
    LAYER_TITLES,
    METADATA_EXTENSION,
    QGIS_METADATA_URI,
    Provenance,
    Workspace,
)


def rows(path, sql: str, *args) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, args).fetchall()


def documents(path) -> dict[str, list[ET.Element]]:
    """table -> the QGIS metadata documents referring to it (scope table, dataset)."""
    found: dict[str, list[ET.Element]] = {}
    for table, scope, uri, mime, text in rows(
            path, "SELECT r.table_name, m.md_scope, m.md_standard_uri, m.mime_type, "
            "m.metadata FROM gpkg_metadata_reference r JOIN gpkg_metadata m "
            "ON m.id = r.md_file_id WHERE r.reference_scope = 'table'"):
        assert (scope, uri, mime) == ("dataset", QGIS_METADATA_URI, "text/xml")
        found.setdefault(table, []).append(ET.fromstring(text.split("\n", 1)[1]))
    return found


def test_every_layer_is_described_with_its_provenance(shared_demo):
    workspace = Workspace(shared_demo)
    path = workspace.path
    provenance = workspace.provenance()
    contents = {t: (i, d) for t, i, d in rows(
        path, "SELECT table_name, identifier, description FROM gpkg_contents")}
    assert set(workspace.layers()) <= set(contents)
    extensions = rows(path, "SELECT table_name, column_name, definition, scope FROM "
                      "gpkg_extensions WHERE extension_name = 'gpkg_metadata'")
    assert sorted(extensions) == [("gpkg_metadata", None, METADATA_EXTENSION, "read-write"),
                                  ("gpkg_metadata_reference", None, METADATA_EXTENSION,
                                   "read-write")]
    described = documents(path)
    for layer in workspace.layers():
        identifier, description = contents[layer]
        title = LAYER_TITLES[layer]
        assert identifier == title and description.startswith(title + ". "), layer
        own = provenance[provenance["layer"] == layer]
        assert len(own), layer  # every layer the demo writes has provenance
        for record in own.itertuples():
            assert record.source_file in description, layer
            assert record.licence.rstrip(".") in description, layer
            assert record.attribution.rstrip(".") in description, layer
            if record.vintage:
                assert f"({record.vintage})" in description, layer
        [document] = described[layer]  # exactly one
        assert document.tag == "qgis" and document.findtext("title") == title
        assert document.findtext("abstract") == description
        assert [e.text for e in document.findall("license")] == list(
            dict.fromkeys(own["licence"]))
        history = [e.text for e in document.findall("history")]
        assert len(history) == len(own), layer  # one line per source file
        for line, record in zip(history, own.itertuples(), strict=True):
            assert record.source_file in line and f"{record.rows_imported:,} of" in line
            if record.source_sha256:
                assert record.source_sha256 in line


def test_gdal_reads_the_descriptions_without_a_warning(shared_demo, caplog):
    path = Workspace(shared_demo).path
    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG):
        warnings.simplefilter("error")
        for name, _ in pyogrio.list_layers(path):
            info = pyogrio.read_info(path, layer=name)
            metadata = info["layer_metadata"]
            assert metadata["IDENTIFIER"] == LAYER_TITLES[name], name
            assert metadata["DESCRIPTION"].startswith(LAYER_TITLES[name]), name
            assert "qgis.dtd" in metadata["GPKG_METADATA_ITEM_1"], name
        frame = pyogrio.read_dataframe(path, layer="wards")
    assert len(frame) > 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def _points(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [f"p{i}" for i in range(n)]},
                            geometry=[Point(530000 + i, 180000) for i in range(n)],
                            crs="EPSG:27700")


def test_each_transaction_rewrites_the_descriptions_not_adds_to_them(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    first = Provenance(layer="groups", kind="groups", source_file="a.csv", vintage="2024",
                       rows_read=3, rows_imported=2, licence="OGL v3", attribution="Council A")
    with workspace.transaction(fresh=True) as tx:
        tx.write_layer("groups", _points(2), first)
        tx.write_layer("premises", _points(1), Provenance(
            layer="premises", kind="premises", source_file="p.csv"))
    assert len(documents(workspace.path)["groups"]) == 1
    second = Provenance(layer="groups", kind="groups", source_file="b.csv", vintage="2025",
                        licence="CC BY 4.0", attribution="Charity B & <Partners>")
    with workspace.transaction() as tx:  # a second source file; premises dropped
        tx.write_layer("groups", _points(3), [first, second])
        tx.drop_layer("premises")
    described = documents(workspace.path)
    assert set(described) == {"groups", "mapper_layers", "mapper_meta"}
    [document] = described["groups"]
    assert [e.text for e in document.findall("license")] == ["OGL v3", "CC BY 4.0"]
    assert [e.text for e in document.findall("rights")] == ["Council A",
                                                             "Charity B & <Partners>"]
    [(description,)] = rows(workspace.path, "SELECT description FROM gpkg_contents "
                            "WHERE table_name = 'groups'")
    assert "Source: a.csv (2024); b.csv (2025)." in description
    # no orphans: every metadata document is referred to, once
    assert rows(workspace.path, "SELECT COUNT(*) FROM gpkg_metadata") == rows(
        workspace.path, "SELECT COUNT(*) FROM gpkg_metadata_reference")
    assert len(pyogrio.read_dataframe(workspace.path, layer="groups")) == 3


def test_titles_are_unique_and_plain():
    titles = list(LAYER_TITLES.values())
    assert len(set(titles)) == len(titles)  # gpkg_contents.identifier is UNIQUE
    assert all(t[0].isupper() and not t.endswith(".") for t in titles)
