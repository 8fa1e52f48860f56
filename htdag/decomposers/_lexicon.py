"""Word lists of the plan cache's goal matcher: which words carry no meaning for
a plan (stop words and politeness), which negate, which name the same action or
thing (synonyms), and which are actions. Synonyms are only words that mean the
same in every context a user's request may use them in: a wrong merge serves a
wrong plan, a missing one only costs a miss."""

from __future__ import annotations

import re

# Dropped: articles, pronouns, auxiliaries, politeness, prepositions (their role
# before a value is kept separately), hedges, and light verbs that only say
# "produce it" (give me, get me, write, make, prepare). Particles that change a
# verb (up, down, out, off, over) are kept: "scale up" is not "scale down".
STOP = frozenset("""
a an the this that these those it its them they
i me my mine we us our ours you your yours yourself myself ourselves
is are was were be been being am do does did doing done have has had having will would
shall should can could may might must let lets
please pls plz kindly thanks thank hey hi hello ok okay just also really actually
quick quickly briefly short shortly asap now right away soon
for of in on at by with about as via per into onto to from
and then so too but
what which who whom whose where when how why whether if
some any there here
go ahead want wanted need needed like love wish try able possible
sure ensure help assist
give gimme get got tell provide produce prepare put make made write set
""".split())

# Weak actions: dropped from a goal that has another action ("show me a summary").
WEAK_ACTIONS = frozenset({"list", "show", "display", "enumerate"})

# A type noun just before a value of its kind says nothing the value does not:
# "the file ./a.txt" is "./a.txt".
TYPE_NOUNS = {"path": frozenset({"file", "folder", "directory", "dir"}),
              "channel": frozenset({"channel"}), "ref": frozenset({"ticket"}),
              "url": frozenset({"url", "link", "page", "site", "website"}),
              "email": frozenset({"address"})}

# Words that turn the meaning around; each counts, and the word after it is its scope.
NEGATION = frozenset("""
not no never without except excluding exclude skip skipping none neither nor
avoid dont doesnt didnt cannot cant wont shouldnt isnt arent nothing
ignore ignoring omit omitting
""".split())

# Prepositions that give a value its role: where something goes, or comes from.
DEST = frozenset({"to", "into", "onto", "toward", "towards"})
SOURCE = frozenset({"from"})

# Phrases read as one word before anything else.
PHRASES = {
    "pull requests": "prs", "pull request": "pr", "merge requests": "prs",
    "merge request": "pr", "catch me up on": "summarize", "catch up on": "summarize",
    "sum up": "summarize", "look up": "find", "look for": "find", "look into": "investigate",
    "go through": "review", "go over": "review", "clean up": "clean", "back up": "backup",
    "roll back": "rollback", "shut down": "stop", "turn off": "disable", "turn on": "enable",
    "sign up": "register", "log in": "login", "log into": "login", "follow up": "followup",
    "set up": "setup", "check in": "checkin", "write up": "writeup", "e mail": "email",
    "to do": "todo", "to-do": "todo", "tl;dr": "summarize",
    "most recent": "recent", "set up a meeting": "schedule a meeting",
    "set up a call": "schedule a call", "what are my": "list my", "what's on my": "list my",
    "make a new": "create a", "a new": "a", "posted in": "in", "posted to": "in", "posted on": "in",
    "sent to": "to", "would you mind": "", "when you get a chance": "",
    "when you have a moment": "", "when you can": "", "if you can": "", "if possible": "",
    "for me": "", "real quick": "", "as soon as possible": "", "at your convenience": "",
    "i would like you to": "", "i'd like you to": "", "i need you to": "", "i want you to": "",
    "a quick": "a", "a brief": "a", "a short": "a",
}

# Synonym groups: the first word is the canonical one. Words are matched after
# stemming (see stem), so inflections need not be listed.
_GROUPS = """
summarize summary summarise recap digest tldr synopsis gist overview condense
recent latest last newest past previous
message msg messages
email e-mail mail
send deliver dispatch
reply respond answer
forward fwd
create add
delete remove erase
list enumerate show display query
collect gather
titled called named entitled
find search locate lookup
schedule book arrange
meeting meet call
remind reminder nudge
invite invitation
review inspect audit examine
analyze analyse analysis evaluate
compare comparison contrast
chart graph plot visualize visualise visualization
translate translation
fix repair resolve
deploy deployment ship rollout
rollback revert
restart reboot bounce
build compile
approve approval accept
reject decline deny
download fetch retrieve
copy duplicate
move relocate
update modify edit change
notify alert ping notification
document doc docs documentation
folder directory dir
bug defect
customer client
team squad
error errors exception exceptions
repo repository
invoice bill
todo task
all every each
his her hers him he she their theirs
"""

