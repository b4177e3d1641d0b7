"""Which register (VCS groups, premises, incidents) a generic point table holds, and which
category or premises type each of its records has, from evidence.

The rules are data: ``mapper/mappings/evidence.json`` says which columns and which words
are evidence of which register, and ``mapper/mappings/categories.csv`` (source
``generic``, field ``term``) which category or premises type a word means. Evidence,
strongest first (:func:`decide`):

1. what the user said (``mapper import --as``, ``--category``, or a saved mapping);
2. columns only one register has (an id column, a date or month: incidents; capacity or
   step-free: premises; charity number or emergency offer: groups);
3. the kind of record most rows' type or category value names ("Library", "Food bank";
   also a word categories.csv gives a meaning in one register only: "Youth");
4. words in the file's name or title (``polling_stations_2024.csv``), or in its name
   column's header (``pharmacy_name``, ``Library name``);
5. a ``category`` column (the groups field).

A table with none of these is never counted as VCS groups: the import stops and asks
for ``--as`` and ``--category`` (:attr:`Decision.question`), showing what was seen.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from mapper import registers
from mapper.errors import MapperError, Problem

RULES_FILE = registers.MAPPINGS_DIR / "evidence.json"
#: the categories.csv source and field of the words (terms) that mean a category or type
TERM_SOURCE, TERM_FIELD = "generic", "term"


@lru_cache(maxsize=2)
def rules(path: Path = RULES_FILE) -> dict:
    """The evidence rules (terms per register, categories) with each term's register."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    data["term_register"] = {
        words(term): register for register, terms in data["terms"].items() for term in terms
    }
    return data


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: object) -> tuple[str, ...]:
    """Lower-case words of a text, plurals made singular: 'Food_Banks' -> ('food', 'bank')."""
    return tuple(_singular(w) for w in re.findall(r"[a-z0-9]+", str(text).lower()))


def find_term(text: object, terms) -> tuple[str, ...] | None:
    """The longest of `terms` (word tuples) found as whole words in `text`, or None."""
    have = words(text)
    best = None
    for term in terms:
        n = len(term)
        if n and (best is None or n > len(best)) and any(
            have[i : i + n] == term for i in range(len(have) - n + 1)
        ):
            best = term
    return best


@lru_cache(maxsize=8)
def _term_categories(register: str) -> dict[tuple[str, ...], str]:
    mapping = registers.category_map(TERM_SOURCE, register)
    return {words(v): c for (f, v), c in mapping.items() if f == TERM_FIELD and v != "*"}


def term_category(term: tuple[str, ...] | None, register: str) -> str | None:
    """The category (groups) or type (premises) a word means, from categories.csv."""
    return _term_categories(register).get(term) if term else None


@dataclass
class Decision:
    """What a generic point table was taken to hold, and why."""

    register: str | None
    #: category (groups) or type (premises) for records whose own value says nothing
    category: str | None = None
    #: the user set the category: every record gets it
    forced: bool = False
    reasons: list[str] = field(default_factory=list)
    #: why that register, alone ("its file name says 'library'")
    why: str = ""
    #: when no register could be decided: what was seen, and how to say it
    question: str | None = None


def category_register(category: str) -> str | None:
    """The register a --category belongs to, when only one vocabulary has it."""
    owners = [r for r in ("groups", "premises") if category in registers.vocabulary(r)]
    return owners[0] if len(owners) == 1 else None


def check_category(category: str, register: str | None, *, file: str) -> None:
    """A clear error when --category is not in the register's vocabulary."""
    if register == "incidents":
        raise MapperError(f"{file}: --category applies to groups (their category) and "
                          "premises (their type), not incidents")
    allowed = (registers.vocabulary(register) if register
               else dict.fromkeys(registers.GROUP_CATEGORIES + registers.PREMISES_TYPES))
    if category not in allowed:
        what = f"{register} " if register else ""
        raise MapperError(f"{file}: unknown {what}category {category!r}; expected one of: "
                          + ", ".join(allowed))


