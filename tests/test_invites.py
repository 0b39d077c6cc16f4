"""One-time invites: single use (even concurrently), expiry, revocation, secrecy of the code."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.access import scope_of
from storage.db import Database
from storage.invites import (
    INVITE_IDENTITY,
    RedeemOutcome,
    RedeemStatus,
    RevokeStatus,
    create_invite,
    create_invites_for_units,
    find_invite,
    hash_code,
    invite_link,
    list_invites,
    redeem_invite,
    revoke_invite,
)
from storage.models import (
    CHANNEL_TELEGRAM,
    CHANNEL_ZALO,
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    ChatIdentity,
    Invite,
    Person,
    Unit,
    metadata,
)
from storage.people import ChatAccount, find_person_by_identity, identities_of, remove_person
from tests.factories import make_levels, make_person, make_unit, pk

DEEP_LINK_START = re.compile(r"[A-Za-z0-9_-]{1,64}")
READABLE = re.compile(r"[2-9BCFGHJKMNPQRSTVXZ]{5}-[2-9BCFGHJKMNPQRSTVXZ]{5}")


async def _units(db: Database) -> tuple[Unit, Unit]:
    async with db.write() as session:
        await make_levels(session)
        root = await make_unit(session, "T", level="tinh")
        cell = await make_unit(session, "CB1", parent=root, name="Chi bộ thôn Đông Xá")
    return root, cell


async def _invite(db: Database, now: datetime, unit: Unit, **kwargs: Any) -> str:
    async with db.write() as session:
        _, code = await create_invite(
            session=session, role_kind=ROLE_REPORTER, unit_id=unit.id, now=now, **kwargs
        )
    return code


async def _redeem(
    db: Database, code: str, now: datetime, user: str = "1001", channel: str = CHANNEL_TELEGRAM
) -> RedeemOutcome:
    async with db.write() as session:
        return await redeem_invite(
            session=session,
            code=code,
            account=ChatAccount(channel, user, user, "vi"),
            display_name="Trần Thị Bình",
            now=now,
        )


async def test_invite_works_once_then_is_used(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    code = await _invite(db, now, cell)
    first = await _redeem(db, code, now + timedelta(hours=1))
    assert first.status is RedeemStatus.SUCCESS
    assert first.person is not None and first.person.full_name == "Trần Thị Bình"
    assert first.unit is not None and first.unit.code == "CB1"
    assert first.role is not None and first.role.kind == ROLE_REPORTER
    async with db.read() as session:
        person = await find_person_by_identity(
            session=session, channel=CHANNEL_TELEGRAM, external_id="1001"
        )
        assert person is not None and person.id == first.person.id
        scope = await scope_of(session=session, person_id=pk(person))
        assert scope.reporter_unit_ids == (cell.id,)
    again = await _redeem(db, code, now + timedelta(hours=2), user="2002")
    assert again.status is RedeemStatus.USED
    async with db.read() as session:
        assert (
            await find_person_by_identity(
                session=session, channel=CHANNEL_TELEGRAM, external_id="2002"
            )
            is None
        )


async def test_expired_invite_is_refused(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    code = await _invite(db, now, cell, ttl=timedelta(days=14))
    late = await _redeem(db, code, now + timedelta(days=14))
    assert late.status is RedeemStatus.EXPIRED
    # and an expired code was not consumed by the attempt: still expired, nobody bound
    async with db.read() as session:
        assert (await session.execute(select(ChatIdentity))).first() is None


async def test_invite_just_before_expiry_works(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    code = await _invite(db, now, cell, ttl=timedelta(days=14))
    outcome = await _redeem(db, code, now + timedelta(days=14) - timedelta(seconds=1))
    assert outcome.ok


async def test_revoked_invite_is_refused(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    code = await _invite(db, now, cell)
    async with db.write() as session:
        assert await revoke_invite(session=session, code=code, now=now) is RevokeStatus.REVOKED
        assert (
            await revoke_invite(session=session, code=code, now=now) is RevokeStatus.ALREADY_REVOKED
        )
    assert (await _redeem(db, code, now)).status is RedeemStatus.REVOKED


async def test_revoke_by_id_and_used_invite_cannot_be_revoked(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    async with db.write() as session:
        invite, code = await create_invite(
            session=session, role_kind=ROLE_REPORTER, unit_id=cell.id, now=now
        )
    assert (await _redeem(db, code, now)).ok
    async with db.write() as session:
        assert (
            await revoke_invite(session=session, invite_id=invite.id, now=now)
            is RevokeStatus.ALREADY_USED
        )
        assert (
            await revoke_invite(session=session, invite_id=99999, now=now) is RevokeStatus.NOT_FOUND
        )


async def test_unknown_and_malformed_codes(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    await _invite(db, now, cell)
    assert (await _redeem(db, "A" * 24, now)).status is RedeemStatus.UNKNOWN
    for junk in [
        "",
        "abc",
        "x" * 65,
        "code with spaces here!!",
        "mã-mời-tiếng-việt-000000",
        "a/b" * 8,
    ]:
        assert (await _redeem(db, junk, now)).status is RedeemStatus.MALFORMED, junk


async def test_plain_code_is_stored_nowhere(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    code = await _invite(db, now, cell, person_name="Lê Văn Cường")
    assert (await _redeem(db, code, now)).ok
    async with db.write() as session:
        _, bulk = (
            await create_invites_for_units(
                session=session, role_kind=ROLE_REPORTER, units=[cell], now=now
            )
        )[0]
    dump: list[str] = []
    async with db.read() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                dump.extend(json.dumps(value, default=str, ensure_ascii=False) for value in row)
        hashes = set((await session.execute(select(col(Invite.code_hash)))).scalars())
    text = "\n".join(dump)
    assert "Lê Văn Cường" in text  # the dump does see text columns
    for plain in (code, bulk):
        for form in (plain, plain.replace("-", ""), plain.lower()):
            assert form not in text
        assert hash_code(plain) in hashes


async def test_codes_are_readable_random_and_deep_link_safe(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    async with db.write() as session:
        pairs = await create_invites_for_units(
            session=session, role_kind=ROLE_REPORTER, units=[cell] * 300, now=now
        )
    codes = [code for _, code in pairs]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert DEEP_LINK_START.fullmatch(code)
        assert READABLE.fullmatch(code), code
        assert not code.startswith("-")
    link = invite_link("@cadre_bot", codes[0])
    assert link == f"https://t.me/cadre_bot?start={codes[0]}"
    assert (await _redeem(db, codes[-1], now)).ok


async def test_code_typed_in_lower_case_with_spaces_or_in_a_sentence_joins(
    db: Database, now: datetime
) -> None:
    _, cell = await _units(db)
    typed = []
    for shape in (
        "{a} {b}",
        "Mã của em là {a} {b} ạ",
        "{a}{b}",
        "/start {A}-{B}",
        "https://t.me/cadre_bot?start={A}-{B}",
    ):
        code = await _invite(db, now, cell)
        a, b = code.split("-")
        typed.append(shape.format(a=a.lower(), b=b.lower(), A=a, B=b))
        outcome = await _redeem(db, typed[-1], now, user=str(2000 + len(typed)))
        assert outcome.ok, typed[-1]
    assert len(typed) == 5


async def test_older_24_character_codes_are_still_accepted_as_typed(
    db: Database, now: datetime
) -> None:
    """Codes made before the readable format (hashed as typed, case-sensitive) keep working
    until they expire: nothing to migrate."""
    _, cell = await _units(db)
    legacy = "-Ab3_xY9kLmN0pQrStUvWz12"  # 24 URL-safe characters, even a leading '-'
    async with db.write() as session:
        session.add(
            Invite(
                code_hash=hashlib.sha256(legacy.encode()).hexdigest(),
                role_kind=ROLE_REPORTER,
                unit_id=cell.id,
                created_at=now,
                expires_at=now + timedelta(days=14),
            )
        )
    assert (await _redeem(db, legacy.lower(), now)).status is RedeemStatus.UNKNOWN
    assert (await _redeem(db, f"mã: {legacy}", now, user="3001")).ok


async def test_concurrent_redemptions_one_wins(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    code = await _invite(db, now, cell)
    outcomes = await asyncio.gather(
        _redeem(db, code, now, user="1"), _redeem(db, code, now, user="2")
    )
    statuses = sorted(o.status for o in outcomes)
    assert statuses == [RedeemStatus.SUCCESS, RedeemStatus.USED]
    async with db.read() as session:
        assert len((await session.execute(select(ChatIdentity))).all()) == 1
        assert len((await session.execute(select(Person))).all()) == 1


async def test_account_of_another_person_is_refused(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    assert (await _redeem(db, await _invite(db, now, cell), now, user="77")).ok
    async with db.write() as session:
        other = await make_person(session, name="Phạm Văn Dũng")
    named = await _invite(db, now, cell, person_id=pk(other))
    outcome = await _redeem(db, named, now, user="77")
    assert outcome.status is RedeemStatus.ALREADY_BOUND
    # the refusal did not consume the invite: the right person can still use it
    assert (await _redeem(db, named, now, user="88")).ok
    async with db.read() as session:
        owner = await find_person_by_identity(
            session=session, channel=CHANNEL_TELEGRAM, external_id="88"
        )
        assert owner is not None and owner.id == other.id


async def test_unnamed_invite_adds_role_to_known_account(db: Database, now: datetime) -> None:
    root, cell = await _units(db)
    first = await _redeem(db, await _invite(db, now, cell), now, user="5")
    async with db.write() as session:
        _, code = await create_invite(
            session=session, role_kind=ROLE_SUPERVISOR, unit_id=root.id, now=now
        )
    second = await _redeem(db, code, now, user="5")
    assert second.ok and second.person is not None and first.person is not None
    assert second.person.id == first.person.id
    async with db.read() as session:
        scope = await scope_of(session=session, person_id=pk(first.person))
    assert scope.reporter_unit_ids == (cell.id,) and scope.supervised_unit_ids == (root.id,)


async def test_new_invite_rebinds_the_channel(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    first = await _redeem(db, await _invite(db, now, cell), now, user="old-phone")
    assert first.person is not None
    person_id = pk(first.person)
    zalo = await _redeem(
        db, await _invite(db, now, cell, person_id=person_id), now, user="z1", channel=CHANNEL_ZALO
    )
    assert zalo.ok
    new = await _redeem(
        db, await _invite(db, now, cell, person_id=person_id), now, user="new-phone"
    )
    assert new.ok
    async with db.read() as session:
        bound = {
            (i.channel, i.external_id)
            for i in await identities_of(session=session, person_id=person_id)
        }
        assert bound == {(CHANNEL_TELEGRAM, "new-phone"), (CHANNEL_ZALO, "z1")}
        assert (
            await find_person_by_identity(
                session=session, channel=CHANNEL_TELEGRAM, external_id="old-phone"
            )
            is None
        )


async def test_an_old_code_never_moves_an_account_bound_after_it_was_made(
    db: Database, now: datetime
) -> None:
    """A printed code naming a person who has since joined with another account (say, by a
    code sent in chat) is refused: it was not made to replace that account. The replaced
    account of a deliberate re-binding is returned to be told."""
    _, cell = await _units(db)
    async with db.write() as session:
        person = await make_person(session, "Lê Văn Hải", roles=[(ROLE_REPORTER, cell)])
    printed = await _invite(db, now, cell, person_id=pk(person))
    joined = await _redeem(
        db, await _invite(db, now, cell, person_id=pk(person)), now + timedelta(hours=1), "own"
    )
    assert joined.ok and joined.replaced is None
    later = now + timedelta(hours=2)
    refused = await _redeem(db, printed, later, user="someone-else")
    assert refused.status is RedeemStatus.SUPERSEDED
    async with db.read() as session:
        owner = await find_person_by_identity(
            session=session, channel=CHANNEL_TELEGRAM, external_id="own"
        )
        assert owner is not None and owner.id == pk(person)
        assert (await find_invite(session=session, code=printed)).used_at is None  # type: ignore[union-attr]

    # Made after the account was bound (a confirmed re-binding): it moves it, and says whose.
    moved = await _redeem(db, await _invite(db, later, cell, person_id=pk(person)), later, "new")
    assert moved.ok and moved.replaced is not None
    assert (moved.replaced.channel, moved.replaced.external_id) == (CHANNEL_TELEGRAM, "own")


async def test_admin_invite_for_whole_tree(db: Database, now: datetime) -> None:
    await _units(db)
    async with db.write() as session:
        _, code = await create_invite(
            session=session,
            role_kind=ROLE_ADMIN,
            unit_id=None,
            now=now,
            person_name="Ban Tuyên giáo",
        )
    outcome = await _redeem(db, code, now)
    assert outcome.ok and outcome.unit is None
    assert outcome.person is not None and outcome.person.full_name == "Ban Tuyên giáo"
    async with db.read() as session:
        assert (await scope_of(session=session, person_id=pk(outcome.person))).whole_tree


async def test_removing_a_person_revokes_their_pending_invites(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    async with db.write() as session:
        person = await make_person(session)
    code = await _invite(db, now, cell, person_id=pk(person))
    async with db.write() as session:
        assert await remove_person(session=session, person_id=pk(person), now=now)
    assert (await _redeem(db, code, now)).status is RedeemStatus.REVOKED


async def test_list_invites_shows_state_not_codes(db: Database, now: datetime) -> None:
    root, cell = await _units(db)
    used = await _invite(db, now, cell)
    await _redeem(db, used, now)
    await _invite(db, now, cell, ttl=timedelta(days=1))
    async with db.write() as session:
        await create_invite(session=session, role_kind=ROLE_SUPERVISOR, unit_id=root.id, now=now)
    async with db.read() as session:
        later = now + timedelta(days=2)
        everything = await list_invites(session=session, now=later)
        for_cell = await list_invites(session=session, now=later, unit_id=cell.id)
    assert [i.state.value for i in everything] == ["open", "expired", "used"]
    assert [i.unit_code for i in for_cell] == ["CB1", "CB1"]
    assert for_cell[1].used_by == "Trần Thị Bình"
    assert not any(used in repr(i) for i in everything)


async def test_identity_invite_binds_an_imported_person_and_keeps_their_roles(
    db: Database, now: datetime
) -> None:
    root, cell = await _units(db)
    async with db.write() as session:
        imported = await make_person(
            session, name="Lê Thị Hoa", roles=[(ROLE_REPORTER, cell), (ROLE_SUPERVISOR, root)]
        )
        _, code = await create_invite(
            session=session,
            role_kind=INVITE_IDENTITY,
            unit_id=None,
            person_id=pk(imported),
            now=now,
        )
    outcome = await _redeem(db, code, now, user="4242")
    assert outcome.ok and outcome.role is None and outcome.unit is None
    assert outcome.person is not None and outcome.person.id == imported.id
    async with db.read() as session:
        owner = await find_person_by_identity(
            session=session, channel=CHANNEL_TELEGRAM, external_id="4242"
        )
        assert owner is not None and owner.id == imported.id
        scope = await scope_of(session=session, person_id=pk(imported))
        assert scope.reporter_unit_ids == (cell.id,) and scope.supervised_unit_ids == (root.id,)
        assert not scope.is_admin
        [listed] = await list_invites(session=session, now=now)
    assert listed.role_kind == INVITE_IDENTITY and listed.person_name == "Lê Thị Hoa"


async def test_identity_invite_needs_a_person_and_no_unit(db: Database, now: datetime) -> None:
    _, cell = await _units(db)
    async with db.write() as session:
        person = await make_person(session)
        with pytest.raises(ValueError, match="identity"):
            await create_invite(session=session, role_kind=INVITE_IDENTITY, unit_id=None, now=now)
        with pytest.raises(ValueError, match="identity"):
            await create_invite(
                session=session,
                role_kind=INVITE_IDENTITY,
                unit_id=cell.id,
                person_id=pk(person),
                now=now,
            )
