"""CAN ids with any number of CANs: written without re-padding, read in any case and zero
padding, sorted by number; the matching across runs does not depend on how ids are
written (mapper/can_history.py, mapper/analysis/can_identity.py)."""

from __future__ import annotations

import factories as fx
import numpy as np
import pandas as pd
import pytest

from mapper.analysis.can_identity import HISTORY_COLUMNS, match_neighbourhoods
from mapper.analysis.neighbourhoods import find_neighbourhoods
from mapper.can_history import format_id, id_order, resolve_id, retired_sentence, typed_number


def test_ids_have_two_digits_at_least_and_never_more_than_the_number_needs():
    assert [format_id(n) for n in (1, 9, 10, 99, 100, 101, 1234)] == [
        "CAN-01", "CAN-09", "CAN-10", "CAN-99", "CAN-100", "CAN-101", "CAN-1234"]


@pytest.mark.parametrize("text, number", [
    ("CAN-01", 1), ("CAN-1", 1), ("CAN-001", 1), ("can-01", 1), (" Can-0100 ", 100),
    ("CAN 7", 7), ("CAN7", 7), ("CAN-100", 100)])
def test_typed_ids_give_their_number(text, number):
    assert typed_number(text) == number


@pytest.mark.parametrize("text", ["", None, "CAN-", "CAN-x1", "CAN--1", "E05000001", "1",
                                  "CAN-1a", "CAN-\u0661", "XCAN-1", "CAN-1\nCAN-2"])
def test_anything_else_is_not_an_id(text):
    assert typed_number(text) is None
    assert resolve_id(text, ["CAN-01"]) is None


def test_resolve_finds_the_id_as_issued_whatever_its_width():
    issued = ["CAN-01", "CAN-09", "CAN-10", "CAN-99", "CAN-100"]
    for typed in ("CAN-1", "can-01", "CAN-001", "CAN-0001"):
        assert resolve_id(typed, issued) == "CAN-01"
    assert resolve_id("CAN-9", issued) == "CAN-09"
    assert resolve_id("can-0100", issued) == "CAN-100"
    assert resolve_id("CAN-100", issued) == "CAN-100"
    assert resolve_id("CAN-2", issued) is None
    assert resolve_id("CAN-1000", issued) is None
    # a workspace analysed when ids were padded to three digits keeps its ids
    legacy = ["CAN-001", "CAN-009", "CAN-100"]
    assert resolve_id("CAN-01", legacy) == "CAN-001"
    assert resolve_id("CAN-9", legacy) == "CAN-009"
    assert resolve_id("CAN-001", legacy) == "CAN-001"


def test_ids_sort_by_number():
    ids = ["CAN-100", "CAN-11", "CAN-09", "CAN-010", "CAN-99", "other", "CAN-1"]
    assert sorted(ids, key=id_order) == ["CAN-1", "CAN-09", "CAN-010", "CAN-11", "CAN-99",
                                         "CAN-100", "other"]


def test_retired_sentence_reads_an_id_in_any_width():
    history = [{"can_id": "CAN-05", "name": "A & B", "retired_at": "2026-12-07T10:00:00",
                "replaced_by": "CAN-100"},
               {"can_id": "CAN-100", "name": "C & D", "retired_at": "", "replaced_by": ""}]
    expected = ("CAN-05 (A & B) was retired on 7 December 2026, replaced by CAN-100 "
                "(C & D).")
    assert retired_sentence("can-5", history) == expected
    assert retired_sentence("CAN-005", history) == expected
    assert retired_sentence("CAN-100", history) is None  # not retired


# -- many CANs --------------------------------------------------------------------------------


def _sparse_grid(side: int = 21):
    """`side` x `side` wards of one borough; the wards in even rows and even columns are
    selected and touch no other selected ward: ((side + 1) / 2) ** 2 CANs of one ward."""
    cells = fx.grid(side, side)
    wards = cells.assign(ward_code=[f"E0591{n:04d}" for n in cells["n"]],
                         ward_name=[f"Ward {n}" for n in cells["n"]],
                         borough_code="E09900001")
    rng = np.random.default_rng(7)
    table = pd.DataFrame({"population": 1000.0,
                          "unmet_need": rng.permutation(len(cells)) / len(cells)},
                         index=pd.Index(wards["ward_code"], name="ward_code"))
    select = pd.Series(((cells["row"] % 2 == 0) & (cells["col"] % 2 == 0)).to_numpy(),
                       index=table.index)
    return wards, table, select


