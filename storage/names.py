"""Names as chat apps give them, put in the Vietnamese order (family name first)."""

from __future__ import annotations

from storage.answers import fold

# Common Vietnamese family names that are not also common given names, folded (no diacritics).
_FAMILY = """nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong dinh dao doan
trinh truong luong quach vuong kieu trieu"""
FAMILY_NAMES = frozenset(_FAMILY.split())


def name_from_chat(first: str | None, last: str | None) -> str:
    """A person's name from a chat app's first/last fields, in Vietnamese order.

    Phones ask for "first name" and "last name"; a cadre typing "Hải" and "Lê Văn" is shown by
    the app as "Hải Lê Văn". When the last field starts with a Vietnamese family name and the
    first does not (or the first is one word and the last two or more: "Hoàng" + "Trần Văn"),
    the family name goes first ("Lê Văn Hải"); otherwise the app's order is kept. Used only for
    someone whom no imported record or invite names."""
    first = (first or "").strip()
    last = (last or "").strip()
    if not first or not last:
        return first or last

    def family(words: str) -> bool:
        return fold(words.split()[0]) in FAMILY_NAMES

    one_given = len(first.split()) == 1 and len(last.split()) >= 2  # "Hoàng" + "Trần Văn"
    if family(last) and (not family(first) or one_given):
        return f"{last} {first}"
    return f"{first} {last}"
