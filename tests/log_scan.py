"""Finding contact details in log text: used by tests/test_log_privacy.py and by conftest's
end-of-run scan of the whole run's log file."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: a UK number standing on its own: not inside a longer token such as the hex version
#: tag of a URL (``?v=034185769ff36f2f``), a time or a code
UK_PHONE = re.compile(r"(?<![\w.:/-])(?:\+44\s?|0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?!\w)")


def personal_data_in(text: str, known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """E-mail addresses, UK phone numbers and any of the `known` contact values found."""
    found = EMAIL.findall(text) + [m.group(0) for m in UK_PHONE.finditer(text)]
    found += [value for value in known if value and value in text]
    return sorted(set(found))
