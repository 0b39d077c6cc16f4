"""The conversation engine: /baocao, /capnhat, /tinhtrang, /huy, written once for every channel.

An adapter (Telegram, Zalo) turns what the person sent into an `Input`, calls
`ConversationEngine.handle(session=..., actor=..., inp=..., now=...)` inside one write
transaction, COMMITS, and only then sends the returned `Reply`s in order. It must never send the
replies of a transaction that did not commit: a receipt ("Đã ghi nhận báo cáo số N ...") names a
report that exists only once the commit succeeded. If the commit fails, send a generic apology
instead (the person's draft is untouched, they can press again).

All state lives in the database (`draft` table), so a new engine object (after a restart)
continues where the last one stopped. The engine knows nothing about any channel: replies are
plain text (the adapter escapes it) with rows of `Choice` buttons whose `data` (<= 64 bytes,
never user text) is `c:<draft id>:<revision>:<nonce>:<token>`. A press whose draft id, revision
or nonce is not the draft's current one (old message, second press, forged data) changes
nothing.

Choices are also accepted typed: in a choice step, "2" picks the second button and the button's
label picks it too (Zalo has no buttons). In a question step (`Reply.numbered` False) the
choices are only quick answers: typed text is the answer itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage import drafts
from storage.access import Scope, scope_of
from storage.answers import fold, format_date
from storage.campaigns import form_of
from storage.clock import end_of_day, local_date, require_aware
from storage.forms import (
    Form,
    FormField,
    Invalid,
    answers_from_json,
    answers_to_json,
    check_rules,
    defaults_for,
    error_message,
    fields_that_may_be_asked,
    fields_to_ask,
    format_answer,
    missing_fields,
    next_field,
    parse_answer,
    prune_answers,
    suggestions,
    violation_message,
)
from storage.i18n import t
from storage.models import Campaign, Deliverable, Draft, Report, Unit
from storage.reports import (
    CAMPAIGN_OPEN,
    DraftGone,
    confirm_report,
    current_version,
    open_draft,
    report_confirmed_from_draft,
    reporter_units,
    unit_deliverables,
    unit_reports,
    update_report,
)

COMMANDS = ("report", "update", "status", "cancel")
MAX_DATA_BYTES = 64
DEFAULT_TZ = "Asia/Ho_Chi_Minh"

STEP_PICK_UNIT = "pick_unit"
STEP_PICK_DELIVERABLE = "pick_deliverable"
STEP_PICK_REPORT = "pick_report"
STEP_PICK_FIELD = "pick_field"
STEP_SUMMARY = "summary"
STEP_CONFIRMING = "confirming"
CHOICE_STEPS = frozenset(
    {STEP_PICK_UNIT, STEP_PICK_DELIVERABLE, STEP_PICK_REPORT, STEP_PICK_FIELD, STEP_SUMMARY}
)

TOKEN_CONFIRM = "ok"
TOKEN_EDIT = "ed"
TOKEN_CANCEL = "x"
TOKEN_BACK = "bk"

_DATA = re.compile(r"^c:(\d{1,12}):(\d{1,10}):([0-9a-f]{6}):([a-z]{1,2}\d{0,12})$")
_NUMBER = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*$")


# --- the interface adapters use ----------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    kind: Literal["text", "choice", "command"]
    text: str = ""  # typed text (kind=text)
    data: str = ""  # callback data of a pressed choice (kind=choice); <= 64 bytes
    command: str = ""  # canonical command name (kind=command): report, update, status, cancel
    args: str = ""  # command arguments


@dataclass(frozen=True)
class Choice:
    label: str
    data: str  # opaque, <= 64 bytes UTF-8: "c:<draft_id>:<revision>:<nonce>:<token>"


@dataclass(frozen=True)
class Reply:
    text: str  # plain text (the adapter escapes it); may contain newlines
    choices: tuple[tuple[Choice, ...], ...] = ()  # rows of buttons; Zalo shows them numbered
    done: bool = False  # the conversation ended (confirmed / cancelled)
    # True: typing a choice's number (1, 2 ...) picks it, so a channel without buttons lists
    # them numbered. False: the choices are quick answers to a question and typed text is the
    # answer itself (list them without numbers).
    numbered: bool = True


@dataclass(frozen=True)
class Actor:
    person_id: int
    lang: str  # "vi" or "en"
    channel: str  # "telegram" / "zalo"
    # The person's roles as the adapter already read them in this transaction (None: the
    # engine reads them).
    scope: Scope | None = None


# --- internal state of one turn ----------------------------------------------------------------


@dataclass
class _Ctx:
    """A draft with everything it refers to, loaded once per turn."""

    draft: Draft
    unit: Unit
    deliverable: Deliverable | None = None
    campaign: Campaign | None = None
    form: Form | None = None
    base: dict[str, Any] = field(default_factory=dict)  # update mode: the current version

    @property
    def tz(self) -> str:
        return self.campaign.timezone if self.campaign is not None else DEFAULT_TZ

    def answers(self) -> dict[str, Any]:
        assert self.form is not None
        return answers_from_json(self.form, self.draft.answers or {})


@dataclass(frozen=True)
class _Option:
    label: str
    token: str


@dataclass
class _Turn:
    session: AsyncSession
    actor: Actor
    now: datetime
    units: list[Unit]
    # The draft's deliverable and campaign as loaded with it: held here so `session.get` finds
    # them in the session's identity map (which holds objects weakly) instead of querying.
    loaded: tuple[Any, ...] = ()

    @property
    def lang(self) -> str:
        return self.actor.lang

    def t(self, key: str, **params: object) -> str:
        return t(key, self.actor.lang, **params)


def _data(draft: Draft, token: str) -> str:
    data = f"c:{draft.id}:{draft.revision}:{drafts.nonce(draft)}:{token}"
    assert len(data.encode()) <= MAX_DATA_BYTES
    return data


def _local(moment: datetime, tz: str) -> datetime:
    return require_aware(moment).astimezone(ZoneInfo(tz))


# Parsed forms by deliverable id, with the JSON they were parsed from. A hit needs the stored
# JSON (read with the draft in the same turn) to be equal, so a reloaded campaign, or another
# database with the same ids, never gets a stale form; `Form` is immutable, safe to share.
_FORMS: dict[int, tuple[dict[str, Any], Form]] = {}
_FORMS_MAX = 256


def _form_of(deliverable: Deliverable) -> Form:
    key = _id(deliverable)
    cached = _FORMS.get(key)
    if cached is not None and cached[0] == deliverable.form:
        return cached[1]
    form = form_of(deliverable)
    if len(_FORMS) >= _FORMS_MAX:
        _FORMS.clear()
    _FORMS[key] = (deliverable.form, form)
    return form


# session.info key: the draft `has_open_draft` loaded, for `handle` in the same transaction.
_LOADED_DRAFT = "cadrebot.conversation.draft"

_Loaded = tuple[Draft, Deliverable | None, Campaign | None]


class ConversationEngine:
    """Stateless: every piece of state is in the database, so any instance may serve any input."""

    async def has_open_draft(self, *, session: AsyncSession, person_id: int) -> bool:
        """Does the person have a draft? The draft is kept for a `handle` that follows in the
        same transaction (the draft is read once per update)."""
        found = await open_draft(session=session, person_id=person_id)
        session.info[_LOADED_DRAFT] = (person_id, found)
        return found is not None

    async def _load_draft(self, session: AsyncSession, person_id: int) -> _Loaded | None:
        memo = session.info.pop(_LOADED_DRAFT, None)
        if memo is not None and memo[0] == person_id:
            found: _Loaded | None = memo[1]
            return found
        return await open_draft(session=session, person_id=person_id)

    async def handle(
        self, *, session: AsyncSession, actor: Actor, inp: Input, now: datetime
    ) -> list[Reply]:
        """Answer one input. Never raises on anything a person can send. The caller commits
        before sending the replies (see the module docstring)."""
        require_aware(now)
        scope = actor.scope
        if scope is None or scope.person_id != actor.person_id:
            scope = await scope_of(session=session, person_id=actor.person_id)
        units = await reporter_units(session=session, unit_ids=scope.reporter_unit_ids)
        if not units:
            session.info.pop(_LOADED_DRAFT, None)
            await drafts.delete_person_draft(session=session, person_id=actor.person_id)
            return [Reply(t("conv.refused", actor.lang), done=True)]
        loaded = await self._load_draft(session, actor.person_id)
        turn = _Turn(session=session, actor=actor, now=now, units=units, loaded=loaded or ())
        draft = loaded[0] if loaded is not None else None
        if draft is not None and draft.unit_id not in {unit.id for unit in units}:
            # The reporter role on that unit was removed meanwhile.
            await drafts.delete_draft(session=session, draft_id=_id(draft))
            draft = None
        if inp.kind == "command":
            return await self._command(turn, draft, inp)
        if inp.kind == "choice":
            return await self._press(turn, draft, inp.data)
        if draft is None:
            return [Reply(turn.t("conv.hint"), done=True)]
        ctx = await self._context(turn, draft)
        if ctx is None:
            return [Reply(turn.t("conv.hint"), done=True)]
        return await self._typed(turn, ctx, inp.text)

    # --- commands --------------------------------------------------------------------------

    async def _command(self, turn: _Turn, draft: Draft | None, inp: Input) -> list[Reply]:
        name = inp.command.strip().lower()
        if name == "cancel":
            if draft is None:
                return [Reply(turn.t("conv.nothing_to_cancel"), done=True)]
            await drafts.delete_draft(session=turn.session, draft_id=_id(draft))
            return [Reply(turn.t("conv.cancelled"), done=True)]
        if name == "status":
            replies = [await self._status(turn, done=draft is None)]
            if draft is not None:
                ctx = await self._context(turn, draft)
                if ctx is not None:
                    replies.append(
                        self._prefixed(turn.t("conv.resume"), await self._ask(turn, ctx))
                    )
            return replies
        if name in ("report", "update"):
            if draft is not None:
                ctx = await self._context(turn, draft)
                if ctx is not None:
                    return [self._prefixed(turn.t("conv.resume"), await self._ask(turn, ctx))]
            mode = drafts.MODE_NEW if name == "report" else drafts.MODE_UPDATE
            if len(turn.units) > 1:
                draft = await drafts.start_draft(
                    session=turn.session,
                    person_id=turn.actor.person_id,
                    unit_id=_id(turn.units[0]),
                    channel=turn.actor.channel,
                    now=turn.now,
                    step=STEP_PICK_UNIT,
                    mode=mode,
                )
                ctx = _Ctx(draft=draft, unit=turn.units[0])
                return [await self._ask(turn, ctx)]
            return await self._begin(turn, None, turn.units[0], mode)
        return [Reply(turn.t("conv.hint"), done=draft is None)]

    async def _begin(self, turn: _Turn, draft: Draft | None, unit: Unit, mode: str) -> list[Reply]:
        """The unit is known: pick what to report (or which report to change)."""
        if mode == drafts.MODE_UPDATE:
            return await self._begin_update(turn, draft, unit)
        items = await unit_deliverables(session=turn.session, unit=unit, now=turn.now)
        owed = [item for item in items if item.report is None]
        if not owed:
            if draft is not None:
                await drafts.delete_draft(session=turn.session, draft_id=_id(draft))
            key = "conv.all_reported" if items else "conv.nothing_open"
            return [Reply(turn.t(key, unit=unit.name), done=True)]
        if len(owed) == 1:
            item = owed[0]
            return await self._open_deliverable(turn, draft, unit, item.deliverable)
        draft = await self._save_or_start(
            turn, draft, unit=unit, mode=drafts.MODE_NEW, step=STEP_PICK_DELIVERABLE
        )
        if draft is None:
            return [self._stale(turn)]
        return [await self._ask(turn, _Ctx(draft=draft, unit=unit))]

    async def _open_deliverable(
        self, turn: _Turn, draft: Draft | None, unit: Unit, deliverable: Deliverable
    ) -> list[Reply]:
        form = _form_of(deliverable)
        first = next_field(form, {})
        assert first is not None  # a form has at least one field
        draft = await self._save_or_start(
            turn,
            draft,
            unit=unit,
            mode=drafts.MODE_NEW,
            step=first.key,
            deliverable_id=deliverable.id,
            answers={},
        )
        if draft is None:
            return [self._stale(turn)]
        ctx = await self._context(turn, draft)
        assert ctx is not None and ctx.campaign is not None
        intro = turn.t(
            "conv.intro",
            deliverable=_name(deliverable, turn.lang),
            unit=unit.name,
            reference=ctx.campaign.reference,
        )
        return [self._prefixed(intro, await self._ask(turn, ctx))]

    async def _begin_update(self, turn: _Turn, draft: Draft | None, unit: Unit) -> list[Reply]:
        rows = [
            row
            for row in await unit_reports(session=turn.session, unit_id=_id(unit))
            if row.campaign.status == CAMPAIGN_OPEN
        ]
        if not rows:
            if draft is not None:
                await drafts.delete_draft(session=turn.session, draft_id=_id(draft))
            return [Reply(turn.t("conv.no_reports", unit=unit.name), done=True)]
        if len(rows) > 1:
            draft = await self._save_or_start(
                turn, draft, unit=unit, mode=drafts.MODE_UPDATE, step=STEP_PICK_REPORT
            )
            if draft is None:
                return [self._stale(turn)]
            return [await self._ask(turn, _Ctx(draft=draft, unit=unit))]
        return await self._open_report(turn, draft, unit, rows[0].report)

    async def _open_report(
        self, turn: _Turn, draft: Draft | None, unit: Unit, report: Report
    ) -> list[Reply]:
        version = await current_version(session=turn.session, report_id=_id(report))
        draft = await self._save_or_start(
            turn,
            draft,
            unit=unit,
            mode=drafts.MODE_UPDATE,
            step=STEP_PICK_FIELD,
            deliverable_id=report.deliverable_id,
            report_id=report.id,
            answers=dict(version.answers or {}) if version is not None else {},
        )
        if draft is None:
            return [self._stale(turn)]
        ctx = await self._context(turn, draft)
        assert ctx is not None
        return [await self._ask(turn, ctx)]

    async def _save_or_start(
        self, turn: _Turn, draft: Draft | None, *, unit: Unit, mode: str, step: str, **more: Any
    ) -> Draft | None:
        """Move the existing draft on (None if it changed meanwhile) or start one."""
        if draft is None:
            return await drafts.start_draft(
                session=turn.session,
                person_id=turn.actor.person_id,
                unit_id=_id(unit),
                channel=turn.actor.channel,
                now=turn.now,
                step=step,
                mode=mode,
                **more,
            )
        moved = await drafts.advance(
            session=turn.session,
            draft=draft,
            seen_revision=draft.revision,
            now=turn.now,
            unit_id=_id(unit),
            mode=mode,
            step=step,
            **more,
        )
        return draft if moved else None

    # --- loading ---------------------------------------------------------------------------

    async def _context(self, turn: _Turn, draft: Draft) -> _Ctx | None:
        unit = next((u for u in turn.units if u.id == draft.unit_id), None)
        if unit is None:
            return None
        ctx = _Ctx(draft=draft, unit=unit)
        if draft.deliverable_id is not None:
            ctx.deliverable = await turn.session.get(Deliverable, draft.deliverable_id)
            if ctx.deliverable is None:
                return None
            ctx.campaign = await turn.session.get(Campaign, ctx.deliverable.campaign_id)
            ctx.form = _form_of(ctx.deliverable)
        if draft.report_id is not None and ctx.form is not None:
            version = await current_version(session=turn.session, report_id=draft.report_id)
            if version is not None:
                ctx.base = answers_from_json(ctx.form, version.answers or {})
        return ctx

    # --- asking ----------------------------------------------------------------------------

    def _prefixed(self, text: str, reply: Reply) -> Reply:
        return Reply(
            text=f"{text}\n\n{reply.text}",
            choices=reply.choices,
            done=reply.done,
            numbered=reply.numbered,
        )

    def _current_field(self, ctx: _Ctx) -> FormField | None:
        if ctx.form is None or ctx.draft.step in CHOICE_STEPS:
            return None
        if ctx.draft.step in set(ctx.form.keys()):
            return ctx.form.field(ctx.draft.step)
        return None

    async def _options(self, turn: _Turn, ctx: _Ctx) -> list[list[_Option]]:
        """The buttons of a choice step (rows), in the order typed numbers refer to."""
        step = ctx.draft.step
        cancel = _Option(turn.t("conv.button.cancel"), TOKEN_CANCEL)
        if step == STEP_PICK_UNIT:
            rows = [[_Option(unit.name, f"u{unit.id}")] for unit in turn.units]
            return [*rows, [cancel]]
        if step == STEP_PICK_DELIVERABLE:
            items = await unit_deliverables(session=turn.session, unit=ctx.unit, now=turn.now)
            owed = [item for item in items if item.report is None]
            several = len({item.campaign.id for item in owed}) > 1
            rows = []
            for item in owed:
                name = _name(item.deliverable, turn.lang)
                if several:
                    name = f"{name} ({item.campaign.reference})"
                label = turn.t("conv.deliverable_choice", name=name, due=format_date(item.due_date))
                rows.append([_Option(label, f"d{item.deliverable.id}")])
            return [*rows, [cancel]]
        if step == STEP_PICK_REPORT:
            reports = await unit_reports(session=turn.session, unit_id=_id(ctx.unit))
            rows = [
                [
                    _Option(
                        turn.t(
                            "conv.report_choice",
                            deliverable=_name(row.deliverable, turn.lang),
                            number=row.report.id,
                        ),
                        f"r{row.report.id}",
                    )
                ]
                for row in reports
                if row.campaign.status == CAMPAIGN_OPEN
            ]
            return [*rows, [cancel]]
        if step == STEP_PICK_FIELD and ctx.form is not None:
            answers = ctx.answers()
            rows = [
                [_Option(item.label(turn.lang), f"f{ctx.form.fields.index(item)}")]
                for item in fields_to_ask(ctx.form, answers)
            ]
            last = [cancel]
            if ctx.draft.mode == drafts.MODE_NEW:
                last = [_Option(turn.t("conv.button.back"), TOKEN_BACK), cancel]
            return [*rows, last]
        if step == STEP_SUMMARY:
            return [
                [
                    _Option(turn.t("conv.button.confirm"), TOKEN_CONFIRM),
                    _Option(turn.t("conv.button.edit"), TOKEN_EDIT),
                    _Option(turn.t("conv.button.cancel"), TOKEN_CANCEL),
                ]
            ]
        return []

    def _suggestions(self, turn: _Turn, ctx: _Ctx, item: FormField) -> list[tuple[str, str]]:
        """(label, text) quick answers for a question."""
        assert ctx.form is not None
        default = defaults_for(ctx.form, ctx.unit).get(item.key)
        found = suggestions(item, turn.lang, default=default)
        pairs = [(s.label, s.text) for s in found]
        if default is not None and pairs:
            label = turn.t("conv.default", value=format_answer(item, default, turn.lang))
            pairs[0] = (label, pairs[0][1])
        return pairs

    def _ask_field(self, turn: _Turn, ctx: _Ctx, item: FormField) -> Reply:
        assert ctx.form is not None
        answers = ctx.answers()
        asked = fields_that_may_be_asked(ctx.form, answers)
        number = next((i for i, f in enumerate(asked, start=1) if f.key == item.key), 1)
        prompt = item.prompt(turn.lang, hint=ctx.draft.mode != drafts.MODE_UPDATE)
        lines = [turn.t("conv.question", n=number, total=len(asked), prompt=prompt)]
        if ctx.draft.mode == drafts.MODE_UPDATE and item.key in ctx.base:
            value = format_answer(item, ctx.base[item.key], turn.lang)
            lines.append(turn.t("conv.current_value", value=value))
        buttons = [
            Choice(label, _data(ctx.draft, f"s{index}"))
            for index, (label, _text) in enumerate(self._suggestions(turn, ctx, item))
        ]
        rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
        return Reply(text="\n".join(lines), choices=rows, numbered=False)

    def _choice_reply(self, turn: _Turn, ctx: _Ctx, options: list[list[_Option]]) -> Reply:
        step = ctx.draft.step
        rows = tuple(
            tuple(Choice(option.label, _data(ctx.draft, option.token)) for option in row)
            for row in options
        )
        if step == STEP_SUMMARY:
            return Reply(text=self._summary_text(turn, ctx), choices=rows)
        key = {
            STEP_PICK_UNIT: "conv.pick_unit",
            STEP_PICK_DELIVERABLE: "conv.pick_deliverable",
            STEP_PICK_REPORT: "conv.pick_report",
            STEP_PICK_FIELD: "conv.pick_field",
        }.get(step, "conv.pick_one")
        if step == STEP_PICK_FIELD and ctx.draft.mode == drafts.MODE_UPDATE:
            assert ctx.deliverable is not None
            text = turn.t(
                "conv.pick_field_update",
                deliverable=_name(ctx.deliverable, turn.lang),
                number=ctx.draft.report_id,
            )
        else:
            text = turn.t(key, unit=ctx.unit.name)
        return Reply(text=text, choices=rows)

    def _summary_text(self, turn: _Turn, ctx: _Ctx) -> str:
        assert ctx.form is not None and ctx.deliverable is not None
        answers = ctx.answers()
        name = _name(ctx.deliverable, turn.lang)
        if ctx.draft.mode == drafts.MODE_UPDATE:
            lines = [turn.t("conv.update.head", deliverable=name, number=ctx.draft.report_id)]
            for item in ctx.form.fields:
                old, new = ctx.base.get(item.key), answers.get(item.key)
                if old != new:
                    lines.append(
                        turn.t(
                            "conv.update.line",
                            label=item.label(turn.lang),
                            old=format_answer(item, old, turn.lang),
                            new=format_answer(item, new, turn.lang),
                        )
                    )
        else:
            lines = [turn.t("conv.summary.head", deliverable=name, unit=ctx.unit.name)]
            lines.extend(
                turn.t(
                    "conv.summary.line",
                    label=item.label(turn.lang),
                    value=format_answer(item, answers.get(item.key), turn.lang),
                )
                for item in fields_to_ask(ctx.form, answers)
            )
        lines.append(turn.t("conv.summary.foot"))
        return "\n".join(lines)

    async def _ask(self, turn: _Turn, ctx: _Ctx) -> Reply:
        """The current question with its buttons (choice steps read their options)."""
        item = self._current_field(ctx)
        if item is not None:
            return self._ask_field(turn, ctx, item)
        return self._choice_reply(turn, ctx, await self._options(turn, ctx))

    # --- presses ---------------------------------------------------------------------------

    def _stale(self, turn: _Turn) -> Reply:
        return Reply(turn.t("conv.stale"))

    async def _press(self, turn: _Turn, draft: Draft | None, data: str) -> list[Reply]:
        if not isinstance(data, str) or len(data.encode("utf-8", "replace")) > MAX_DATA_BYTES:
            return [self._stale(turn)]
        match = _DATA.match(data)
        if match is None:
            return [self._stale(turn)]
        draft_id, revision = int(match.group(1)), int(match.group(2))
        tag, token = match.group(3), match.group(4)
        if not drafts.is_current(draft, draft_id=draft_id, revision=revision, tag=tag):
            return [await self._stale_press(turn, draft_id, token)]
        assert draft is not None
        ctx = await self._context(turn, draft)
        if ctx is None:
            return [self._stale(turn)]
        return await self._token(turn, ctx, token)

    async def _stale_press(self, turn: _Turn, draft_id: int, token: str) -> Reply:
        """An old button: say the report was already recorded if this draft became one."""
        if token == TOKEN_CONFIRM:
            number = await report_confirmed_from_draft(
                session=turn.session, person_id=turn.actor.person_id, draft_id=draft_id
            )
            if number is not None:
                return Reply(turn.t("conv.already_recorded", number=number))
        return self._stale(turn)

    async def _token(self, turn: _Turn, ctx: _Ctx, token: str) -> list[Reply]:
        """Apply a button (pressed, or typed as its number) to the draft's current step."""
        step = ctx.draft.step
        if token == TOKEN_CANCEL:
            await drafts.delete_draft(session=turn.session, draft_id=_id(ctx.draft))
            return [Reply(turn.t("conv.cancelled"), done=True)]
        item = self._current_field(ctx)
        if item is not None:
            if token[0] != "s" or not token[1:].isdigit():
                return [self._stale(turn)]
            pairs = self._suggestions(turn, ctx, item)
            index = int(token[1:])
            if index >= len(pairs):
                return [self._stale(turn)]
            return await self._answer(turn, ctx, item, pairs[index][1])
        kind, rest = token[:1], token[1:]
        number = int(rest) if rest.isdigit() else -1
        if step == STEP_PICK_UNIT and kind == "u":
            unit = next((u for u in turn.units if u.id == number), None)
            if unit is None:
                return [self._stale(turn)]
            return await self._begin(turn, ctx.draft, unit, ctx.draft.mode)
        if step == STEP_PICK_DELIVERABLE and kind == "d":
            items = await unit_deliverables(session=turn.session, unit=ctx.unit, now=turn.now)
            chosen = next(
                (i for i in items if i.deliverable.id == number and i.report is None), None
            )
            if chosen is None:
                return [self._stale(turn)]
            return await self._open_deliverable(turn, ctx.draft, ctx.unit, chosen.deliverable)
        if step == STEP_PICK_REPORT and kind == "r":
            rows = await unit_reports(session=turn.session, unit_id=_id(ctx.unit))
            found = next(
                (
                    row
                    for row in rows
                    if row.report.id == number and row.campaign.status == CAMPAIGN_OPEN
                ),
                None,
            )
            if found is None:
                return [self._stale(turn)]
            return await self._open_report(turn, ctx.draft, ctx.unit, found.report)
        if step == STEP_PICK_FIELD and ctx.form is not None:
            if token == TOKEN_BACK and ctx.draft.mode == drafts.MODE_NEW:
                return await self._move(turn, ctx, step=STEP_SUMMARY)
            answers = ctx.answers()
            allowed = {f.key for f in fields_to_ask(ctx.form, answers)}
            if kind != "f" or not 0 <= number < len(ctx.form.fields):
                return [self._stale(turn)]
            chosen_field = ctx.form.fields[number]
            if chosen_field.key not in allowed:
                return [self._stale(turn)]
            answers.pop(chosen_field.key, None)
            return await self._move(
                turn, ctx, step=chosen_field.key, answers=answers_to_json(ctx.form, answers)
            )
        if step == STEP_SUMMARY:
            if token == TOKEN_EDIT:
                return await self._move(turn, ctx, step=STEP_PICK_FIELD)
            if token == TOKEN_CONFIRM:
                return await self._confirm(turn, ctx)
        return [self._stale(turn)]

    async def _move(
        self, turn: _Turn, ctx: _Ctx, *, prefix: str = "", **changes: Any
    ) -> list[Reply]:
        moved = await drafts.advance(
            session=turn.session,
            draft=ctx.draft,
            seen_revision=ctx.draft.revision,
            now=turn.now,
            **changes,
        )
        if not moved:
            return [self._stale(turn)]
        reply = await self._ask(turn, ctx)
        return [self._prefixed(prefix, reply) if prefix else reply]

    # --- typed text ------------------------------------------------------------------------

    async def _typed(self, turn: _Turn, ctx: _Ctx, text: str) -> list[Reply]:
        item = self._current_field(ctx)
        if item is not None:
            return await self._answer(turn, ctx, item, text)
        if ctx.draft.step == STEP_CONFIRMING:
            return [self._stale(turn)]
        if ctx.form is None and ctx.draft.step not in CHOICE_STEPS:
            return [self._stale(turn)]
        if ctx.form is not None and ctx.draft.step not in CHOICE_STEPS:
            # The form changed under the draft (campaign reloaded): go to the next question.
            return await self._after_answer(turn, ctx, ctx.answers())
        options = await self._options(turn, ctx)
        flat = [option for row in options for option in row]
        wanted = fold(text) if isinstance(text, str) and len(text) <= 200 else ""
        token: str | None = None
        number = _NUMBER.match(wanted)
        if number is not None:
            index = int(number.group(1)) - 1
            if 0 <= index < len(flat):
                token = flat[index].token
        else:
            token = next((o.token for o in flat if wanted and fold(o.label) == wanted), None)
        if token is None:
            reply = self._choice_reply(turn, ctx, options)
            return [self._prefixed(turn.t("conv.pick_one"), reply)]
        return await self._token(turn, ctx, token)

    async def _answer(self, turn: _Turn, ctx: _Ctx, item: FormField, text: str) -> list[Reply]:
        assert ctx.form is not None
        today = local_date(turn.now, ctx.tz)
        result = parse_answer(item, text, today=today, lang=turn.lang)
        if isinstance(result, Invalid):
            message = error_message(item, result, turn.lang)
            return [self._prefixed(message, self._ask_field(turn, ctx, item))]
        answers = ctx.answers()
        answers[item.key] = result.value
        return await self._after_answer(turn, ctx, answers)

    async def _after_answer(self, turn: _Turn, ctx: _Ctx, answers: dict[str, Any]) -> list[Reply]:
        """Next question, or the cross-field check and the summary."""
        assert ctx.form is not None and ctx.campaign is not None
        form = ctx.form
        answers = prune_answers(form, answers)
        following = next_field(form, answers)
        if following is not None:
            return await self._move(
                turn, ctx, step=following.key, answers=answers_to_json(form, answers)
            )
        violations = check_rules(
            form,
            answers,
            campaign_start=ctx.campaign.start_date,
            campaign_end=ctx.campaign.end_date,
            today=local_date(turn.now, ctx.tz),
        )
        if violations:
            involved = {key for violation in violations for key in violation.fields}
            for key in involved:
                answers.pop(key, None)
            back = next_field(form, answers)
            assert back is not None
            explained = "\n".join(violation_message(form, v, turn.lang) for v in violations)
            return await self._move(
                turn,
                ctx,
                prefix=f"{explained}\n{turn.t('conv.answer_again')}",
                step=back.key,
                answers=answers_to_json(form, answers),
            )
        if ctx.draft.mode == drafts.MODE_UPDATE and answers_to_json(
            form, answers
        ) == answers_to_json(form, prune_answers(form, ctx.base)):
            await drafts.delete_draft(session=turn.session, draft_id=_id(ctx.draft))
            return [Reply(turn.t("conv.no_change"), done=True)]
        return await self._move(
            turn, ctx, step=STEP_SUMMARY, answers=answers_to_json(form, answers)
        )

    # --- confirming ------------------------------------------------------------------------

    async def _confirm(self, turn: _Turn, ctx: _Ctx) -> list[Reply]:
        assert ctx.form is not None and ctx.campaign is not None
        answers = ctx.answers()
        if missing_fields(ctx.form, answers) or check_rules(
            ctx.form,
            answers,
            campaign_start=ctx.campaign.start_date,
            campaign_end=ctx.campaign.end_date,
            today=local_date(turn.now, ctx.tz),
        ):
            return await self._after_answer(turn, ctx, answers)
        # Take the draft (bumps the revision): a concurrent second press now fails here.
        if not await drafts.advance(
            session=turn.session,
            draft=ctx.draft,
            seen_revision=ctx.draft.revision,
            now=turn.now,
            step=STEP_CONFIRMING,
        ):
            return [self._stale(turn)]
        local = _local(turn.now, ctx.tz)
        when = {"time": local.strftime("%H:%M"), "date": format_date(local.date())}
        if ctx.draft.mode == drafts.MODE_UPDATE and ctx.draft.report_id is not None:
            version = await update_report(
                session=turn.session,
                report_id=ctx.draft.report_id,
                answers=answers,
                person_id=turn.actor.person_id,
                channel=ctx.draft.channel,
                now=turn.now,
                note={"draft_id": ctx.draft.id},
            )
            await drafts.delete_draft(session=turn.session, draft_id=_id(ctx.draft))
            text = turn.t(
                "conv.updated", number=ctx.draft.report_id, version=version.version, **when
            )
            return [Reply(text, done=True)]
        try:
            report = await confirm_report(
                session=turn.session, draft_id=_id(ctx.draft), now=turn.now
            )
        except DraftGone:
            return [self._stale(turn)]
        if report.current_version == 1:
            text = turn.t("conv.receipt", number=report.id, **when)
        else:
            text = turn.t(
                "conv.receipt_versioned", number=report.id, version=report.current_version, **when
            )
        return [Reply(text, done=True)]

    # --- status ----------------------------------------------------------------------------

    async def _status(self, turn: _Turn, *, done: bool) -> Reply:
        blocks: list[str] = []
        for unit in turn.units:
            items = await unit_deliverables(session=turn.session, unit=unit, now=turn.now)
            lines = [turn.t("conv.status.head", unit=unit.name)]
            if not items:
                lines.append(turn.t("conv.status.none"))
            versions = {
                row.report.id: row.version
                for row in await unit_reports(session=turn.session, unit_id=_id(unit))
            }
            for item in items:
                name = _name(item.deliverable, turn.lang)
                tz = item.campaign.timezone
                if item.report is not None:
                    local = _local(item.report.first_confirmed_at, tz)
                    on_time = item.report.first_confirmed_at < end_of_day(item.due_date, tz)
                    version = versions.get(item.report.id)
                    lines.append(
                        turn.t(
                            "conv.status.reported",
                            deliverable=name,
                            number=item.report.id,
                            version=version.version if version is not None else 1,
                            time=local.strftime("%H:%M"),
                            date=format_date(local.date()),
                            timing=turn.t("conv.status.on_time" if on_time else "conv.status.late"),
                        )
                    )
                else:
                    days = (local_date(turn.now, tz) - item.due_date).days
                    if days > 0:
                        when = turn.t("conv.status.overdue", days=days)
                    elif days == 0:
                        when = turn.t("conv.status.due_today")
                    else:
                        when = turn.t("conv.status.due_in", days=-days)
                    lines.append(
                        turn.t(
                            "conv.status.owed",
                            deliverable=name,
                            due=format_date(item.due_date),
                            when=when,
                        )
                    )
            blocks.append("\n".join(lines))
        return Reply("\n\n".join(blocks), done=done)


def _id(row: Any) -> int:
    assert row is not None and row.id is not None
    return int(row.id)


def _name(deliverable: Deliverable, lang: str) -> str:
    return deliverable.name_en if lang == "en" else deliverable.name_vi
