"""Hostile input, with hypothesis, through the real Application in process (bot.telegram.local).

A small world: a province with two districts; district H has the grassroots units CS1 and CS2,
district H2 has CS3. People: a Vietnamese reporter of CS1 (who also files a real report while the
noise goes on), an English-speaking reporter of CS2, a supervisor of H, an admin of H, a person
with no role, and an account that is no person at all. CS2 and CS3 already have reports with
figures that appear nowhere else.

Each example is a list of events: random text, Unicode traps (combining marks, RTL and zero-width
marks, emoji, 4,096-character messages), random and forged callback data, commands with junk
arguments, /start with junk codes, edited messages, group messages, stickers, files and photos
where a number is expected, from any of those people — interleaved with the reporter's real
conversation. After each event:

- nothing raised: the error handler was never reached (no apology sent, no ERROR log record);
- every text the bot sent (messages, captions, button answers) is in the sender's language: a
  Vietnamese text has Vietnamese letters; an English text carries no fragment of a Vietnamese-only
  catalog message or form prompt;
- every call went to the sender's own chat (or the group the message came from);
- nothing changed outside the sender's scope (reports, versions, roles and invites per unit);
- no unit name or figure outside the sender's scope appears in any call made for that sender.

CI runs about 60 examples per backend; CADREBOT_HOSTILE_EXAMPLES sets more. The number of inputs
tried is printed at the end (pytest -s shows it; it is also in the test's report section).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import col

from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.i18n import catalog, pick_language, t
from storage.models import (
    CHANNEL_CLI,
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Deliverable,
    Invite,
    Report,
    ReportVersion,
    Role,
    Unit,
)
from storage.reports import save_report
from tests.factories import make_levels, make_person, make_unit, pk
from tests.telegram_harness import Calls, TelegramHarness, TgUser, bind

NOW = datetime(2016, 9, 29, 3, 0, tzinfo=UTC)
LOADED = datetime(2016, 5, 1, tzinfo=UTC)
EXAMPLES = int(os.environ.get("CADREBOT_HOSTILE_EXAMPLES", "40"))

REPORTER = TgUser(9101, "An", language_code="vi")
REPORTER_EN = TgUser(9102, "John", language_code="en")
SUPERVISOR = TgUser(9103, "Em", language_code="vi")
ADMIN = TgUser(9104, "Hà", language_code="vi")
NO_ROLE = TgUser(9105, "Lạ", language_code="vi")
UNKNOWN_VI = TgUser(9106, "Ai", language_code=None)
UNKNOWN_EN = TgUser(9107, "Who", language_code="en")
UNKNOWN_FR = TgUser(9108, "Qui", language_code="fr")
GROUP_ID = -100777
ACTORS = (REPORTER, REPORTER_EN, SUPERVISOR, ADMIN, NO_ROLE, UNKNOWN_VI, UNKNOWN_EN, UNKNOWN_FR)

# Names and figures that exist in one place only (see `build`).
NAME_CS1 = "Đảng bộ xã Đông"
NAME_CS2 = "Đảng bộ xã Tây"
NAME_H = "Huyện ủy Tiên Du"
NAME_H2 = "Huyện ủy Yên Phong"
NAME_CS3 = "Đảng bộ xã Bắc Xa"
FIGURES_CS2 = {"members": 2468, "attended": 2411, "essays": 2399}
FIGURES_CS3 = {"members": 4321, "attended": 4297, "essays": 4283}

VI_LETTERS = set(
    "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
)


def figure_strings(figures: dict[str, int]) -> list[str]:
    out = []
    for value in figures.values():
        out += [str(value), f"{value:,}".replace(",", ".")]
    return out


def vietnamese_only_fragments() -> list[str]:
    """Pieces (>= 12 characters, with Vietnamese letters) of Vietnamese catalog messages and form
    prompts that appear in no English message: one of them in an English chat is a wrong-language
    answer."""
    english = "\n".join(catalog("en").values())
    texts = list(catalog("vi").values())
    texts += [
        line.split(":", 1)[1].strip().strip('"')
        for line in template_text().splitlines()
        if line.strip().startswith(("prompt_vi:", "label_vi:"))
    ]
    fragments: set[str] = set()
    for text in texts:
        for piece in re.split(r"\{[^}]*\}|<[^>]*>|\n", text):
            piece = piece.strip(" .,:;!?()\"'")
            if len(piece) >= 12 and set(piece) & VI_LETTERS and piece not in english:
                fragments.add(piece)
    return sorted(fragments)


VI_ONLY = vietnamese_only_fragments()


@dataclass
class Actor:
    user: TgUser
    lang: str
    may_change: set[int | None]  # units whose reports/versions/roles/invites may change
    forbidden: list[str]  # strings that must never appear in calls made for this actor


@dataclass
class World:
    db: Database
    bot: TelegramHarness
    actors: dict[int, Actor]
    unit_ids: dict[str, int]
    tried: Counter[str] = field(default_factory=Counter)
    last_reporter_calls: Calls = field(default_factory=Calls)


async def build(db: Database) -> World:
    async with db.write() as session:
        await make_levels(session)
        province = await make_unit(session, "T", level="tinh", members=900, name="Tỉnh ủy Bắc Ninh")
        h = await make_unit(session, "H", parent=province, level="huyen", members=200, name=NAME_H)
        cs1 = await make_unit(session, "CS1", parent=h, members=30, name=NAME_CS1)
        cs2 = await make_unit(
            session, "CS2", parent=h, members=FIGURES_CS2["members"], name=NAME_CS2
        )
        h2 = await make_unit(
            session, "H2", parent=province, level="huyen", members=300, name=NAME_H2
        )
        cs3 = await make_unit(
            session, "CS3", parent=h2, members=FIGURES_CS3["members"], name=NAME_CS3
        )
        await load_campaign(
            session=session, definition=parse_definition(template_text()), now=LOADED
        )
        people = {
            REPORTER.id: await make_person(session, "Nguyễn Văn An", roles=[(ROLE_REPORTER, cs1)]),
            REPORTER_EN.id: await make_person(session, "John Smith", roles=[(ROLE_REPORTER, cs2)]),
            SUPERVISOR.id: await make_person(session, "Phạm Văn Em", roles=[(ROLE_SUPERVISOR, h)]),
            ADMIN.id: await make_person(session, "Lê Thị Hà", roles=[(ROLE_ADMIN, h)]),
            NO_ROLE.id: await make_person(session, "Người Không Vai Trò"),
        }
        # Someone for CS3 so that district H2 has roles and invites to protect.
        await make_person(session, "Trần Văn Xa", roles=[(ROLE_REPORTER, cs3)])
        hoi_nghi = (
            await session.execute(select(Deliverable).where(col(Deliverable.key) == "hoi_nghi"))
        ).scalar_one()
        for unit, figures in ((cs2, FIGURES_CS2), (cs3, FIGURES_CS3)):
            await save_report(
                session=session,
                unit_id=pk(unit),
                deliverable_id=pk(hoi_nghi),
                answers={
                    "session_date": date(2016, 8, 20),
                    "duration_halfdays": 2,
                    **figures,
                },
                person_id=None,
                channel=CHANNEL_CLI,
                now=LOADED.replace(month=8, day=25),
            )
        # An open invite to CS3 whose code nobody in the test knows.
        session.add(
            Invite(
                code_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                role_kind=ROLE_REPORTER,
                unit_id=pk(cs3),
                created_at=LOADED,
                expires_at=NOW.replace(year=2017),
            )
        )
    for user, person in people.items():
        tg = next(a for a in ACTORS if a.id == user)
        await bind(db, pk(person), tg)
    units = {
        "T": pk(province),
        "H": pk(h),
        "CS1": pk(cs1),
        "CS2": pk(cs2),
        "H2": pk(h2),
        "CS3": pk(cs3),
    }
    cs3_secrets = [NAME_H2, NAME_CS3, *figure_strings(FIGURES_CS3)]
    everything = [NAME_CS1, NAME_CS2, NAME_H, *cs3_secrets, *figure_strings(FIGURES_CS2)]
    actors = {
        REPORTER.id: Actor(
            REPORTER, "vi", {units["CS1"]}, [NAME_CS2, *figure_strings(FIGURES_CS2), *cs3_secrets]
        ),
        REPORTER_EN.id: Actor(REPORTER_EN, "en", {units["CS2"]}, [NAME_CS1, *cs3_secrets]),
        SUPERVISOR.id: Actor(SUPERVISOR, "vi", set(), cs3_secrets),
        ADMIN.id: Actor(ADMIN, "vi", {units["H"], units["CS1"], units["CS2"]}, cs3_secrets),
        NO_ROLE.id: Actor(NO_ROLE, "vi", set(), everything),
    }
    for account in (UNKNOWN_VI, UNKNOWN_EN, UNKNOWN_FR):
        lang = pick_language(account.language_code, "vi")
        actors[account.id] = Actor(account, lang, set(), everything)
    bot = await TelegramHarness.start(db=db, clock=lambda: NOW)
    return World(db=db, bot=bot, actors=actors, unit_ids=units)


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    w = await build(db)
    yield w
    await w.bot.stop()
    total = sum(n for k, n in w.tried.items() if not k.startswith("receipts"))
    print(f"\nhostile input: {total} inputs tried ({dict(sorted(w.tried.items()))})")


# ------------------------------------------------------------------------------ snapshots


async def snapshot(db: Database) -> dict[tuple[str, int | None], int]:
    """Row counts per (table, unit) for reports, versions, roles and invites."""
    result: dict[tuple[str, int | None], int] = {}
    async with db.read() as session:
        queries: list[tuple[str, Any]] = [
            ("report", select(col(Report.unit_id), func.count()).group_by(col(Report.unit_id))),
            (
                "version",
                select(col(Report.unit_id), func.count())
                .select_from(ReportVersion)
                .join(Report, col(Report.id) == col(ReportVersion.report_id))
                .group_by(col(Report.unit_id)),
            ),
            ("role", select(col(Role.unit_id), func.count()).group_by(col(Role.unit_id))),
            ("invite", select(col(Invite.unit_id), func.count()).group_by(col(Invite.unit_id))),
            (
                "invite_used",
                select(col(Invite.unit_id), func.count())
                .where(col(Invite.used_at).is_not(None))
                .group_by(col(Invite.unit_id)),
            ),
            ("unit", select(col(Unit.id), func.count()).group_by(col(Unit.id))),
        ]
        for name, query in queries:
            for unit_id, count in (await session.execute(query)).all():
                result[(name, unit_id)] = int(count)
    return result


# ------------------------------------------------------------------------------ strategies

UNICODE_PIECES = [
    "\u0301",  # combining acute
    "\u0323\u0309",  # combining dot below + hook above
    "a\u0306\u0301",  # ắ decomposed
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # BOM
    "👍🏽",
    "🇻🇳",
    "👨‍👩‍👧",
    "ﷺ",
    "مرحبا",
    "२५",  # Devanagari digits
    "２５",  # full-width digits
    "25",
    "25 đồng chí",
    "28/9",
    "-1",
    "1e9",
    "99999999999999999999999",
    "<b>",
    "&amp;",
    "</a>",
    "%s{name}",
    "\n",
    "\t",
    " ",
    "Đ",
    "\\",
    "'",
    '"',
]
SQLISH = [
    "'; DROP TABLE report; --",
    "1 OR 1=1",
    '" OR ""="',
    "%",
    "_",
    "CS1' --",
    "$(rm -rf /)",
]
CODES = ["T", "H", "CS1", "CS2", "H2", "CS3", "cs3", " CS3 ", "CS3\u200b"]

unicode_text = st.lists(st.sampled_from(UNICODE_PIECES), min_size=1, max_size=30).map("".join)
random_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=300,
)
long_text = st.builds(
    lambda unit: (unit * 4096)[:4096], st.sampled_from([*UNICODE_PIECES, "a", "9", "đồng chí "])
)
plain_text = st.one_of(random_text, unicode_text, long_text, st.sampled_from(SQLISH + CODES))

COMMANDS = [
    "start", "baocao", "report", "capnhat", "update", "tinhtrang", "status", "huy", "cancel",
    "tonghop", "digest", "thongke", "stats", "donvi", "unit", "nhacnho", "remind", "xuat",
    "export", "moi", "invite", "phancong", "assign", "dot", "campaigns", "trogiup", "help",
    "BAOCAO", "baocao@cadrebot_test", "baocao@someone_else", "khong_co", "x" * 40,
]  # fmt: skip
argument = st.one_of(
    st.sampled_from(CODES + SQLISH + ["all", "tat_ca", "0", "-5", "9" * 30, "x" * 300]),
    random_text.map(lambda s: s.replace("\n", " ")[:300]),
    unicode_text,
)
command_text = st.builds(
    lambda name, args: " ".join([f"/{name}", *args]),
    st.sampled_from(COMMANDS),
    st.lists(argument, max_size=4),
)
start_text = st.builds(
    lambda code: f"/start {code}",
    st.one_of(
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
            min_size=1,
            max_size=64,
        ),
        st.sampled_from(["x" * 300, "", *SQLISH]),
        unicode_text,
    ),
)


def _short(data: str) -> bool:
    return 1 <= len(data.encode("utf-8")) <= 64


forged_data = st.builds(
    lambda draft, rev, nonce, token: f"c:{draft}:{rev}:{nonce}:{token}",
    st.one_of(st.integers(-3, 50), st.integers(10**15, 10**19)),
    st.integers(-3, 40),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=10),
    st.sampled_from(
        [
            "k",
            "x",
            "e",
            "b",
            "s0",
            "s1",
            "s99",
            "f0",
            "f3",
            "f99",
            "u1",
            "d1",
            "d2",
            "r1",
            "",
            "k:k",
        ]
    ),
).filter(_short)
callback_data = st.one_of(
    forged_data,
    st.text(max_size=64).filter(_short),
    st.sampled_from(["xuat:", "xuat:1", "xuat:999", "xuat:-1", "xuat:abc", "c:", "c::::"]),
)

actor_ids = st.sampled_from([a.id for a in ACTORS])
Event = tuple[str, int, str]
event: st.SearchStrategy[Event] = st.one_of(
    st.tuples(st.just("text"), actor_ids, plain_text),
    st.tuples(st.just("command"), actor_ids, command_text),
    st.tuples(st.just("start"), actor_ids, start_text),
    st.tuples(st.just("callback"), actor_ids, callback_data),
    st.tuples(st.just("edited"), actor_ids, st.one_of(plain_text, command_text)),
    st.tuples(st.just("group"), actor_ids, st.one_of(plain_text, command_text)),
    st.tuples(st.sampled_from(["sticker", "document", "photo"]), actor_ids, st.just("")),
    st.tuples(st.just("step"), st.just(REPORTER.id), st.just("")),
)


# ------------------------------------------------------------------------------ the reporter


def button(calls: Calls, label: str) -> str | None:
    for b in calls.buttons():
        if label in b["text"]:
            return str(b["callback_data"])
    return None


ANSWERS = {
    1: "28/8",
    2: "2",
    3: "30",
    4: "28 đồng chí",
    5: "0",
    6: "Đồng chí Nguyễn Văn B",
    7: "27",
}


def next_step(last: Calls) -> tuple[str, str]:
    """The reporter's next real move, from the bot's last answer to them."""
    text = last.text()
    for label in ("Xác nhận", "Hội nghị học tập"):
        data = button(last, label)
        if data is not None:
            return "callback", data
    found = re.search(r"Câu (\d+)/8", text)
    if found:
        return "text", ANSWERS[int(found.group(1))]
    return "command", "/baocao"


# ------------------------------------------------------------------------------ one event


def make_update(w: World, kind: str, user: TgUser, payload: str) -> dict[str, Any]:
    u = w.bot.updates
    if kind in {"text", "command", "start"}:
        return u.text(payload, user)
    if kind == "callback":
        return u.callback(payload, user)
    if kind == "edited":
        return u.edited(payload, user)
    if kind == "group":
        return u.group_text(payload, user, group_id=GROUP_ID)
    if kind == "sticker":
        return u.sticker(user)
    data = u.text("x", user)
    message = data["message"]
    del message["text"]
    if kind == "document":
        message["document"] = {"file_id": "doc1", "file_unique_id": "du1", "file_name": "25.xlsx"}
        message["caption"] = "25"
    else:
        message["photo"] = [{"file_id": "ph1", "file_unique_id": "pu1", "width": 9, "height": 9}]
    return data


def check_language(actor: Actor, calls: Calls) -> None:
    said = [c.text for c in calls if c.method in {"sendMessage", "sendPhoto", "sendDocument"}]
    said += [str(c.params.get("text") or "") for c in calls.of("answerCallbackQuery")]
    for text in filter(None, said):
        if actor.lang == "vi":
            assert set(text) & VI_LETTERS, f"not Vietnamese for {actor.user}: {text!r}"
        else:
            wrong = [f for f in VI_ONLY if f in text]
            assert not wrong, f"Vietnamese text for an English user: {wrong} in {text!r}"


async def run_event(w: World, kind: str, user_id: int, payload: str, caplog: Any) -> None:
    actor = w.actors[user_id]
    shown = repr(payload[:80])
    if kind == "step":
        kind, payload = next_step(w.last_reporter_calls)
    w.tried[kind] += 1
    before = await snapshot(w.db)
    caplog.clear()
    calls = await w.bot.process(make_update(w, kind, actor.user, payload))
    after = await snapshot(w.db)

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, f"{kind} {shown} from {actor.user}: {errors[0].getMessage()}"
    apology = t("telegram.error", actor.lang)
    assert apology not in calls.texts(), f"error handler reached for {kind} {shown}"
    check_language(actor, calls)
    own_chats = {str(actor.user.id), str(GROUP_ID)}
    assert all(c.chat_id in own_chats for c in calls if c.chat_id is not None), calls.everything()
    everything = calls.everything()
    leaked = [s for s in actor.forbidden if s in everything and s not in payload]
    assert not leaked, f"{leaked} shown to {actor.user} after {kind} {shown}"
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    outside = {key for key in changed if key[1] not in actor.may_change}
    assert not outside, f"{kind} {shown} from {actor.user} changed {outside}"
    if user_id == REPORTER.id and kind != "edited" and kind != "group" and len(calls):
        w.last_reporter_calls = calls
        if "Đã ghi nhận" in calls.text():
            w.tried["receipts (not inputs)"] += 1


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("CADREBOT_HOSTILE_RANDOM") is None,
)
@given(events=st.lists(event, min_size=1, max_size=12))
async def test_hostile_input_never_crashes_leaks_or_changes_other_scopes(
    world: World, events: list[Event], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for kind, user_id, payload in events:
        await run_event(world, kind, user_id, payload, caplog)


# -- hostile files: unit, people and paper-report imports; campaign YAML ----------------------
#
# Pure readers, no world: whatever bytes a file holds, each reader either returns rows whose
# text carries no control or format character, or its own refusal with line numbers; never
# another exception. NUL bytes are refused by line (PostgreSQL cannot store them). Campaign YAML
# built from anchors, aliases, nesting and junk gives a value or a DefinitionError, quickly.

_HOSTILE_CELL = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Mn"]), max_size=12),
    st.sampled_from(["=1+1", "+84", "-2", "@SUM(A1)", "\t=x", "\r", "\x00", '"', "a\nb"]),
    st.builds(lambda n: "x" * n, st.integers(0, 140_000)),
)


def _csv_bytes(rows: list[list[str]]) -> bytes:
    import csv
    import io

    handle = io.StringIO()
    csv.writer(handle).writerows(rows)
    return handle.getvalue().encode("utf-8", "surrogatepass")


def _no_controls(text: object) -> bool:
    import unicodedata

    return not isinstance(text, str) or not any(
        unicodedata.category(c) in {"Cc", "Cf"} for c in text
    )


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(rows=st.lists(st.lists(_HOSTILE_CELL, min_size=5, max_size=5), max_size=6))
def test_hostile_unit_people_and_report_files_are_refused_by_line_or_read_clean(
    rows: list[list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from bot.cli.people import TableFileError, read_table
    from storage.report_import import ReportImportError, cell_text, read_tables
    from storage.unit_import import read_units_file

    folder = tmp_path_factory.mktemp("hostile")
    try:
        data = _csv_bytes([["code", "name", "level", "parent_code", "members"], *rows])
    except UnicodeEncodeError:
        return
    units = folder / "units.csv"
    units.write_bytes(data)
    parsed, errors = read_units_file(units)
    for row in parsed:
        assert _no_controls(row.code) and _no_controls(row.name) and _no_controls(row.level)
    assert all(error.line >= 1 for error in errors)

    people = folder / "people.csv"
    people.write_bytes(data.replace(b"code,name,level", b"name,role,units", 1))
    try:
        table, _ = read_table(people)
    except TableFileError as exc:
        assert str(exc)
    else:
        assert all(_no_controls(v) for row in table for v in row.values())

    reports = folder / "reports.csv"
    reports.write_bytes(data.replace(b"code,", b"unit_code,", 1))
    try:
        tables = read_tables(reports)
    except ReportImportError as exc:
        assert exc.messages() and all(m.startswith("Dòng") for m in exc.messages())
    else:
        assert all(
            _no_controls(cell_text(cell)) for t_ in tables for _, cells in t_.rows for cell in cells
        )


_YAML_PIECES = st.sampled_from(
    ["&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ", ", ": ", "\n", "- ", "x", "1", '"', "!!str "]
)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(pieces=st.lists(_YAML_PIECES, max_size=60), junk=st.text(max_size=30))
def test_hostile_campaign_yaml_is_a_definition_error_or_nothing(
    pieces: list[str], junk: str
) -> None:
    from storage.campaigns import DefinitionError

    for text in ("".join(pieces), junk, template_text() + "".join(pieces)):
        try:
            parse_definition(text)
        except DefinitionError as exc:
            assert [p.render() for p in exc.problems]
