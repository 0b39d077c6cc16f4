"""/start with an invite code (typed, from a Telegram deep link, or on Zalo the code alone),
/start alone, /trogiup, and the list of a person's commands (the same on every channel; the
Telegram menu shows the same names)."""

from __future__ import annotations

from bot.core.commands.common import refusal, unit_label
from bot.core.io import Outcome, Say
from bot.core.turn import Turn
from storage.access import Scope, scope_of
from storage.attempts import record_failure, throttled
from storage.i18n import pick_language, t
from storage.invites import RedeemOutcome, RedeemStatus, redeem_invite
from storage.organisation import organisation_name
from storage.people import ChatAccount
from storage.rebind import warn_accounts

PUBLIC = ("start", "trogiup")
REPORTER = ("baocao", "capnhat", "tinhtrang", "huy")
SUPERVISOR = ("tonghop", "donvi", "nhacnho", "danhgia", "duyet", "xuat")
ADMIN = (
    "tonghop",
    "thongke",
    "donvi",
    "nhacnho",
    "danhgia",
    "duyet",
    "xuat",
    "moi",
    "phancong",
    "dot",
)
PERSON = ("kenh", "web")  # any person with a role
# Help-only lines after a command's own (not in the Telegram menu): its sub-commands.
SUBCOMMANDS = {"nhacnho": (("nhacnho caidat", "cmd.nhacnho_caidat"),)}

# RedeemStatus values each have a catalog sentence: <channel>.start.refused.<status>.
REFUSALS = tuple(s for s in RedeemStatus if s is not RedeemStatus.SUCCESS)


def command_names(scope: Scope) -> list[str]:
    """The person's commands in menu order (no duplicates); only /trogiup when the person has
    no role."""
    names: list[str] = []
    if scope.is_reporter:
        names.extend(REPORTER)
    if scope.is_supervisor:
        names.extend(SUPERVISOR)
    if scope.is_admin:
        names.extend(ADMIN)
    if names:
        names.extend(PERSON)
    names.append("trogiup")
    return list(dict.fromkeys(names))


def help_lines(channel: str, scope: Scope, lang: str) -> list[str]:
    lines: list[str] = []
    for name in command_names(scope):
        entries = ((name, f"cmd.{name}"), *SUBCOMMANDS.get(name, ()))
        lines.extend(
            t(f"{channel}.help.line", lang, command=command, description=t(key, lang))
            for command, key in entries
        )
    return lines


def help_text(channel: str, scope: Scope, lang: str) -> str:
    return "\n".join([t(f"{channel}.help.intro", lang), *help_lines(channel, scope, lang)])


def _welcome(channel: str, outcome: RedeemOutcome, scope: Scope, lang: str) -> str:
    """Greeting, the role the invite gave (or, for an invite that only binds the account to an
    existing person, that their roles are unchanged), then the commands."""
    assert outcome.person is not None
    where = (
        unit_label(outcome.unit, lang)
        if outcome.unit is not None
        else t(f"{channel}.start.whole_tree", lang)
    )
    role = (
        t(f"{channel}.start.role.{outcome.role.kind}", lang, unit=where)
        if outcome.role is not None
        else t(f"{channel}.start.linked", lang)
    )
    return "\n".join(
        [
            t(f"{channel}.start.welcome", lang, name=outcome.person.full_name),
            role,
            "",
            help_text(channel, scope, lang),
        ]
    )


async def redeem(turn: Turn, code: str) -> Outcome:
    """Onboarding with an invite code, throttled after repeated wrong codes per account."""
    user_id = turn.inbound.user_id
    if await throttled(
        session=turn.session, external_id=user_id, now=turn.now, channel=turn.channel
    ):
        return Outcome([turn.say_channel("start.throttled")])
    outcome = await redeem_invite(
        session=turn.session,
        code=code,
        account=ChatAccount(turn.channel, user_id, turn.chat_id, turn.inbound.language_code),
        now=turn.now,
        display_name=turn.inbound.display_name,
    )
    if not outcome.ok:
        await record_failure(
            session=turn.session,
            external_id=user_id,
            status=outcome.status,
            now=turn.now,
            channel=turn.channel,
        )
        return Outcome([turn.say_channel(f"start.refused.{outcome.status.value}")])
    assert outcome.person is not None and outcome.person.id is not None
    if outcome.replaced is not None:  # the person's previous account here is told
        name = outcome.person.full_name
        channel = t(f"invite.channel.{turn.channel}")
        await warn_accounts(
            session=turn.session,
            accounts=[outcome.replaced],
            text=lambda lang: t(
                "invite.replaced.notice",
                lang or "vi",
                name=name,
                channel=channel,
                organisation=organisation_name(turn.runtime.settings, lang or "vi"),
            ),
            key=f"replaced:{outcome.invite_id}",
            now=turn.now,
        )
    lang = pick_language(
        outcome.person.language, turn.inbound.language_code, turn.runtime.settings.language
    )
    scope = await scope_of(session=turn.session, person_id=outcome.person.id)
    return Outcome([Say(_welcome(turn.channel, outcome, scope, lang))], menu=scope)


async def start(turn: Turn) -> Outcome:
    code = " ".join(turn.args)  # "/start k7q4m 2xp9t": the code may come in two words
    if code:
        return await redeem(turn, code)
    if not turn.known:
        return refusal(turn)
    assert turn.person is not None
    text = "\n".join(
        [
            t(f"{turn.channel}.start.known", turn.lang, name=turn.person.full_name),
            "",
            help_text(turn.channel, turn.scope, turn.lang),
        ]
    )
    return Outcome([Say(text)], menu=turn.scope)


async def help_command(turn: Turn) -> Outcome:
    return Outcome([Say(help_text(turn.channel, turn.scope, turn.lang))])
