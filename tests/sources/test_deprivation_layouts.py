"""The Indices of Deprivation in any layout: Files 1, 2, 5, 6 and 7, subsets, renamed and
reordered extracts, ONS's IMD lookup, Excel workbooks, several files combined, and
area-level summaries refused. Every file is built here from a File 7 table."""

from __future__ import annotations

import factories as fx
import openpyxl
import pandas as pd
import pytest

from mapper.errors import DataValidationError, MapperError
from mapper.pipeline import describe_plan, import_file, plan_build, read_all
from mapper.sources import Skipped, detect_file
from mapper.sources.deprivation import header_words
from mapper.store import Workspace

CODES = ["E01900001", "E01900002", "E01900003"]
IMD_RANK = "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"
IMD_DECILE = "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"
ID4 = ["LSOA code (2011)", "LSOA name (2011)", "Local Authority District code (2019)",
       "Local Authority District name (2019)"]
SEVEN = ["Income", "Employment", "Education, Skills and Training",
         "Health Deprivation and Disability", "Crime", "Barriers to Housing and Services",
         "Living Environment"]


def file7() -> pd.DataFrame:
    """File 7 for three LSOAs: IMD score 40, 39.5, 39; ranks 100, 101, 102; deciles 1, 2, 3;
    population 1,500 each (fx.iod_rows)."""
    return pd.DataFrame(fx.iod_rows(CODES), columns=fx.IOD_COLUMNS)


def write(frame: pd.DataFrame, path):
    frame.to_csv(path, index=False)
    return path


def read(path):
    return import_file(path, Workspace(path.parent / "ws"))


def cols(frame: pd.DataFrame, words: str, measure: str) -> list[str]:
    return [c for c in frame.columns if c.startswith(words) and measure in c.split(" (")[0]]


def test_header_words_ignore_case_punctuation_and_camel_case():
    assert header_words("LSOA11CD") == "lsoa 11 cd"
    assert header_words("\ufefflsoa_code") == "lsoa code"
    assert header_words("IMDRank") == "imd rank"
    assert header_words("Crime.type") == "crime type"


def test_file1_imd_rank_and_decile_with_thousands_separators(tmp_path):
    # File 1 as published: the shorter headers, and Excel's "1,722" in quoted cells
    path = fx.write_csv(tmp_path / "file1.csv", ID4 + [
        "Index of Multiple Deprivation (IMD) Rank", "Index of Multiple Deprivation (IMD) Decile"],
        [[c, f"L{i}", "E08000035", "Leeds", f"{1722 + i:,}", str(1 + i)]
         for i, c in enumerate(CODES)])
    found = detect_file(path)
    assert (found.kind, found.vintage) == ("deprivation", "IoD2019 / LSOA 2011")
    assert found.detail.endswith(": IMD rank, decile")
    frame = read(path).frame
    assert frame["imd_rank"].tolist() == [1722, 1723, 1724]
    assert frame["imd_decile"].tolist() == [1, 2, 3]
    assert "imd_score" not in frame and "pop_total" not in frame


def test_file2_domain_ranks_and_deciles(tmp_path):
    f7 = file7()
    keep = ID4 + [IMD_RANK, IMD_DECILE] + [c for d in SEVEN for c in
                                          cols(f7, d, "Rank") + cols(f7, d, "Decile")]
    path = write(f7[keep], tmp_path / "file2.csv")
    assert detect_file(path).detail.endswith(
        "IMD, Income, Employment, Education, Health, Crime, Barriers, Living Environment "
        "rank, decile")
    frame = read(path).frame
    assert frame["crime_rank"].tolist() == [100, 101, 102]
    assert not [c for c in frame if c.endswith("_score")]


def test_file5_scores_only(tmp_path):
    f7 = file7()
    path = write(f7[ID4 + [c for c in f7 if "Score" in c]], tmp_path / "file5.csv")
    frame = read(path).frame
    assert frame["imd_score"].tolist() == [40.0, 39.5, 39.0]
    assert frame["outdoors_score"].tolist() == [40.0, 39.5, 39.0]
    assert not [c for c in frame if c.endswith(("_rank", "_decile"))]


def test_file6_population_denominators(tmp_path):
    f7 = file7()
    path = write(f7[ID4 + list(f7.columns[-5:])], tmp_path / "file6.csv")
    found = detect_file(path)
    assert found.kind == "deprivation"
    assert found.detail.endswith(
        "population total, children 0-15, aged 16-59, aged 60+, working age")
    frame = read(path).frame
    assert frame["pop_total"].sum() == 4500
    assert frame["pop_working_age"].tolist() == [950.0] * 3


