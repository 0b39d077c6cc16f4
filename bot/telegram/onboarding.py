"""/start with an invite code (typed or from a deep link), /start alone, and /trogiup."""

from __future__ import annotations

from bot.i18n import pick_language, t
from bot.telegram.attempts import record_failure, throttled
from bot.telegram.menus import command_names
from bot.telegram.render import Say
from bot.telegram.turn import Outcome, Turn, refusal
from storage.access import Scope, scope_of
from storage.invites import RedeemOutcome, RedeemStatus, redeem_invite
from storage.models import CHANNEL_TELEGRAM, Unit


def unit_label(unit: Unit, lang: str) -> str:
    return t("telegram.unit.label", lang, name=unit.name, code=unit.code)


def help_lines(scope: Scope, lang: str) -> list[str]:
    return [
        t("telegram.help.line", lang, command=name, description=t(f"telegram.cmd.{name}", lang))
        for name in command_names(scope)
    ]


def _welcome(outcome: RedeemOutcome, scope: Scope, lang: str) -> str:
    """Greeting, the role the invite gave (or, for an invite that only binds the account to an
    existing person, that their roles are unchanged), then the commands."""
    assert outcome.person is not None
    where = (
        unit_label(outcome.unit, lang)
        if outcome.unit is not None
        else t("telegram.start.whole_tree", lang)
    )
    role = (
        t(f"telegram.start.role.{outcome.role.kind}", lang, unit=where)
        if outcome.role is not None
        else t("telegram.start.linked", lang)
    )
    return "\n".join(
        [
            t("telegram.start.welcome", lang, name=outcome.person.full_name),
            role,
            "",
            t("telegram.start.can", lang),
            *help_lines(scope, lang),
        ]
    )


async def start(turn: Turn) -> Outcome:
    code = turn.args[0] if turn.args else ""
    if not code:
        if not turn.known:
            return refusal(turn)
        assert turn.person is not None
        scope = turn.scope
        text = "\n".join(
            [
                t("telegram.start.known", turn.lang, name=turn.person.full_name),
                "",
                t("telegram.help.intro", turn.lang),
                *help_lines(scope, turn.lang),
            ]
        )
        return Outcome([Say(text)], menu=scope)

    external_id = str(turn.user_id)
    if await throttled(session=turn.session, external_id=external_id, now=turn.now):
        return Outcome([turn.say("telegram.start.throttled")])
    outcome = await redeem_invite(
        session=turn.session,
        code=code,
        channel=CHANNEL_TELEGRAM,
        external_id=external_id,
        now=turn.now,
        chat_id=str(turn.chat_id),
        display_name=turn.display_name,
        language_code=turn.language_code,
    )
    if not outcome.ok:
        await record_failure(
            session=turn.session, external_id=external_id, status=outcome.status, now=turn.now
        )
        return Outcome([turn.say(f"telegram.start.refused.{outcome.status.value}")])
    assert outcome.person is not None and outcome.person.id is not None
    lang = pick_language(
        outcome.person.language, turn.language_code, turn.runtime.settings.language
    )
    scope = await scope_of(session=turn.session, person_id=outcome.person.id)
    return Outcome([Say(_welcome(outcome, scope, lang))], menu=scope)


async def help_command(turn: Turn) -> Outcome:
    text = "\n".join([t("telegram.help.intro", turn.lang), *help_lines(turn.scope, turn.lang)])
    return Outcome([Say(text)])


# RedeemStatus values each have a catalog sentence: telegram.start.refused.<status>.
REFUSALS = tuple(s for s in RedeemStatus if s is not RedeemStatus.SUCCESS)