# Canonical actions (verbs): the first of a goal's is its main action, which
# must agree between two goals.
ACTIONS = frozenset("""
summarize send reply forward create delete list find schedule cancel remind invite
review analyze compare chart translate fix deploy rollback restart build test merge
approve reject close open archive assign upload download copy move rename export import
backup restore update notify share email post publish draft convert count calculate
monitor watch track pin unpin mute unmute lock unlock block unblock ban kick join leave
subscribe unsubscribe star label tag sort filter clean purge scan run execute stop start
pause resume print sign pay refund order buy sell reserve rate comment mention
tweet text crawl scrape collect gather extract parse transcribe record
upgrade downgrade install uninstall configure enable disable grant revoke
investigate register login followup setup dm message
""".split())

# "send an email" is "email": a light verb with a thing that says how it is sent.
LIGHT_VERBS = {"send": frozenset({"email", "message", "dm", "text", "invite", "remind",
                                  "notify"})}

# All-caps words that are ordinary words (formats, kinds of things), not names.
COMMON_ACRONYMS = frozenset("""
CSV PDF JSON XML HTML YAML API APIS UI UX PR PRS SQL URL URLS CI CD QA KPI KPIS ETA FAQ
CEO CTO CFO HR IT PM AM EOD EOW FYI ASAP TLDR DM DMS MR SLA SLO OKR OKRS ID
IDS CPU GPU RAM SSD DNS SSL TLS VPN SSH HTTP HTTPS REST RSS PNG JPG JPEG GIF SVG ZIP
MD TXT DOC DOCX XLS XLSX PPT PPTX README TODO OK
""".split())

# Capitalised words that are still ordinary words (environments, branches): a
# plan for "Staging" is not re-bound to "Production".
ORDINARY_CAPITALISED = frozenset("""
production prod staging stage dev development test testing qa sandbox preview main master
local live beta alpha canary
""".split())

_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ization", "ize"), ("isation", "ize"),
             ("ings", ""), ("ing", ""), ("ied", "y"), ("ed", ""), ("es", ""), ("s", ""))
_DOUBLE = re.compile(r"([bdfgklmnprstz])\1$")
_VOWEL = re.compile(r"[aeiouy]")


def stem(word: str) -> str:
    """A small, consistent stemmer: the same word in any inflection gets the same
    stem (``messages``, ``message`` -> ``messag``-like). Exactness does not
    matter; consistency does."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: len(word) - len(suffix)] + repl
            if suffix in ("es", "s") and (word.endswith("ss") or word.endswith("us")):
                return word
            if suffix == "es" and not re.search(r"(ch|sh|x|z|ss)$", base):
                base = word[:-1]  # "files" -> "file", "boxes" -> "box"
            if suffix in ("ing", "ed", "ings") and _DOUBLE.search(base):
                base = base[:-1]  # "running" -> "run"
            if not _VOWEL.search(base):
                return word
            return _trim_e(base)
    return _trim_e(word)


def _trim_e(word: str) -> str:
    # "schedule"/"scheduled"/"scheduling" all become "schedul".
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _synonyms() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _GROUPS.strip().splitlines():
        words = line.split()
        canonical = stem(words[0])
        for word in words:
            found.setdefault(stem(word), canonical)
    return found


SYNONYMS = _synonyms()


def canonical(word: str) -> str:
    """The canonical form of a (lower-case) word: its synonym group's, else its stem."""
    stemmed = stem(word)
    return SYNONYMS.get(stemmed, stemmed)


ACTION_WORDS = frozenset(canonical(w) for w in ACTIONS)
WEAK_ACTION_WORDS = frozenset(canonical(w) for w in WEAK_ACTIONS)
TYPE_NOUN_WORDS = {kind: frozenset(canonical(w) for w in words)
                   for kind, words in TYPE_NOUNS.items()}
LIGHT_VERB_WORDS = {canonical(v): frozenset(canonical(w) for w in things)
                    for v, things in LIGHT_VERBS.items()}
