"""CAN identity across analysis runs: the matching rule by hand, then whole runs (the
tiny grid) through the command line and the web, with their audit rows."""

from __future__ import annotations

import getpass

import factories as fx
import pandas as pd
import pytest
from accounts import post, sign_in

from mapper.analysis.can_identity import (
    HISTORY_COLUMNS,
    MATCH_SHARE,
    apply_ids,
    match_neighbourhoods,
)
from mapper.analysis_run import analyse
from mapper.can_history import retired_sentence
from mapper.cli import main
from mapper.config import Settings
from mapper.errors import MapperError
from mapper.pipeline import build
from mapper.store import Workspace
from mapper.users import get_user, resolve_grant

RUN1, RUN2 = "2026-12-01T09:00:00+00:00", "2026-12-07T10:30:00+00:00"


def cans(*rows) -> pd.DataFrame:
    """This run's CANs: (provisional id, rank, name, ward codes)."""
    return pd.DataFrame(
        [{"can_id": c, "rank": r, "name": n, "ward_codes": "; ".join(w)} for c, r, n, w in rows],
        columns=["can_id", "rank", "name", "ward_codes"]).set_index("can_id")


def history(*rows) -> pd.DataFrame:
    """Issued ids: (id, name, ward codes, retired_at, replaced_by)."""
    return pd.DataFrame([
        {"can_id": c, "name": n, "named": min(2, len(w)), "ward_codes": "; ".join(w),
         "population": 0.0, "first_run": RUN1, "last_run": RUN1, "retired_at": ret,
         "replaced_by": by} for c, n, w, ret, by in rows], columns=list(HISTORY_COLUMNS))


POP = pd.Series({"W1": 1000.0, "W2": 1000.0, "W3": 1000.0, "W4": 1500.0, "W5": 500.0,
                 "W6": 600.0, "W7": 200.0, "W8": 200.0})


def test_the_rule_is_one_constant():
    assert MATCH_SHARE == 0.5


def test_same_wards_reordered_and_renumbered_keep_their_ids_and_names():
    before = history(("CAN-01", "One & Two", ["W1", "W2"], "", ""),
                     ("CAN-02", "Four & Five", ["W4", "W5"], "", ""))
    # this run ranks them the other way round, so numbers them the other way round
    now = cans(("CAN-01", 1, "Five & Four", ["W5", "W4"]),
               ("CAN-02", 2, "Two & One", ["W2", "W1"]))
    for frame in (now, now.iloc[::-1]):  # and row order does not matter
        found = match_neighbourhoods(frame, POP, before, run_at=RUN2)
        assert found.ids == {"CAN-01": "CAN-02", "CAN-02": "CAN-01"}
        assert found.names == {"CAN-02": "Four & Five", "CAN-01": "One & Two"}
        assert found.kept == ["CAN-01", "CAN-02"]
        assert found.new == found.retired == found.changed == []
        assert found.summary() == "2 CANs; 2 unchanged"
    # the ward-level ids and the summary follow, the summary still in rank order
    wards = pd.Series(["CAN-02", "CAN-01", pd.NA], index=["W1", "W4", "W9"], dtype="string")
    ward_ids, summary = apply_ids(wards, now, found)
    assert ward_ids.tolist()[:2] == ["CAN-01", "CAN-02"] and ward_ids.isna().iloc[2]
    assert summary.index.tolist() == ["CAN-02", "CAN-01"]
    assert summary["name"].tolist() == ["Four & Five", "One & Two"]


def test_a_split_the_larger_part_keeps_the_id_the_other_gets_a_new_one():
    # CAN-03 was retired long ago: its number is never given again
    before = history(("CAN-01", "One & Two", ["W1", "W2", "W3"], "", ""),
                     ("CAN-03", "Old", ["W8"], RUN1, ""))
    # W3 alone ranks first, but W1+W2 share 2,000 residents with CAN-01 against 1,000
    now = cans(("CAN-01", 1, "Three", ["W3"]), ("CAN-02", 2, "One & Two", ["W1", "W2"]))
    found = match_neighbourhoods(now, POP, before, run_at=RUN2)
    assert found.ids == {"CAN-02": "CAN-01", "CAN-01": "CAN-04"}
    assert found.changed == ["CAN-01"] and found.new == ["CAN-04"]
    assert found.names["CAN-04"] == "Three"
    hist = found.history.set_index("can_id")
    assert hist.loc["CAN-04", "first_run"] == RUN2 and hist.loc["CAN-01", "first_run"] == RUN1
    assert hist.loc["CAN-01", "ward_codes"] == "W1; W2"
    assert hist.loc["CAN-01", "population"] == 2000


