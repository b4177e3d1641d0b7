"""London's longest CAN and ward pages print as briefings of a few A4 pages (issue 18):
the pages with the most groups and premises, where a long list used to run to 8 pages
(the list is printed in two columns of short entries, the sources as a compact
appendix). The largest seen over every London CAN and ward page: 5 (README)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mapper.store import Workspace
from mapper.web import create_app

pytestmark = [pytest.mark.realdata, pytest.mark.browser, pytest.mark.slow]

#: the most A4 pages a CAN or ward page may print to
MOST_PAGES = 6
#: how many of the longest CAN and ward pages are printed
SAMPLE = 3


def _longest(workspace: Workspace) -> list[str]:
    """The CAN and ward pages with the most groups and premises (the list is what grows)."""
    per_ward = pd.concat([workspace.read_layer(name)["ward_code"].astype(str)
                          for name in ("groups", "premises")]).value_counts()
    cans = workspace.read_layer("neighbourhoods")
    per_can = {str(row.can_id): sum(int(per_ward.get(code.strip(), 0))
                                    for code in str(row.ward_codes).split(";"))
               for row in cans.itertuples()}
    longest_cans = sorted(per_can, key=per_can.get, reverse=True)[:SAMPLE]  # type: ignore[arg-type]
    return ([f"/neighbourhood/{can}" for can in longest_cans]
            + [f"/ward/{code}" for code in per_ward.index[:SAMPLE]])


def test_the_longest_london_pages_print_to_a_few_a4_pages(shared_london, browser_page,
                                                           live_server):
    workspace = Workspace(shared_london.directory)
    base = live_server(create_app({"WORKSPACE": str(shared_london.directory),
                                   "TILES": "none"}))
    page = browser_page.page
    printed = {}
    for path in _longest(workspace):
        response = page.goto(base + path, wait_until="networkidle")
        assert response is not None and response.status == 200, path
        pdf = page.pdf(format="A4", print_background=True)
        printed[path] = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert len(printed) == 2 * SAMPLE
    assert all(1 <= n <= MOST_PAGES for n in printed.values()), printed
    browser_page.assert_clean()
