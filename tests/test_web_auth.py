"""Getting into the web console, at the storage level and for Telegram's initData: a link opens
once, within 10 minutes, for its own person only; forged tokens and initData are refused."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from bot.web.links import WebConsoleOff, create_web_link
from bot.web.miniapp import sign, validate_init_data
from storage.db import Database
from storage.forget import forget_person
from storage.models import WebLink
from storage.web_auth import (
    FAILURES_PER_WINDOW,
    LINK_TTL,
    LINKS_PER_WINDOW,
    LinkStatus,
    TooManyLinks,
    csrf_ok,
    csrf_token,
    end_session,
    hash_token,
    issue_link,
    login_throttled,
    record_login_failure,
    redeem_link,
    session_person,
    start_session,
)
from tests.report_fixtures import NOW, build_world
from tests.web_fixtures import BOT_TOKEN, token_of


async def test_a_link_opens_once_for_its_person_and_only_its_hash_is_stored(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        url = await create_web_link(
            session=session, person_id=world.supervisor_id, now=NOW, base_url="https://x.vn/"
        )
    assert url.startswith("https://x.vn/w/")
    token = token_of(url)
    async with db.read() as session:
        stored = (await session.execute(WebLink.__table__.select())).mappings().all()  # type: ignore[attr-defined]
    assert [row["token_hash"] for row in stored] == [hash_token(token)]
    assert token not in json.dumps([{k: str(v) for k, v in row.items()} for row in stored])

    async with db.write() as session:
        first = await redeem_link(session=session, token=token, now=NOW + timedelta(minutes=9))
    assert first.status is LinkStatus.OK
    assert first.person_id == world.supervisor_id
    async with db.write() as session:
        again = await redeem_link(session=session, token=token, now=NOW + timedelta(minutes=9))
    assert again.status is LinkStatus.USED


async def test_expired_forged_and_removed_links_are_refused(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        late = await issue_link(session=session, person_id=world.supervisor_id, now=NOW)
        gone = await issue_link(session=session, person_id=world.reporter_id, now=NOW)
        fine = await issue_link(session=session, person_id=world.supervisor_id, now=NOW)
    async with db.write() as session:
        expired = await redeem_link(session=session, token=late, now=NOW + LINK_TTL)
        forged = await redeem_link(session=session, token=late[:-2] + "xx", now=NOW)
        empty = await redeem_link(session=session, token="", now=NOW)
    assert expired.status is LinkStatus.EXPIRED
    assert forged.status is LinkStatus.UNKNOWN
    assert empty.status is LinkStatus.UNKNOWN
    async with db.write() as session:
        await forget_person(
            session=session,
            person_id=world.reporter_id,
            now=NOW,
            actor_person_id=None,
            channel="cli",
        )
    async with db.write() as session:
        removed = await redeem_link(session=session, token=gone, now=NOW)
    assert removed.status is LinkStatus.GONE
    # The expired one was not used up by the refusals; another person's link stays theirs.
    async with db.write() as session:
        ok = await redeem_link(session=session, token=fine, now=NOW)
    assert (ok.status, ok.person_id) == (LinkStatus.OK, world.supervisor_id)


async def test_links_per_person_are_limited(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        for _ in range(LINKS_PER_WINDOW):
            await issue_link(session=session, person_id=world.supervisor_id, now=NOW)
        with pytest.raises(TooManyLinks):
            await issue_link(session=session, person_id=world.supervisor_id, now=NOW)
        # Someone else is not affected, and the limit lifts after the window.
        await issue_link(session=session, person_id=world.reporter_id, now=NOW)
        await issue_link(session=session, person_id=world.supervisor_id, now=NOW + LINK_TTL)


async def test_no_public_url_no_link(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        with pytest.raises(WebConsoleOff):
            await create_web_link(
                session=session, person_id=world.supervisor_id, now=NOW, base_url=None
            )


async def test_sessions_expire_end_and_die_with_the_person(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        token = await start_session(
            session=session, person_id=world.supervisor_id, now=NOW, via="link"
        )
        other = await start_session(
            session=session, person_id=world.reporter_id, now=NOW, via="link"
        )
    async with db.read() as session:
        assert await session_person(session=session, token=token, now=NOW) == world.supervisor_id
        assert await session_person(session=session, token=token + "x", now=NOW) is None
        later = NOW + timedelta(hours=9)
        assert await session_person(session=session, token=token, now=later) is None
    async with db.write() as session:
        await end_session(session=session, token=token, now=NOW)
        await forget_person(
            session=session,
            person_id=world.reporter_id,
            now=NOW,
            actor_person_id=None,
            channel="cli",
        )
    async with db.read() as session:
        assert await session_person(session=session, token=token, now=NOW) is None
        assert await session_person(session=session, token=other, now=NOW) is None


async def test_failed_logins_throttle_one_client(db: Database) -> None:
    await build_world(db)
    async with db.write() as session:
        for _ in range(FAILURES_PER_WINDOW):
            assert not await login_throttled(session=session, client="10.0.0.1", now=NOW)
            await record_login_failure(session=session, client="10.0.0.1", reason="x", now=NOW)
        assert await login_throttled(session=session, client="10.0.0.1", now=NOW)
        assert not await login_throttled(session=session, client="10.0.0.2", now=NOW)
        later = NOW + timedelta(minutes=16)
        assert not await login_throttled(session=session, client="10.0.0.1", now=later)


def test_csrf_token_belongs_to_its_session() -> None:
    assert csrf_ok("session-a", csrf_token("session-a"))
    assert not csrf_ok("session-b", csrf_token("session-a"))
    assert not csrf_ok("session-a", "")
    assert not csrf_ok("session-a", None)


def init_data(user_id: int, auth_date: int, token: str = BOT_TOKEN, **extra: str) -> str:
    fields = {
        "auth_date": str(auth_date),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Phạm", "language_code": "vi"}),
        **extra,
    }
    fields["hash"] = sign(fields, token)
    return urlencode(fields)


def test_init_data_genuine_recent_only() -> None:
    now_ts = int(NOW.timestamp())
    user = validate_init_data(init_data(42, now_ts - 60), bot_token=BOT_TOKEN, now=NOW)
    assert user is not None and user.telegram_id == 42 and user.language_code == "vi"
    # Signed with another bot's token, tampered with, too old, from the future, no hash.
    assert (
        validate_init_data(init_data(42, now_ts, "1:other"), bot_token=BOT_TOKEN, now=NOW) is None
    )
    tampered = init_data(42, now_ts).replace("%22id%22%3A+42", "%22id%22%3A+43")
    assert tampered != init_data(42, now_ts)
    assert validate_init_data(tampered, bot_token=BOT_TOKEN, now=NOW) is None
    old = init_data(42, now_ts - 2 * 3600)
    assert validate_init_data(old, bot_token=BOT_TOKEN, now=NOW) is None
    future = init_data(42, now_ts + 3600)
    assert validate_init_data(future, bot_token=BOT_TOKEN, now=NOW) is None
    unsigned = urlencode({"auth_date": str(now_ts), "user": json.dumps({"id": 42})})
    assert validate_init_data(unsigned, bot_token=BOT_TOKEN, now=NOW) is None
    assert validate_init_data("", bot_token=BOT_TOKEN, now=NOW) is None
    assert validate_init_data(init_data(42, now_ts), bot_token="", now=NOW) is None