def test_a_merge_keeps_the_id_of_the_larger_predecessor_and_retires_the_other():
    before = history(("CAN-01", "One & Two", ["W1", "W2"], "", ""),
                     ("CAN-02", "Four", ["W4"], "", ""))
    # W1+W2 are 2,000 of the 3,500 residents: 57 % > 50 %
    now = cans(("CAN-01", 1, "Four & One and 1 more", ["W1", "W2", "W4"]))
    found = match_neighbourhoods(now, POP, before, run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-01"}
    assert found.names == {"CAN-01": "One & Two and 1 more"}  # the name kept, the count today
    assert found.retired == ["CAN-02"] and found.replaced_by == {"CAN-02": ["CAN-01"]}
    assert found.summary() == ("1 CAN; 1 changed wards: CAN-01; 1 retired: CAN-02 "
                               "(replaced by CAN-01)")
    hist = found.history.set_index("can_id")
    assert hist.loc["CAN-02", "retired_at"] == RUN2
    assert hist.loc["CAN-02", "ward_codes"] == "W4"  # the wards it last had
    assert retired_sentence("CAN-02", found.history.to_dict("records")) == (
        "CAN-02 (Four) was retired on 7 December 2026, replaced by CAN-01 (One & Two).")


def test_a_merge_keeps_the_id_of_the_predecessor_sharing_most_residents():
    before = history(("CAN-01", "One", ["W1"], "", ""), ("CAN-02", "Four", ["W4"], "", ""))
    # neither is most of the new CAN (1,000 and 1,500 of 3,500), but each is wholly in it
    now = cans(("CAN-01", 1, "One & Four and 1 more", ["W1", "W3", "W4"]))
    found = match_neighbourhoods(now, POP, before, run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-02"}
    assert found.names == {"CAN-02": "Four and 2 more"}
    assert found.retired == ["CAN-01"] and found.replaced_by == {"CAN-01": ["CAN-02"]}


def test_shares_are_weighted_by_population_and_half_is_not_more_than_half():
    # one ward of three, but 600 of the new CAN's 1,000 residents: linked
    before = history(("CAN-01", "Six & One", ["W6", "W1"], "", ""))
    found = match_neighbourhoods(cans(("CAN-01", 1, "x", ["W6", "W7", "W8"])), POP, before,
                                 run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-01"} and found.changed == ["CAN-01"]
    # two of the earlier CAN's three wards, but 700 of its 2,200 residents and 700 of the
    # new CAN's 2,700: not linked, a new CAN
    before = history(("CAN-01", "Four & Five", ["W4", "W5", "W7"], "", ""))
    found = match_neighbourhoods(cans(("CAN-01", 1, "x", ["W1", "W2", "W5", "W7"])), POP,
                                 before, run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-02"} and found.replaced_by == {"CAN-01": ["CAN-02"]}
    # exactly half of each (W2: 1,000 of 2,000 both ways) is not more than half
    before = history(("CAN-01", "One & Two", ["W1", "W2"], "", ""))
    found = match_neighbourhoods(cans(("CAN-01", 1, "x", ["W2", "W3"])), POP, before,
                                 run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-02"} and found.retired == ["CAN-01"]


def test_new_ids_continue_from_the_highest_ever_issued_and_a_retired_can_found_again():
    before = history(("CAN-01", "One", ["W1"], "", ""),
                     ("CAN-05", "Four", ["W4"], RUN1, "CAN-01"))
    now = cans(("CAN-01", 1, "Six", ["W6"]), ("CAN-02", 2, "Four", ["W4"]),
               ("CAN-03", 3, "One", ["W1"]), ("CAN-04", 4, "Seven", ["W7"]))
    found = match_neighbourhoods(now, POP, before, run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-06", "CAN-02": "CAN-05", "CAN-03": "CAN-01",
                         "CAN-04": "CAN-07"}
    assert found.new == ["CAN-06", "CAN-07"] and found.revived == ["CAN-05"]
    hist = found.history.set_index("can_id")
    assert hist.loc["CAN-05", "retired_at"] == "" and hist.loc["CAN-05", "replaced_by"] == ""
    assert retired_sentence("CAN-05", found.history.to_dict("records")) is None
    assert found.history["can_id"].tolist() == ["CAN-01", "CAN-05", "CAN-06", "CAN-07"]


def test_a_can_whose_wards_left_every_can_is_retired_with_no_successor():
    before = history(("CAN-01", "One", ["W1"], "", ""))
    found = match_neighbourhoods(cans(), POP, before, run_at=RUN2)
    assert found.ids == {} and found.retired == ["CAN-01"]
    assert retired_sentence("CAN-01", found.history.to_dict("records")) == (
        "CAN-01 (One) was retired on 7 December 2026; its wards are in no Community Action "
        "Neighbourhood now.")


# -- whole runs on the tiny grid --------------------------------------------------------
# The grid's unmet need falls from ward 1 to ward 9. can_top_share=0.5 gives CAN-01
# (wards 1-3, 12,660 residents) and CAN-02 (wards 4-5, 9,320); across boroughs they
# merge (21,980 residents, 12,660 of them CAN-01's: 58 % > 50 %); at the default 0.2
# only wards 1-2 remain (8,360).

BASE = ["--set", "can_min_population=0", "--set", "stability_draws=5"]


@pytest.fixture
def grid(grid_copy):
    return Workspace(grid_copy)


def _cli(ws, *args):
    assert main(["--workspace", str(ws.directory), "analyse", *args]) == 0


def test_cli_reruns_keep_ids_retire_merged_cans_and_are_audited(grid, capsys):
    _cli(grid, *BASE, "--set", "can_top_share=0.5")
    _cli(grid, *BASE, "--set", "can_top_share=0.5", "--set", "can_cross_borough=true")
    out = capsys.readouterr().out
    assert ("Since the last run: 1 CAN; 1 changed wards: CAN-01; 1 retired: CAN-02 "
            "(replaced by CAN-01).") in out
    cans_now = grid.read_layer("neighbourhoods", read_geometry=False)
    assert cans_now["can_id"].tolist() == ["CAN-01"]
    assert cans_now["name"].tolist() == ["Ward 1 & Ward 2 and 3 more"]
    rows = grid.appdb.read_audit(register="analysis")
    assert len(rows) == 2
    who = getpass.getuser() or "cli"
    assert all(r["actor"] == who and r["action"] == "analysis" for r in rows)
    assert rows[1]["detail"] == (
        "mapper analyse (command line): first run, settings changed from the defaults: "
        "can_min_population 5000 -> 0; can_top_share 0.2 -> 0.5; stability_draws 200 -> 5. "
        "2 CANs; 2 new: CAN-01, CAN-02")
    assert rows[0]["fields"] == ["can_cross_borough"]
    assert rows[0]["detail"] == (
        "mapper analyse (command line): settings changed: can_cross_borough false -> true. "
        "1 CAN; 1 changed wards: CAN-01; 1 retired: CAN-02 (replaced by CAN-01)")
    history = {r["can_id"]: r for r in grid.appdb.can_history()}
    assert history["CAN-02"]["ward_codes"] == "E05900004; E05900005"
    assert history["CAN-02"]["replaced_by"] == "CAN-01"
    # a rebuild of the GeoPackage keeps the ids: the history lives in the app database
    build(fx.write_folder(grid.directory.parent / "in"), grid)
    _cli(grid, *BASE, "--set", "can_top_share=0.5")
    assert grid.read_layer("neighbourhoods", read_geometry=False)["can_id"].tolist() == [
        "CAN-01", "CAN-02"]
    assert grid.appdb.read_audit(register="analysis")[0]["detail"].endswith(
        "2 CANs; 1 changed wards: CAN-01; 1 found again: CAN-02")


def test_first_run_of_a_workspace_analysed_before_keeps_its_ids(grid):
    analyse(grid, Settings(can_min_population=0, stability_draws=5, can_top_share=0.5))
    # as if analysed by a version without the history
    with grid.appdb.write() as conn:
        conn.execute("DELETE FROM can_history")
    analyse(grid, Settings(can_min_population=0, stability_draws=5, can_top_share=0.5))
    assert [r["can_id"] for r in grid.appdb.can_history()] == ["CAN-01", "CAN-02"]
    assert grid.appdb.read_audit(register="analysis")[0]["detail"].endswith(
        "2 CANs; 2 unchanged")


@pytest.fixture
def grid_app(grid):
    from mapper.web import create_app

    analyse(grid, Settings(can_min_population=0, stability_draws=5, can_top_share=0.5))
    return create_app({"TESTING": True, "WORKSPACE": str(grid.directory), "TILES": "none"})


def test_web_recompute_is_audited_and_a_retired_page_names_its_successor(grid_app, grid):
    client = sign_in(grid_app.test_client(), "admin", username="ada")
    response = post(client, "/priority/recompute", data={
        "can_cross_borough": "true", "can_top_share": "0.5"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Recorded in the audit trail: Priority areas page, recompute (web)" in page
    assert "1 retired: CAN-02 (replaced by CAN-01)" in page
    row = grid.appdb.read_audit(register="analysis")[0]
    assert row["actor"] == "ada" and row["fields"] == ["can_cross_borough"]
    assert row["detail"] == (
        "Priority areas page, recompute (web): settings changed: can_cross_borough false -> "
        "true. 1 CAN; 1 changed wards: CAN-01; 1 retired: CAN-02 (replaced by CAN-01)")
    page = client.get("/admin/audit?register=analysis").get_data(as_text=True)
    assert "can_cross_borough false -&gt; true" in page and "ada" in page
    # the retired id: a page saying so, never 404 or another area
    response = client.get("/neighbourhood/CAN-02")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "CAN-02 (Ward 4 &amp; Ward 5) was retired on " in text
    assert "replaced by CAN-01 (Ward 1 &amp; Ward 2)." in text
    assert 'href="/neighbourhood/CAN-01"' in text and 'href="/ward/E05900004"' in text
    # its export says so too
    response = client.get("/neighbourhood/CAN-02/assets.csv")
    assert response.status_code == 404
    assert "was retired on" in response.get_data(as_text=True)
    # the list of neighbourhoods names it among the retired ids
    index = client.get("/neighbourhoods").get_data(as_text=True)
    assert 'id="retired"' in index and "CAN-02 (Ward 4 &amp; Ward 5) was retired on" in index
    # an id never issued is still a 404
    assert client.get("/neighbourhood/CAN-09").status_code == 404


def test_a_partner_granted_a_can_keeps_its_wards_and_the_grant_names_the_can(grid_app, grid):
    grant = resolve_grant(grid, ["CAN-02"])
    assert grant.wards == ("E05900004", "E05900005")
    assert len(grant.labels) == 1 and grant.labels[0].startswith(
        "CAN-02 (Ward 4 & Ward 5) as found on ")
    assert grant.labels[0].endswith(": E05900004, E05900005")
    sign_in(grid_app.test_client(), "partner", username="jo", areas=["CAN-02"])
    analyse(grid, Settings(can_min_population=0, stability_draws=5, can_top_share=0.5,
                           can_cross_borough=True))
    assert get_user(grid.appdb, "jo").wards == ("E05900004", "E05900005")
    with pytest.raises(MapperError, match=r"CAN-02 \(Ward 4 & Ward 5\) was retired on .*"
                                          r"replaced by CAN-01"):
        resolve_grant(grid, ["CAN-02"])


def test_ids_issued_after_a_backup_stay_issued_after_a_restore(grid, tmp_path):
    from mapper.admin import backup, restore

    settings = Settings(can_min_population=0, stability_draws=5)
    analyse(grid, settings)  # CAN-01: wards 1-2
    backup(grid, tmp_path / "backup")
    analyse(grid, Settings(can_min_population=0, stability_draws=5, can_top_share=0.5))
    assert {r["can_id"] for r in grid.appdb.can_history()} == {"CAN-01", "CAN-02"}
    restore(grid, tmp_path / "backup")
    history = {r["can_id"]: r for r in grid.appdb.can_history()}
    assert history["CAN-01"]["retired_at"] == ""
    assert history["CAN-02"]["retired_at"] != ""  # issued since the backup: retired, kept
    # a CAN found nowhere before is numbered on from CAN-02, not given it again
    found = match_neighbourhoods(cans(("CAN-01", 1, "Ward 9", ["E05900009"])),
                                 pd.Series({"E05900009": 5260.0}),
                                 pd.DataFrame(grid.appdb.can_history()), run_at=RUN2)
    assert found.ids == {"CAN-01": "CAN-03"}


def test_a_kept_name_must_name_only_wards_still_in_the_can():
    names = pd.Series({"W1": "Manningham", "W2": "Toller", "W3": "Heaton & Frizinghall",
                       "W4": "City"})
    before = history(("CAN-01", "Manningham & Toller", ["W1", "W2", "W4"], "", ""),
                     ("CAN-02", "Heaton & Frizinghall & City", ["W3", "W5"], "", ""))
    # CAN-01 loses Toller (W2) but keeps most residents: its id stays, its name cannot;
    # CAN-02's name holds a ward name with "&" in it and both its wards remain
    now = cans(("CAN-01", 1, "Manningham & City", ["W1", "W4"]),
               ("CAN-02", 2, "Heaton & Frizinghall and 1 more", ["W3", "W5"]))
    before.loc[1, "name"], before.loc[1, "named"] = "Heaton & Frizinghall", 1
    found = match_neighbourhoods(now, POP, before, run_at=RUN2, ward_names=names)
    assert found.ids == {"CAN-01": "CAN-01", "CAN-02": "CAN-02"}
    assert found.names == {"CAN-01": "Manningham & City",
                           "CAN-02": "Heaton & Frizinghall and 1 more"}
    row = found.history.set_index("can_id").loc["CAN-01"]
    assert (row["name"], row["named"]) == ("Manningham & City", 2)
    # without ward names the first name is kept as before
    unchecked = match_neighbourhoods(now, POP, before, run_at=RUN2)
    assert unchecked.names["CAN-01"] == "Manningham & Toller"
