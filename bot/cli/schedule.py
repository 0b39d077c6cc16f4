"""`cadrebot remind` and `cadrebot digest`: run one scheduler pass now, by hand.

Both only queue outbox rows (the running bot's sender delivers them), with the same keys as the
scheduled jobs, so running a command twice, or while the scheduler runs, never sends anything
twice. `--dry-run` prints what would be queued (recipient, key, text) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.cli import common
from scheduler.digest import compose_digest
from scheduler.jobs import digest_pass, digest_recipients, escalation_pass, reminder_pass
from scheduler.reminders import (
    PlannedMessage,
    enqueue_planned,
    plan_escalations,
    plan_reminders,
    within_caps,
)
from scheduler.runner import load_digest_schedule
from storage import outbox
from storage.campaign_status import open_campaigns
from storage.clock import require_aware, system_clock
from storage.db import Database
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.models import Campaign, Person
from storage.reminders import chat_reach

LANG = "vi"


# The options both commands take, then each one's own.
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="In ra, không ghi / print, write nothing")
]
NowOption = Annotated[str | None, typer.Option("--now", hidden=True)]
OnlyCampaignOption = Annotated[
    str | None,
    typer.Option("--campaign", help="Chỉ đợt này (mã tham chiếu hoặc số) / only this campaign"),
]
OnlyPersonOption = Annotated[
    int | None, typer.Option("--to", help="Chỉ gửi cho người này (số) / only this person (id)")
]


def parse_now(value: str | None) -> datetime:
    """`--now` (ISO 8601 with an offset, for tests and the demo) or the wall clock."""
    if value is None:
        return system_clock()
    try:
        return require_aware(datetime.fromisoformat(value))
    except ValueError as exc:
        raise typer.BadParameter(f"--now: {exc}") from None


def _echo_message(name: str, person_id: int, key: str, message: OutgoingMessage) -> None:
    typer.echo(t("digest.cli.recipient", LANG, name=name, person=person_id, key=key))
    typer.echo(message.text)
    if message.photo is not None:
        typer.echo(t("digest.cli.photo", LANG, size=round(len(message.photo) / 1024)))
    typer.echo("")


# ------------------------------------------------------------------------------------- remind


async def _campaigns(session: AsyncSession, wanted: str | None) -> list[Campaign]:
    found = [
        campaign
        for campaign in await open_campaigns(session=session)
        if wanted is None
        or campaign.reference == wanted
        or (wanted.isdigit() and campaign.id == int(wanted))
    ]
    if wanted is not None and not found:
        raise common.Refused(t("digest.cli.unknown_campaign", LANG, campaign=wanted))
    return found


async def _plan(db: Database, campaigns: Sequence[Campaign], now: datetime) -> list[PlannedMessage]:
    planned: list[PlannedMessage] = []
    for campaign in campaigns:
        async with db.read() as session:
            try:
                planned += await plan_reminders(session=session, campaign=campaign, now=now)
                planned += await plan_escalations(session=session, campaign=campaign, now=now)
            except ValueError as exc:  # a bad `reminders` block in the campaign definition
                common.err_console.print(f"{campaign.reference}: {exc}", markup=False)
    async with db.read() as session:  # the weekly caps count over every campaign
        return await within_caps(session=session, planned=planned)


async def _remind(*, campaign: str | None, dry_run: bool, now: datetime) -> None:
    async with common.database() as db:
        async with db.read() as session:
            campaigns = await _campaigns(session, campaign)
        if not dry_run and campaign is None:
            # The scheduler's own passes, every open campaign.
            reminders = await reminder_pass(db, now, report_missed=True)
            escalations = await escalation_pass(db, now)
            typer.echo(
                t("digest.cli.reminders_queued", LANG, reminders=reminders, escalations=escalations)
            )
            return
        planned = await _plan(db, campaigns, now)
        if not dry_run:
            async with db.write() as session:
                new = set(await enqueue_planned(session=session, planned=planned, now=now))
            kinds = [p.kind for p in planned if p.key in new]
            typer.echo(
                t(
                    "digest.cli.reminders_queued",
                    LANG,
                    reminders=kinds.count("reminder"),
                    escalations=kinds.count("escalation"),
                )
            )
            return
        async with db.read() as session:
            done = await outbox.existing_keys(session=session, keys=[p.key for p in planned])
            todo = [p for p in planned if p.key not in done]
            names = await _names(session, [p.person_id for p in todo])
            reach = await chat_reach(session=session, person_ids=[p.person_id for p in todo])
        # "Sẽ gửi" and "không gửi được (chưa kết nối)": a person without a chat account is
        # someone to call, not a message on its way.
        will = [p for p in todo if reach.get(p.person_id, (False, None))[0]]
        cannot = [p for p in todo if not reach.get(p.person_id, (False, None))[0]]
        if will:
            typer.echo(t("digest.cli.will_send", LANG))
        for plan in will:
            _echo_message(names.get(plan.person_id, "?"), plan.person_id, plan.key, plan.message())
        if cannot:
            typer.echo(t("digest.cli.cannot_send", LANG))
        for plan in cannot:
            phone = reach.get(plan.person_id, (False, None))[1]
            typer.echo(
                t(
                    "digest.cli.cannot_send_line",
                    LANG,
                    name=names.get(plan.person_id, "?"),
                    person=plan.person_id,
                    phone=phone or t("digest.cli.no_phone", LANG),
                    key=plan.key,
                )
            )
        if not todo:
            typer.echo(t("digest.cli.nothing", LANG))
        typer.echo(t("digest.cli.dry_run_split", LANG, count=len(will), offline=len(cannot)))


async def _names(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    people = await session.execute(select(Person).where(col(Person.id).in_(sorted(set(ids)))))
    return {p.id: p.full_name for p in people.scalars().all() if p.id is not None}


def remind(
    campaign: OnlyCampaignOption = None, dry_run: DryRunOption = False, now: NowOption = None
) -> None:
    """Nhắc nhở và đôn đốc ngay bây giờ / queue today's reminders and escalations now."""
    common.run(_remind(campaign=campaign, dry_run=dry_run, now=parse_now(now)))


