"""Column mappings saved in the workspace: what a user said about one layout of file
(``mapper import FILE --as ... --map FIELD=COLUMN --category ...``), reused by later
imports and builds of files with the same columns.

They live in ``mappings.json`` in the workspace directory, keyed by the file's header
signature (:func:`mapper.sources.choices.signature`), one object per layout::

    {"mappings": {"3f0c9a...": {"register": "premises", "columns": {"name": "Site"},
                                "category": "library", "headers": ["Site", ...],
                                "file": "libraries.csv", "saved_at": "2026-..."}}}

The file may be edited by hand; ``mapper mapping list|show|delete`` reads and changes it.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from mapper import registers
from mapper.errors import MapperError
from mapper.private_files import private_dir
from mapper.sources.choices import Choice, check_register, parse_map

MAPPINGS_FILE = "mappings.json"


class SavedMappings:
    """The saved mappings of one workspace directory."""

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / MAPPINGS_FILE

    def load(self) -> dict[str, dict]:
        """Signature -> saved mapping; each entry checked (a clear error names the file)."""
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
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
                f"{self.path}: not a readable mappings file ({exc}); fix or delete it"
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
        private_dir(self.path.parent)
        data = {"_comment": "Column mappings saved by 'mapper import --as/--map/--category', "
                            "keyed by the header signature of the files they apply to. "
                            "Edit freely, or use 'mapper mapping list|show|delete'.",
                "mappings": entries}
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
