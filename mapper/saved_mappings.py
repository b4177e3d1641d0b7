"""Column mappings saved in the workspace: what a user said about one layout of file
(``mapper import FILE --as ... --map FIELD=COLUMN --category ...``), reused by later
imports and builds of files with the same columns.

They live in ``mappings.json`` in the workspace directory, keyed by the file's header
signature (:func:`mapper.sources.choices.signature`), one object per layout::

    {"mappings": {"3f0c9a...": {"register": "premises", "columns": {"name": "Site"},
                                "category": "library", "headers": ["Site", ...],
                                "file": "libraries.csv", "saved_at": "2026-..."}}}

The file may be edited by hand; ``mapper mapping list|show|delete`` reads and changes it.

With a database URL (the PostgreSQL store) the same JSON lives in the app database
instead (``mapper_app.meta``, key ``saved_mappings``; see
:meth:`mapper.store.Workspace.saved_mappings`), so every host and server shares one set;
a ``mappings.json`` from before is read until the first change, which writes the
database.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mapper import registers
from mapper.errors import MapperError
from mapper.private_files import private_dir
from mapper.sources.choices import Choice, check_register, parse_map

MAPPINGS_FILE = "mappings.json"


class SavedMappings:
    """The saved mappings of one workspace directory; `stored` (read, write) keeps their
    JSON text elsewhere (the app database in PostgreSQL) and `where` names it."""

    def __init__(self, directory: str | os.PathLike, *,
                 stored: tuple[Callable[[], str | None], Callable[[str], None]] | None = None,
                 where: str = ""):
        self.path = Path(directory) / MAPPINGS_FILE
        self.stored = stored
        self.where = where or str(self.path)

    def _text(self) -> str | None:
        if self.stored is not None:
            text = self.stored[0]()
            if text is not None:
                return text
        return self.path.read_text(encoding="utf-8") if self.path.is_file() else None

    def load(self) -> dict[str, dict]:
        """Signature -> saved mapping; each entry checked (a clear error names the file)."""
        text = self._text()
        if text is None:
            return {}
        try:
            data = json.loads(text)
            entries = data["mappings"]
            for sig, entry in entries.items():
                check_register(entry.get("register"))
                parse_map([f"{k}={v}" for k, v in (entry.get("columns") or {}).items()])
                category = entry.get("category")
                if category is not None and category not in (
                        registers.GROUP_CATEGORIES + registers.PREMISES_TYPES):
                    raise MapperError(f"unknown category {category!r}")
                if not isinstance(sig, str) or not sig:
                    raise MapperError(f"bad signature {sig!r}")
        except (ValueError, KeyError, TypeError, AttributeError, MapperError) as exc:
            raise MapperError(
                f"{self.where}: not a readable mappings file ({exc}); fix or delete it"
            ) from None
        return entries

    def lookup(self, sig: str) -> Choice | None:
        """The choice saved for files of this signature, if any."""
        entry = self.load().get(sig)
        if entry is None:
            return None
        return Choice(entry.get("register"), dict(entry.get("columns") or {}),
                      entry.get("category"), signature=sig)

    def save(self, sig: str, choice: Choice, *, headers: list[str], file: str) -> None:
        entries = self.load()
        entries[sig] = {**choice.as_json(), "headers": list(headers), "file": file,
                        "saved_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
        self._write(entries)

    def find(self, prefix: str) -> str:
        """The one signature starting with `prefix`; a clear error listing them otherwise."""
        entries = self.load()
        hits = [s for s in entries if s.startswith(prefix.strip())] if prefix.strip() else []
        if len(hits) != 1:
            known = ", ".join(f"{s} ({e.get('file', '?')})" for s, e in entries.items())
            what = "matches several" if hits else "matches no"
            raise MapperError(f"{prefix!r} {what} saved mapping; saved: {known or 'none'}")
        return hits[0]

    def delete(self, prefix: str) -> tuple[str, dict]:
        sig = self.find(prefix)
        entries = self.load()
        entry = entries.pop(sig)
        self._write(entries)
        return sig, entry

    def _write(self, entries: dict[str, dict]) -> None:
        data = {"_comment": "Column mappings saved by 'mapper import --as/--map/--category', "
                            "keyed by the header signature of the files they apply to. "
                            "Edit freely, or use 'mapper mapping list|show|delete'.",
                "mappings": entries}
        if self.stored is not None:
            self.stored[1](json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            return
        private_dir(self.path.parent)
        # owner-only like every workspace file (mkstemp creates it 0600)
        fd, tmp = tempfile.mkstemp(prefix=".mappings-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, self.path)


def describe(sig: str, entry: dict) -> str:
    """One line for people: the signature, what it says, and the file it was saved from."""
    choice = Choice(entry.get("register"), entry.get("columns") or {}, entry.get("category"))
    return f"{sig}  {choice.describe() or '(nothing)'}  (saved from {entry.get('file', '?')})"
