"""The invite code itself: a form a person can read aloud over the phone and type on a phone.

A code is 10 characters in two groups of 5, written `K7Q4M-2XP9T`, from 25 symbols: the digits
2-9 and the consonants B C F G H J K M N P Q R S T V X Z. Left out: 0/O, 1/I/L (confused when
read or written by hand), and every vowel plus D and W, because Vietnamese phone keyboards
rewrite them as the person types (Telex: "aa" -> "â", "as" -> "á", "dd" -> "đ", "w" -> "ư"; VNI:
"a1" -> "á"): without vowels no keystroke of a code can become a Vietnamese letter. Each group
holds at least one digit and one letter, so no Vietnamese or English word, phone number or
date can look like a code when a code is searched for inside a sentence.

Case, spaces, dashes and full-width characters do not matter: "k7q4m 2xp9t", "K7Q4M2XP9T" and
"Mã của em là k7q4m - 2xp9t ạ" all carry the same code (`find_code`). A code never starts with
`-` (the alphabet has none), so it is never read as a command-line option.

Unguessable at the attempt limit. A group has 25^5 - 17^5 - 8^5 = 8,313,000 possible values
(all strings minus the all-letter and all-digit ones), a code 8,313,000^2 = 6.9 x 10^13, i.e.
46.0 bits. `storage.attempts` locks a chat account for an hour after 5 wrong codes, so one
account tests at most 120 codes a day, 1,680 over the default 14-day validity. With 300,000
invites open at once (every unit of the country) one guess hits with probability
300,000 / 6.9e13 = 4.3e-9, and one account trying for the whole 14 days with 7.3e-6: an
attacker needs about 95,000 chat accounts, each guessing for two weeks, for even odds (each
Zalo or Telegram account needs its own registered phone number). A province's 2,000 open
invites make that 100 times harder still.

Older codes (24 URL-safe characters, case-sensitive, from before this format) are still
accepted exactly as typed until they expire (at most 365 days after they were made) or are
revoked: they are hashed as typed, so nothing needs migrating and nothing old breaks. They are
recognised only as a whole word of exactly 24 such characters. `cadrebot invite list` shows
which are still open; `invite revoke` takes their number.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

DIGITS = "23456789"
LETTERS = "BCFGHJKMNPQRSTVXZ"
ALPHABET = DIGITS + LETTERS
GROUP = 5
GROUPS = 2
LENGTH = GROUP * GROUPS
# What may stand between two characters of a code typed by a person (spaces, dashes, a dot).
_SEP = r"[\s\-‐‑‒–—−._]{0,3}"
_CHAR = f"[{ALPHABET}]"
_FIND = re.compile(
    r"(?<![0-9A-Z])" + f"({_CHAR}(?:{_SEP}{_CHAR}){{{LENGTH - 1}}})" + r"(?![0-9A-Z])"
)
_DROP = re.compile(r"[^0-9A-Z]")
# The way the bot itself writes a code (what `mask_codes` hides in stored copies).
_WRITTEN = re.compile(rf"(?<![0-9A-Za-z]){_CHAR}{{{GROUP}}}-{_CHAR}{{{GROUP}}}(?![0-9A-Za-z])")
MASK = "•" * GROUP + "-" + "•" * GROUP

# Codes from before this format: 24 URL-safe characters (secrets.token_urlsafe(18)).
LEGACY_LENGTH = 24
_LEGACY = re.compile(rf"[A-Za-z0-9_-]{{{LEGACY_LENGTH}}}")
_TRIM = "\"'“”‘’«»()[]<>.,;:!?"


def _group_ok(group: str) -> bool:
    return any(c in DIGITS for c in group) and any(c in LETTERS for c in group)


def _random_group() -> str:
    while True:
        group = "".join(secrets.choice(ALPHABET) for _ in range(GROUP))
        if _group_ok(group):
            return group


def new_code() -> str:
    """A fresh random code in its written form, `K7Q4M-2XP9T`."""
    return "-".join(_random_group() for _ in range(GROUPS))


def written(compact: str) -> str:
    """`K7Q4M2XP9T` -> `K7Q4M-2XP9T`."""
    return "-".join(compact[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def _canonical(candidate: str) -> str | None:
    compact = _DROP.sub("", candidate)
    if len(compact) != LENGTH:
        return None
    groups = [compact[i : i + GROUP] for i in range(0, LENGTH, GROUP)]
    if not all(_group_ok(g) for g in groups):
        return None
    return written(compact)


def _legacy_in(text: str) -> str | None:
    for word in text.split():
        word = word.strip(_TRIM)
        if _LEGACY.fullmatch(word):
            return word
    return None


def find_code(text: str) -> str | None:
    """The invite code in what a person typed (alone, after /start, inside a sentence, in a
    pasted link), in its written form `K7Q4M-2XP9T`; or an older 24-character code as typed;
    None when there is none. The first code wins."""
    if not text:
        return None
    legacy = _legacy_in(text)
    if legacy is not None and _canonical(legacy) is None:
        return legacy
    folded = unicodedata.normalize("NFKC", text).upper()
    start = 0
    while (match := _FIND.search(folded, start)) is not None:
        code = _canonical(match.group(1))
        if code is not None:
            return code
        start = match.start() + 1  # overlapping: "BCFGH K7Q4M 2XP9T" holds a code
    return None


def normalise_code(text: str) -> str | None:
    """The code when `text` is a code and nothing else (spaces and dashes allowed), else None."""
    code = find_code(text)
    if code is None:
        return None
    if code == text.strip():
        return code
    rest = _DROP.sub("", unicodedata.normalize("NFKC", text).upper())
    return code if rest == code.replace("-", "") else None


def is_well_formed(text: str) -> bool:
    return normalise_code(text) is not None


def hash_code(code: str) -> str:
    """SHA-256 of a code: of its compact upper-case form for a code of this format (so every way
    of typing it gives the same hash), of the exact text for an older code."""
    canonical = _canonical(unicodedata.normalize("NFKC", code).upper())
    if canonical is not None and not _LEGACY.fullmatch(code.strip()):
        value = canonical.replace("-", "")
    else:
        value = code.strip()
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()


def mask_codes(text: str) -> tuple[str, bool]:
    """`text` with every code written the bot's way replaced by `MASK`, and whether any was."""
    masked, count = _WRITTEN.subn(MASK, text)
    return masked, count > 0
