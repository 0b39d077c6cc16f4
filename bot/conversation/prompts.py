"""What the engine asks: the question of a field with its quick answers, the choices of a choice
step (in the order typed numbers refer to), the summary before confirming.
"""

from __future__ import annotations

from bot.conversation.callback import CHOICE_STEPS, Step, Token, callback_data
from bot.conversation.receipt import change_lines
from bot.conversation.types import Choice, Ctx, Option, Reply, Turn, row_id
from storage import drafts
from storage.campaign_status import is_open
from storage.forms import (
    FormField,
    defaults_for,
    fields_that_may_be_asked,
    fields_to_ask,
    format_answer,
    suggestions,
)
from storage.i18n.formatting import date_text, name_in
from storage.reports import (
    unit_deliverables,
    unit_reports,
)


def prefixed(text: str, reply: Reply) -> Reply:
    return Reply(
        text=f"{text}\n\n{reply.text}",
        choices=reply.choices,
        done=reply.done,
        numbered=reply.numbered,
    )


def current_field(ctx: Ctx) -> FormField | None:
    if ctx.form is None or ctx.draft.step in CHOICE_STEPS:
        return None
    if ctx.draft.step in set(ctx.form.keys()):
        return ctx.form.field(ctx.draft.step)
    return None


async def choice_options(turn: Turn, ctx: Ctx) -> list[list[Option]]:
    """The buttons of a choice step (rows), in the order typed numbers refer to."""
    step = ctx.draft.step
    cancel = Option(turn.t("conv.button.cancel"), Token.CANCEL)
    if step == Step.PICK_UNIT:
        rows = [[Option(unit.name, f"u{unit.id}")] for unit in turn.units]
        return [*rows, [cancel]]
    if step == Step.PICK_DELIVERABLE:
        items = ctx.deliverables
        if items is None:
            items = await unit_deliverables(session=turn.session, unit=ctx.unit, now=turn.now)
        owed = [item for item in items if item.report is None]
        several = len({item.campaign.id for item in owed}) > 1
        rows = []
        for item in owed:
            name = name_in(item.deliverable, turn.lang)
            if several:
                name = f"{name} ({item.campaign.reference})"
            label = turn.t(
                "conv.deliverable_choice", name=name, due=date_text(item.due_date, turn.lang)
            )
            rows.append([Option(label, f"d{item.deliverable.id}")])
        return [*rows, [cancel]]
    if step == Step.PICK_REPORT:
        reports = await unit_reports(session=turn.session, unit_id=row_id(ctx.unit))
        rows = [
            [
                Option(
                    turn.t(
                        "conv.report_choice",
                        deliverable=name_in(row.deliverable, turn.lang),
                        number=row.report.id,
                    ),
                    f"r{row.report.id}",
                )
            ]
            for row in reports
            if is_open(row.campaign)
        ]
        return [*rows, [cancel]]
    if step == Step.PICK_FIELD and ctx.form is not None:
        answers = ctx.answers()
        rows = [
            [Option(item.label(turn.lang), f"f{ctx.form.fields.index(item)}")]
            for item in fields_to_ask(ctx.form, answers)
        ]
        last = [cancel]
        if ctx.draft.mode == drafts.MODE_NEW:
            last = [Option(turn.t("conv.button.back"), Token.BACK), cancel]
        return [*rows, last]
    if step == Step.SUMMARY:
        return [
            [
                Option(turn.t("conv.button.confirm"), Token.CONFIRM),
                Option(turn.t("conv.button.edit"), Token.EDIT),
                Option(turn.t("conv.button.cancel"), Token.CANCEL),
            ]
        ]
    return []


def quick_answers(turn: Turn, ctx: Ctx, item: FormField) -> list[tuple[str, str]]:
    """(label, text) quick answers for a question."""
    assert ctx.form is not None
    default = defaults_for(ctx.form, ctx.unit).get(item.key)
    found = suggestions(item, turn.lang, default=default)
    pairs = [(s.label, s.text) for s in found]
    if default is not None and pairs:
        label = turn.t("conv.default", value=format_answer(item, default, turn.lang))
        pairs[0] = (label, pairs[0][1])
    return pairs


def ask_field(turn: Turn, ctx: Ctx, item: FormField) -> Reply:
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
        Choice(label, callback_data(ctx.draft, f"s{index}"))
        for index, (label, _text) in enumerate(quick_answers(turn, ctx, item))
    ]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    return Reply(text="\n".join(lines), choices=rows, numbered=False)


def choice_reply(turn: Turn, ctx: Ctx, options: list[list[Option]]) -> Reply:
    step = ctx.draft.step
    rows = tuple(
        tuple(Choice(option.label, callback_data(ctx.draft, option.token)) for option in row)
        for row in options
    )
    if step == Step.SUMMARY:
        return Reply(text=summary_text(turn, ctx), choices=rows)
    keys: dict[str, str] = {
        Step.PICK_UNIT: "conv.pick_unit",
        Step.PICK_DELIVERABLE: "conv.pick_deliverable",
        Step.PICK_REPORT: "conv.pick_report",
        Step.PICK_FIELD: "conv.pick_field",
    }
    key = keys.get(step, "conv.pick_one")
    if step == Step.PICK_FIELD and ctx.draft.mode == drafts.MODE_UPDATE:
        assert ctx.deliverable is not None
        text = turn.t(
            "conv.pick_field_update",
            deliverable=name_in(ctx.deliverable, turn.lang),
            number=ctx.draft.report_id,
        )
    else:
        text = turn.t(key, unit=ctx.unit.name)
    return Reply(text=text, choices=rows)


def summary_text(turn: Turn, ctx: Ctx) -> str:
    assert ctx.form is not None and ctx.deliverable is not None
    answers = ctx.answers()
    name = name_in(ctx.deliverable, turn.lang)
    if ctx.draft.mode == drafts.MODE_UPDATE:
        lines = [turn.t("conv.update.head", deliverable=name, number=ctx.draft.report_id)]
        lines.extend(change_lines(turn, ctx, answers))
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


async def ask(turn: Turn, ctx: Ctx) -> Reply:
    """The current question with its buttons (choice steps read their options)."""
    item = current_field(ctx)
    if item is not None:
        return ask_field(turn, ctx, item)
    return choice_reply(turn, ctx, await choice_options(turn, ctx))


def stale(turn: Turn) -> Reply:
    return Reply(turn.t("conv.stale"))
