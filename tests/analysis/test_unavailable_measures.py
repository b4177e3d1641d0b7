"""Pages, API and decision record say which deprivation measures the workspace's IoD data
cannot give, and why: a grid workspace built from IoD File 1 (ranks) and File 6."""

from __future__ import annotations

import factories as fx
import pytest

from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.pipeline import build
from mapper.store import Workspace
from mapper.web import create_app

REASON = ("IMD score (population-weighted average): the deprivation data has no LSOA IMD "
          "scores (given by IoD File 5 (scores) or File 7 (all scores, ranks and deciles))")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("ranks")
    folder, _ = fx.write_rank_only_folder(root / "in")
    ws = Workspace(root / "ws")
    build(folder, ws)
    analyse(ws, Settings(can_min_population=0, stability_draws=5))
    return create_app({"TESTING": True, "WORKSPACE": str(root / "ws")}).test_client()


def test_api_wards_names_the_unavailable_measures(client):
    answer = client.get("/api/wards?geometry=false").get_json()
    assert set(answer["unavailable_measures"]) == {"imd_score", "domain_scores",
                                                   "imd_rank_in_area", "income_scale",
                                                   "employment_scale"}
    assert answer["unavailable_measures"]["imd_score"] == REASON
    features = answer["features"]
    assert len(features) == 9
    assert all(f["properties"]["imd_score"] is None for f in features)
    assert all(f["properties"]["imd_avg_rank"] > 0 for f in features)


def test_priority_page_explains_and_offers_only_measures_with_data(client):
    html = client.get("/priority").get_data(as_text=True)
    assert "Not available for this data" in html and REASON in html
    assert 'value="imd_avg_rank"' in html and 'value="imd_score"' not in html


def test_decision_record_says_need_is_the_average_rank(client):
    html = client.get("/priority/decision-record").get_data(as_text=True)
    assert "Index of Multiple Deprivation average rank, MHCLG's district-summary " \
        "measure, in\n    which a higher average rank is more deprived" in html
    assert REASON in html


def test_ward_profile_and_list_say_why_there_are_no_scores(client):
    html = client.get("/ward/E05900001").get_data(as_text=True)
    assert "Not available for this data" in html
    assert "deprivation domain scores (population-weighted averages)" in html
    assert REASON in client.get("/neighbourhoods").get_data(as_text=True)


def test_priority_page_and_decision_record_carry_the_analysis_notes(client):
    """The notes the CLI prints (a condition not applied, no groups for coverage) are on
    the pages where the choice of CANs is explained, not only in the terminal."""
    for url in ("/priority", "/priority/decision-record"):
        html = client.get(url).get_data(as_text=True)
        block = html.split("data-analysis-notes", 1)[1].split("</div>", 1)[0]
        assert "The candidate condition &#39;groups per 1,000 below the median&#39; was not " \
               "applied" in block, url
        assert "(0 groups in the workspace)" in block, url
        assert "measured by the IMD average rank" in block, url
        assert "not computed:" not in block, url  # those are listed above, once
        assert "imd_avg_rank" not in block, url