def test_lower_case_reordered_subset_with_population(tmp_path):
    # an analyst's extract: IMD score, ranks and population, renamed and reordered
    path = fx.write_csv(
        tmp_path / "extract.csv",
        ["imd_rank", "pop_total", "lsoa11cd", "imd_score", "income_rank", "ward_name"],
        [["100", "1200", CODES[0], "40.5", "90", "Ward 1"],
         ["2000", "800", CODES[1], "12.25", "2100", "Ward 2"]])
    found = detect_file(path)
    assert found.vintage == "IoD2019 / LSOA 2011"
    assert found.detail.endswith("IMD score, rank; Income rank; population total")
    assert found.extra["column_notes"] == ["'ward_name' left out: not an IoD column"]
    said: list[str] = []
    frame = import_file(path, Workspace(tmp_path / "ws"), progress=said.append).frame
    assert "  'ward_name' left out: not an IoD column" in said
    assert frame.set_index("lsoa_code")["imd_score"].to_dict() == {CODES[0]: 40.5,
                                                                   CODES[1]: 12.25}
    assert frame["pop_total"].tolist() == [1200.0, 800.0]


def test_ons_imd_lookup_rank_is_read_from_its_values(tmp_path):
    path = fx.write_csv(tmp_path / "ons.csv",
                        ["LSOA11CD", "LSOA11NM", "LAD19CD", "LAD19NM", "IMD19", "FID"],
                        [[c, f"L{i}", "E08000035", "Leeds", str(5000 + i), str(i + 1)]
                         for i, c in enumerate(CODES)])
    found = detect_file(path)
    assert found.columns["imd_rank"] == "IMD19"
    said = "'IMD19' read as the IMD rank (whole numbers of 1 or more, some above 10 (so not"
    assert any(said in n for n in found.extra["column_notes"])
    imported = read(path)
    assert imported.frame["imd_rank"].tolist() == [5000, 5001, 5002]
    assert any("IMD19" in str(w) for w in imported.warnings)


def test_iod2025_from_lower_case_lsoa21cd(tmp_path):
    path = fx.write_csv(tmp_path / "x.csv", ["lsoa21cd", "imd_rank", "imd_decile"],
                        [[CODES[0], "33755", "10"]])
    found = detect_file(path)
    assert (found.vintage, found.extra["lsoa_vintage"]) == ("IoD2025 / LSOA 2021", "2021")
    assert read(path).frame["imd_rank"].tolist() == [33755]


def test_rank_beyond_the_release_is_an_error(tmp_path):
    path = fx.write_csv(tmp_path / "x.csv", ["LSOA11CD", "IMD_Rank"],
                        [[CODES[0], "33000"], [CODES[1], "0"]])
    with pytest.raises(DataValidationError) as err:
        read(path)
    text = str(err.value)
    assert "x.csv row 2 column 'IMD_Rank': '33000': out of range; expected a whole number " \
           "from 1 to 32844" in text
    assert "row 3 column 'IMD_Rank': '0'" in text


def test_excel_workbook_reads_its_data_sheet(tmp_path):
    f7 = file7()
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["English Indices of Deprivation 2019"])
    sheet = book.create_sheet("IoD2019 Domains")
    sheet.append(ID4 + [IMD_RANK, "Income Rank (where 1 is most deprived)"])
    for row in f7[ID4 + [IMD_RANK, "Income Rank (where 1 is most deprived)"]].itertuples(
            index=False):
        sheet.append([*row[:4], int(row[4]), int(row[5])])
    book.save(tmp_path / "file2.xlsx")
    found = detect_file(tmp_path / "file2.xlsx")
    assert (found.kind, found.rows) == ("deprivation", 3)
    frame = read(tmp_path / "file2.xlsx").frame
    assert frame["income_rank"].tolist() == [100, 101, 102]
    assert frame["lsoa_code"].tolist() == CODES


def district_summary() -> list[list[str]]:
    return [["E08000032", "Bradford", "9,999.5", "15"], ["E08000035", "Leeds", "12,345.6", "33"]]


def test_district_summary_is_refused_with_the_reason(tmp_path):
    path = fx.write_csv(tmp_path / "file10.csv", [
        "Local Authority District code (2019)", "Local Authority District name (2019)",
        "IMD - Average rank", "IMD - Rank of average rank"], district_summary())
    found = detect_file(path)
    assert isinstance(found, Skipped)
    assert found.reason.startswith("an area-level summary of the Indices of Deprivation, not "
                                   "LSOA figures: its rows are local authority district")
    assert "'IMD - Average rank'" in found.reason and "E08000032" in found.reason
    with pytest.raises(MapperError, match="cannot import it: an area-level summary"):
        read(path)


