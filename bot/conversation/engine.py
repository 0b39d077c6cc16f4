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

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.callback import (
    CHOICE_STEPS,
    COMMANDS,
    DATA,
    MAX_DATA_BYTES,
    TYPED_NUMBER,
    Step,
    Token,
)
from bot.conversation.context import load_context
from bot.conversation.prompts import (
    ask,
    ask_field,
    choice_options,
    choice_reply,
    current_field,
    prefixed,
    quick_answers,
    stale,
)
from bot.conversation.receipt import evidence_foot, receipt
from bot.conversation.start import begin, open_deliverable, open_report
from bot.conversation.status import status_reply
from bot.conversation.types import (
    Actor,
    Choice,
    Ctx,
    Input,
    Option,
    Reply,
    Turn,
    local_time,
    row_id,
)
from storage import drafts
from storage.access import scope_of
from storage.answer_words import number_words, variants
from storage.answers import fold
from storage.campaign_status import is_open
from storage.clock import local_date, require_aware
from storage.evidence_drafts import adopt_held, held_evidence
from storage.forms import (
    FormField,
    Invalid,
    answers_to_json,
    check_rules,
    error_message,
    fields_to_ask,
    missing_fields,
    next_field,
    parse_answer,
    prune_answers,
    violation_message,
)
from storage.i18n import t
from storage.i18n.formatting import date_text
from storage.models import Campaign, Deliverable, Draft
from storage.reports import (
    DraftGone,
    confirm_report,
    open_draft,
    report_confirmed_from_draft,
    reporter_units,
    unit_deliverables,
    unit_reports,
    update_report,
)
from storage.review import ReportLocked

# session.info key: the draft `has_open_draft` loaded, for `handle` in the same transaction.
_LOADED_DRAFT = "cadrebot.conversation.draft"

_Loaded = tuple[Draft, Deliverable | None, Campaign | None]

