"""Re-binding a cached plan to a new goal's values, and catalogue fingerprints.

A cached plan's parameters hold its goal's values ("#general", 50, "Alice").
For a similar goal with other values, each value that differs is replaced in
the parameters; the plan is served only if every differing value was found in
them, none is ambiguous and none is part of the plan's structure (a handler
name or task id): else the cache misses. Pure functions, no I/O."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ..graph import parse_reference
from ..handlers import HandlerRegistry
from ._goal import Value

_CASELESS = frozenset({"name", "date", "time"})


def align(old: Sequence[Value], new: Sequence[Value]) -> list[tuple[Value, Value]] | None:
    """Pairs the values of two goals by kind and role, in order; None when the
    kinds or roles differ."""
    groups: dict[tuple[str, str], list[Value]] = defaultdict(list)
    for value in new:
        groups[(value.kind, value.role)].append(value)
    pairs = []
    for value in old:
        slot = groups.get((value.kind, value.role))
        if not slot:
            return None
        pairs.append((value, slot.pop(0)))
    if any(groups.values()):
        return None
    return pairs


def rebind(graph: Mapping[str, Any], old: Sequence[Value], new: Sequence[Value]
           ) -> dict[str, Any] | None:
    """``graph`` (a TaskGraph as JSON) with ``old``'s values replaced by ``new``'s
    in its parameters and descriptions; None if that cannot be done safely."""
    pairs = align(old, new)
    if pairs is None:
        return None
    changes: dict[str, Value] = {}
    for was, now in pairs:
        if was.same(now):
            continue
        if was.kind == "path" and _extension(was.text) != _extension(now.text) \
                and _extension(was.text) in _structure_words(graph):
            return None  # a "pdf.read" plan is not one for a spreadsheet
        if changes.get(was.text, now) != now:
            return None  # one value in the plan, two in the goal: which is which?
        changes[was.text] = now
    if not changes:
        copied: dict[str, Any] = json.loads(json.dumps(graph))
        return copied
    olds = {was.text: was for was, _ in pairs}
    if _structural(graph, [olds[text] for text in changes]):
        return None
    replacer = _Replacer([(olds[text], now) for text, now in changes.items()])
    tasks = []
    for task in graph.get("tasks", []):
        task = dict(task)
        task["params"] = replacer.walk(task.get("params", {}), count=True)
        if isinstance(task.get("description"), str):
            task["description"] = replacer.walk(task["description"], count=False)
        tasks.append(task)
    if replacer.found != set(changes):
        return None  # a value the plan does not take as a parameter
    if any(len(params) > 1 for params in replacer.numeric_params.values()):
        return None  # {"limit": 3, "retries": 3}: which 3 is the goal's?
    if _derived(tasks, [(olds[text], now) for text, now in changes.items()]):
        return None
    return {**graph, "tasks": tasks}


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", text.lower()) if len(t) >= 3}


def _derived(tasks: list[dict[str, Any]], changes: list[tuple[Value, Value]]) -> bool:
    """Whether a part of a replaced value is still in the parameters: the plan
    made something of it ("README.es.md" of "README.md") that was not re-bound."""
    left = _tokens(json.dumps([t.get("params", {}) for t in tasks]))
    for was, now in changes:
        if (_tokens(was.text) - _tokens(now.text)) & left:
            return True
    return False


def _extension(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _structure_words(graph: Mapping[str, Any]) -> set[str]:
    """The words of the plan's handler names and task ids."""
    words: set[str] = set()
    for task in graph.get("tasks", []):
        for name in (task.get("handler") or "", task.get("id") or ""):
            words.update(w for w in re.split(r"[^a-z0-9]+", name.lower()) if w)
    return words


def _structural(graph: Mapping[str, Any], values: Iterable[Value]) -> bool:
    """Whether a value is part of the plan's structure (a handler or task id):
    a plan for "post to Slack" is not one for "post to Teams"."""
    words = _structure_words(graph)
    for value in values:
        core = re.sub(r"[^a-z0-9]+", " ", value.text.lower()).split()
        if not core:
            continue
        if "".join(core) in words or " ".join(core) in words:
            return True
        if value.kind in ("name", "quoted") and any(w in words for w in core if len(w) > 2):
            return True
    return False


