"""The Zalo adapter against the local Zalo Bot API stub over HTTP: onboarding by code, a whole
report with typed choices, validation, a correction, replays, refusals, non-text and groups, and
the same person reading on Telegram what they reported on Zalo."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.core import media
from storage.attempts import ACTION as ATTEMPT_ACTION
from storage.db import Database
from storage.i18n import t
from storage.invites import create_invite
from storage.models import (
    CHANNEL_ZALO,
    ROLE_REPORTER,
    AuditLog,
    ChatIdentity,
    ProcessedUpdate,
    Report,
    ReportVersion,
)
from tests.report_fixtures import NOW
from tests.telegram_harness import TelegramHarness, TgUser, bind
from tests.zalo_fixtures import REPORTER, STRANGER, Zalo, bind_zalo, open_zalo
from tests.zalo_stub import ZaloUser


@pytest.fixture
async def zalo(db: Database) -> AsyncIterator[Zalo]:
    async with open_zalo(db) as opened:
        yield opened


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        reports = (await session.execute(select(func.count()).select_from(Report))).scalar_one()
        versions = (
            await session.execute(select(func.count()).select_from(ReportVersion))
        ).scalar_one()
    return int(reports), int(versions)


async def invite(db: Database, unit_id: int) -> str:
    async with db.write() as session:
        _invite, code = await create_invite(
            session=session, role_kind=ROLE_REPORTER, unit_id=unit_id, now=NOW
        )
    return code


async def report_session(z: Zalo, user: ZaloUser = REPORTER) -> list[str]:
    """The study-session report typed as a Zalo user would, up to the summary."""
    listed = await z.send(user, "/baocao")
    assert "Trả lời bằng số thứ tự:" in listed[0]
    assert "1 — Hội nghị học tập, quán triệt Nghị quyết" in listed[0]
    first = await z.send(user, "1")
    assert "Câu 1/8" in first[0] and "Có thể trả lời: Hôm nay, Hôm qua" in first[0]
    for typed in ["28/8", "2", "30", "28 đồng chí", "0", "bỏ qua", "bỏ qua"]:
        await z.send(user, typed)
    return await z.send(user, "27")


async def test_onboarding_by_the_code_typed_alone_or_after_start(zalo: Zalo) -> None:
    db = zalo.world.db
    code = await invite(db, zalo.world.other_unit_id)
    welcome = await zalo.send(STRANGER, code)
    assert welcome[0].startswith("Chào đồng chí Người lạ!")
    assert "người báo cáo của Đảng bộ xã Tây (mã CS2)" in welcome[0]
    assert "/baocao" in welcome[0] and "/kenh" in welcome[0]

    newcomer = ZaloUser("zu-7777", "Hoàng Thị F")
    second = await invite(db, zalo.world.unit_id)
    assert (await zalo.send(newcomer, f"/start {second}"))[0].startswith("Chào đồng chí Hoàng")
    # The code is single-use.
    latecomer = ZaloUser("zu-7778")
    assert "đã được sử dụng" in (await zalo.send(latecomer, second))[0]
    async with db.read() as session:
        bound = await session.execute(
            select(col(ChatIdentity.external_id)).where(col(ChatIdentity.channel) == CHANNEL_ZALO)
        )
        assert sorted(bound.scalars()) == ["zu-7777", "zu-9999"]
    # Once onboarded, the reporter can report.
    assert "Đảng bộ xã Tây" in (await zalo.send(STRANGER, "/baocao"))[0]


async def test_a_wrong_code_is_audited_on_the_zalo_channel(zalo: Zalo) -> None:
    [answer] = await zalo.send(STRANGER, "/start " + "x" * 24)
    assert "không" in answer.lower() or "mã" in answer.lower()
    async with zalo.world.db.read() as session:
        channels = (
            await session.execute(
                select(col(AuditLog.channel)).where(col(AuditLog.action) == ATTEMPT_ACTION)
            )
        ).scalars()
        assert list(channels) == [CHANNEL_ZALO]


async def test_a_stranger_is_refused_and_learns_nothing(zalo: Zalo) -> None:
    for text in ["/baocao", "xin chào", "/tinhtrang", "/start"]:
        [answer] = await zalo.send(STRANGER, text)
        assert answer.startswith("Xin lỗi, đồng chí chưa được cấp quyền")
        assert "Đảng bộ" not in answer
    [answer] = await zalo.process(STRANGER, zalo.updates.sticker(STRANGER))
    assert answer.startswith("Xin lỗi")


async def test_full_report_with_typed_choices_a_validation_error_and_a_correction(
    zalo: Zalo,
) -> None:
    db = zalo.world.db
    await bind_zalo(db, zalo.world.reporter_id, REPORTER)
    await zalo.send(REPORTER, "/baocao")
    await zalo.send(REPORTER, "1")
    await zalo.send(REPORTER, "28/8")
    [error] = await zalo.send(REPORTER, "nhiều")  # not a number: explained, asked again
    assert error.startswith("Đồng chí trả lời “nhiều”. Thời gian học tập (số buổi) phải là một")
    assert "Câu 2/8" in error
    for typed in ["2", "30", "31"]:
        answers = await zalo.send(REPORTER, typed)
    # 31 attending of 30 members: refused at once, only the attendance asked again.
    assert "không được lớn hơn" in answers[0] and "Câu 4/8" in answers[0]
    for typed in ["28", "0", "bỏ qua", "bỏ qua"]:
        await zalo.send(REPORTER, typed)
    [summary] = await zalo.send(REPORTER, "27")
    assert "Trả lời 1 — Xác nhận, 2 — Sửa, 3 — Hủy" in summary
    [receipt] = await zalo.send(REPORTER, "1")
    assert "Đã ghi nhận" in receipt
    assert await counts(db) == (1, 1)

    # The action program: the yes/no answer typed without diacritics, confirmed by the word.
    await zalo.send(REPORTER, "/baocao")
    [question] = await zalo.send(REPORTER, "1")
    assert "Chương trình hành động" in question and "Có thể trả lời: Có, Chưa" in question
    await zalo.send(REPORTER, "co")
    await zalo.send(REPORTER, "20/9")
    [summary] = await zalo.send(REPORTER, "so 05-CTr/DU")  # typed without diacritics too
    assert "Có" in summary and "Số hiệu chương trình hành động: 05-CTr/DU" in summary
    [receipt] = await zalo.send(REPORTER, "xac nhan")
    assert "Đã ghi nhận" in receipt
    assert await counts(db) == (2, 2)

    # /capnhat: essays keep arriving; the field chosen by its label, without diacritics.
    [reports] = await zalo.send(REPORTER, "/capnhat")
    assert "1 — " in reports and "2 — " in reports
    number = next(line[0] for line in reports.split("\n") if "Hội nghị" in line)
    [fields] = await zalo.send(REPORTER, number)
    assert "Số bài thu hoạch đã nộp" in fields
    [asked] = await zalo.send(REPORTER, "so bai thu hoach da nop")
    assert "27" in asked  # the current value
    [summary] = await zalo.send(REPORTER, "28")
    assert "27" in summary and "28" in summary
    [updated] = await zalo.send(REPORTER, "Xác nhận")
    assert "phiên bản 2" in updated or "2" in updated
    assert await counts(db) == (2, 3)
    async with db.read() as session:
        latest = await session.execute(
            select(ReportVersion).order_by(col(ReportVersion.id).desc()).limit(1)
        )
        version = latest.scalar_one()
    assert version.essays == 28 and version.channel == CHANNEL_ZALO


@pytest.mark.parametrize("typed", ["co", "có", "1", "Có"])
async def test_a_yes_no_question_takes_the_word_with_or_without_diacritics(
    zalo: Zalo, typed: str
) -> None:
    await bind_zalo(zalo.world.db, zalo.world.reporter_id, REPORTER)
    await zalo.send(REPORTER, "/baocao")
    await zalo.send(REPORTER, "2")  # Chương trình hành động
    [asked] = await zalo.send(REPORTER, typed)
    assert "Câu 2/3" in asked and "ban hành" in asked


async def test_a_replayed_update_is_processed_once(zalo: Zalo) -> None:
    db = zalo.world.db
    await bind_zalo(db, zalo.world.reporter_id, REPORTER)
    await report_session(zalo)
    confirm = zalo.updates.text(REPORTER, "1")
    [receipt] = await zalo.process(REPORTER, confirm)
    assert "Đã ghi nhận" in receipt
    # getUpdates again, a webhook retry: the handler does not run again, and the receipt that
    # went out is not sent a second time.
    assert await zalo.process(REPORTER, confirm) == []
    assert await counts(db) == (1, 1)
    async with db.read() as session:
        keys = await session.execute(
            select(col(ProcessedUpdate.update_id)).where(
                col(ProcessedUpdate.channel) == CHANNEL_ZALO
            )
        )
        assert confirm["message"]["message_id"] in "".join(keys.scalars())


async def test_non_text_asks_for_words_and_groups_get_a_private_hint(
    zalo: Zalo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the default evidence folder is relative: keep it in tmp

    async def photo(url: str, limit: int) -> bytes:
        return b"\xff\xd8\xff\xe0 bien ban"

    monkeypatch.setattr(media, "fetch_https", photo)
    await bind_zalo(zalo.world.db, zalo.world.reporter_id, REPORTER)
    await zalo.send(REPORTER, "/baocao")
    await zalo.send(REPORTER, "1")
    assert await zalo.process(REPORTER, zalo.updates.sticker(REPORTER)) == [
        "Vui lòng trả lời bằng chữ."
    ]
    # An image is no answer either: it is held for the report (#17.4), the form stays put.
    assert await zalo.process(REPORTER, zalo.updates.image(REPORTER)) == [
        t("evidence.held", "vi", count=1)
    ]
    mark = len(zalo.stub.sent())
    await zalo.adapter.process(zalo.updates.group_text(REPORTER, "/baocao"))
    await zalo.adapter.process(zalo.updates.group_text(REPORTER, "28"))
    [hint] = zalo.stub.sent()[mark:]
    assert hint.chat_id == "group-1" and "nhắn tin riêng" in hint.text
    # The draft did not move: the group "28" was not an answer.
    status = await zalo.send(REPORTER, "/tinhtrang")
    assert "Câu 1/8" in status[-1]


async def test_reported_on_zalo_read_on_telegram(zalo: Zalo, db: Database) -> None:
    world = zalo.world
    telegram_user, supervisor = TgUser(8101, "A"), TgUser(8102, "E")
    await bind_zalo(db, world.reporter_id, REPORTER)
    await bind(db, world.reporter_id, telegram_user)
    await bind(db, world.supervisor_id, supervisor)
    await report_session(zalo)
    [receipt] = await zalo.send(REPORTER, "1")
    assert "Đã ghi nhận báo cáo số 1" in receipt

    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    try:
        status = (await harness.send("/tinhtrang", telegram_user)).text()
        assert "số 1" in status and "Hội nghị học tập" in status
        unit = (await harness.send("/donvi CS1", supervisor)).text()
        assert "27" in unit  # the essays reported on Zalo
    finally:
        await harness.stop()


async def test_failed_codes_are_kept_per_zalo_account_and_forgotten_with_the_person(
    zalo: Zalo,
) -> None:
    from storage.forget import forget_person
    from storage.models import AuditLog

    db = zalo.world.db
    await bind_zalo(db, zalo.world.reporter_id, REPORTER)
    for _ in range(2):
        await zalo.send(REPORTER, "/start KHONG-CO-MA-NAY-DAU")

    async def attempts() -> list[tuple[str, str]]:
        async with db.read() as session:
            rows = await session.execute(
                select(col(AuditLog.entity), col(AuditLog.entity_id)).where(
                    col(AuditLog.action) == "invite.redeem_refused"
                )
            )
            return [(str(e), str(i)) for e, i in rows.all()]

    assert await attempts() == [("zalo_account", REPORTER.id)] * 2
    async with db.write() as session:
        await forget_person(session=session, person_id=zalo.world.reporter_id, now=NOW)
    left = await attempts()
    assert len(left) == 2 and all(REPORTER.id not in i for _e, i in left)


async def test_a_failed_turn_apologises_in_the_persons_language(
    zalo: Zalo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apology after a failed turn is in the person's own language, not the bot's default,
    and nothing of the error (its type, its message) reaches the chat."""
    from bot.core import dispatch as dispatch_module
    from storage.i18n import t
    from storage.models import Person

    db = zalo.world.db
    await bind_zalo(db, zalo.world.reporter_id, REPORTER)
    async with db.write() as session:
        person = await session.get(Person, zalo.world.reporter_id)
        assert person is not None
        person.language = "en"

    async def broken(turn: object) -> object:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr(dispatch_module, "dispatch", broken)
    assert await zalo.send(REPORTER, "/tinhtrang") == [t("zalo.error", "en")]
    assert await zalo.send(STRANGER, "/tinhtrang") == [t("zalo.error", "vi")]


