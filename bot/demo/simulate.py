"""The campaign on a simulated clock: reporters talk to the real Application in process,
reminders, escalations and digests come from the real scheduler code and go out through the
real sender and Telegram channel, all against the local Bot API (no network, no token).

Every reporter's behaviour is drawn from a seeded random generator, so a given seed always
produces the same transcript, workbook and figures.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.conversation.callback import Step
from bot.demo.proactive import Row
from bot.demo.timeline import TZ, Errand, Featured, SimClock, Stats, VirtualTime, day_month
from bot.demo.transcript import (
    Transcript,
    button_ending,
    button_text,
    first_with,
    last_buttons,
)
from bot.demo.world import World
from bot.telegram.channel import TelegramChannel
from bot.telegram.local import TOKEN, Calls, LocalBot, TgUser
from scheduler.digest import compose_digest
from scheduler.jobs import digest_pass, escalation_pass, reminder_pass
from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from storage.campaigns import deliverables_of
from storage.db import Database
from storage.drafts import get_draft
from storage.models import (
    ROLE_SUPERVISOR,
    ChatIdentity,
    Outbox,
    Person,
    Unit,
)
from storage.organisation import organisation
from storage.people import grant_role
from storage.settings import Settings

INVITE_SHOWN = "/start ‹mã mời của đồng chí›"
DIGESTS_IN_TRANSCRIPT = 2  # the first weekly digests; the last word is the /tonghop at the end


# The steps at which the demo's reporter presses a button (`_button_at` says which).
PRESSED_STEPS = (Step.PICK_DELIVERABLE, Step.PICK_REPORT, Step.PICK_FIELD, Step.SUMMARY)


def _button_at(
    step: str,
    buttons: list[dict[str, Any]],
    errand: Errand,
    wanted_deliverable: int,
    field_tokens: dict[str, str],
) -> dict[str, Any] | None:
    """The button the errand presses at a choice step; None when none fits (`field_tokens`:
    the wanted deliverable's field keys -> the token of their button, by the form's order)."""
    if step == Step.PICK_DELIVERABLE:
        return button_ending(buttons, f":d{wanted_deliverable}")
    if step == Step.PICK_REPORT:
        return first_with(buttons, ":r")
    if step == Step.PICK_FIELD:
        token = field_tokens.get(errand.update_field or "")
        named = button_ending(buttons, f":{token}") if token else None
        return named or first_with(buttons, ":f")
    return button_ending(buttons, ":ok")  # the summary: confirm


class Simulation:
    def __init__(
        self,
        db: Database,
        world: World,
        *,
        seed: int,
        start: datetime,
        end: date,
        on_day: Callable[[int, int], None] | None = None,
    ) -> None:
        self.db = db
        self.world = world
        self.rng = random.Random(seed)
        self.clock = SimClock(start)
        self.end = end
        self.on_day = on_day
        self.stats = Stats()
        self.transcript = Transcript()
        self.featured = Featured()
        self.users: dict[int, TgUser] = {}  # person id -> account
        self.names: dict[int, str] = {}
        self.supervisor_ids: list[int] = []
        self.admin_id: int | None = None
        self._next_user = 700_000_001
        self.reporter_accounts: dict[str, int] = {}  # unit code -> telegram id
        self.person_of_account: dict[int, int] = {}  # telegram id -> person id
        self.deliverable_ids: dict[str, int] = {}
        self.field_tokens: dict[str, dict[str, str]] = {}  # deliverable key -> field -> token
        self._digests_shown: Counter[int] = Counter()

    # -- plumbing

    async def start(self) -> None:
        settings = Settings(telegram_token=TOKEN, bot_username="cadrebot_demo", _env_file=None)
        self.settings = settings
        self.bot = await LocalBot.start(db=self.db, clock=self.clock, settings=settings)
        virtual = VirtualTime()
        limiter = RateLimiter(rate=1000.0, clock=virtual.clock, sleep=virtual.sleep)
        channel = TelegramChannel(self.bot.app.bot)
        self.sender = Sender(self.db, [channel], limiter, clock=self.clock)

    async def stop(self) -> None:
        await self.bot.stop()

    async def _send(
        self, user: TgUser, text: str, who: str | None = None, shown: str | None = None
    ) -> Calls:
        """Send `text` as `user`; the transcript shows `shown` instead when given (invite codes
        are random, so the transcript names them, keeping it the same for a given seed)."""
        calls = await self.bot.send(text, user)
        self.stats.updates += 1
        if who is not None:
            self.transcript.said(who, shown or text)
            self.transcript.bot(calls, user.id)
        return calls

    async def _press(self, user: TgUser, button: dict[str, Any], who: str | None) -> Calls:
        calls = await self.bot.press(button["callback_data"], user)
        self.stats.updates += 1
        if who is not None:
            self.transcript.said(who, f"(bấm nút) [{button['text']}]")
            self.transcript.bot(calls, user.id)
        return calls

    def _who(self, user: TgUser) -> str | None:
        return self.featured.users.get(user.id)

    def _account(self, name: str) -> TgUser:
        self._next_user += 1
        return TgUser(id=self._next_user, first_name=name, last_name=None, language_code="vi")

    # -- onboarding

    async def onboard(self) -> None:
        featured_reporters = {0, 7, 23}
        self.transcript.heading("Nhận mã mời và đăng ký")
        for index, invite in enumerate(self.world.reporters):
            user = self._account(invite.person_name)
            self.reporter_accounts[invite.unit_code or ""] = user.id
            if index in featured_reporters:
                self.featured.users[user.id] = f"Bí thư {invite.unit_name}"
            await self._send(user, f"/start {invite.code}", self._who(user), INVITE_SHOWN)
            self.stats.conversations += 1
        for index, invite in enumerate(self.world.supervisors):
            user = self._account(invite.person_name)
            if index == 0:
                self.featured.users[user.id] = f"Đồng chí {invite.person_name} (Ủy viên BTV)"
            await self._send(user, f"/start {invite.code}", self._who(user), INVITE_SHOWN)
        for invite in self.world.admins:
            user = self._account(invite.person_name)
            await self._send(user, f"/start {invite.code}", None)
        await self._learn_people()
        await self._assign_supervisors()

    async def _learn_people(self) -> None:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(
                        col(ChatIdentity.external_id), col(Person.id), col(Person.full_name)
                    ).join(Person, col(Person.id) == col(ChatIdentity.person_id))
                )
            ).all()
        by_external: dict[int, tuple[int, str]] = {
            int(external): (int(str(pid)), name) for external, pid, name in rows
        }
        for tg_id in list(by_external):
            pid, name = by_external[tg_id]
            self.users[pid] = TgUser(id=tg_id, first_name=name, language_code="vi")
            self.names[pid] = name
            self.person_of_account[tg_id] = pid
        supervisor_names = {invite.person_name for invite in self.world.supervisors}
        admin_names = {invite.person_name for invite in self.world.admins}
        for pid, name in self.names.items():
            if name in supervisor_names:
                self.supervisor_ids.append(pid)
            if name in admin_names:
                self.admin_id = pid

    async def _assign_supervisors(self) -> None:
        """Each supervisor follows several districts (the invite named only the first)."""
        async with self.db.write() as session:
            units = {u.code: u for u in (await session.execute(select(Unit))).scalars()}
            for pid in self.supervisor_ids:
                for code in self.world.supervised.get(self.names[pid], [])[1:]:
                    await grant_role(
                        session=session,
                        person_id=pid,
                        kind=ROLE_SUPERVISOR,
                        unit_id=units[code].id,
                        now=self.clock(),
                    )

    # -- what each reporter will do

    async def plan(self) -> list[Errand]:
        async with self.db.read() as session:
            declared = await deliverables_of(session=session, campaign_id=self.world.campaign_id)
            units = {u.code: u for u in (await session.execute(select(Unit))).scalars()}
        due: dict[str, dict[str, date]] = {}
        for deliverable, form, deadlines in declared:
            self.deliverable_ids[deliverable.key] = int(str(deliverable.id))
            # The field buttons' tokens, as bot.conversation.prompts numbers them.
            self.field_tokens[deliverable.key] = {
                item.key: f"f{index}" for index, item in enumerate(form.fields)
            }
            for level, day in deadlines.items():
                due.setdefault(level, {})[deliverable.key] = day
        start_day = self.clock().astimezone(TZ).date()
        errands: list[Errand] = []
        reporter_by_unit = {
            invite.unit_code: invite for invite in self.world.reporters if invite.unit_code
        }
        for code in reporter_by_unit:
            unit = units[code]
            pid = self.person_of_account.get(self.reporter_accounts.get(code, 0))
            if pid is None:
                continue
            user = self.users[pid]
            never = self.rng.random() < 0.06
            if never:
                continue
            late_bias = self.rng.random() < 0.15
            session_day: date | None = None
            for key, day in sorted(due.get(unit.level_code, {}).items(), key=lambda kv: kv[1]):
                window = max(3, (day - start_day).days)
                if late_bias:
                    when = day + timedelta(days=self.rng.randint(1, 12))
                else:
                    when = start_day + timedelta(days=self.rng.randint(2, window))
                when = min(when, self.end - timedelta(days=1))
                if key == "hoi_nghi":
                    session_day = when - timedelta(days=self.rng.randint(0, 2))
                    session_day = max(session_day, start_day)
                answers, typos = self._answers(key, unit, session_day or when, when)
                errands.append(
                    Errand(
                        when,
                        self.rng.randint(9, 16),
                        pid,
                        user,
                        unit,
                        "report",
                        key,
                        answers,
                        typos,
                    )
                )
                if key == "hoi_nghi" and self.rng.random() < 0.2:
                    later = min(when + timedelta(days=self.rng.randint(3, 20)), self.end)
                    more = int(answers["essays"]) + self.rng.randint(1, 3)
                    more = min(more, int(answers["attended"].split()[0]))
                    if more > int(answers["essays"]):
                        errands.append(
                            Errand(
                                later,
                                10,
                                pid,
                                user,
                                unit,
                                "update",
                                key,
                                {"essays": str(more)},
                                update_field="essays",
                            )
                        )
        errands.sort(key=lambda e: (e.day, e.hour, e.person_id))
        return errands

    def _answers(
        self, key: str, unit: Unit, session_day: date, when: date
    ) -> tuple[dict[str, str], dict[str, str]]:
        rng = self.rng
        typos: dict[str, str] = {}
        if key == "hoi_nghi":
            members = unit.members
            attended = max(0, members - rng.choice([0, 0, 1, 1, 2, 3]))
            # Most members write their essay; a few "ngại viết" (the article's shortcoming).
            essays = round(attended * rng.choice([1.0, 0.97, 0.95, 0.93, 0.9, 0.86, 0.8]))
            answers = {
                "session_date": "hôm qua"
                if session_day == when - timedelta(days=1)
                else day_month(session_day),
                "duration_halfdays": str(rng.choice([2, 2, 2, 2, 1, 3])),
                "members": f"{members}",
                "attended": f"{attended} đồng chí",
                "nonmembers_attended": str(rng.choice([0, 2, 5, 8, 12])),
                "presenter": rng.choice(
                    ["Đ/c Bí thư chi bộ", "Báo cáo viên huyện", "Đ/c Phó Bí thư Đảng ủy"]
                ),
                # The presenter's standing, typed as its number; a few are "4. Khác".
                "presenter_standing": rng.choice(["1", "2", "2", "3", "3", "3", "4"]),
                "essays": str(essays),
            }
            roll = rng.random()
            if roll < 0.12:
                typos["attended"] = f"{members + rng.randint(1, 5)}"
            elif roll < 0.22:
                typos["essays"] = "ba mươi mấy"
            elif roll < 0.28:
                typos["session_date"] = "31/2"
            return answers, typos
        if key == "chuong_trinh":
            number = f"{when.day:02d}-CTr/ĐU"  # the programme's document number
            return {
                "action_program": "có",
                "action_program_date": day_month(when),
                "action_program_number": number,
            }, typos
        heads = rng.randint(1, 6)
        with_plan = heads if rng.random() < 0.85 else heads - 1
        return {"heads": str(heads), "heads_with_plan": str(with_plan)}, typos

    # -- running an errand through the real bot

    async def _step(self, person_id: int) -> str | None:
        async with self.db.read() as session:
            draft = await get_draft(session=session, person_id=person_id)
        return None if draft is None else draft.step

    async def run_errand(self, errand: Errand) -> None:
        user, who = errand.user, self._who(errand.user)
        self.stats.conversations += 1
        if who is not None:
            verb = "báo cáo" if errand.kind == "report" else "cập nhật"
            day = f"{errand.day.day}/{errand.day.month}/{errand.day.year}"
            self.transcript.note(f"Ngày {day}, {errand.hour} giờ: {verb}")
        command = "/baocao" if errand.kind == "report" else "/capnhat"
        calls = await self._send(user, command, who)
        typos = dict(errand.typos)
        wanted_deliverable = self.deliverable_ids[errand.deliverable_key]
        for _ in range(40):
            step = await self._step(errand.person_id)
            if step is None:
                break
            buttons = last_buttons(calls)
            if step in PRESSED_STEPS:
                tokens = self.field_tokens[errand.deliverable_key]
                button = _button_at(step, buttons, errand, wanted_deliverable, tokens)
                if button is None:
                    if step == Step.PICK_DELIVERABLE:  # nothing of it is owed: leave
                        calls = await self._send(user, "/huy", who)
                    break
                calls = await self._press(user, button, who)
                if step == Step.SUMMARY:  # confirmed
                    if errand.kind == "report":
                        self.stats.reports += 1
                    else:
                        self.stats.corrections += 1
            elif step in typos:
                calls = await self._send(user, typos.pop(step), who)
                self.stats.rejected_answers += 1
            elif step in errand.answers:
                calls = await self._send(user, errand.answers[step], who)
            else:
                skip = first_with(buttons, ":s") or button_text(buttons, "Bỏ qua")
                if skip is not None:
                    calls = await self._press(user, skip, who)
                else:
                    calls = await self._send(user, "/huy", who)
                    break

    # -- the scheduler's side

    async def scheduled(self, day: date) -> None:
        if day.weekday() == 0:
            self.clock.set_local(day, time(7, 30))
            self.stats.proactive["digest"] += await digest_pass(
                self.db, self.clock(), compose_digest
            )
            await self._deliver(digest=True)
        self.clock.set_local(day, time(8, 0))
        self.stats.proactive["reminder"] += await reminder_pass(self.db, self.clock())
        self.stats.proactive["escalation"] += await escalation_pass(self.db, self.clock())
        await self._deliver()

    async def _deliver(self, *, digest: bool = False) -> None:
        mark = len(self.bot.request.calls)
        await self.sender.drain_once(self.clock())
        calls = self.bot.request.since(mark)
        for user_id, who in self.featured.users.items():
            if digest and self._digests_shown[user_id] >= DIGESTS_IN_TRANSCRIPT:
                continue
            mine = [
                c
                for c in calls
                if c.chat_id == str(user_id) and c.method in {"sendMessage", "sendPhoto"}
            ]
            if mine:
                self._digests_shown[user_id] += digest
                local = self.clock().astimezone(TZ)
                stamp = f"{local.day}/{local.month}/{local.year} {local:%H:%M}"
                self.transcript.note(f"{stamp}: tin nhắn chủ động gửi {who}")
                self.transcript.bot(Calls(mine), user_id)

    # -- the whole campaign

    async def run(self) -> None:
        await self.onboard()
        errands = await self.plan()
        self.transcript.heading("Báo cáo, nhắc nhở và bản tổng hợp tuần")
        start_day = self.clock().astimezone(TZ).date()
        days = (self.end - start_day).days + 1
        by_day: dict[date, list[Errand]] = {}
        for errand in errands:
            by_day.setdefault(errand.day, []).append(errand)
        for offset in range(days):
            day = start_day + timedelta(days=offset)
            await self.scheduled(day)
            for errand in by_day.get(day, []):
                self.clock.set_local(day, time(errand.hour, self.rng.randint(0, 59)))
                await self.run_errand(errand)
            if self.on_day is not None:
                self.on_day(offset + 1, days)
        await self._supervisor_asks()

    async def _supervisor_asks(self) -> None:
        self.clock.set_local(self.end, time(9, 0))
        if self.supervisor_ids:
            user = self.users[self.supervisor_ids[0]]
            self.transcript.heading("Ủy viên Ban Thường vụ hỏi tình hình")
            who = self._who(user) or "Ủy viên BTV"
            await self._send(user, "/tonghop", who)
        if self.admin_id is not None:
            user = self.users[self.admin_id]
            department = organisation(self.settings).header  # the configured organisation
            self.transcript.heading(f"{department} xem thống kê toàn tỉnh")
            await self._send(user, "/thongke", department)

    async def sent_counts(self) -> Counter[str]:
        async with self.db.read() as session:
            rows = (await session.execute(select(col(Outbox.kind), col(Outbox.status)))).all()
        return Counter(f"{kind}:{status}" for kind, status in rows)

    async def outbox_rows(self) -> list[Row]:
        """Every proactive message of the run: key, kind, person, status, when it went out."""
        async with self.db.read() as session:
            rows = await session.execute(
                select(
                    col(Outbox.key),
                    col(Outbox.kind),
                    col(Outbox.person_id),
                    col(Outbox.status),
                    col(Outbox.sent_at),
                )
            )
        return [Row(key, kind, person, status, at) for key, kind, person, status, at in rows.all()]
