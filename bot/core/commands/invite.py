"""/moi ROLE UNIT_CODE [NAME]: an invite for a role on a unit; /moi nguoi PERSON_ID: an invite
that binds a chat account to an existing person (who keeps their roles). Admins only, inside
their admin subtrees; a unit or person outside gets the answer of one that does not exist.
Every invite is audited by `storage.invites.create_invite` (the channel it was asked on).

`/moi nguoi` follows `storage.rebind`: only for a person whose every role lies inside the
admin's subtrees; when the person already uses an account, the admin must confirm with
`/moi nguoi PERSON_ID xacnhan`, and that account is told at once through the outbox."""

from __future__ import annotations

from bot.core.commands.common import not_found, refusal, unit_in, unit_label
from bot.core.io import Outcome
from bot.core.turn import Turn
from storage.access import Scope, admin_scope
from storage.answers import fold
from storage.clock import local_date
from storage.i18n import t
from storage.i18n.formatting import date_text
from storage.invites import INVITE_IDENTITY, create_invite, invite_link
from storage.models import Invite
from storage.organisation import organisation_name
from storage.people import role_from_word
from storage.rebind import RebindCheck, plan_rebind, warn_accounts

PERSON_WORDS = {"nguoi", "người", "person"}
CONFIRM_WORDS = {"xacnhan", "dongy", "confirm"}


async def _create(
    turn: Turn,
    *,
    role_kind: str,
    unit_id: int | None,
    person_id: int | None = None,
    person_name: str | None = None,
) -> tuple[Invite, dict[str, str]]:
    """Create the invite, asked by the turn's admin on the turn's channel: the invite and what
    the reply shows of it (`link`, `code`, `expires`)."""
    created, plain = await create_invite(
        session=turn.session,
        role_kind=role_kind,
        unit_id=unit_id,
        now=turn.now,
        created_by_person_id=turn.person_id,
        channel=turn.channel,
        person_id=person_id,
        person_name=person_name,
    )
    settings = turn.runtime.settings
    expires = local_date(created.expires_at, settings.timezone)
    shown = {
        "link": invite_link(settings.bot_username, plain),
        "code": plain,
        "expires": date_text(expires, turn.lang),
    }
    return created, shown


def parse_role(args: list[str]) -> tuple[str | None, list[str]]:
    """The role named by the first one or two words, and the words after it."""
    if len(args) >= 2 and (role := role_from_word(args[0] + args[1])) is not None:
        return role, args[2:]
    if args and (role := role_from_word(args[0])) is not None:
        return role, args[1:]
    return None, args


async def _invite_person(turn: Turn, scope: Scope, args: list[str]) -> Outcome:
    if not args or not args[0].isdigit():
        return Outcome([turn.say("admin.invite.usage")])
    confirmed = fold("".join(args[1:])).replace(" ", "") in CONFIRM_WORDS
    if len(args) > 1 and not confirmed:
        return Outcome([turn.say("admin.invite.usage")])
    plan = await plan_rebind(
        session=turn.session, person_id=int(args[0]), scope=scope, confirmed=confirmed
    )
    person = plan.person
    if plan.check is RebindCheck.REFUSED or person is None or person.id is None:
        return Outcome([turn.say("admin.assign.no_person", person=args[0])])
    if plan.check is RebindCheck.CONFIRM:
        channels = ", ".join(t(f"invite.channel.{a.channel}", turn.lang) for a in plan.accounts)
        return Outcome(
            [
                turn.say(
                    "admin.invite.confirm_rebind",
                    name=person.full_name,
                    person=person.id,
                    channels=channels,
                )
            ]
        )
    created, shown = await _create(
        turn, role_kind=INVITE_IDENTITY, unit_id=None, person_id=person.id
    )
    if plan.accounts:  # confirmed: the accounts in use hear of it now, not after the fact
        name = person.full_name
        await warn_accounts(
            session=turn.session,
            accounts=plan.accounts,
            text=lambda lang: t(
                "invite.rebind.notice",
                lang or "vi",
                name=name,
                organisation=organisation_name(turn.runtime.settings, lang or "vi"),
            ),
            key=f"rebind:{created.id}",
            now=turn.now,
        )
    return Outcome(
        [turn.say("admin.invite.created_person", name=person.full_name, person=person.id, **shown)]
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
    unit = await unit_in(turn, scope, code)
    if unit is None or unit.id is None:
        return not_found(turn, code)
    person_name = " ".join(name_words).strip() or None
    _, shown = await _create(turn, role_kind=role, unit_id=unit.id, person_name=person_name)
    return Outcome(
        [
            turn.say(
                "admin.invite.created",
                role=t(f"admin.role.{role}", turn.lang),
                unit=unit_label(unit, turn.lang),
                person=t("admin.invite.for_person", turn.lang, name=person_name)
                if person_name
                else "",
                **shown,
            )
        ]
    )