@lru_cache(maxsize=1)
def _value_registers() -> dict[tuple[str, ...], str]:
    """Word -> the register a value holding it names: evidence.json's terms, and the
    words categories.csv gives a meaning in one register only ('youth': groups)."""
    groups, premises = _term_categories("groups"), _term_categories("premises")
    only = {t: "groups" for t in groups.keys() - premises.keys()}
    only.update({t: "premises" for t in premises.keys() - groups.keys()})
    return {**only, **rules()["term_register"]}


def _value_evidence(values: pd.Series, share: float):
    """(register, its share, dominant term, its share) of a type/category column."""
    text = values.astype("string").str.strip().fillna("")
    text = text[text != ""]
    if text.empty:
        return None, 0.0, None, 0.0
    term_register = _value_registers()
    terms = {v: find_term(v, term_register) for v in text.unique()}
    found = text.map(terms)
    by_register = Counter(term_register.get(t) for t in found if t in term_register)
    by_term = Counter(t for t in found if t is not None)
    register, n = by_register.most_common(1)[0] if by_register else (None, 0)
    term, m = by_term.most_common(1)[0] if by_term else (None, 0)
    total = len(text)
    register = register if n / total >= share else None
    term = term if m / total >= share else None
    return register, n / total, term, m / total


def _named(terms, texts: list[tuple[str, str]]) -> tuple[str, tuple[str, ...] | None]:
    """The longest term in any of the (label, text) pairs: (its label, the term)."""
    best: tuple[str, tuple[str, ...] | None] = ("", None)
    for label, text in texts:
        term = find_term(text, terms)
        if term and (best[1] is None or len(term) > len(best[1])):
            best = (label, term)
    return best


def _seen(file: str, columns: list[str], values: pd.Series | None, title: str) -> str:
    shown = ", ".join(columns[:15]) + (" ..." if len(columns) > 15 else "")
    text = f"columns: {shown}"
    if values is not None:
        counts = values.astype("string").str.strip().replace("", pd.NA).dropna().value_counts()
        if len(counts):
            text += "; values: " + ", ".join(f"'{v}' ({n})" for v, n in counts.head(5).items())
    return text + f"; file name: '{Path(file).stem}'" + (f"; title: '{title}'" if title else "")


