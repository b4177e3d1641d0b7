"""Officers' what-ifs: drafts of a CAN selection, compared with the published one and
published by an administrator.

A draft is a named set of analysis settings owned by one officer, and the selection
those settings give, computed in memory (:func:`mapper.analysis_run.compute_selection`)
and stored in the app database: the published results, the CAN history and the map
everyone sees are untouched. Publishing a draft re-runs the analysis with its settings
through the same path as any re-run (:func:`mapper.analysis_run.analyse`: CAN ids kept
by ward overlap, the run audited, a new published version recorded).

Who may do what is decided here (:func:`may_see`), not in the pages: a draft is private
to its owner and the administrators.
"""

from __future__ import annotations

import pandas as pd

from mapper.analysis.selections import (
    Comparison,
    compare,
    draft_ids,
    renamed,
    selection_of,
)
from mapper.config import Settings
from mapper.errors import MapperError
from mapper.store import DATA_VERSION, Workspace

#: the longest draft name kept
NAME_LENGTH = 80


def create_draft(workspace: Workspace, settings: Settings, *, owner: str,
                 name: str = "") -> int:
    """Compute the selection `settings` give and store it as `owner`'s draft (audited);
    returns the draft's id. Raises MapperError for invalid settings."""
    from mapper.analysis_run import compute_selection

    settings.check()
    name = " ".join(str(name or "").split())[:NAME_LENGTH] or "Untitled draft"
    report = compute_selection(workspace, settings)
    results = selection_of(report.wards, report.neighbourhoods, settings.to_json())
    results["data_version"] = workspace.meta().get(DATA_VERSION, "")
    # every ward's residents: matching CANs by residents shared needs the wards of
    # published CANs that are in no draft CAN too
    results["ward_population"] = {
        str(code): float(value) for code, value in
        report.wards["population"].fillna(0.0).items()}
    changed = _changed_settings(workspace, settings)
    count = len(results["cans"])
    detail = (f"draft '{name}': {count:,} CAN{'' if count == 1 else 's'}; settings differing "
              "from the "
              f"published: {', '.join(changed) if changed else 'none'}")
    return workspace.appdb.save_draft(owner=owner, name=name, settings=settings.to_json(),
                                      results=results, detail=detail)


def _changed_settings(workspace: Workspace, settings: Settings) -> list[str]:
    from mapper.analysis_run import settings_changes

    text = workspace.meta().get("analysis_settings")
    return [n for n, _, _ in settings_changes(Settings.from_json(text) if text else None,
                                              settings)]


def data_changed(workspace: Workspace, draft: dict) -> bool:
    """Whether the workspace's data changed after `draft` was computed (publishing it
    re-runs the analysis on the data as it is now, which may choose other wards)."""
    return draft["results"].get("data_version", "") != workspace.meta().get(DATA_VERSION, "")


def may_see(draft: dict, username: str, role: str) -> bool:
    """A draft is private to its owner and the administrators."""
    return role == "admin" or draft["owner"] == username


def published_selection(workspace: Workspace) -> dict:
    """The selection everyone sees now (the stored analysis), as
    :func:`~mapper.analysis.selections.selection_of` gives it."""
    if not (workspace.has_layer("ward_summary") and workspace.has_layer("neighbourhoods")):
        return {"settings": workspace.meta().get("analysis_settings", ""), "cans": [],
                "ward_count": 0, "population": None}
    wards = workspace.read_layer("ward_summary", read_geometry=False).set_index("ward_code")
    cans = workspace.read_layer("neighbourhoods", read_geometry=False)
    cans = cans.set_index("can_id") if "can_id" in cans else cans
    wards["can_id"] = wards["can_id"].where(wards["can_id"].notna(), None)
    return selection_of(wards, cans, workspace.meta().get("analysis_settings", ""))


def draft_comparison(workspace: Workspace, draft: dict) -> tuple[dict, dict, Comparison]:
    """(published, draft under its would-be ids, comparison) for a stored draft."""
    published = published_selection(workspace)
    identity = draft_ids(draft["results"], workspace.appdb.can_history(),
                         run_at=pd.Timestamp.now(tz="UTC").isoformat())
    proposed = renamed(draft["results"], identity)
    return published, proposed, compare(published, proposed, identity)


def publish_draft(workspace: Workspace, draft: dict, *, actor: str):
    """Make `draft`'s settings the published selection: a full, audited re-run
    (:func:`mapper.analysis_run.analyse`) recorded as a new version naming the draft."""
    from mapper.analysis_run import analyse

    if draft.get("published_version"):
        raise MapperError(f"draft {draft['id']} was published already, as version "
                          f"{draft['published_version']}")
    settings = Settings.from_json(draft["settings"])
    return analyse(workspace, settings, actor=actor,
                   via=f"draft {draft['id']} '{draft['name']}' by {draft['owner']}, "
                       "published (web)",
                   draft_id=int(draft["id"]))
