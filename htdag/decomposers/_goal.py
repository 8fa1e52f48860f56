"""A goal split into its template and its values, for the plan cache.

Values are what a plan takes as parameters and a paraphrase may change: quoted
text, URLs, emails, paths, channels (#general), mentions (@ana), ticket and
issue references, dates, times, versions, numbers and names (capitalised words
inside a sentence). The template is the rest, reduced to canonical words (stop
words dropped, synonyms merged, inflections stemmed). Two goals may share a
plan only when their templates say the same thing: the same content words, the
same main action, the same negations, the same kinds of values in the same roles
(``to X`` against ``from X``). :func:`parse_goal` is pure and fast (no I/O)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass

from ..core.errors import InvalidInput
from ._lexicon import (
    ACTION_WORDS,
    COMMON_ACRONYMS,
    DEST,
    LIGHT_VERB_WORDS,
    NEGATION,
    ORDINARY_CAPITALISED,
    PHRASES,
    STOP,
    TYPE_NOUN_WORDS,
    WEAK_ACTION_WORDS,
    canonical,
)

MATCHER_VERSION = "1"  # part of every signature: a new matcher never reads old keys
MAX_GOAL_CHARS = 10_000

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = (r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|"
        r"thu(?:rs?)?|fri)")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "fifty": 50, "hundred": 100, "dozen": 12,
}
_NUMBER_WORD = "|".join(_NUMBER_WORDS)
_EXT = (r"(?:py|js|ts|tsx|jsx|md|txt|csv|tsv|json|ya?ml|pdf|docx?|xlsx?|pptx?|png|jpe?g|gif|"
        r"svg|html?|css|sql|log|zip|tar|gz|tgz|sh|go|rs|java|kt|rb|php|c|h|cpp|toml|ini|"
        r"cfg|conf|xml|ipynb|parquet|env|lock|mp3|mp4|wav|key|pem)")

# One pass, left to right; at a position the first alternative that matches wins.
_VALUE_PATTERN = (
    r"(?P<quoted>\"[^\"\n]+\"|\u201c[^\u201d\n]+\u201d|\u2018[^\u2019\n]+\u2019|`[^`\n]+`"
    r"|(?<![\w'])'[^'\n]+'(?![\w']))"
    r"|(?P<url>\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+)"
    r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    rf"|(?P<file>\b[\w-]+(?:\.[\w-]+)*\.{_EXT}\b(?![/\\]))"
    rf"|(?P<date>\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b"
    rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}})?"
    rf"|\b{_MONTH}\s+\d{{4}}\b"
    rf"|\b(?:(?:next|this|last|coming|past)\s+)?{_DAY}\b"
    r"|\b(?:today|tomorrow|yesterday|tonight)\b"
    r"|\b(?:next|this|last|past|previous|coming)\s+(?:week|month|quarter|year|weekend)\b"
    r"|\bq[1-4](?:\s+\d{4})?\b|\b(?:19|20)\d{2}\b)"
    r"|(?P<time>\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b"
    r"|\b(?:noon|midnight)\b)"
    rf"|(?P<path>(?:~|\.{{1,2}})?/[\w.\-/~]+|\b[A-Za-z]:\\[^\s]+"
    rf"|\b[\w.-]+(?:/[\w.-]+)+|\b[\w-]+(?:\.[\w-]+)*\.{_EXT}\b)"
    r"|(?P<channel>(?<![\w&])#[A-Za-z][\w-]*)"
    r"|(?P<ref>(?<![\w])#\d+\b|(?-i:\b[A-Z][A-Z0-9]+-\d+\b))"
    r"|(?P<mention>(?<![\w])@[A-Za-z0-9_][\w.-]*[\w])"
    r"|(?P<version>\bv\d+(?:\.\d+)*\b|\b\d+\.\d+\.\d+(?:\.\d+)*\b)"
    rf"|(?P<number>(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?(?:%|k\b|m\b)?(?![\w.]\w)"
    rf"|\b(?:{_NUMBER_WORD})\b)"
    r"|(?P<name>(?-i:\b[A-Z][\w&'-]*))"
)
_NOT_PATHS = frozenset({"and/or", "w/o", "n/a", "24/7", "either/or", "i/o", "ci/cd", "yes/no",
                        "on/off", "pros/cons", "read/write", "input/output", "he/she",
                        "his/her", "s/he", "p/l", "q&a"})
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|\S", re.IGNORECASE)


@functools.cache
def _regexes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The value and phrase expressions, compiled on first use (not at import)."""
    phrases = "|".join(rf"\b{re.escape(p)}\b" for p in sorted(PHRASES, key=len, reverse=True))
    return re.compile(_VALUE_PATTERN, re.IGNORECASE), re.compile(phrases)


