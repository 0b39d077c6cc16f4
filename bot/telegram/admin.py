"""Admin commands in chat: /xuat (export the XLSX workbook as a document), /moi (create an
invite link: for a role on a unit, or `/moi nguoi ID` for an existing person), /phancong
(assign units to a supervisor) and /dot (list, open, close campaigns).

Every command asks `storage.access` for the person's scope as it is now. Someone without the
role gets the same refusal a stranger gets; a unit, person or campaign outside the scope gets
the same answer as one that does not exist. Every action is audited (channel "telegram", the
admin as actor): through the storage function that writes, or here for the read-only export.

/xuat is also open to supervisors, for the units they follow: the export takes one subtree
(`root_path`), so a supervisor who follows several units names one. The workbook is written
after the turn has committed, in a read transaction of its own (a large export must not hold
the write lock), to a temporary file sent with sendDocument."""

from __future__ import annotations

import html
import re
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from telegram import Bot, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.export import write_xlsx
from bot.formatting import date_text, number
from bot.i18n import MissingMessage, t
from bot.telegram.onboarding import unit_label
from bot.telegram.render import Button, Say
from bot.telegram.turn import Context, Outcome, Turn, refusal, runtime_of, turn_callback
from storage.access import Scope
from storage.assignments import followed_units, person_in_scope, units_by_ids
from storage.audit import record
from storage.campaign_status import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPEN,
    may_manage,
    set_campaign_status,
)
from storage.campaigns import get_campaign, list_campaigns
from storage.clock import local_date
from storage.db import Database
from storage.invites import INVITE_IDENTITY, create_invite, invite_link
from storage.models import (
    CHANNEL_TELEGRAM,
    ROLE_SUPERVISOR,
    Campaign,
    Unit,
)
from storage.people import grant_role, revoke_role, role_from_word
from storage.units import get_unit

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
EXPORT_PREFIX = "xuat:"
MAX_CAPTION = 1024

PERSON_WORDS = {"nguoi", "người", "person"}
REMOVE_WORDS = {"bo", "bỏ", "xoa", "xóa", "xoá", "remove"}
OPEN_WORDS = {"mo", "mở", "open"}
CLOSE_WORDS = {"dong", "đóng", "ketthuc", "kếtthúc", "close"}


# --- scope helpers ------------------------------------------------------------------------


def admin_scope(scope: Scope) -> Scope:
    """Only the person's admin roles (what /moi, /phancong and /dot may act on)."""
    return replace(scope, supervised_unit_ids=(), supervised_paths=(), reporter_unit_ids=())


def export_scope(scope: Scope) -> Scope:
    """Admin subtrees and followed units (a reporter's own unit is not exportable)."""
    return replace(scope, reporter_unit_ids=())


async def _unit_in(turn: Turn, scope: Scope, code: str) -> Unit | None:
    """The active unit with this code (exact, else upper case) if `scope` sees it."""
    unit = await get_unit(session=turn.session, code=code)
    if unit is None and code.upper() != code:
        unit = await get_unit(session=turn.session, code=code.upper())
    if unit is None or not unit.active or not scope.sees(unit):
        return None
    return unit


def _not_found(turn: Turn, code: str) -> Outcome:
    return Outcome([turn.say("admin.unit.not_found", code=code)])


# --- /xuat ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportJob:
    chat_id: int
    campaign_id: int
    reference: str
    name: str
    timezone: str
    root_path: str | None
    where: str
    filename: str
    lang: str
    as_of: datetime


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


async def _default_root(turn: Turn, scope: Scope) -> tuple[bool, Unit | None]:
    """The subtree to export when no unit is named: (True, None) for the whole tree, (True,
    unit) for the one unit the person is in charge of, (False, None) when there are several
    (a code is needed)."""
    if scope.whole_tree:
        return True, None
    roots = scope.subtree_roots
    if len(roots) != 1:
        return False, None
    ids = dict(
        zip(
            [*scope.admin_paths, *scope.supervised_paths],
            [*scope.admin_unit_ids, *scope.supervised_unit_ids],
            strict=True,
        )
    )
    [unit] = await units_by_ids(session=turn.session, unit_ids=[ids[roots[0]]])
    return True, unit