__all__ = ["COMMANDS", "Actor", "Choice", "ConversationEngine", "Input", "Reply"]


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
        scope, preloaded = actor.scope, actor.preloaded
        if scope is None or scope.person_id != actor.person_id:
            scope, preloaded = await scope_of(session=session, person_id=actor.person_id), None
        if preloaded is not None:
            session.info.pop(_LOADED_DRAFT, None)
            units = list(preloaded.units)
        else:
            units = await reporter_units(session=session, unit_ids=scope.reporter_unit_ids)
        if not units:
            session.info.pop(_LOADED_DRAFT, None)
            await drafts.delete_person_draft(session=session, person_id=actor.person_id)
            return [Reply(t("conv.refused", actor.lang), done=True)]
        if preloaded is not None:
            loaded = preloaded.draft
        else:
            loaded = await self._load_draft(session, actor.person_id)
        turn = Turn(session=session, actor=actor, now=now, units=units, loaded=loaded or ())
        draft = loaded[0] if loaded is not None else None
        if draft is not None and draft.unit_id not in {unit.id for unit in units}:
            # The reporter role on that unit was removed meanwhile.
            await drafts.delete_draft(session=session, draft_id=row_id(draft))
            draft = None
        if inp.kind == "command":
            return await self._command(turn, draft, inp)
        if inp.kind == "choice":
            return await self._press(turn, draft, inp.data)
        if draft is None:
            return [Reply(turn.t("conv.hint"), done=True)]
        ctx = await load_context(turn, draft)
        if ctx is None:
            return [Reply(turn.t("conv.hint"), done=True)]
        return await self._typed(turn, ctx, inp.text)

    # --- commands --------------------------------------------------------------------------

    async def _command(self, turn: Turn, draft: Draft | None, inp: Input) -> list[Reply]:
        name = inp.command.strip().lower()
        if name == "cancel":
            if draft is None:
                return [Reply(turn.t("conv.nothing_to_cancel"), done=True)]
            await drafts.delete_draft(session=turn.session, draft_id=row_id(draft))
            return [Reply(turn.t("conv.cancelled"), done=True)]
        if name == "status":
            replies = [await status_reply(turn, done=draft is None)]
            if draft is not None:
                ctx = await load_context(turn, draft)
                if ctx is not None:
                    replies.append(prefixed(turn.t("conv.resume"), await ask(turn, ctx)))
            return replies
        if name in ("report", "update"):
            if draft is not None:
                ctx = await load_context(turn, draft)
                if ctx is not None:
                    return [prefixed(turn.t("conv.resume"), await ask(turn, ctx))]
            mode = drafts.MODE_NEW if name == "report" else drafts.MODE_UPDATE
            if len(turn.units) > 1:
                draft = await drafts.start_draft(
                    session=turn.session,
                    person_id=turn.actor.person_id,
                    unit_id=row_id(turn.units[0]),
                    channel=turn.actor.channel,
                    now=turn.now,
                    step=Step.PICK_UNIT,
                    mode=mode,
                )
                ctx = Ctx(draft=draft, unit=turn.units[0])
                return [await ask(turn, ctx)]
            return await begin(turn, None, turn.units[0], mode)
        return [Reply(turn.t("conv.hint"), done=draft is None)]

    # --- loading ---------------------------------------------------------------------------

    # --- presses ---------------------------------------------------------------------------

    async def _press(self, turn: Turn, draft: Draft | None, data: str) -> list[Reply]:
        if not isinstance(data, str) or len(data.encode("utf-8", "replace")) > MAX_DATA_BYTES:
            return [stale(turn)]
        match = DATA.match(data)
        if match is None:
            return [stale(turn)]
        draft_id, revision = int(match.group(1)), int(match.group(2))
        tag, token = match.group(3), match.group(4)
        if not drafts.is_current(draft, draft_id=draft_id, revision=revision, tag=tag):
            return [await self._stale_press(turn, draft_id, token)]
        assert draft is not None
        ctx = await load_context(turn, draft)
        if ctx is None:
            return [stale(turn)]
        return await self._token(turn, ctx, token)

    async def _stale_press(self, turn: Turn, draft_id: int, token: str) -> Reply:
        """An old button: say the report was already recorded if this draft became one."""
        if token == Token.CONFIRM:
            number = await report_confirmed_from_draft(
                session=turn.session, person_id=turn.actor.person_id, draft_id=draft_id
            )
            if number is not None:
                return Reply(turn.t("conv.already_recorded", number=number))
        return stale(turn)

    async def _token(self, turn: Turn, ctx: Ctx, token: str) -> list[Reply]:
        """Apply a button (pressed, or typed as its number) to the draft's current step."""
        step = ctx.draft.step
        if token == Token.CANCEL:
            await drafts.delete_draft(session=turn.session, draft_id=row_id(ctx.draft))
            return [Reply(turn.t("conv.cancelled"), done=True)]
        item = current_field(ctx)
        if item is not None:
            if token[0] != "s" or not token[1:].isdigit():
                return [stale(turn)]
            pairs = quick_answers(turn, ctx, item)
            index = int(token[1:])
            if index >= len(pairs):
                return [stale(turn)]
            return await self._answer(turn, ctx, item, pairs[index][1])
        kind, rest = token[:1], token[1:]
        number = int(rest) if rest.isdigit() else -1
        if step == Step.PICK_UNIT and kind == "u":
            unit = next((u for u in turn.units if u.id == number), None)
            if unit is None:
                return [stale(turn)]
            return await begin(turn, ctx.draft, unit, ctx.draft.mode)
        if step == Step.PICK_DELIVERABLE and kind == "d":
            items = await unit_deliverables(session=turn.session, unit=ctx.unit, now=turn.now)
            chosen = next(
                (i for i in items if i.deliverable.id == number and i.report is None), None
            )
            if chosen is None:
                return [stale(turn)]
            return await open_deliverable(turn, ctx.draft, ctx.unit, chosen.deliverable)
        if step == Step.PICK_REPORT and kind == "r":
            rows = await unit_reports(session=turn.session, unit_id=row_id(ctx.unit))
            found = next(
                (row for row in rows if row.report.id == number and is_open(row.campaign)),
                None,
            )
            if found is None:
                return [stale(turn)]
            return await open_report(turn, ctx.draft, ctx.unit, found.report)
        if step == Step.PICK_FIELD and ctx.form is not None:
            if token == Token.BACK and ctx.draft.mode == drafts.MODE_NEW:
                return await self._move(turn, ctx, step=Step.SUMMARY)
            answers = ctx.answers()
            allowed = {f.key for f in fields_to_ask(ctx.form, answers)}
            if kind != "f" or not 0 <= number < len(ctx.form.fields):
                return [stale(turn)]
            chosen_field = ctx.form.fields[number]
            if chosen_field.key not in allowed:
                return [stale(turn)]
            answers.pop(chosen_field.key, None)
            return await self._move(
                turn, ctx, step=chosen_field.key, answers=answers_to_json(ctx.form, answers)
            )
        if step == Step.SUMMARY:
            if token == Token.EDIT:
                return await self._move(turn, ctx, step=Step.PICK_FIELD)
            if token == Token.CONFIRM:
                return await self._confirm(turn, ctx)
        return [stale(turn)]

    async def _move(self, turn: Turn, ctx: Ctx, *, prefix: str = "", **changes: Any) -> list[Reply]:
        moved = await drafts.advance(
            session=turn.session,
            draft=ctx.draft,
            seen_revision=ctx.draft.revision,
            now=turn.now,
            **changes,
        )
        if not moved:
            return [stale(turn)]
        reply = await ask(turn, ctx)
        return [prefixed(prefix, reply) if prefix else reply]

    # --- typed text ------------------------------------------------------------------------

    async def _typed(self, turn: Turn, ctx: Ctx, text: str) -> list[Reply]:
        item = current_field(ctx)
        if item is not None:
            return await self._answer(turn, ctx, item, text)
        if ctx.draft.step == Step.CONFIRMING:
            return [stale(turn)]
        if ctx.form is None and ctx.draft.step not in CHOICE_STEPS:
            return [stale(turn)]
        if ctx.form is not None and ctx.draft.step not in CHOICE_STEPS:
            # The form changed under the draft (campaign reloaded): go to the next question.
            return await self._after_answer(turn, ctx, ctx.answers())
        options = await choice_options(turn, ctx)
        flat = [option for row in options for option in row]
        wanted = fold(text) if isinstance(text, str) and len(text) <= 200 else ""
        token = _typed_choice(wanted, flat)
        if token is None:
            reply = choice_reply(turn, ctx, options)
            return [prefixed(turn.t("conv.pick_one"), reply)]
        return await self._token(turn, ctx, token)

    async def _answer(self, turn: Turn, ctx: Ctx, item: FormField, text: str) -> list[Reply]:
        assert ctx.form is not None
        today = local_date(turn.now, ctx.tz)
        result = parse_answer(item, text, today=today, lang=turn.lang)
        if isinstance(result, Invalid):
            message = error_message(item, result, turn.lang)
            return [prefixed(message, ask_field(turn, ctx, item))]
        answers = ctx.answers()
        answers[item.key] = result.value
        # A rule across fields is checked as soon as all its fields are known: the answer
        # that breaks it is refused here, and only this question is asked again.
        assert ctx.campaign is not None
        broken = [
            violation
            for violation in check_rules(
                ctx.form,
                prune_answers(ctx.form, answers),
                campaign_start=ctx.campaign.start_date,
                campaign_end=ctx.campaign.end_date,
                today=today,
            )
            if item.key in violation.fields
        ]
        if broken:
            explained = "\n".join(violation_message(ctx.form, v, turn.lang) for v in broken)
            again = f"{explained}\n{turn.t('conv.answer_again')}"
            return [prefixed(again, ask_field(turn, ctx, item))]
        return await self._after_answer(turn, ctx, answers)

    async def _after_answer(self, turn: Turn, ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
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
            await drafts.delete_draft(session=turn.session, draft_id=row_id(ctx.draft))
            return [Reply(turn.t("conv.no_change"), done=True)]
        return await self._move(
            turn, ctx, step=Step.SUMMARY, answers=answers_to_json(form, answers)
        )

    # --- confirming ------------------------------------------------------------------------

    async def _confirm(self, turn: Turn, ctx: Ctx) -> list[Reply]:
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
            step=Step.CONFIRMING,
        ):
            return [stale(turn)]
        held = await held_evidence(session=turn.session, draft=ctx.draft)
        local = local_time(turn.now, ctx.tz)
        when = {"time": local.strftime("%H:%M"), "date": date_text(local.date(), turn.lang)}
        if ctx.draft.mode == drafts.MODE_UPDATE and ctx.draft.report_id is not None:
            try:
                version = await update_report(
                    session=turn.session,
                    report_id=ctx.draft.report_id,
                    answers=answers,
                    person_id=turn.actor.person_id,
                    channel=ctx.draft.channel,
                    now=turn.now,
                    note={"draft_id": ctx.draft.id},
                )
            except ReportLocked:  # approved while this change was being typed
                await drafts.delete_draft(session=turn.session, draft_id=row_id(ctx.draft))
                return [Reply(turn.t("review.locked", number=ctx.draft.report_id), done=True)]
            attached = await adopt_held(
                session=turn.session, held=held, report_id=ctx.draft.report_id, now=turn.now
            )
            await drafts.delete_draft(session=turn.session, draft_id=row_id(ctx.draft))
            head = turn.t(
                "conv.updated", number=ctx.draft.report_id, version=version.version, **when
            )
            text = receipt(turn, ctx, answers, head=head, changed_only=True)
            return [Reply(evidence_foot(turn, text, ctx.draft.report_id, attached), done=True)]
        try:
            report = await confirm_report(
                session=turn.session, draft_id=row_id(ctx.draft), now=turn.now, taken=ctx.draft
            )
        except DraftGone:
            return [stale(turn)]
        number = row_id(report)
        attached = await adopt_held(session=turn.session, held=held, report_id=number, now=turn.now)
        key = "conv.receipt" if report.current_version == 1 else "conv.receipt_versioned"
        head = turn.t(key, number=number, version=report.current_version, **when)
        text = receipt(turn, ctx, answers, head=head)
        return [Reply(evidence_foot(turn, text, number, attached), done=True)]


def _typed_choice(wanted: str, flat: list[Option]) -> str | None:
    """The option typed as its number ("2", "2 ạ", "hai") or its label ("xác nhận ạ")."""
    for form in variants(wanted):
        number = TYPED_NUMBER.match(form)
        index = int(number.group(1)) - 1 if number is not None else None
        if index is None:
            worded = number_words(form)
            index = worded - 1 if worded is not None else None
        if index is not None:
            if 0 <= index < len(flat):
                return flat[index].token
            continue
        token = next((o.token for o in flat if form and fold(o.label) == form), None)
        if token is not None:
            return token
    return None