def decide(
    *,
    file: str,
    columns: list[str],
    fields: dict[str, str],
    head: pd.DataFrame,
    title: str = "",
    register: str | None = None,
    category: str | None = None,
) -> Decision:
    """Decide the register and the file-level category of a generic point table.

    Parameters
    ----------
    file : the file's name (its words are evidence)
    columns : the file's columns, as written
    fields : canonical field -> the file's column, as understood (``type``, ``category``
        ... ), after any user ``--map``
    head : the first rows of the file
    title : a title the file carries (a GeoJSON layer name ...), if any
    register, category : what the user said (``--as``, ``--category``), if anything
    """
    if category:
        check_category(category, register, file=file)
    data = rules()
    share = float(data["dominant_share"])
    col = fields.get("type") or fields.get("category")
    values = head[col] if col in head.columns else None
    v_register, v_share, v_term, t_share = (
        _value_evidence(values, share) if values is not None else (None, 0.0, None, 0.0)
    )
    title = "" if title == Path(file).stem else title
    name_label, name_term = _named(data["term_register"], [
        ("its file name", Path(file).stem), ("its title", title),
        (f"its name column '{fields.get('name')}'", fields.get("name") or ""),
    ])
    n_register = data["term_register"].get(name_term)
    decision = Decision(None)
    reasons = decision.reasons
    target: str
    if register:
        target, why = register, "as you said (--as)"
    elif strong := next(((r, c) for r, cs in data["columns"].items() for c in cs if c in fields),
                        None):
        target, why = strong[0], f"it has a {strong[1]} column"
    elif category and (owner := category_register(category)):
        target, why = owner, f"--category {category}"
    elif v_register:
        target = v_register
        why = f"{v_share:.0%} of its '{col}' values name {v_register}"
    elif n_register and name_term:
        target, why = n_register, f"{name_label} says '{' '.join(name_term)}'"
    elif weak := next(((r, c) for r, cs in data["weak_columns"].items() for c in cs
                       if c in fields), None):
        target, why = weak[0], f"it has a {weak[1]} column"
    else:
        decision.question = (
            f"{file}: cannot tell whether its rows are VCS groups, premises or incidents "
            f"({_seen(file, columns, values, title)}). Nothing is counted as VCS groups without "
            "evidence: say what it holds with --as groups|premises|incidents and, for "
            "groups or premises, --category (e.g. --as premises --category library; on "
            "the upload form: register and category); the choice is saved for files with "
            "these columns"
        )
        return decision
    decision.register, decision.why = target, why
    reasons.append(f"read as {target}: {why}")
    if target == "incidents":
        return decision
    if category:
        check_category(category, target, file=file)
        decision.category, decision.forced = category, True
        reasons.append(f"every record's {registers.CATEGORY_COLUMN[target]} is "
                       f"'{category}' (--category)")
        return decision
    key = registers.CATEGORY_COLUMN[target]
    from_values = term_category(v_term, target)
    from_name = term_category(name_term, target)
    if from_values and v_term:
        decision.category = from_values
        reasons.append(f"{key} '{from_values}' for rows whose own value says nothing "
                       f"({t_share:.0%} of the '{col}' values say '{' '.join(v_term)}')")
    elif from_name and name_term:
        decision.category = from_name
        reasons.append(f"{key} '{from_name}' for rows whose own value says nothing "
                       f"({name_label} says '{' '.join(name_term)}'); change with --category")
    return decision


def categorise(
    values: pd.Series | None,
    decision: Decision,
    register: str,
    *,
    file: str,
    index: pd.Index,
    field: str,
    notes: list[Problem],
) -> pd.Series:
    """The canonical category (groups) or type (premises) of every record.

    Each value is taken as it is when it is in the vocabulary, else through
    categories.csv (an exact ``generic`` value of this field, then the longest word in
    it with a meaning); values that say nothing get the file-level category of the
    decision, else 'other'. Every fallback is reported in `notes`.
    """
    default = decision.category
    if decision.forced or values is None:
        out = pd.Series(default or "other", index=index, dtype="object")
        if values is None and default is None:
            notes.append(Problem(file, f"no {field} column and nothing in the file says which "
                                 f"{field}: every record is '{'other'}'; set one with "
                                 "--category", severity="warning"))
        return out
    vocab = registers.vocabulary(register)
    exact = registers.category_map(TERM_SOURCE, register)
    terms = _term_categories(register)
    text = values.astype("string").str.strip().fillna("")

    def one(value: str) -> str:
        low = value.lower()
        if low in vocab:
            return low
        if (field, low) in exact:
            return exact[(field, low)]
        term = find_term(low, terms)
        return terms.get(term, "") if term else ""

    mapped = text.map({v: one(v) for v in text.unique()}).astype("object")
    unknown = mapped == ""
    if unknown.any():
        seen = Counter(text[unknown].replace("", "(blank)"))
        listed = ", ".join(f"'{v}' ({n})" for v, n in seen.most_common(5))
        fill = default or "other"
        why = "from the file as a whole" if default else "outside the vocabulary"
        notes.append(Problem(
            file,
            f"{int(unknown.sum())} rows have a {field} that says nothing known ({listed}): "
            f"set to '{fill}' ({why}); map them in mapper/mappings/categories.csv or set "
            "one with --category",
            severity="warning",
        ))
        mapped[unknown] = fill
    return mapped