async def _export_job(turn: Turn, campaign: Campaign, unit: Unit | None) -> ExportJob:
    assert campaign.id is not None
    await record(
        session=turn.session,
        now=turn.now,
        channel=CHANNEL_TELEGRAM,
        action="export.xlsx",
        entity="campaign",
        entity_id=campaign.id,
        actor_person_id=turn.person_id,
        new={"unit_id": unit.id if unit is not None else None},
    )
    day = local_date(turn.now, campaign.timezone)
    part = unit.code if unit is not None else "toan-bo"
    return ExportJob(
        chat_id=turn.chat_id,
        campaign_id=campaign.id,
        reference=campaign.reference,
        name=campaign.name,
        timezone=campaign.timezone,
        root_path=unit.path if unit is not None else None,
        where=unit_label(unit, turn.lang)
        if unit is not None
        else t("admin.export.whole", turn.lang),
        filename=f"{_safe(campaign.reference)}_{_safe(part)}_{day.isoformat()}.xlsx",
        lang=turn.lang,
        as_of=turn.now,
    )


Prepared = tuple[Outcome, ExportJob | None]


async def prepare_export(turn: Turn) -> Prepared:
    """/xuat [UNIT_CODE] [CAMPAIGN_REF], in any order: an argument that is a campaign's
    reference names the campaign, the other one the unit."""
    scope = export_scope(turn.scope)
    if scope.is_empty:
        return refusal(turn), None
    campaign: Campaign | None = None
    codes: list[str] = []
    for arg in turn.args:
        found = await get_campaign(session=turn.session, campaign_id_or_reference=arg)
        if campaign is None and found is not None and found.reference == arg:
            campaign = found
        else:
            codes.append(arg)
    if len(codes) > 1:
        return Outcome([turn.say("admin.export.usage")]), None
    unit: Unit | None
    if codes:
        unit = await _unit_in(turn, scope, codes[0])
        if unit is None:
            return _not_found(turn, codes[0]), None
    else:
        known, unit = await _default_root(turn, scope)
        if not known:
            return Outcome([turn.say("admin.export.pick_unit")]), None
    if campaign is None:
        open_ = [c for c in await list_campaigns(session=turn.session) if c.status == CAMPAIGN_OPEN]
        if not open_:
            return Outcome([turn.say("admin.export.no_campaign")]), None
        if len(open_) > 1:
            unit_id = unit.id if unit is not None else 0
            buttons = tuple(
                (
                    Button(
                        t("admin.export.button", turn.lang, reference=c.reference, name=c.name),
                        f"{EXPORT_PREFIX}{c.id}:{unit_id}",
                    ),
                )
                for c in open_
            )
            return Outcome([Say(t("admin.export.choose", turn.lang), buttons)]), None
        campaign = open_[0]
    return Outcome(), await _export_job(turn, campaign, unit)


async def prepare_export_press(turn: Turn) -> Prepared:
    """A press on a campaign button of /xuat: `xuat:<campaign id>:<unit id or 0>`, checked
    again against the scope as it is now."""
    scope = export_scope(turn.scope)
    if scope.is_empty:
        return refusal(turn), None
    stale = Outcome(answer=t("admin.export.stale", turn.lang))
    query = turn.update.callback_query
    data = query.data if query is not None and query.data else ""
    match = re.fullmatch(rf"{EXPORT_PREFIX}(\d+):(\d+)", data)
    if match is None:
        return stale, None
    campaign = await get_campaign(session=turn.session, campaign_id_or_reference=int(match[1]))
    if campaign is None:
        return stale, None
    unit: Unit | None = None
    if int(match[2]):
        found = await units_by_ids(session=turn.session, unit_ids=[int(match[2])])
        if not found or not found[0].active or not scope.sees(found[0]):
            return stale, None
        unit = found[0]
    else:
        known, unit = await _default_root(turn, scope)
        if not known:
            return stale, None
    return Outcome(answer="", clear_keyboard=True), await _export_job(turn, campaign, unit)


async def send_export(bot: Bot, db: Database, job: ExportJob) -> None:
    """Write the workbook to a temporary file (read transaction) and send it as a document."""
    with tempfile.TemporaryDirectory(prefix="cadrebot-export-") as folder:
        path = Path(folder) / job.filename
        async with db.read() as session:
            rows = await write_xlsx(
                session=session,
                campaign_id=job.campaign_id,
                as_of=job.as_of,
                output=path,
                root_path=job.root_path,
                lang=job.lang,
            )
        caption = t(
            "admin.export.caption",
            job.lang,
            name=job.name,
            reference=job.reference,
            where=job.where,
            date=date_text(local_date(job.as_of, job.timezone), job.lang),
            rows=number(rows, job.lang),
        )
        with path.open("rb") as handle:
            await bot.send_document(
                chat_id=job.chat_id,
                document=handle,
                filename=job.filename,
                caption=html.escape(caption[:MAX_CAPTION], quote=False),
            )


