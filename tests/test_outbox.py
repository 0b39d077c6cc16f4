"""The outbox: one row per key, claims that two senders never share, retries and failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from storage import outbox
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import Outbox
from tests.sched_fixtures import local, make_person, must, second_database

NOW = local(2016, 6, 9, 8)


async def _person(db: Database) -> int:
    async with db.write() as session:
        person = await make_person(session, "Nguyễn Văn Một", chat_id="101")
    assert person.id is not None
    return person.id


async def _rows(db: Database) -> list[Outbox]:
    async with db.read() as session:
        return list(
            (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()
        )


async def test_enqueue_is_once_per_key(db: Database) -> None:
    pid = await _person(db)
    payload = OutgoingMessage(text="Nhắc báo cáo").to_payload()
    async with db.write() as session:
        first = await outbox.enqueue(
            session=session,
            key="remind:1",
            kind="reminder",
            person_id=pid,
            payload=payload,
            now=NOW,
        )
        second = await outbox.enqueue(
            session=session,
            key="remind:1",
            kind="reminder",
            person_id=pid,
            payload={"text": "khác"},
            now=NOW,
        )
    assert (first, second) == (True, False)
    (row,) = await _rows(db)
    assert row.payload["text"] == "Nhắc báo cáo"
    assert row.status == "pending" and row.attempts == 0 and row.not_before == NOW


async def test_enqueue_many_returns_only_new_keys(db: Database) -> None:
    pid = await _person(db)
    rows = [
        {"key": f"k{i}", "kind": "reminder", "person_id": pid, "payload": {"text": str(i)}}
        for i in range(3)
    ]
    async with db.write() as session:
        assert sorted(await outbox.enqueue_many(session=session, rows=rows[:2], now=NOW)) == [
            "k0",
            "k1",
        ]
    async with db.write() as session:
        assert await outbox.enqueue_many(session=session, rows=rows, now=NOW) == ["k2"]
    assert len(await _rows(db)) == 3


async def test_photo_payload_round_trips() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100
    message = OutgoingMessage(text="Tổng hợp tuần", photo=png, choices=[("Xem", "digest:1")])
    again = OutgoingMessage.from_payload(message.to_payload())
    assert again == message


async def test_claim_takes_due_unclaimed_rows_and_stale_claims(db: Database) -> None:
    pid = await _person(db)
    async with db.write() as session:
        for i, delay in enumerate([0, 0, 60]):
            await outbox.enqueue(
                session=session,
                key=f"k{i}",
                kind="reminder",
                person_id=pid,
                payload={"text": str(i)},
                now=NOW,
                not_before=NOW + timedelta(minutes=delay),
            )
    async with db.write() as session:
        claimed = await outbox.claim_batch(session=session, now=NOW, limit=10, worker_id="a")
    assert [r.key for r in claimed] == ["k0", "k1"]
    async with db.write() as session:
        again = await outbox.claim_batch(
            session=session, now=NOW + timedelta(minutes=1), limit=10, worker_id="b"
        )
    assert again == []  # claimed rows are leased; k2 is not due
    async with db.write() as session:
        stale = await outbox.claim_batch(
            session=session, now=NOW + timedelta(minutes=6), limit=1, worker_id="b"
        )
    assert [r.key for r in stale] == ["k0"]  # its claim is older than the 5-minute lease


async def test_sent_retry_and_failed(db: Database) -> None:
    pid = await _person(db)
    async with db.write() as session:
        for key in ("a", "b", "c"):
            await outbox.enqueue(
                session=session, key=key, kind="x", person_id=pid, payload={"text": key}, now=NOW
            )
    async with db.write() as session:
        a, b, c = await outbox.claim_batch(session=session, now=NOW, limit=10, worker_id="w")
        await outbox.mark_sent(session=session, outbox_id=must(a.id), message_id="77", now=NOW)
        await outbox.mark_retry(
            session=session,
            outbox_id=must(b.id),
            not_before=NOW + timedelta(seconds=30),
            error="429",
        )
        await outbox.mark_failed(
            session=session, outbox_ids=[must(c.id)], reason="unreachable: 403"
        )
    ra, rb, rc = await _rows(db)
    assert (ra.status, ra.message_id, ra.attempts, ra.sent_at) == ("sent", "77", 1, NOW)
    assert (rb.status, rb.attempts, rb.claimed_at, rb.error) == ("pending", 1, None, "429")
    assert (rc.status, rc.attempts, rc.error) == ("failed", 1, "unreachable: 403")
    async with db.write() as session:
        assert await outbox.claim_batch(session=session, now=NOW, limit=10, worker_id="w") == []
        later = await outbox.claim_batch(
            session=session, now=NOW + timedelta(seconds=30), limit=10, worker_id="w"
        )
    assert [r.key for r in later] == ["b"]
    async with db.read() as session:
        assert await outbox.counts_by_status(session=session) == {
            "sent": 1,
            "pending": 1,
            "failed": 1,
        }


async def test_two_claimers_never_get_the_same_row(db: Database) -> None:
    pid = await _person(db)
    async with db.write() as session:
        await outbox.enqueue_many(
            session=session,
            rows=[
                {"key": f"k{i:03d}", "kind": "x", "person_id": pid, "payload": {"text": "t"}}
                for i in range(200)
            ],
            now=NOW,
        )
    async with second_database(db) as other:
        if not db.is_sqlite:
            # PostgreSQL: while one claim transaction is open, the other skips its locked rows.
            async with db.write() as first_session:
                first = await outbox.claim_batch(
                    session=first_session, now=NOW, limit=20, worker_id="a"
                )
                async with other.write() as second_session:
                    second = await outbox.claim_batch(
                        session=second_session, now=NOW, limit=20, worker_id="b"
                    )
            assert len(first) == len(second) == 20
            assert not {r.id for r in first} & {r.id for r in second}

        async def claimer(database: Database, name: str) -> list[int]:
            got: list[int] = []
            while True:
                async with database.write() as session:
                    rows = await outbox.claim_batch(
                        session=session, now=NOW, limit=7, worker_id=name
                    )
                if not rows:
                    return got
                got.extend(r.id for r in rows if r.id is not None)

        results = await asyncio.gather(
            claimer(db, "a1"), claimer(db, "a2"), claimer(other, "b1"), claimer(other, "b2")
        )
    everything = [i for ids in results for i in ids]
    assert len(everything) == len(set(everything))
    expected = 200 if db.is_sqlite else 160
    assert len(everything) == expected


async def _queue_for(db: Database, rows: list[tuple[str, int | None, str | None]]) -> None:
    """(key, person_id, explicit chat_id) in this order, all due at NOW."""
    async with db.write() as session:
        await outbox.enqueue_many(
            session=session,
            rows=[
                {
                    "key": key,
                    "kind": "x",
                    "person_id": pid,
                    "channel": "telegram" if chat else None,
                    "chat_id": chat,
                    "payload": {"text": key},
                }
                for key, pid, chat in rows
            ],
            now=NOW,
        )


async def test_claim_window_puts_long_chat_queues_first_and_caps_each_chat(db: Database) -> None:
    async with db.write() as session:
        one = must((await make_person(session, "Một", chat_id="1")).id)
        two = must((await make_person(session, "Hai", chat_id="2")).id)
        many = must((await make_person(session, "Nhiều", chat_id="3")).id)
    rows: list[tuple[str, int | None, str | None]] = [("one", one, None), ("two", two, None)]
    rows += [(f"many{i}", many, None) for i in range(5)]
    rows += [("group0", None, "-100"), ("group1", None, "-100")]
    await _queue_for(db, rows)
    async with db.write() as session:
        got = await outbox.claim_window(
            session=session, now=NOW, limit=20, per_chat=3, worker_id="w"
        )
    # The person with 5 rows is the long pole: its first rows come first; at most 3 of them.
    assert [(r.key, behind) for r, behind in got] == [
        ("many0", 4),
        ("many1", 3),
        ("many2", 2),
        ("group0", 1),
        ("one", 0),
        ("two", 0),
        ("group1", 0),
    ]
    assert all(r.claimed_at == NOW for r, _ in got)
    async with db.write() as session:
        assert (
            await outbox.claim_window(session=session, now=NOW, limit=20, per_chat=3, worker_id="w")
            == []
        )  # many3 is the chat's 4th pending row: not while 0-2 are pending
        await outbox.mark_sent(
            session=session, outbox_id=must(got[0][0].id), message_id="1", now=NOW
        )
        more = await outbox.claim_window(
            session=session, now=NOW, limit=20, per_chat=3, worker_id="w"
        )
    assert [(r.key, behind) for r, behind in more] == [("many3", 1)]


async def test_claim_window_takes_due_rows_and_stale_claims_only(db: Database) -> None:
    pid = await _person(db)
    async with db.write() as session:
        await outbox.enqueue(
            session=session,
            key="later",
            kind="x",
            person_id=pid,
            payload={},
            now=NOW,
            not_before=NOW + timedelta(minutes=1),
        )
        await outbox.enqueue(
            session=session, key="now", kind="x", person_id=pid, payload={}, now=NOW
        )
    async with db.write() as session:
        first = await outbox.claim_window(
            session=session, now=NOW, limit=5, per_chat=5, worker_id="a"
        )
    assert [(r.key, behind) for r, behind in first] == [("now", 0)]  # "later" is not due
    async with db.write() as session:
        assert (
            await outbox.claim_window(
                session=session,
                now=NOW + timedelta(minutes=4),
                due_by=NOW,
                limit=5,
                per_chat=5,
                worker_id="b",
            )
            == []
        )
        stale = await outbox.claim_window(
            session=session,
            now=NOW + timedelta(minutes=6),
            due_by=NOW,
            limit=5,
            per_chat=5,
            worker_id="b",
        )
    assert [r.key for r, _ in stale] == ["now"]


async def test_two_window_claimers_never_get_the_same_row(db: Database) -> None:
    async with db.write() as session:
        pids = [must((await make_person(session, f"P{i}", chat_id=str(i))).id) for i in range(20)]
    await _queue_for(db, [(f"k{p}:{j}", p, None) for p in pids for j in range(6)])
    async with second_database(db) as other:

        async def claimer(database: Database, name: str) -> list[int]:
            got: list[int] = []
            for _ in range(50):
                async with database.write() as session:
                    rows = await outbox.claim_window(
                        session=session, now=NOW, limit=7, per_chat=6, worker_id=name
                    )
                got.extend(must(r.id) for r, _ in rows)
            return got

        results = await asyncio.gather(claimer(db, "a"), claimer(other, "b"), claimer(other, "c"))
    everything = [i for ids in results for i in ids]
    assert len(everything) == len(set(everything)) == 120