def test_ward_summary_with_score_columns_is_refused(tmp_path):
    path = fx.write_csv(tmp_path / "wards.csv", ["ward_code", "imd_score", "imd_rank"],
                        [["E05000001", "30.1", "1"], ["E05000002", "20.5", "2"]])
    found = detect_file(path)
    assert isinstance(found, Skipped) and "electoral ward (E05) areas" in found.reason


def test_underlying_indicators_are_refused(tmp_path):
    path = fx.write_csv(tmp_path / "f8.csv", ["LSOA code (2011)", "Income Domain numerator",
                                              "Housing affordability indicator"],
                        [[CODES[0], "120", "0.5"]])
    found = detect_file(path)
    assert isinstance(found, Skipped) and found.reason.startswith("IoD underlying indicators")


def test_postcode_table_with_an_imd_column_is_not_deprivation(tmp_path):
    path = fx.write_csv(tmp_path / "pc.csv", ["pcds", "lsoa11", "imd", "lat", "long"],
                        [["ZZ1 1AA", CODES[0], "100", "51.5", "-0.1"],
                         ["ZZ1 1AB", CODES[0], "100", "51.5", "-0.1"]])
    found = detect_file(path)
    assert getattr(found, "kind", None) != "deprivation"


def split_files(tmp_path, *, rank_of_second=101):
    """File 1, File 2 and File 6 of one release for CODES, in a folder."""
    f7 = file7()
    folder = tmp_path / "iod"
    folder.mkdir()
    write(f7[ID4 + [IMD_RANK, IMD_DECILE]], folder / "file1.csv")
    file2 = f7[ID4 + [IMD_RANK] + cols(f7, "Crime", "Rank")].copy()
    file2.loc[1, IMD_RANK] = str(rank_of_second)
    write(file2, folder / "file2.csv")
    write(f7[ID4 + list(f7.columns[-5:])].iloc[:2], folder / "file6.csv")
    return folder


def test_files_of_one_release_are_combined_on_the_lsoa_code(tmp_path):
    plan = plan_build(split_files(tmp_path))
    lines = "\n".join(describe_plan(plan))
    assert ("file1.csv + file2.csv + file6.csv: English Indices of Deprivation 2019 by LSOA, "
            "3 files combined on the LSOA code: IMD rank, decile; Crime rank; population "
            "total, children 0-15, aged 16-59, aged 60+, working age") in lines
    imported, _, _ = read_all(plan)
    frame = imported["deprivation"].frame.set_index("lsoa_code")
    assert frame["imd_rank"].tolist() == [100, 101, 102]
    assert frame["crime_rank"].tolist() == [100, 101, 102]
    assert frame["pop_total"].tolist()[:2] == [1500.0, 1500.0]
    assert pd.isna(frame.loc[CODES[2], "pop_total"])  # File 6 here lacks the third LSOA
    assert any("cover different LSOAs" in str(w) for w in imported["deprivation"].warnings)


def test_combined_files_that_disagree_are_an_error(tmp_path):
    plan = plan_build(split_files(tmp_path, rank_of_second=7))
    with pytest.raises(DataValidationError) as err:
        read_all(plan)
    assert ("file2.csv: imd_rank differs from file1.csv for 1 LSOAs (E01900002: 7 against "
            "101); files combined must be of one release and agree") in str(err.value)


def test_the_newest_release_is_used_and_older_files_skipped(tmp_path):
    folder = split_files(tmp_path)
    fx.write_csv(folder / "iod25.csv", ["LSOA21CD", "imd_rank"], [[CODES[0], "5"]])
    plan = plan_build(folder)
    assert plan.chosen["deprivation"].path.name == "iod25.csv"
    skipped = {s.name: s.reason for s in plan.skipped}
    assert set(skipped) == {"file1.csv", "file2.csv", "file6.csv"}
    assert "newer vintage (IoD2025 / LSOA 2021 against IoD2019 / LSOA 2011)" in skipped[
        "file1.csv"]