_PERIOD = re.compile(r"\b(?:week|weekend|month|quarter|year)\b|^q[1-4]|^(?:19|20)\d\d$", re.I)
_DETERMINERS = frozenset("a an the my our your their his her its this that these those".split())
_SENTENCE_END = re.compile(r"[.!?:;]\s*$|^\s*$")


class InvalidGoalError(InvalidInput):
    """The goal cannot be a plan cache key: the message says what to fix."""


@dataclass(frozen=True)
class Value:
    """A value of a goal: its kind, its text as written (quoted text without its
    quotes) and its role (``to``, ``from`` or ``""``)."""

    kind: str
    text: str
    role: str = ""

    def number(self) -> float | None:
        """The numeric value of a number (``"$1,200"`` -> 1200, ``"ten"`` -> 10)."""
        if self.kind == "ref" and self.text.startswith("#"):
            return float(self.text[1:])
        if self.kind != "number":
            return None
        if self.text.lower() in _NUMBER_WORDS:
            return float(_NUMBER_WORDS[self.text.lower()])
        digits = re.sub(r"[$€£,%]", "", self.text.lower())
        scale = {"k": 1e3, "m": 1e6}.get(digits[-1:], 1.0)
        try:
            return float(digits.rstrip("km")) * scale
        except ValueError:
            return None

    def same(self, other: Value) -> bool:
        if self.kind in ("number", "ref") and other.kind == self.kind:
            return self.number() == other.number()
        return self.text == other.text


