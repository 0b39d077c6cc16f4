"""Every bot command (Vietnamese and English names, and the /xuat button) × every role, through
the real Application: nobody reads outside their scope, strangers and removed people learn
nothing at all, and a removal takes effect on the very next update.

The world: province T > district H (CS1, CS2) and district H2 (CS3). CS1 and CS3 have reported;
CS3's figures are distinctive (4.321 members, 4.000 attending, 3.999 essays), so any leak of
them into a reply, a caption or a sent file name shows up in the recorded Bot API calls."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlmodel import col

from storage.access import Scope, TargetRole, may_act_on, person_to_act_on, scope_of
from storage.db import Database
from storage.i18n import t
from storage.models import (
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Campaign,
    Invite,
    Outbox,
    Role,
    Unit,
)
from storage.people import find_person_by_identity, remove_person, set_role
from storage.reports import save_report
from tests.factories import make_person, make_unit, pk
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import Calls, RecordingRequest, TelegramHarness, TgUser, bind

STRANGER = TgUser(8601, "Lạ")
REPORTER = TgUser(8602, "A")
SUPERVISOR = TgUser(8603, "E")
DISTRICT_ADMIN = TgUser(8604, "Huyện")
PROVINCE_ADMIN = TgUser(8605, "Tỉnh")
REMOVED = TgUser(8606, "Cũ")
ROLES = {
    "stranger": STRANGER,
    "reporter": REPORTER,
    "supervisor": SUPERVISOR,
    "district_admin": DISTRICT_ADMIN,
    "province_admin": PROVINCE_ADMIN,
    "removed": REMOVED,
}

PROVINCE = "Tỉnh ủy Thử Nghiệm"
DISTRICT = "Huyện ủy Gia Bình"
OTHER_DISTRICT = "Huyện ủy Lương Tài"
CS1 = "Đảng bộ xã Đông"
CS2 = "Đảng bộ xã Tây"
CS3 = "Đảng bộ xã Bắc"
# CS3's own figures (in messages, and as workbook cells), and the province's pooled grassroots
# figures that only exist with CS3 counted (25+4.000 of 30+4.321 attending; 2 of 3 reported).
OUTSIDE_FIGURES = ("4.321", "4.000", "3.999", "|4321|", "|3999|", "92,5%", "99,9%", "2/3 đơn vị")
REFUSAL = t("telegram.refusal", "vi", organisation=t("organisation.name", "vi"))
UNKNOWN_CODE = t("telegram.start.refused.unknown", "vi")
CALLBACK_REFUSED = t("cmd.refused", "vi")
NOT_FOR_REPORTERS = t("cmd.not_allowed", "vi")
REFERENCE = "13-KH/TU"

# Every command the bot registers (handlers.py, reporting.py, supervision, admin.py), with
# arguments that aim outside the district where arguments are taken. {other} is CS3's unit id,
# {outsider} the id of CS3's reporter. The campaign-closing command comes last.
COMMANDS = (
    "/start",
    "/start K7Q4M-2XP9T",
    "/trogiup",
    "/help",
    "/baocao",
    "/report",
    "/capnhat",
    "/update",
    "/tinhtrang",
    "/status",
    "/huy",
    "/cancel",
    "/tonghop",
    "/digest",
    "/thongke",
    "/stats",
    "/donvi CS3",
    "/unit CS3",
    "/donvi CS2",
    "/donvi CS1",
    "/nhacnho CS3",
    "/remind CS3",
    "/xuat",
    "/xuat CS3",
    "/export CS3",
    "/moi baocao CS3 Nguyễn Văn Mới",
    "/invite giamsat CS3",
    "/phancong {outsider} CS3",
    "/assign {outsider} CS1",
    "/phancong {inside} CS3",
    "/dot",
    "/campaigns",
    "BUTTON xuat:{campaign}:{other}",
    "/dot dong " + REFERENCE,
)

# What each role may see named: everything else is a leak.
ALLOWED = {
    "stranger": set(),
    "removed": set(),
    "reporter": {CS1},
    "supervisor": {DISTRICT, CS1, CS2},
    "district_admin": {DISTRICT, CS1, CS2},
    "province_admin": {PROVINCE, DISTRICT, OTHER_DISTRICT, CS1, CS2, CS3},
}
# The workbook's "parent" column names the unit above the exported subtree (a name, no figure).
WORKBOOK_ALSO = {"supervisor": {PROVINCE}, "district_admin": {PROVINCE}}
UNIT_NAMES = (PROVINCE, DISTRICT, OTHER_DISTRICT, CS1, CS2, CS3)


@dataclass
class Setup:
    harness: TelegramHarness
    db: Database
    campaign_id: int
    other_id: int  # CS3
    outsider_id: int  # CS3's reporter
    inside_id: int  # the district's supervisor
    request: RecordingRequest
    removed_id: int
    district_id: int


SESSION = {
    "session_date": date(2016, 8, 28),
    "duration_halfdays": 2,
    "members": 30,
    "attended": 25,
    "nonmembers_attended": None,
    "presenter": "Đ/c Trần Văn B",
    "essays": 20,
}


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world = await build_world(db)
    async with db.write() as session:
        for unit_id, name in ((world.province_id, PROVINCE), (world.other_unit_id, CS2)):
            await session.execute(update(Unit).where(col(Unit.id) == unit_id).values(name=name))
        await session.execute(
            update(Unit).where(col(Unit.code) == "H").values(name=DISTRICT, members=200)
        )
        province = await session.get(Unit, world.province_id)
        district = await session.get(Unit, world.province_id + 1)
        assert district is not None and district.code == "H"
        h2 = await make_unit(
            session, "H2", parent=province, level="huyen", members=5000, name=OTHER_DISTRICT
        )
        cs3 = await make_unit(session, "CS3", parent=h2, level="co_so", members=4321, name=CS3)
        outsider = await make_person(session, "Đỗ Thị F", roles=[(ROLE_REPORTER, cs3)])
        district_admin = await make_person(session, "VP Huyện ủy", roles=[(ROLE_ADMIN, district)])
        province_admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
        removed = await make_person(session, "Người đã nghỉ", roles=[(ROLE_ADMIN, None)])
        for unit_id, answers in (
            (world.unit_id, SESSION),
            (pk(cs3), {**SESSION, "members": 4321, "attended": 4000, "essays": 3999}),
        ):
            await save_report(
                session=session,
                unit_id=unit_id,
                deliverable_id=world.deliverables["hoi_nghi"],
                answers=answers,
                person_id=None,
                channel="cli",
                now=NOW - timedelta(days=40),
            )
    await bind(db, world.reporter_id, REPORTER)
    await bind(db, world.supervisor_id, SUPERVISOR)
    await bind(db, pk(district_admin), DISTRICT_ADMIN)
    await bind(db, pk(province_admin), PROVINCE_ADMIN)
    await bind(db, pk(removed), REMOVED)
    request = RecordingRequest(lambda: NOW)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, request=request)
    yield Setup(
        harness,
        db,
        world.campaign_id,
        pk(cs3),
        pk(outsider),
        world.supervisor_id,
        request,
        pk(removed),
        pk(district),
    )
    await harness.stop()


async def remove(setup: Setup, person_id: int) -> None:
    async with setup.db.write() as session:
        assert await remove_person(session=session, person_id=person_id, now=NOW)


async def run(setup: Setup, command: str, user: TgUser) -> Calls:
    text = command.format(
        campaign=setup.campaign_id,
        other=setup.other_id,
        outsider=setup.outsider_id,
        inside=setup.inside_id,
    )
    if text.startswith("BUTTON "):
        return await setup.harness.press(text.removeprefix("BUTTON "), user)
    return await setup.harness.send(text, user)


@dataclass
class Result:
    calls: Calls
    files: list[bytes]

    def leaks(self, role: str) -> list[str]:
        """Names and figures outside the role's scope in any parameter of any call, or in any
        cell of any workbook sent."""
        found = leaks(role, self.calls.everything(), ALLOWED[role])
        for data in self.files:
            if data.startswith(b"\x89PNG"):
                continue  # the /tonghop chart: drawn from the same scoped data as its text
            allowed = ALLOWED[role] | WORKBOOK_ALSO.get(role, set())
            found += leaks(role, workbook_text(data), allowed)
        return found


def workbook_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data), read_only=True)
    cells = [
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    return "|" + "|".join(cells) + "|"


async def run_all(setup: Setup, role: str) -> dict[str, Result]:
    if role == "removed":
        await remove(setup, setup.removed_id)
    results = {}
    for command in COMMANDS:
        mark = len(setup.request.files)
        calls = await run(setup, command, ROLES[role])
        results[command] = Result(calls, [data for _name, data in setup.request.files[mark:]])
    return results


def leaks(role: str, text: str, allowed: set[str]) -> list[str]:
    found = [name for name in UNIT_NAMES if name not in allowed and name in text]
    if CS3 not in ALLOWED[role]:
        found += [figure for figure in OUTSIDE_FIGURES if figure in text]
    return found


async def outside_changes(setup: Setup) -> list[str]:
    """Anything written about CS3 or the campaign by the matrix run."""
    changes = []
    async with setup.db.read() as session:
        roles = (
            await session.execute(select(Role).where(col(Role.unit_id) == setup.other_id))
        ).scalars()
        if [(r.person_id, r.kind) for r in roles] != [(setup.outsider_id, ROLE_REPORTER)]:
            changes.append("role on CS3")
        invites = await session.execute(
            select(func.count()).where(col(Invite.unit_id) == setup.other_id)
        )
        if invites.scalar_one():
            changes.append("invite for CS3")
        nudges = await session.execute(select(func.count()).select_from(Outbox))
        if nudges.scalar_one():
            changes.append("nudge queued")
        campaign = await session.get(Campaign, setup.campaign_id)
        if campaign is None or campaign.status != "open":
            changes.append("campaign closed")
    return changes


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_command_stays_inside_the_role_scope(setup: Setup, role: str) -> None:
    results = await run_all(setup, role)

    for command, result in results.items():
        assert result.calls.items, f"{role} {command}: no answer at all"
        assert not result.leaks(role), f"{role} {command}: {result.leaks(role)}"
    texts = {command: result.calls.text() for command, result in results.items()}
    if role in {"stranger", "removed"}:
        for command, result in results.items():
            for call in result.calls:
                if call.method == "sendMessage":
                    assert call.text in {REFUSAL, UNKNOWN_CODE}, f"{role} {command}: {call.text}"
                else:
                    assert call.method == "answerCallbackQuery", f"{role} {command}"
                    assert call.params.get("text") == CALLBACK_REFUSED
    elif role == "reporter":
        assert CS1 in texts["/tinhtrang"] and CS1 in texts["/donvi CS1"]
        assert texts["/tonghop"] == NOT_FOR_REPORTERS
    elif role in {"supervisor", "district_admin"}:
        assert "Đã báo cáo: 1/3 đơn vị" in texts["/tonghop"] and "83,3%" in texts["/tonghop"]
        assert CS2 in texts["/donvi CS2"]
        [workbook] = results["/xuat"].files
        assert f"|{CS1}|" in workbook_text(workbook)
    else:
        assert "Đã báo cáo: 2/6 đơn vị" in texts["/tonghop"] and "92,5%" in texts["/tonghop"]
        assert "4.321" in texts["/donvi CS3"]
        assert "Đã kết thúc đợt" in texts["/dot dong " + REFERENCE]
    if role != "province_admin":
        assert await outside_changes(setup) == []


async def test_a_removed_person_loses_access_on_the_next_update(setup: Setup) -> None:
    async with setup.db.write() as session:
        await session.execute(
            update(Role)
            .where(col(Role.person_id) == setup.removed_id)
            .values(kind=ROLE_ADMIN, unit_id=None)
        )
    before = await setup.harness.send("/donvi CS3", REMOVED)
    assert "4.321" in before.text()

    await remove(setup, setup.removed_id)

    for command in ("/donvi CS3", "/tonghop", "/xuat", "/dot"):
        after = await setup.harness.send(command, REMOVED)
        assert after.texts() == [REFUSAL], command
        assert not after.of("sendDocument")


async def test_a_revoked_supervision_ends_on_the_next_update(setup: Setup) -> None:
    before = await setup.harness.send("/donvi CS2", SUPERVISOR)
    assert CS2 in before.text()
    async with setup.db.write() as session:
        assert await set_role(
            session=session,
            person_id=setup.inside_id,
            kind=ROLE_SUPERVISOR,
            unit_id=setup.district_id,
            held=False,
            now=NOW,
        )
    after = await setup.harness.send("/donvi CS2", SUPERVISOR)
    assert after.texts() == [REFUSAL]


# --- acting on people: re-binding, /phancong, role removal ----------------------------------
# The rule (storage.access.may_act_on): only when EVERY role of the target lies inside the
# issuer's admin subtrees. One role inside is not enough: a district admin who could re-bind a
# person with a role elsewhere would take over that wider account.

P, H, H2 = "0001.", "0001.0001.", "0001.0002."
CS1_PATH, CS3_PATH = H + "0001.", H2 + "0001."
ISSUERS = {
    "province_admin": Scope(person_id=1, whole_tree=True),
    "district_admin": Scope(person_id=2, admin_unit_ids=(2,), admin_paths=(H,)),
    "district_supervisor": Scope(person_id=3, supervised_unit_ids=(2,), supervised_paths=(H,)),
    "reporter": Scope(person_id=4, reporter_unit_ids=(3,)),
    "nobody": Scope(person_id=5),
}
TARGETS: dict[str, list[TargetRole]] = {
    "reporter_inside": [(ROLE_REPORTER, 3, CS1_PATH)],
    "supervisor_inside": [(ROLE_SUPERVISOR, 2, H), (ROLE_SUPERVISOR, 3, CS1_PATH)],
    "district_admin_peer": [(ROLE_ADMIN, 2, H)],
    "reporter_outside": [(ROLE_REPORTER, 5, CS3_PATH)],
    "straddling": [(ROLE_REPORTER, 3, CS1_PATH), (ROLE_SUPERVISOR, 5, CS3_PATH)],
    "province_unit_admin": [(ROLE_ADMIN, 1, P)],
    "whole_tree_admin": [(ROLE_ADMIN, None, None)],
    "inside_and_whole_tree": [(ROLE_REPORTER, 3, CS1_PATH), (ROLE_ADMIN, None, None)],
    "no_role": [],
}
MAY_ACT = {
    "province_admin": set(TARGETS),
    "district_admin": {"reporter_inside", "supervisor_inside", "district_admin_peer"},
    "district_supervisor": set(),
    "reporter": set(),
    "nobody": set(),
}


@pytest.mark.parametrize("issuer", sorted(ISSUERS))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_may_act_on_only_when_every_role_is_inside(issuer: str, target: str) -> None:
    expected = target in MAY_ACT[issuer]
    assert may_act_on(ISSUERS[issuer], TARGETS[target]) is expected


async def _straddler(setup: Setup) -> int:
    """A reporter of CS1 (inside the district) who also follows CS3 (outside it)."""
    async with setup.db.write() as session:
        cs1 = (await session.execute(select(Unit).where(col(Unit.code) == "CS1"))).scalar_one()
        cs3 = await session.get(Unit, setup.other_id)
        person = await make_person(
            session, "Phạm Văn Rộng", roles=[(ROLE_REPORTER, cs1), (ROLE_SUPERVISOR, cs3)]
        )
    await bind(setup.db, pk(person), TgUser(8690, "Rộng"))
    return pk(person)


async def test_district_admin_cannot_take_over_a_person_with_a_role_outside(setup: Setup) -> None:
    """Finding 1 of the hardening review: `/moi nguoi ID` on a person with one role inside
    the district and one outside used to hand the district admin a re-binding invite."""
    victim = await _straddler(setup)
    for command in (
        f"/moi nguoi {victim}",
        f"/moi nguoi {victim} xacnhan",
        f"/phancong {victim} CS1",
        f"/phancong bo {victim} CS3",
    ):
        text = (await setup.harness.send(command, DISTRICT_ADMIN)).everything()
        assert "t.me" not in text and "Phạm Văn Rộng" not in text, command
        if "xacnhan" not in command:
            assert f"«{victim}»" in text, (command, text)
    async with setup.db.read() as session:
        invites = (await session.execute(select(func.count()).select_from(Invite))).scalar_one()
        roles = (
            await session.execute(select(func.count()).where(col(Role.person_id) == victim))
        ).scalar_one()
    assert invites == 0 and roles == 2
    # Storage says the same to every caller (chat, CLI, web).
    async with setup.db.read() as session:
        admin = await find_person_by_identity(
            session=session, channel="telegram", external_id=str(DISTRICT_ADMIN.id)
        )
        district = await scope_of(session=session, person_id=pk(admin))
        assert await person_to_act_on(session=session, person_id=victim, scope=district) is None
        province = Scope(person_id=0, whole_tree=True)
        assert await person_to_act_on(session=session, person_id=victim, scope=province)