def test_importing_file6_adds_population_to_the_stored_file1(tmp_path):
    f7 = file7()
    ws = Workspace(tmp_path / "ws")
    import_file(write(f7[ID4 + [IMD_RANK, IMD_DECILE]], tmp_path / "file1.csv"), ws)
    said: list[str] = []
    import_file(write(f7[ID4 + list(f7.columns[-5:])], tmp_path / "file6.csv"), ws,
                progress=said.append)
    frame = ws.read_layer("deprivation").set_index("lsoa_code")
    assert frame["imd_rank"].tolist() == [100, 101, 102]
    assert frame["pop_total"].tolist() == [1500.0] * 3
    assert ("added to the IoD2019 / LSOA 2011 deprivation data of file1.csv: kept IMD rank, "
            "decile; the layer now holds IMD rank, decile; population total, children 0-15, "
            "aged 16-59, aged 60+, working age") in said
    prov = ws.provenance().query("layer == 'deprivation'")
    assert sorted(prov["source_file"]) == ["file1.csv", "file6.csv"]
    # a full File 7 afterwards replaces both
    import_file(write(f7, tmp_path / "file7.csv"), ws)
    assert list(ws.provenance().query("layer == 'deprivation'")["source_file"]) == ["file7.csv"]


def test_ons_imd_layer_short_names(tmp_path):
    # a CSV export of ONS's "Indices of Multiple Deprivation (IMD) 2019" layer
    header = ["FID", "lsoa11cd", "lsoa11nm", "IMD_Rank", "IMD_Decile", "LADcd", "LADnm",
              "IMDScore", "IMDRank0", "IncScore", "IncDec", "HDDRank", "EnvScore", "IDCScore",
              "TotPop", "DepChi", "Pop16_59", "Pop60+", "WorkPop", "Shape__Area"]
    row = ["1", CODES[0], "Leeds 001A", "1200", "1", "E08000035", "Leeds", "45.5", "1200",
           "0.25", "2", "900", "30.1", "0.3", "1,600", "400", "900", "300", "1000", "1.5"]
    path = fx.write_csv(tmp_path / "imd_layer.csv", header, [row])
    found = detect_file(path)
    assert found.detail.endswith(
        "IMD score, rank, decile; Income score, decile; Health rank; Living Environment, "
        "IDACI score; population total, children 0-15, aged 16-59, aged 60+, working age")
    assert found.columns["lad_code"] == "LADcd"
    assert "'IMDRank0' left out: a second IMD rank column (used 'IMD_Rank')" in found.extra[
        "column_notes"]
    frame = read(path).frame
    assert frame.iloc[0][["imd_score", "income_decile", "health_rank", "pop_total",
                          "pop_older_60_plus"]].tolist() == [45.5, 2, 900, 1600.0, 300.0]


def test_lsoa_boundaries_carrying_imd_fields_also_give_the_deprivation(tmp_path):
    # ONS's IMD 2019 layer as GeoJSON: LSOA polygons with IMDScore, IMD_Rank ... fields
    folder = fx.write_folder(tmp_path / "in")
    (folder / "iod.csv").unlink()
    grid = fx.lsoas().drop(columns=["ward", "borough"]).rename(
        columns={"LSOA11CD": "lsoa11cd", "LSOA11NM": "lsoa11nm"})
    n = len(grid)
    grid = grid.assign(IMDScore=[40.0 - i for i in range(n)], IMD_Rank=[100 + i for i in range(n)],
                       IMD_Decile=[1] * n, TotPop=[1500] * n)
    fx.write_geojson(grid, folder / "lsoas.geojson")
    plan = plan_build(folder)
    assert plan.chosen["lsoas"].path.name == "lsoas.geojson"
    dep = plan.chosen["deprivation"]
    assert (dep.path.name, dep.vintage) == ("lsoas.geojson", "IoD2019 / LSOA 2011")
    assert dep.detail.endswith("IMD score, rank, decile; population total (the attribute "
                               "table of an LSOA boundary file)")
    imported, _, _ = read_all(plan)
    frame = imported["deprivation"].frame
    assert frame["imd_rank"].tolist() == list(range(100, 100 + n))
    assert frame["imd_score"].iloc[-1] == 40.0 - (n - 1)
    assert frame["pop_total"].sum() == 1500 * n
    assert len(imported["lsoas"].frame) == n
    # a newer release elsewhere in the folder is used instead of the attributes, and said
    fx.write_csv(folder / "iod25.csv", ["LSOA21CD", "imd_rank"], [[CODES[0], "5"]])
    skipped = {s.name: s.reason for s in plan_build(folder).skipped}
    assert skipped["lsoas.geojson"].startswith(
        "its IoD attributes: another English Indices of Deprivation by LSOA file was used "
        "(iod25.csv): newer vintage")
