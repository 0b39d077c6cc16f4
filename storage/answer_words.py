"""The one normaliser of typed answers: what a secretary writes, read the way they mean it.

Pure functions over *folded* text (`storage.answers.fold`: no diacritics, lower case), used by
`storage.forms.parse_answer` for every channel and for paper reports alike:

- `variants("52 ạ!")` -> ["52 a", "52"]: the answer without courtesy particles ("ạ", "nhé",
  "dạ", "thưa đồng chí") and punctuation; the parser tries each in turn, the last one is what
  was understood;
- `number_words("hai muoi lam")` -> 25: Vietnamese number words (mốt, tư, lăm, linh, trăm,
  nghìn; "hai lăm" = 25);
- `halfdays("nua ngay")` -> 1: a length said in days (1 day = 2 buổi);
- `relative_date("thu hai tuan truoc", today)`: hôm nay/qua/kia, weekdays with tuần này/trước;
- `NONE_WORDS`: "không", "không có", "ko", "chưa có" (0 where 0 is allowed, else a skip);
- `typed_command("bao cao")` -> "baocao": a command typed without its slash;
- `name_problem("45")`: why a text is not a person's name.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

# Said around an answer out of politeness; never part of the answer. Folded, longest first.
_LEADING = ("thua dong chi", "bao cao dong chi", "da vang", "vang", "da", "thua")
_TRAILING = (
    "a dong chi",
    "dong chi a",
    "nhe a",
    "a nhe",
    "nha a",
    "a nha",
    "nhe",
    "nha",
    "oi",
    "a",
    "ah",
    "day",
    "day a",
    "vay",
    "luon",
)
_PUNCTUATION = " .,!?;:…\"'“”‘’()[]"
_SPACES = re.compile(r"\s+")

NONE_WORDS = frozenset(
    {
        "khong",
        "khong co",
        "ko",
        "k",
        "kg",
        "kh",
        "khg",
        "ko co",
        "k co",
        "chua",
        "chua co",
        "khong ai",
        "khong co ai",
        "chua co ai",
        "khong co nguoi nao",
        "none",
        "no",
    }
)


def _tidy(folded: str) -> str:
    return _SPACES.sub(" ", folded.strip(_PUNCTUATION)).strip(_PUNCTUATION).strip()


def variants(folded: str) -> list[str]:
    """The answer as typed (punctuation trimmed), then without courtesy words, one step at a
    time. Never empty unless the text is; no duplicates; the last is the barest form."""
    current = _tidy(folded)
    if not current:
        return []
    found = [current]
    for _ in range(4):
        before = current
        for word in _TRAILING:
            if current.endswith(" " + word) and len(current) > len(word) + 1:
                current = _tidy(current[: -len(word) - 1])
                break
        if current not in found:
            found.append(current)
        for word in _LEADING:
            after = current[len(word) : len(word) + 1]
            if current.startswith(word) and after in (" ", ",") and len(current) > len(word) + 1:
                current = _tidy(current[len(word) + 1 :])
                break
        if current not in found:
            found.append(current)
        if current == before:
            break
    return found


# --- numbers ------------------------------------------------------------------------------------

_DIGIT_WORDS = {
    "khong": 0,
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "nam": 5,
    "lam": 5,
    "nham": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
}
# After "mươi" (or as the colloquial second digit, "hai mốt" = 21) these mean a units digit.
_UNITS_AFTER_TENS = {"mot": 1, "tu": 4, "lam": 5, "nham": 5}
_ZERO_FILLERS = frozenset({"linh", "le"})
_SCALES = {"tram": 100, "nghin": 1000, "ngan": 1000}
_TENS = "muoi"
_MAX_WORDS = 12


def _below_hundred(words: list[str]) -> int | None:
    """0..99 from words: "muoi", "muoi lam", "hai muoi", "hai muoi mot", "hai mot", "chin"."""
    if not words:
        return 0
    if words[0] == _TENS:
        rest = words[1:]
        if not rest:
            return 10
        if len(rest) == 1 and rest[0] in _DIGIT_WORDS and rest[0] != "khong":
            return 10 + _DIGIT_WORDS[rest[0]]
        return None
    first = words[0]
    if first not in _DIGIT_WORDS or first in ("lam", "nham"):
        return None
    lead = _DIGIT_WORDS[first]
    rest = words[1:]
    if not rest:
        return lead
    if rest[0] == _TENS and lead >= 2:
        tail = rest[1:]
        if not tail:
            return lead * 10
        if len(tail) == 1 and tail[0] in _DIGIT_WORDS and tail[0] != "khong":
            return lead * 10 + _DIGIT_WORDS[tail[0]]
        return None
    if len(rest) == 1 and rest[0] in _UNITS_AFTER_TENS and lead >= 2:
        return lead * 10 + _UNITS_AFTER_TENS[rest[0]]  # "hai mốt" = 21, "ba lăm" = 35
    return None


def _below_thousand(words: list[str]) -> int | None:
    if "tram" in words:
        at = words.index("tram")
        head = words[:at]
        if len(head) != 1 or head[0] not in _DIGIT_WORDS:
            return None
        rest = words[at + 1 :]
        if rest and rest[0] in _ZERO_FILLERS:
            if len(rest) != 2 or rest[1] not in _DIGIT_WORDS:
                return None
            return _DIGIT_WORDS[head[0]] * 100 + _DIGIT_WORDS[rest[1]]
        if len(rest) == 1 and rest[0] in _UNITS_AFTER_TENS:
            # "hai trăm mốt" = 210 (colloquial: the tens digit)
            return _DIGIT_WORDS[head[0]] * 100 + _UNITS_AFTER_TENS[rest[0]] * 10
        tail = _below_hundred(rest)
        return None if tail is None else _DIGIT_WORDS[head[0]] * 100 + tail
    return _below_hundred(words)


def number_words(folded: str) -> int | None:
    """A whole number written in Vietnamese words (folded), or None. Up to 999.999."""
    words = folded.split()
    if not words or len(words) > _MAX_WORDS:
        return None
    if words == ["khong"]:
        return 0
    for scale in ("nghin", "ngan"):
        if scale in words:
            at = words.index(scale)
            head = _below_thousand(words[:at]) if words[:at] else None
            if head is None or head == 0:
                return None
            rest = words[at + 1 :]
            if rest and rest[0] == "khong" and len(rest) > 1:
                rest = rest[1:]  # "một nghìn không trăm ..." is read the same
            tail = _below_thousand(rest)
            return None if tail is None else head * 1000 + tail
    known = _DIGIT_WORDS.keys() | _SCALES.keys() | _ZERO_FILLERS | {_TENS}
    if any(word not in known for word in words):
        return None
    return _below_thousand(words)


_DAYS = re.compile(r"^(\d{1,2}|[a-z ]+?)\s*ngay$")


def halfdays(folded: str) -> int | None:
    """A session length said in days: "nửa ngày" = 1 buổi, "1 ngày" / "cả ngày" = 2,
    "hai ngày" = 4, "một ngày rưỡi" = 3."""
    if folded in ("nua ngay", "1/2 ngay", "mot buoi", "buoi sang", "buoi chieu"):
        return 1
    if folded in ("ca ngay", "tron ngay", "mot ngay", "1 ngay"):
        return 2
    half = folded.endswith(" ruoi")
    core = folded[: -len(" ruoi")] if half else folded
    match = _DAYS.match(core)
    if match is None:
        return None
    count_text = match.group(1).strip()
    count = int(count_text) if count_text.isdigit() else number_words(count_text)
    if count is None or count <= 0:
        return None
    return count * 2 + (1 if half else 0)


# --- dates --------------------------------------------------------------------------------------

_WEEKDAYS = {
    "thu hai": 0,
    "thu 2": 0,
    "t2": 0,
    "thu ba": 1,
    "thu 3": 1,
    "t3": 1,
    "thu tu": 2,
    "thu 4": 2,
    "t4": 2,
    "thu nam": 3,
    "thu 5": 3,
    "t5": 3,
    "thu sau": 4,
    "thu 6": 4,
    "t6": 4,
    "thu bay": 5,
    "thu 7": 5,
    "t7": 5,
    "chu nhat": 6,
    "cn": 6,
}
_LAST_WEEK = ("tuan truoc", "tuan roi", "tuan vua roi", "tuan qua")
_THIS_WEEK = ("tuan nay", "vua roi", "vua qua", "nay")
_SIMPLE_DAYS = {
    "hom nay": 0,
    "nay": 0,
    "today": 0,
    "hnay": 0,
    "h nay": 0,
    "sang nay": 0,
    "chieu nay": 0,
    "toi nay": 0,
    "hom qua": 1,
    "qua": 1,
    "yesterday": 1,
    "hqua": 1,
    "sang qua": 1,
    "chieu qua": 1,
    "toi qua": 1,
    "hom kia": 2,
    "hom truoc": 2,
}


def relative_date(folded: str, today: date) -> date | None:
    """Hôm nay / hôm qua / hôm kia, and a weekday: "thứ hai" (the latest Monday, today
    included), "thứ hai tuần này", "thứ hai tuần trước" (in the week before this one, weeks
    starting on Monday). `today` is the local date in the campaign's timezone."""
    word = folded.removeprefix("ngay ").strip()
    if word in _SIMPLE_DAYS:
        return today - timedelta(days=_SIMPLE_DAYS[word])
    for name, weekday in _WEEKDAYS.items():
        if word == name or word.startswith(name + " "):
            rest = word[len(name) :].strip()
            monday = today - timedelta(days=today.weekday())
            if rest in _LAST_WEEK:
                return monday - timedelta(days=7) + timedelta(days=weekday)
            if rest == "" or rest in _THIS_WEEK:
                candidate = monday + timedelta(days=weekday)
                if rest == "" and candidate > today:
                    candidate -= timedelta(days=7)
                return candidate
            return None
    return None


# --- commands and names -------------------------------------------------------------------------

_TYPED_COMMANDS = {
    "bao cao": "baocao",
    "baocao": "baocao",
    "gui bao cao": "baocao",
    "cap nhat": "capnhat",
    "capnhat": "capnhat",
    "tinh trang": "tinhtrang",
    "tinhtrang": "tinhtrang",
}


def typed_command(folded: str) -> str | None:
    """A reporting command typed as words without its slash ("báo cáo", "Bao cao ạ")."""
    for variant in variants(folded):
        if variant in _TYPED_COMMANDS:
            return _TYPED_COMMANDS[variant]
    return None


_NOT_NAMES = NONE_WORDS | {"co", "roi", "da", "chua biet", "khong biet", "ko biet", "x", "ok"}


def name_problem(folded: str) -> str | None:
    """Why this is not a person's name (a catalog key), or None. A name has letters, is not
    a number and is not a "no" word ("không", "chưa có")."""
    barest = variants(folded)[-1] if folded.strip() else ""
    if barest in _NOT_NAMES or folded.strip(_PUNCTUATION) in _NOT_NAMES:
        return "form.error.not_a_name"
    letters = sum(1 for char in barest if char.isalpha())
    if letters < 2:
        return "form.error.not_a_name"
    return None