async def test_a_job_that_fails_after_the_commit_apologises_once_and_is_not_replayed(
    zalo: Zalo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tonghop's digest runs after the commit; if it fails, the person gets one apology (not
    silence, not a stack trace) and a replay of the update neither runs it nor apologises again."""
    from bot.core import jobs
    from storage.i18n import t

    user = ZaloUser("zu-8300", "Giám sát")
    await bind_zalo(zalo.world.db, zalo.world.supervisor_id, user)
    runs: list[int] = []

    async def broken(*args: object) -> list[object]:
        runs.append(1)
        raise RuntimeError("chart failed")

    monkeypatch.setitem(jobs.RUNNERS, "digest", broken)
    update = zalo.updates.text(user, "/tonghop")
    answered = await zalo.process(user, update)
    assert answered[-1] == t("zalo.error", "vi")
    assert all("RuntimeError" not in text and "chart failed" not in text for text in answered)
    assert await zalo.process(user, update) == []
    assert runs == [1]


async def test_a_saved_report_is_never_called_busy_when_its_receipt_and_the_outbox_fail(
    zalo: Zalo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The receipt fails to send after the commit and the outbox cannot be written either (the
    database locked): the report is saved, the reporter is not told the system is busy, the
    receipt stays undelivered and a replay of the update sends it, once."""
    from storage import outbox
    from storage.db import DatabaseBusy

    db = zalo.world.db
    await bind_zalo(db, zalo.world.reporter_id, REPORTER)
    await report_session(zalo)

    async def locked(**kwargs: object) -> None:
        raise DatabaseBusy(40.0)

    monkeypatch.setattr(outbox, "enqueue", locked)
    zalo.stub.fail_next("sendMessage", 502, "Bad Gateway")
    update = zalo.updates.text(REPORTER, "1")
    with caplog.at_level(logging.ERROR, logger="bot.core.turn"):
        [failed] = await zalo.process(REPORTER, update)  # the receipt the platform refused
    assert "Đã ghi nhận" in failed and t("db.busy") != failed
    assert await counts(db) == (1, 1)  # saved
    assert "stay undelivered for a replay" in caplog.text
    monkeypatch.undo()
    [receipt] = await zalo.process(REPORTER, update)  # a replay (a webhook retry, a worker)
    assert receipt == failed
    assert await zalo.process(REPORTER, update) == []