def export_callback(
    name: str, prepare: Callable[[Turn], Awaitable[Prepared]]
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """One turn (scope check, audit row) and, once it has committed, the document."""

    async def callback(update: Update, context: Context) -> None:
        jobs: list[ExportJob] = []

        async def handler(turn: Turn) -> Outcome:
            outcome, job = await prepare(turn)
            if job is not None:
                jobs.append(job)
            return outcome

        await turn_callback(name, handler)(update, context)
        for job in jobs:
            await send_export(context.bot, runtime_of(context).db, job)

    callback.__name__ = f"turn_{name}"
    return callback


# --- /moi -----------------------------------------------------------------------------------


def parse_role(args: list[str]) -> tuple[str | None, list[str]]:
    """The role named by the first one or two words, and the words after it."""
    if len(args) >= 2 and (role := role_from_word(args[0] + args[1])) is not None:
        return role, args[2:]
    if args and (role := role_from_word(args[0])) is not None:
        return role, args[1:]
    return None, args


async def _invite_person(turn: Turn, scope: Scope, args: list[str]) -> Outcome:
    """/moi nguoi PERSON_ID: an invite that binds a chat account to this existing person (one
    the admin's scope reaches), who keeps the roles they have; it grants no role."""
    if len(args) != 1 or not args[0].isdigit():
        return Outcome([turn.say("admin.invite.usage")])
    person = await person_in_scope(session=turn.session, person_id=int(args[0]), scope=scope)
    if person is None or person.id is None:
        return Outcome([turn.say("admin.assign.no_person", person=args[0])])
    created, plain = await create_invite(
        session=turn.session,
        role_kind=INVITE_IDENTITY,
        unit_id=None,
        person_id=person.id,
        now=turn.now,
        created_by_person_id=turn.person_id,
        channel=CHANNEL_TELEGRAM,
    )
    tz = turn.runtime.settings.timezone
    return Outcome(
        [
            turn.say(
                "admin.invite.created_person",
                name=person.full_name,
                person=person.id,
                link=invite_link(turn.runtime.settings.bot_username, plain),
                code=plain,
                expires=date_text(local_date(created.expires_at, tz), turn.lang),
            )
        ]
    )


async def invite(turn: Turn) -> Outcome:
    scope = admin_scope(turn.scope)
    if not scope.is_admin:
        return refusal(turn)
    if turn.args and turn.args[0].lower() in PERSON_WORDS:
        return await _invite_person(turn, scope, turn.args[1:])
    role, rest = parse_role(turn.args)
    if role is None or not rest:
        return Outcome([turn.say("admin.invite.usage")])
    code, name_words = rest[0], rest[1:]
    unit = await _unit_in(turn, scope, code)
    if unit is None or unit.id is None:
        return _not_found(turn, code)
    person_name = " ".join(name_words).strip() or None
    created, plain = await create_invite(
        session=turn.session,
        role_kind=role,
        unit_id=unit.id,
        now=turn.now,
        person_name=person_name,
        created_by_person_id=turn.person_id,
        channel=CHANNEL_TELEGRAM,
    )
    tz = turn.runtime.settings.timezone
    return Outcome(
        [
            turn.say(
                "admin.invite.created",
                role=t(f"admin.role.{role}", turn.lang),
                unit=unit_label(unit, turn.lang),
                person=t("admin.invite.for_person", turn.lang, name=person_name)
                if person_name
                else "",
                link=invite_link(turn.runtime.settings.bot_username, plain),
                code=plain,
                expires=date_text(local_date(created.expires_at, tz), turn.lang),
            )
        ]
    )


# --- /phancong ------------------------------------------------------------------------------


async def assign(turn: Turn) -> Outcome:
    """/phancong PERSON_ID CODE [CODE ...] or /phancong bo PERSON_ID CODE."""
    scope = admin_scope(turn.scope)
    if not scope.is_admin:
        return refusal(turn)
    args = list(turn.args)
    removing = bool(args) and args[0].lower() in REMOVE_WORDS
    if removing:
        args = args[1:]
    if len(args) < 2 or not args[0].isdigit() or (removing and len(args) != 2):
        return Outcome([turn.say("admin.assign.usage")])
    person = await person_in_scope(session=turn.session, person_id=int(args[0]), scope=scope)
    if person is None or person.id is None:
        return Outcome([turn.say("admin.assign.no_person", person=args[0])])
    units: list[Unit] = []
    for code in args[1:]:
        unit = await _unit_in(turn, scope, code)
        if unit is None:
            return _not_found(turn, code)
        units.append(unit)
    if removing:
        [unit] = units
        removed = await revoke_role(
            session=turn.session,
            person_id=person.id,
            kind=ROLE_SUPERVISOR,
            unit_id=unit.id,
            now=turn.now,
            actor_person_id=turn.person_id,
            channel=CHANNEL_TELEGRAM,
        )
        key = "admin.assign.removed" if removed else "admin.assign.not_following"
        return Outcome([turn.say(key, name=person.full_name, unit=unit_label(unit, turn.lang))])
    for unit in units:
        await grant_role(
            session=turn.session,
            person_id=person.id,
            kind=ROLE_SUPERVISOR,
            unit_id=unit.id,
            now=turn.now,
            actor_person_id=turn.person_id,
            channel=CHANNEL_TELEGRAM,
        )
    followed = [
        unit_label(u, turn.lang)
        for u in await followed_units(session=turn.session, person_id=person.id)
        if scope.sees(u)
    ]
    if not followed:
        return Outcome([turn.say("admin.assign.none", name=person.full_name, person=person.id)])
    return Outcome(
        [
            turn.say(
                "admin.assign.done",
                name=person.full_name,
                person=person.id,
                units="; ".join(followed),
            )
        ]
    )


# --- /dot -----------------------------------------------------------------------------------


def _status_label(status: str, lang: str) -> str:
    try:
        return t(f"campaign.status.{status}", lang)
    except MissingMessage:
        return status


async def campaigns(turn: Turn) -> Outcome:
    """/dot lists the campaigns; /dot mo REF and /dot dong REF open or close one."""
    scope = admin_scope(turn.scope)
    if not scope.is_admin:
        return refusal(turn)
    if not turn.args:
        rows = await list_campaigns(session=turn.session)
        if not rows:
            return Outcome([turn.say("admin.campaigns.empty")])
        lines = [t("admin.campaigns.head", turn.lang)]
        lines += [
            t(
                "admin.campaigns.line",
                turn.lang,
                reference=c.reference,
                name=c.name,
                status=_status_label(c.status, turn.lang),
                start=date_text(c.start_date, turn.lang),
            )
            for c in rows
        ]
        lines.append(t("admin.campaigns.hint", turn.lang))
        return Outcome([Say("\n".join(lines))])
    verb = turn.args[0].lower()
    if len(turn.args) != 2 or verb not in OPEN_WORDS | CLOSE_WORDS:
        return Outcome([turn.say("admin.campaigns.usage")])
    reference = turn.args[1]
    campaign = await get_campaign(session=turn.session, campaign_id_or_reference=reference)
    if (
        campaign is None
        or campaign.id is None
        or not await may_manage(session=turn.session, scope=scope, campaign=campaign)
    ):
        return Outcome([turn.say("admin.campaigns.not_found", reference=reference)])
    status = CAMPAIGN_OPEN if verb in OPEN_WORDS else CAMPAIGN_CLOSED
    change = await set_campaign_status(
        session=turn.session,
        campaign_id=campaign.id,
        status=status,
        now=turn.now,
        actor_person_id=turn.person_id,
        channel=CHANNEL_TELEGRAM,
    )
    assert change is not None
    if not change.changed:
        return Outcome(
            [turn.say(f"admin.campaigns.already.{status}", reference=campaign.reference)]
        )
    key = "admin.campaigns.opened" if status == CAMPAIGN_OPEN else "admin.campaigns.closed"
    return Outcome([turn.say(key, reference=campaign.reference, name=campaign.name)])


# --- registration ---------------------------------------------------------------------------


def handlers() -> list[BaseHandler[Update, Context, None]]:
    """To add before the catch-all command and button handlers."""
    return [
        CommandHandler(
            ["xuat", "export"], export_callback("xuat", prepare_export), filters=PRIVATE
        ),
        CommandHandler(["moi", "invite"], turn_callback("moi", invite), filters=PRIVATE),
        CommandHandler(["phancong", "assign"], turn_callback("phancong", assign), filters=PRIVATE),
        CommandHandler(["dot", "campaigns"], turn_callback("dot", campaigns), filters=PRIVATE),
        CallbackQueryHandler(
            export_callback("xuat_press", prepare_export_press), pattern=f"^{EXPORT_PREFIX}"
        ),
    ]