def test_more_than_a_hundred_cans_are_numbered_without_re_padding_in_rank_order():
    wards, table, select = _sparse_grid()
    can_id, cans = find_neighbourhoods(wards, table, select=select)
    assert len(cans) == 121
    assert list(cans.index) == [format_id(n) for n in range(1, 122)]
    assert cans.loc["CAN-09", "rank"] == 9 and cans.loc["CAN-100", "rank"] == 100
    assert list(cans["rank"]) == list(range(1, 122))
    # rank 1 = greatest total unmet need: each CAN is one ward of 1,000 residents
    need = table["unmet_need"][select]
    expected = need.sort_values(ascending=False).index.tolist()
    assert [cans.loc[c, "ward_codes"] for c in cans.index] == expected
    assert set(can_id.dropna()) == set(cans.index)


def _history(ids, wards_of, *, retired=()):
    rows = []
    for can_id, wards in zip(ids, wards_of, strict=True):
        rows.append({"can_id": can_id, "name": f"Ward {wards[0]}", "named": 1,
                     "ward_codes": "; ".join(wards), "population": 1000.0 * len(wards),
                     "first_run": "2026-01-01T00:00:00+00:00",
                     "last_run": "2026-01-01T00:00:00+00:00",
                     "retired_at": "2026-01-01T00:00:00+00:00" if can_id in retired else "",
                     "replaced_by": ""})
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def test_old_style_ids_are_kept_and_new_ones_are_numbered_on_without_re_padding():
    wards, table, select = _sparse_grid()
    _, cans = find_neighbourhoods(wards, table, select=select)
    population = table["population"]
    # the last run issued the first 110 under three digits (as padded numbering did)
    first = cans.iloc[:110]
    history = _history([f"CAN-{n:03d}" for n in range(1, 111)],
                       [c.split("; ") for c in first["ward_codes"]])
    identity = match_neighbourhoods(cans, population, history, run_at="2026-02-01")
    assert [identity.ids[c] for c in first.index] == [f"CAN-{n:03d}" for n in range(1, 111)]
    assert identity.new == [format_id(n) for n in range(111, 122)]
    assert identity.kept == [f"CAN-{n:03d}" for n in range(1, 111)]
    assert list(identity.history["can_id"]) == (
        [f"CAN-{n:03d}" for n in range(1, 111)] + [format_id(n) for n in range(111, 122)])


def test_matching_does_not_depend_on_how_ids_are_written_or_stored():
    wards, table, select = _sparse_grid()
    _, cans = find_neighbourhoods(wards, table, select=select)
    population = table["population"]
    codes = [c.split("; ") for c in cans["ward_codes"]]
    # 60 earlier CANs of two wards each (each new CAN is half of one), and two retired
    # CANs, 70 and 100, both of the last ward and retired by the same run: the new CAN
    # of that ward takes the lower number back (as text, "CAN-100" < "CAN-70")
    ids = list(range(1, 61)) + [70, 100]
    members = [codes[i] + codes[i + 1] for i in range(0, 120, 2)] + [codes[120]] * 2
    last = cans.index[120]
    results = []
    for width in (2, 3):
        history = _history([f"CAN-{n:0{width}d}" for n in ids], members,
                           retired={f"CAN-{n:0{width}d}" for n in (70, 100)})
        for frame in (history, history.sort_values("can_id"), history.iloc[::-1]):
            identity = match_neighbourhoods(cans, population, frame, run_at="2026-02-01")
            results.append({new: typed_number(old) for new, old in identity.ids.items()})
            assert identity.revived == [f"CAN-{70:0{width}d}"]
    assert all(r == results[0] for r in results)
    assert results[0][last] == 70
    # one new CAN of each earlier pair keeps its id; the others are numbered on from 101
    assert sorted(results[0].values()) == list(range(1, 61)) + [70] + list(range(101, 161))


def test_a_history_holding_one_number_under_two_ids_is_refused():
    wards, table, select = _sparse_grid()
    _, cans = find_neighbourhoods(wards, table, select=select)
    history = _history(["CAN-01", "CAN-001"], [["E05910001"], ["E05910003"]])
    with pytest.raises(ValueError, match="one number under two ids"):
        match_neighbourhoods(cans, table["population"], history, run_at="2026-02-01")