# ------------------------------------------------------------------------------------- digest


async def _digest(*, to: int | None, dry_run: bool, now: datetime) -> None:
    config = common.settings()
    async with common.database(config) as db:
        schedule = await load_digest_schedule(db, config)
        async with db.read() as session:
            if to is None:
                people = await digest_recipients(session=session)
            else:
                person = await session.get(Person, to)
                if person is None or person.forgotten_at is not None:
                    raise common.Refused(t("digest.cli.unknown_person", LANG, person=to))
                people = [person]
        if not dry_run:
            composed: set[int] = set()

            async def composer(
                session: AsyncSession, person: Person, at: datetime
            ) -> OutgoingMessage | None:
                if to is not None and person.id != to:
                    return None
                message = await compose_digest(session, person, at)
                if message is not None and person.id is not None:
                    composed.add(person.id)
                return message

            new = await digest_pass(db, now, composer, schedule=schedule)
            if to is not None and not composed and new == 0:
                _nothing_for(people[0])
            typer.echo(t("digest.cli.queued", LANG, new=new))
            return
        count = 0
        async with db.read() as session:
            keys = {p.id: schedule.key(p.id, now) for p in people if p.id is not None}
            done = await outbox.existing_keys(session=session, keys=list(keys.values()))
            for person in people:
                assert person.id is not None
                if keys[person.id] in done and to is None:
                    continue
                message = await compose_digest(session, person, now)
                if message is None:
                    if to is not None:
                        _nothing_for(person)
                    continue
                _echo_message(person.full_name, person.id, keys[person.id], message)
                if keys[person.id] in done:
                    typer.echo(t("digest.cli.already", LANG))
                else:
                    count += 1
        typer.echo(t("digest.cli.dry_run", LANG, count=count))


def _nothing_for(person: Person) -> None:
    typer.echo(t("digest.cli.nothing_for", LANG, name=person.full_name, person=person.id))


def digest(
    to: OnlyPersonOption = None, dry_run: DryRunOption = False, now: NowOption = None
) -> None:
    """Bản tổng hợp tuần ngay bây giờ / queue this week's digests now (once per person)."""
    common.run(_digest(to=to, dry_run=dry_run, now=parse_now(now)))


def register(app: typer.Typer) -> None:
    """Add `remind` and `digest` to the `cadrebot` application."""
    app.command("remind")(remind)
    app.command("digest")(digest)