@dataclass(frozen=True)
class ParsedGoal:
    goal: str
    normalised: str  # lower-case words, values as written, one space between words
    template: str  # canonical words in order, values as <kind>: what similarity compares
    values: tuple[Value, ...]
    content: frozenset[str]  # canonical content words
    action: str  # the first action word ("" when none)
    negated: tuple[str, ...]  # what each negation applies to, sorted
    targets: frozenset[str]  # canonical words after "to"/"into": where things go
    anchors: tuple[str, ...] = ()  # the word before each name: "call <name>", "remind <name>"

    @property
    def key(self) -> str:
        """Exact-match key: the normalised goal's hash."""
        return hashlib.sha256(self.normalised.encode()).hexdigest()

    @property
    def signature(self) -> str:
        """Goals with different signatures never share a plan: the hash of the
        content words, main action, negations, destinations and value slots."""
        slots = sorted(f"{v.kind}:{v.role}" for v in self.values)
        parts = [MATCHER_VERSION, " ".join(sorted(self.content)), self.action,
                 " ".join(self.negated), " ".join(sorted(self.targets)), " ".join(slots),
                 " ".join(self.anchors)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def check_goal(goal: object) -> str:
    """The goal, if it can be a key; else InvalidGoalError saying what to fix."""
    if not isinstance(goal, str):
        raise InvalidGoalError(f"a goal is text, got {type(goal).__name__}")
    if not goal.strip():
        raise InvalidGoalError("the goal is empty: say in words what should be done")
    if "\x00" in goal:
        raise InvalidGoalError("the goal contains a NUL character (\\x00): remove it")
    if len(goal) > MAX_GOAL_CHARS:
        raise InvalidGoalError(f"the goal is {len(goal):,} characters long; the plan cache takes "
                        f"goals of at most {MAX_GOAL_CHARS:,}: shorten it, or plan it "
                        "without the cache")
    return goal


def parse_goal(goal: str) -> ParsedGoal:
    """Splits ``goal`` into its template and its values (see the module's doc)."""
    text = " ".join(check_goal(goal).split())
    pieces: list[str | Value] = []
    at = 0
    for found in _regexes()[0].finditer(text):
        kind = found.lastgroup or ""
        raw = found[0]
        start = found.start()
        value = _name(raw, text, start) if kind == "name" else _value(kind, raw)
        if value is None:
            continue
        last = pieces[-1] if pieces else None
        if kind == "name" and isinstance(last, Value) and last.kind == "name" \
                and text[at:start] == " ":  # "Bob Smith": one name
            pieces[-1] = Value("name", f"{last.text} {value.text}")
            at = found.end()
            continue
        pieces.append(text[at:start])
        pieces.append(value)
        at = found.end()
    pieces.append(text[at:])
    return _assemble(goal, pieces)


def _value(kind: str, raw: str) -> Value | None:
    if kind == "quoted":
        return Value("quoted", raw[1:-1].strip())
    if kind == "url":
        return Value("url", raw.rstrip(".,;:!?)]}"))
    if kind == "file":
        return Value("path", raw.rstrip(".,;:!?)"))
    if kind == "path":
        if raw.lower() in _NOT_PATHS:
            return None
        return Value("path", raw.rstrip(".,;:!?)"))
    if kind == "date" and _PERIOD.search(raw):
        return Value("period", raw.lower())  # a week is not a day
    if kind in ("date", "time"):
        return Value(kind, raw.lower())
    return Value(kind, raw.rstrip(".,"))


def _name(word: str, text: str, start: int) -> Value | None:
    """A capitalised word inside a sentence is (part of) a name; the first word
    of a sentence and common acronyms (CSV, API) are words."""
    if _SENTENCE_END.search(text[:start]) or word == "I":
        return None
    if word.upper().removesuffix("'S") in COMMON_ACRONYMS or \
            word.lower() in ORDINARY_CAPITALISED:
        return None
    name = re.sub(r"'s$", "", word.rstrip("'"))
    return Value("name", name) if name else None


def _assemble(goal: str, pieces: list[str | Value]) -> ParsedGoal:
    reader = _Reader()
    for piece in pieces:
        if isinstance(piece, Value):
            reader.value(piece)
        else:
            lowered = _regexes()[1].sub(lambda m: PHRASES[m[0]], piece.lower())
            for token in _WORD.findall(lowered):
                reader.token(token)
    return reader.parsed(goal)


class _Reader:
    """Reads a goal's words and values in order into its template."""

    def __init__(self) -> None:
        self.normalised: list[str] = []
        self.template: list[str] = []
        self.values: list[Value] = []
        self.content: Counter[str] = Counter()
        self.anchors: list[str] = []
        self.negated: list[str] = []
        self.targets: set[str] = set()
        self.pending_neg = 0  # negations waiting for the word they apply to
        self.role = ""  # the role the next value or word gets from a preposition before it

    def value(self, piece: Value) -> None:
        if self.template and self.template[-1] in TYPE_NOUN_WORDS.get(piece.kind, ()):
            self.content[self.template.pop()] -= 1  # "the file ./a.txt" is "./a.txt"
        if piece.kind in ("name", "mention"):
            self.anchors.append(self.template[-1] if self.template else "^")
        self.values.append(Value(piece.kind, piece.text, self.role))
        self.normalised.append(f"“{piece.text}”" if piece.kind == "quoted" else piece.text)
        self._add(f"<{piece.kind}>")

    def token(self, token: str) -> None:
        if not token[0].isalnum():
            if token not in ".,;:!?":
                self.normalised.append(token)
            return
        self.normalised.append(token)
        token = _contraction(token)
        if token in NEGATION or token.endswith("n't"):
            self.pending_neg += 1
            self.template.append("not")
            return
        if token in DEST:
            self.role = "to"
        elif token not in _DETERMINERS:
            self.role = ""  # "from #x" and "in #x" say the same
        if token in STOP:
            return
        word = canonical(token)
        last = self.values[-1].kind if self.values else ""
        if self.template and self.template[-1] == f"<{last}>" \
                and word in TYPE_NOUN_WORDS.get(last, ()):
            return  # "the #general channel" is "#general"
        if self.role == "to" and word not in ACTION_WORDS:
            self.targets.add(word)
        self.content[word] += 1
        self._add(word)

    def _add(self, word: str) -> None:
        self.template.append(word)
        self.negated.extend([word] * self.pending_neg)
        self.pending_neg = 0
        self.role = ""

    def parsed(self, goal: str) -> ParsedGoal:
        negated = self.negated + ["<end>"] * self.pending_neg
        words = {w for w, n in self.content.items() if n > 0}
        for verb, things in LIGHT_VERB_WORDS.items():
            if verb in words and words & things:
                words.discard(verb)  # "send an email" is "email"
        if words & (ACTION_WORDS - WEAK_ACTION_WORDS):
            words -= WEAK_ACTION_WORDS  # "show me a summary" is "summarize"
        action = next((w for w in self.template if w in words and w in ACTION_WORDS), "")
        return ParsedGoal(
            goal=goal, normalised=" ".join(self.normalised).strip(" .!?"),
            template=" ".join(self.template), values=tuple(self.values),
            content=frozenset(words), action=action, negated=tuple(sorted(negated)),
            targets=frozenset(self.targets), anchors=tuple(sorted(self.anchors)))


def _contraction(token: str) -> str:
    if token.endswith("'s"):
        return token[:-2]
    for ending in ("'re", "'ll", "'ve", "'d", "'m"):
        if token.endswith(ending):
            return token[: -len(ending)]
    return token
