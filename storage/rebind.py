"""Re-binding a person's chat account: an invite that names an existing person moves that
person onto whichever account redeems it (replacing their previous account on that channel).

The rule, in one place for the chat commands, the CLI and the web:
- who may make such an invite: `storage.access.may_act_on` (every role of the person inside the
  issuer's admin subtrees);
- an account in use is never replaced silently: made from chat, the invite needs a second,
  explicit confirmation (`RebindCheck.CONFIRM`); from the command line the operator's command is
  the confirmation. Either way the accounts in use are told at once through the outbox
  (`warn_accounts`), and the replaced account is told again when the invite is redeemed
  (`RedeemOutcome.replaced`).

Texts come from the caller (the message catalog lives above storage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from storage.access import Scope, person_to_act_on
from storage.models import ChatIdentity, Person
from storage.outbox import enqueue
from storage.people import identities_of

NOTICE_KIND = "account_notice"


class RebindCheck(StrEnum):
    REFUSED = "refused"  # no such person, or the issuer may not act on them
    FREE = "free"  # no account in use: the invite may be made at once
    CONFIRM = "confirm"  # an account is in use: ask the issuer to confirm first


@dataclass(frozen=True)
class RebindPlan:
    check: RebindCheck
    person: Person | None = None
    accounts: tuple[ChatIdentity, ...] = ()


async def plan_rebind(
    *, session: AsyncSession, person_id: int, scope: Scope, confirmed: bool = False
) -> RebindPlan:
    """What an invite naming this person needs, asked by the holder of `scope` (from chat).

    REFUSED: answer as for an unknown person. CONFIRM: the person has an account in use and the
    issuer has not confirmed yet. FREE: go ahead (no account in use, or `confirmed`); when
    accounts are in use, `accounts` lists them for `warn_accounts`."""
    person = await person_to_act_on(session=session, person_id=person_id, scope=scope)
    if person is None or person.id is None:
        return RebindPlan(RebindCheck.REFUSED)
    accounts = tuple(await identities_of(session=session, person_id=person.id))
    if accounts and not confirmed:
        return RebindPlan(RebindCheck.CONFIRM, person, accounts)
    return RebindPlan(RebindCheck.FREE, person, accounts)


async def warn_accounts(
    *,
    session: AsyncSession,
    accounts: tuple[ChatIdentity, ...] | list[ChatIdentity],
    text: Callable[[str | None], str],
    key: str,
    now: datetime,
) -> int:
    """Queue one notice to each of these accounts (to its own chat, not the person's current
    preferred one: after a re-bind that may already be the new account). `text(language)`
    renders the notice in the account's client language. `key` makes it once-only (a replay
    queues nothing new). Returns the number queued."""
    queued = 0
    for account in accounts:
        queued += await enqueue(
            session=session,
            key=f"{key}:{account.channel}:{account.external_id}"[:200],
            kind=NOTICE_KIND,
            person_id=None,
            payload={"text": text(account.language_code)},
            now=now,
            channel=account.channel,
            chat_id=account.chat_id or account.external_id,
        )
    return queued