class _Replacer:
    """One regular expression for every variant of every changed value, longest
    first, so a replacement is never replaced again."""

    def __init__(self, changes: list[tuple[Value, Value]]) -> None:
        self.numbers: list[tuple[float, Value, str]] = []
        variants: dict[str, tuple[str, Value, str]] = {}
        for was, now in changes:
            for old_text, new_text in _variants(was, now):
                variants.setdefault(old_text.lower() if was.kind in _CASELESS else old_text,
                                    (new_text, now, was.text))
            number = was.number()
            if number is not None:
                self.numbers.append((number, now, was.text))
        ordered = sorted(variants, key=len, reverse=True)
        self.variants = variants
        self.regex = re.compile("|".join(
            rf"(?<![\w$]){re.escape(v)}(?!\w)" for v in ordered), re.IGNORECASE) \
            if ordered else None
        self.found: set[str] = set()
        # Where each number was found, by parameter name: a number in two
        # parameters of different names is ambiguous (in one name, used twice).
        self.numeric_params: dict[str, set[str]] = {}

    def walk(self, value: Any, count: bool, param: str = "") -> Any:
        if isinstance(value, str):
            return self._text(value, count)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            for number, now, key in self.numbers:
                if value == number:
                    if count:
                        self.found.add(key)
                        self.numeric_params.setdefault(key, set()).add(param)
                    new = now.number()
                    return int(new) if isinstance(value, int) and new is not None and \
                        new == int(new) else new
            return value
        if isinstance(value, Mapping):
            return {k: self.walk(v, count, f"{param}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, count, f"{param}[]") for v in value]
        return value

    def _text(self, text: str, count: bool) -> str:
        if self.regex is None or parse_reference(text) is not None or text.startswith("$$"):
            return text

        def swap(match: re.Match[str]) -> str:
            old = match[0]
            new_text, now, key = self.variants.get(old) or self.variants[old.lower()]
            if count:
                self.found.add(key)
            return _same_case(old, new_text) if now.kind in _CASELESS else new_text

        replaced: str = self.regex.sub(swap, text)
        return replaced


def _variants(was: Value, now: Value) -> list[tuple[str, str]]:
    found = [(was.text, now.text)]
    if was.kind in ("channel", "mention", "ref") and len(was.text) > 1:
        found.append((was.text[1:], now.text[1:]))
    if was.kind == "number":
        bare = re.sub(r"[$€£,]", "", was.text)
        if bare != was.text:
            found.append((bare, re.sub(r"[$€£,]", "", now.text)))
    return [(o, n) for o, n in found if o]


def _same_case(old: str, new: str) -> str:
    if old.islower():
        return new.lower()
    if old.isupper() and len(old) > 1:
        return new.upper()
    if old[:1].isupper() and new[:1].islower():
        return new[:1].upper() + new[1:]
    return new


# catalogues ------------------------------------------------------------------------


def handler_fingerprints(catalogue: Any) -> dict[str, str | None] | None:
    """Handler name -> fingerprint of its parameter schema (None when only the
    name is known), from a HandlerRegistry, a list of catalogue entries (dicts
    with ``name`` and ``parameters``), a name -> schema mapping or a list of
    names. None for no catalogue."""
    if catalogue is None:
        return None
    found: dict[str, str | None] = {}
    if isinstance(catalogue, HandlerRegistry):
        for name in catalogue:
            found[name] = _model_fingerprint(catalogue.get(name).params_model)
        return found
    entries = catalogue.catalogue() if callable(getattr(catalogue, "catalogue", None)) \
        else catalogue
    if isinstance(entries, Mapping):
        for name, schema in entries.items():
            found[str(name)] = _fingerprint(schema) if isinstance(schema, Mapping) else None
        return found
    for entry in entries:
        if isinstance(entry, Mapping):
            found[str(entry["name"])] = _fingerprint(entry.get("parameters"))
        else:
            found[str(entry)] = None
    return found


@functools.lru_cache(maxsize=4096)
def _model_fingerprint(model: type[BaseModel]) -> str | None:
    """A handler's schema fingerprint, computed once per parameter model (the
    schema is what ``HandlerSpec.schema`` gives)."""
    return _fingerprint(model.model_json_schema())


def _fingerprint(schema: Any) -> str | None:
    if schema is None:
        return None
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def catalogue_fingerprint(handlers: Mapping[str, str | None] | None) -> str | None:
    """One fingerprint of a whole catalogue (names and schemas)."""
    if handlers is None:
        return None
    text = json.dumps(sorted(handlers.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_handlers(graph: Mapping[str, Any], known: Mapping[str, str | None] | None
                  ) -> dict[str, str | None]:
    """The handlers a plan calls, each with its fingerprint in ``known``."""
    names = {t["handler"] for t in graph.get("tasks", []) if t.get("handler")}
    return {name: (known or {}).get(name) for name in sorted(names)}


def serves(needed: Mapping[str, str | None], catalogue: Mapping[str, str | None] | None
           ) -> bool:
    """Whether a catalogue has every handler a plan calls, with the schema it was
    planned against (where both are known). No catalogue: no check."""
    if catalogue is None:
        return True
    for name, fingerprint in needed.items():
        if name not in catalogue:
            return False
        have = catalogue[name]
        if fingerprint is not None and have is not None and have != fingerprint:
            return False
    return True


