"""Class breaks: hand-worked quantiles and equal intervals, natural breaks against a brute
force over every partition, NaN handling and fewer distinct values than classes."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapper.maps import classify as cl

# -- hand-worked breaks ---------------------------------------------------------------


def test_quantiles_hand_worked():
    # 1..10 in 5 classes: numpy's linear quantiles at 0, .2, ... 1 -> two values per class
    edges = cl.quantiles(range(1, 11), 5)
    np.testing.assert_allclose(edges, [1, 2.8, 4.6, 6.4, 8.2, 10])
    classes = cl.assign(pd.Series(range(1, 11)), edges)
    assert classes.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_equal_interval_hand_worked():
    np.testing.assert_allclose(cl.equal_interval([0, 1, 2, 9, 10], 5), [0, 2, 4, 6, 8, 10])
    classes = cl.assign(pd.Series([0, 1, 2, 9, 10]), cl.equal_interval([0, 1, 2, 9, 10], 5))
    # 2 sits on the upper edge of class 1: each class includes its upper edge
    assert classes.tolist() == [0, 0, 0, 4, 4]


def test_natural_breaks_hand_worked():
    # three obvious groups: the breaks fall between them, at each group's largest value
    values = [1, 2, 3, 10, 11, 12, 30, 31]
    np.testing.assert_allclose(cl.natural_breaks(values, 3), [1, 3, 12, 31])
    assert cl.assign(pd.Series(values), cl.natural_breaks(values, 3)).tolist() == [
        0, 0, 0, 1, 1, 1, 2, 2]


def test_edges_span_the_values_and_increase():
    values = np.random.default_rng(4).gamma(2.0, 3.0, 200)
    for scheme in cl.SCHEMES:
        edges = cl.breaks(values, scheme, 6)
        assert edges[0] == values.min() and edges[-1] == values.max()
        assert np.all(np.diff(edges) > 0)
        assert len(edges) == 7
        classes = cl.assign(pd.Series(values), edges)
        assert classes.notna().all() and set(classes) == set(range(6))


# -- natural breaks against brute force -----------------------------------------------


def _ssd(groups) -> float:
    return float(sum(((np.asarray(g) - np.mean(g)) ** 2).sum() for g in groups))


def _brute_force(values, k) -> float:
    """Least total within-class sum of squares over every split of the sorted values
    into k contiguous non-empty classes."""
    x = sorted(values)
    best = np.inf
    for cuts in itertools.combinations(range(1, len(x)), k - 1):
        bounds = (0, *cuts, len(x))
        best = min(best, _ssd([x[a:b] for a, b in itertools.pairwise(bounds)]))
    return best


def _cost(values, edges) -> float:
    classes = cl.assign(pd.Series(values, dtype=float), edges)
    groups = [np.asarray(values, dtype=float)[(classes == c).to_numpy()]
              for c in range(len(edges) - 1)]
    return _ssd([g for g in groups if len(g)])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=1, max_size=10),
    st.integers(1, 7),
)
def test_natural_breaks_equal_brute_force(values, k):
    edges = cl.natural_breaks(values, k)
    k_used = min(k, len(set(values)))
    assert len(edges) - 1 == k_used or (k_used == 1 and len(edges) == 2)
    assert _cost(values, edges) == pytest.approx(_brute_force(values, k_used), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_natural_breaks_brute_force_on_floats(seed):
    values = np.random.default_rng(seed).normal(size=10).round(3).tolist()
    for k in range(1, 6):
        edges = cl.natural_breaks(values, k)
        assert _cost(values, edges) == pytest.approx(_brute_force(values, k), abs=1e-9)


def test_natural_breaks_sampled_for_large_inputs(monkeypatch):
    monkeypatch.setattr(cl, "NATURAL_EXACT_LIMIT", 50)
    values = np.concatenate([np.linspace(0, 1, 200), np.linspace(10, 11, 200)])
    edges = cl.natural_breaks(values, 2)
    assert edges[0] == 0 and edges[-1] == 11
    assert 1 <= edges[1] < 10  # the break still falls in the gap


# -- NaN and degenerate inputs ----------------------------------------------------------


@pytest.mark.parametrize("scheme", list(cl.SCHEMES))
def test_nan_is_ignored_and_has_no_class(scheme):
    values = pd.Series([np.nan, 1.0, 2.0, None, 3.0, 4.0], index=list("abcdef"))
    edges = cl.breaks(values, scheme, 2)
    assert edges[0] == 1 and edges[-1] == 4
    classes = cl.assign(values, edges)
    assert list(classes.index) == list("abcdef")  # indexed like the input
    assert classes[["a", "d"]].isna().all() and classes.drop(["a", "d"]).notna().all()
    classification = cl.classify(values, scheme, 2)
    assert classification.counts() == [2, 2]
    legend = classification.legend()
    assert legend[-1].label == "No data" and legend[-1].count == 2
    assert classification.colours()[["a", "d"]].tolist() == [cl.NO_DATA_COLOUR] * 2


@pytest.mark.parametrize("scheme", list(cl.SCHEMES))
def test_fewer_distinct_values_than_classes(scheme):
    values = [5, 5, 7, 7, 7, 9]
    edges = cl.breaks(values, scheme, 5)
    classes = cl.assign(pd.Series(values), edges)
    # never more classes than distinct values, never an empty class, every value placed
    assert len(edges) - 1 <= 3
    assert classes.notna().all()
    assert sorted(set(classes)) == list(range(len(edges) - 1))


def test_distinct_values_each_get_a_class():
    for scheme in ("equal", "natural"):
        edges = cl.breaks([1, 1, 2, 3, 3], scheme, 5)
        assert cl.assign(pd.Series([1, 1, 2, 3, 3]), edges).tolist() == [0, 0, 1, 2, 2]


def test_the_minimum_alone_can_be_a_class():
    # many zeros (wards with no groups): the first class holds only them
    values = [0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
    edges = cl.quantiles(values, 5)
    assert edges[0] == edges[1] == 0
    classes = cl.assign(pd.Series(values), edges)
    assert (classes[:6] == 0).all() and (classes[6:] > 0).all()
    assert cl.legend(edges, [6, 1, 1, 2])[0].range_text == "0"


@pytest.mark.parametrize("scheme", list(cl.SCHEMES))
def test_one_value_and_no_value(scheme):
    np.testing.assert_array_equal(cl.breaks([3.0, 3.0, np.nan], scheme, 4), [3.0, 3.0])
    assert cl.assign(pd.Series([3.0, np.nan]), [3.0, 3.0]).tolist()[0] == 0
    assert cl.breaks([np.nan, None], scheme, 4).size == 0
    assert cl.breaks([], scheme, 4).size == 0
    assert cl.assign(pd.Series([np.nan]), []).isna().all()


def test_bad_arguments_say_what_arrived():
    with pytest.raises(ValueError, match="number of classes must be from 1 to 9, got 12"):
        cl.quantiles([1, 2], 12)
    with pytest.raises(TypeError, match="whole number"):
        cl.quantiles([1, 2], 2.5)
    with pytest.raises(ValueError, match="unknown classification 'jenks'.*quantiles, equal"):
        cl.breaks([1, 2], "jenks", 3)
    with pytest.raises(TypeError, match="values must be numbers"):
        cl.quantiles(["a", "b"], 2)
    with pytest.raises(ValueError, match="finite"):
        cl.natural_breaks([1, np.inf], 2)


# -- palette and legend ---------------------------------------------------------------


def test_palette_is_sequential_light_to_dark():
    for k in range(1, 10):
        colours = cl.palette(k)
        assert len(colours) == k and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
        lightness = [sum(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colours]
        assert lightness == sorted(lightness, reverse=True)
    assert cl.palette(0) == ()
    with pytest.raises(ValueError, match="1 to 9"):
        cl.palette(10)


def test_legend_describes_label_and_range():
    entries = cl.legend([0, 10, 20], [3, 1], no_data=2)
    assert [e.description for e in entries] == [
        "Class 1 of 2, 0 to 10 (3 wards)",
        "Class 2 of 2, above 10 to 20 (1 ward)",
        "No data, no value for this ward (2 wards)",
    ]
    assert entries[0].colour == cl.palette(2)[0] and entries[-1].colour == cl.NO_DATA_COLOUR
    formatted = cl.legend([0.5, 0.75], [4], fmt=lambda v: f"{v:.0%}")
    assert formatted[0].range_text == "50% to 75%"
