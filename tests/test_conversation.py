"""The reporter conversation through the channel-agnostic engine: /baocao with Vietnamese habits,
every validation error, Bỏ qua, Sửa, Hủy, confirm, stale and forged buttons, resume after a
restart, /capnhat versions, /tinhtrang, refusals. Each input runs in its own write transaction,
as the adapters do (commit, then send)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.conversation import Actor, ConversationEngine, Input, Reply
from storage.campaigns import template_text
from storage.db import Database
from storage.models import AuditLog, Draft, Report, ReportVersion
from storage.reports import report_history
from tests.report_fixtures import NOW, World, build_world

DATA = re.compile(r"^c:\d+:\d+:[0-9a-f]{6}:[a-z]{1,2}\d*$")


@dataclass
class Chat:
    """One person talking to the bot (a fresh engine may be swapped in: it keeps no state)."""

    world: World
    person_id: int
    engine: ConversationEngine
    lang: str = "vi"
    channel: str = "telegram"
    now: datetime = NOW
    last: Reply | None = None

    async def send(self, inp: Input) -> list[Reply]:
        actor = Actor(person_id=self.person_id, lang=self.lang, channel=self.channel)
        async with self.world.db.write() as session:
            replies = await self.engine.handle(session=session, actor=actor, inp=inp, now=self.now)
        assert replies, "the engine must never stay silent"
        for reply in replies:
            assert reply.text.strip()
            for row in reply.choices:
                for choice in row:
                    assert len(choice.data.encode()) <= 64
                    assert DATA.match(choice.data), choice.data
        self.last = replies[-1]
        return replies

    async def say(self, text: str) -> Reply:
        return (await self.send(Input(kind="text", text=text)))[-1]

    async def cmd(self, name: str) -> Reply:
        return (await self.send(Input(kind="command", command=name)))[-1]

    async def press_data(self, data: str) -> Reply:
        return (await self.send(Input(kind="choice", data=data)))[-1]

    def button(self, label: str) -> str:
        """The data of the last reply's button whose label starts with `label`."""
        assert self.last is not None
        for row in self.last.choices:
            for choice in row:
                if choice.label.startswith(label):
                    return choice.data
        raise AssertionError(f"no button {label!r} in {self.last.choices}")

    async def press(self, label: str) -> Reply:
        return await self.press_data(self.button(label))


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


def chat(world: World, person_id: int | None = None, **kwargs: object) -> Chat:
    return Chat(
        world=world,
        person_id=person_id or world.reporter_id,
        engine=ConversationEngine(),
        **kwargs,  # type: ignore[arg-type]
    )


async def draft_of(world: World, person_id: int) -> Draft | None:
    async with world.db.read() as session:
        query = select(Draft).where(col(Draft.person_id) == person_id)
        return (await session.execute(query)).scalar_one_or_none()


async def count(world: World, model: type) -> int:
    async with world.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def start_session_report(c: Chat) -> Reply:
    first = await c.cmd("report")
    assert "Đồng chí báo cáo nội dung nào?" in first.text
    labels = [x.label for row in first.choices for x in row]
    assert "Hội nghị học tập, quán triệt Nghị quyết (hạn 31/8/2016)" in labels
    return await c.press("Hội nghị")


# Typed the way cadres type, up to the last question (essays).
HABITS = ["28/9", "2 buổi", "30", "25 đồng chí", "0", "Đ/c Trần Văn B, Phó Bí thư", "3"]


async def fill_until_essays(c: Chat) -> Reply:
    reply = await start_session_report(c)
    for text in HABITS:
        reply = await c.say(text)
    assert reply.text.startswith("Câu 8/8.")
    assert reply.text.endswith("được nộp? (có thể cập nhật sau bằng /capnhat)")
    return reply


# --- a whole report --------------------------------------------------------------------------


async def test_a_full_report_typed_with_vietnamese_habits(world: World) -> None:
    c = chat(world)
    reply = await start_session_report(c)
    assert reply.text.startswith(
        "Báo cáo «Hội nghị học tập, quán triệt Nghị quyết» của Đảng bộ xã Đông theo Kế hoạch "
        "13-KH/TU. Đồng chí trả lời"
    )
    assert "Câu 1/8. Hội nghị học tập" in reply.text
    assert [x.label for row in reply.choices for x in row] == ["Hôm nay", "Hôm qua"]
    assert reply.numbered is False  # quick answers: typed text is the answer
    reply = await c.say("28/9")
    assert reply.text.startswith("Câu 2/8.")
    reply = await c.say("2 buổi")
    assert reply.text.startswith("Câu 3/8. Đơn vị hiện có bao nhiêu đảng viên?")
    # The unit's member count is offered as a button.
    reply = await c.press("30 (theo danh sách)")
    reply = await c.say("25 đồng chí")
    assert "Bỏ qua" in [x.label for row in reply.choices for x in row]
    reply = await c.say("abc")  # not a number: refused, the answer quoted, one example
    assert reply.text.startswith(
        "Đồng chí trả lời “abc”. Số người chưa là đảng viên cùng dự phải là một số nguyên"
    )
    reply = await c.say("không có")  # "gõ 0 nếu không có": read as 0
    assert reply.text.startswith("Câu 6/8.")
    reply = await c.say("45")  # not a presenter's name
    assert "phải là họ tên một người" in reply.text and "Câu 6/8." in reply.text
    reply = await c.say("Đ/c Trần Văn B, Phó Bí thư ạ")
    assert "Câu 7/8. Báo cáo viên thuộc đối tượng nào" in reply.text
    reply = await c.say("Bí thư, phó bí thư")
    reply = await c.say("20 bài")
    assert reply.text.startswith("Đồng chí kiểm tra lại báo cáo")
    for line in (
        "• Ngày tổ chức hội nghị: 28/9/2016",
        "• Thời gian học tập (số buổi): 2",
        "• Số đảng viên của đơn vị: 30",
        "• Số đảng viên dự học tập: 25",
        "• Số người chưa là đảng viên cùng dự: 0",
        "• Báo cáo viên: Đ/c Trần Văn B, Phó Bí thư",
        "• Báo cáo viên là: Bí thư, phó bí thư",
        "• Số bài thu hoạch đã nộp: 20",
    ):
        assert line in reply.text
    assert [x.label for x in reply.choices[0]] == ["Xác nhận", "Sửa", "Hủy"]
    assert reply.numbered is True
    receipt = await c.press("Xác nhận")
    assert receipt.done
    assert receipt.text.startswith(
        "Đã ghi nhận báo cáo số 1 lúc 10:00 ngày 29/9/2016 (phiên bản 1)."
    )
    # The receipt is the proof: it restates every recorded figure, the unit and the deliverable.
    for line in (
        "«Hội nghị học tập, quán triệt Nghị quyết» của Đảng bộ xã Đông:",
        "• Ngày tổ chức hội nghị: 28/9/2016",
        "• Thời gian học tập (số buổi): 2",
        "• Số đảng viên của đơn vị: 30",
        "• Số đảng viên dự học tập: 25/30",
        "• Số người chưa là đảng viên cùng dự: 0",
        "• Báo cáo viên: Đ/c Trần Văn B, Phó Bí thư",
        "• Số bài thu hoạch đã nộp: 20/25",
    ):
        assert line in receipt.text

    assert await draft_of(world, world.reporter_id) is None
    async with world.db.read() as session:
        report = (await session.execute(select(Report))).scalar_one()
        (version,) = await report_history(session=session, report_id=int(report.id or 0))
        audit = (
            await session.execute(select(AuditLog).where(col(AuditLog.action) == "report.confirm"))
        ).scalar_one()
    assert report.unit_id == world.unit_id and report.first_confirmed_at == NOW
    assert version.version == 1 and version.is_current and version.channel == "telegram"
    assert version.session_date == date(2016, 9, 28)
    assert (version.members, version.attended, version.nonmembers_attended) == (30, 25, 0)
    assert (version.essays, version.duration_halfdays) == (20, 2)
    assert version.answers["presenter"] == "Đ/c Trần Văn B, Phó Bí thư"
    assert version.presenter_standing == "bi_thu"
    assert audit.channel == "telegram" and audit.actor_person_id == world.reporter_id


async def test_yes_and_yesterday_for_the_action_program(world: World) -> None:
    c = chat(world, channel="zalo")
    await c.cmd("report")
    reply = await c.press("Chương trình")
    assert "\n\nCâu 1/3. " in reply.text  # the date and number may follow: counted from the start
    assert [x.label for row in reply.choices for x in row] == ["Có", "Chưa"]
    reply = await c.say("có")
    assert reply.text.startswith("Câu 2/3. Chương trình hành động được ban hành ngày nào?")
    reply = await c.say("hôm qua")
    assert reply.text.startswith("Câu 3/3. Chương trình hành động có số hiệu là gì?")
    reply = await c.say("05 CTr")  # not a document number: asked again, nothing stored
    assert "chưa đúng dạng số hiệu văn bản" in reply.text and "05-CTr/ĐU" in reply.text
    reply = await c.say("Số 05 - CTr/ĐU ạ")
    assert "• Ngày ban hành chương trình hành động: 28/9/2016" in reply.text
    assert "• Số hiệu chương trình hành động: 05-CTr/ĐU" in reply.text
    receipt = await c.say("1")  # Zalo: typed number of the button "Xác nhận"
    assert "Số hiệu chương trình hành động: 05-CTr/ĐU" in receipt.text
    async with world.db.read() as session:
        version = (await session.execute(select(ReportVersion))).scalar_one()
    assert version.action_program is True and version.action_program_date == date(2016, 9, 28)
    assert version.answers["action_program_number"] == "05-CTr/ĐU"
    assert version.channel == "zalo"


async def test_an_action_program_without_a_number_is_skipped(world: World) -> None:
    c = chat(world)
    await c.cmd("report")
    await c.press("Chương trình")
    await c.press("Có")
    await c.say("20/9")
    reply = await c.say("chưa có")
    assert "• Số hiệu chương trình hành động: " in reply.text  # shown as not given
    assert reply.choices[0][0].label == "Xác nhận"


async def test_no_action_program_skips_its_date(world: World) -> None:
    c = chat(world)
    await c.cmd("report")
    await c.press("Chương trình")
    reply = await c.press("Chưa")
    assert "• Chương trình hành động: Chưa" in reply.text
    assert "Ngày ban hành" not in reply.text
    assert reply.choices[0][0].label == "Xác nhận"


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answered", "typed", "error"),
    [
        ([], "31/2", "Ngày 31/2 không có trên lịch"),
        ([], "30/9/2016", "Ngày tổ chức hội nghị không thể là một ngày chưa tới (30/9/2016)"),
        ([], "mai", "Ngày tổ chức hội nghị: vui lòng nhập ngày theo dạng ngày/tháng"),
        (["28/9"], "hai ba bốn", "Thời gian học tập (số buổi) phải là một số nguyên"),
        (["28/9"], "0", "Thời gian học tập (số buổi) phải từ 1 trở lên"),
        (["28/9"], "1,5", "Thời gian học tập (số buổi) phải là số nguyên, không có phần thập"),
        (["28/9"], "   ", "Thời gian học tập (số buổi) không được để trống"),
        (["28/9", "2", "30"], "-5", "Số đảng viên dự học tập không thể là số âm"),
        (["28/9", "2", "30"], "25 hoặc 26", "Số đảng viên dự học tập: vui lòng chỉ nhập một số"),
    ],
)
async def test_a_rejected_answer_is_explained_in_one_sentence_and_asked_again(
    world: World, answered: list[str], typed: str, error: str
) -> None:
    c = chat(world)
    await start_session_report(c)
    for text in answered:
        await c.say(text)
    before = await draft_of(world, world.reporter_id)
    assert before is not None
    reply = await c.say(typed)
    first_line = reply.text.split("\n")[0]
    if typed.strip():  # the answer is quoted back, then the reason in one sentence
        quoted = f"Đồng chí trả lời “{typed.strip()}”. "
        assert first_line.startswith(quoted), first_line
        first_line = first_line.removeprefix(quoted)
    assert first_line.startswith(error), first_line
    assert first_line.count(". ") == 0  # one sentence
    assert "ví dụ:" in first_line or "không được để trống" in first_line
    assert f"Câu {len(answered) + 1}/8." in reply.text  # the same question again
    after = await draft_of(world, world.reporter_id)
    assert after is not None
    assert (after.step, after.answers, after.revision) == (
        before.step,
        before.answers,
        before.revision,
    )


@pytest.mark.parametrize(
    ("answers", "message", "asked_again"),
    [
        (
            ["28/9", "2", "30", "31"],
            "Số đảng viên dự học tập (31) không được lớn hơn số đảng viên của đơn vị (30).",
            "Câu 4/8. Có bao nhiêu đảng viên dự học tập",
        ),
        (
            ["28/9", "2", "30", "25", "0", "bỏ qua", "bỏ qua", "26"],
            "Số bài thu hoạch đã nộp (26) không được lớn hơn số đảng viên dự học tập (25).",
            "Câu 8/8. Đến nay đã có bao nhiêu bài thu hoạch",
        ),
        (
            ["1/4/2016"],
            "Ngày tổ chức hội nghị (1/4/2016) phải nằm trong thời gian của đợt học tập, "
            "từ 1/5/2016 đến 29/9/2016.",
            "Câu 1/8. Hội nghị học tập",
        ),
    ],
)
async def test_a_broken_rule_is_refused_at_the_question_that_breaks_it(
    world: World, answers: list[str], message: str, asked_again: str
) -> None:
    c = chat(world)
    await start_session_report(c)
    for text in answers[:-1]:
        await c.say(text)
    before = await draft_of(world, world.reporter_id)
    assert before is not None
    reply = await c.say(answers[-1])
    assert reply.text.startswith(message)
    assert asked_again in reply.text
    assert "Câu 3/8" not in reply.text  # the member count is not asked again
    after = await draft_of(world, world.reporter_id)
    assert after is not None
    # The refused answer changed nothing: same question, the earlier answers kept.
    assert (after.step, after.answers, after.revision) == (
        before.step,
        before.answers,
        before.revision,
    )


async def test_the_rule_is_satisfied_after_answering_again(world: World) -> None:
    c = chat(world)
    await start_session_report(c)
    for text in ["28/9", "2", "30", "25", "0", "bỏ qua", "bỏ qua", "26"]:
        await c.say(text)
    reply = await c.say("25")  # essays, asked again
    assert "• Số đảng viên dự học tập: 25" in reply.text
    assert "• Số bài thu hoạch đã nộp: 25" in reply.text


async def test_an_empty_required_text_is_refused(db: Database) -> None:
    template = template_text().replace(
        "        required: false\n        max_length: 120", "        max_length: 120"
    )
    world = await build_world(db, template)
    c = chat(world)
    await start_session_report(c)
    for text in ["28/9", "2", "30", "25", "0"]:
        await c.say(text)
    reply = await c.say("  \u200b ")
    assert reply.text.startswith("Báo cáo viên không được để trống")
    assert "Câu 6/8." in reply.text
    assert "Bỏ qua" not in [x.label for row in reply.choices for x in row]


async def test_skip_on_optional_fields(world: World) -> None:
    c = chat(world)
    await start_session_report(c)
    for text in ["28/9", "2", "30", "25"]:
        await c.say(text)
    await c.press("Bỏ qua")  # non-members: the button
    reply = await c.say("Bỏ qua")  # presenter: typed
    reply = await c.say("bỏ qua")  # presenter's standing
    reply = await c.say("20")
    assert "• Số người chưa là đảng viên cùng dự: —" in reply.text
    assert "• Báo cáo viên: —" in reply.text
    await c.press("Xác nhận")
    async with world.db.read() as session:
        version = (await session.execute(select(ReportVersion))).scalar_one()
    assert version.nonmembers_attended is None
    assert version.answers["presenter"] is None and version.answers["nonmembers_attended"] is None


# --- edit, cancel, confirm twice ---------------------------------------------------------------


async def test_edit_one_field_from_the_summary(world: World) -> None:
    c = chat(world)
    await fill_until_essays(c)
    await c.say("20")
    reply = await c.press("Sửa")
    assert reply.text.startswith("Đồng chí muốn sửa mục nào?")
    labels = [x.label for row in reply.choices for x in row]
    assert labels[:2] == ["Ngày tổ chức hội nghị", "Thời gian học tập (số buổi)"]
    assert labels[-2:] == ["Quay lại", "Hủy"]
    reply = await c.press("Số bài thu hoạch")
    assert "Đến nay đã có bao nhiêu bài thu hoạch" in reply.text
    reply = await c.say("18")
    assert "• Số bài thu hoạch đã nộp: 18" in reply.text
    assert "• Số đảng viên dự học tập: 25" in reply.text  # the others kept
    await c.press("Xác nhận")
    async with world.db.read() as session:
        version = (await session.execute(select(ReportVersion))).scalar_one()
    assert (version.essays, version.attended, version.duration_halfdays) == (18, 25, 2)


async def test_edit_then_back_to_the_summary_by_typed_number(world: World) -> None:
    c = chat(world)
    await fill_until_essays(c)
    await c.say("20")
    await c.say("sửa")  # the button's label, typed
    reply = await c.say("hmm")
    assert reply.text.startswith("Vui lòng chọn một trong các lựa chọn (gõ số thứ tự")
    buttons = [x for row in reply.choices for x in row]
    reply = await c.say(str(len(buttons) - 1))  # "Quay lại"
    assert reply.text.startswith("Đồng chí kiểm tra lại báo cáo")


async def test_cancel_from_the_summary_and_by_command(world: World) -> None:
    c = chat(world)
    await fill_until_essays(c)
    await c.say("20")
    reply = await c.press("Hủy")
    assert reply.done and reply.text.startswith("Đã hủy")
    assert await draft_of(world, world.reporter_id) is None
    assert await count(world, Report) == 0
    await start_session_report(c)
    await c.say("28/9")
    reply = await c.cmd("cancel")
    assert reply.done and reply.text.startswith("Đã hủy")
    assert await draft_of(world, world.reporter_id) is None
    reply = await c.cmd("cancel")
    assert reply.text == "Đồng chí không có báo cáo nào đang làm dở."


async def test_a_doubled_confirm_press_records_one_report(world: World) -> None:
    c = chat(world)
    await fill_until_essays(c)
    await c.say("20")
    confirm = c.button("Xác nhận")
    first = await c.press_data(confirm)
    assert first.text.startswith("Đã ghi nhận báo cáo số 1")
    second = await c.press_data(confirm)
    assert second.text == "Báo cáo số 1 đã được ghi nhận rồi, không cần gửi lại."
    assert await count(world, Report) == 1
    assert await count(world, ReportVersion) == 1


async def test_two_simultaneous_confirm_presses_record_one_report(world: World) -> None:
    c = chat(world)
    await fill_until_essays(c)
    await c.say("20")
    confirm = c.button("Xác nhận")
    replies = await asyncio.gather(
        c.press_data(confirm), chat(world).press_data(confirm), return_exceptions=True
    )
    texts = sorted(r.text for r in replies if isinstance(r, Reply))
    assert len(texts) == 2, replies
    assert texts[0].startswith("Báo cáo số 1 đã được ghi nhận rồi") or texts[0].startswith(
        "Lựa chọn này đã cũ"
    )
    assert texts[1].startswith("Đã ghi nhận báo cáo số 1")
    assert await count(world, Report) == 1
    assert await count(world, ReportVersion) == 1


async def test_a_colleague_confirming_first_makes_a_second_version(world: World) -> None:
    mine, theirs = chat(world), chat(world, world.colleague_id)
    await fill_until_essays(mine)
    await fill_until_essays(theirs)
    await theirs.say("20")
    await mine.say("22")
    await theirs.press("Xác nhận")
    reply = await mine.press("Xác nhận")
    assert reply.text.startswith("Đơn vị đã có báo cáo số 1 (do đồng chí khác gửi trước)")
    assert "phiên bản 2" in reply.text
    async with world.db.read() as session:
        history = await report_history(session=session, report_id=1)
    assert [(v.version, v.essays, v.is_current) for v in history] == [
        (1, 20, False),
        (2, 22, True),
    ]


# --- stale and forged buttons ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "c:999:1:abcdef:x",
        "c:999:1:x",
        "junk",
        "",
        "x" * 200,
        "c:1:2:abcdef:ok" + "0" * 200,
        "c:1:99999999999:abcdef:s0",
        "c:1:2:zzzzzz:s0",
        "c:-1:2:abcdef:s0",
        "c:1:2:abcdef:s0\n",
        "c:1:2:abcdef:đ",
    ],
)
async def test_forged_data_changes_nothing(world: World, data: str) -> None:
    c = chat(world)
    await start_session_report(c)
    await c.say("28/9")
    before = await draft_of(world, world.reporter_id)
    reply = await c.press_data(data)
    assert reply.text == "Lựa chọn này đã cũ, không còn tác dụng. Vui lòng dùng tin nhắn mới nhất."
    after = await draft_of(world, world.reporter_id)
    assert before is not None and after is not None
    assert (after.revision, after.step, after.answers) == (
        before.revision,
        before.step,
        before.answers,
    )


async def test_an_old_button_or_a_button_of_another_step_changes_nothing(world: World) -> None:
    c = chat(world)
    await start_session_report(c)
    today = c.button("Hôm nay")
    await c.say("28/9")
    before = await draft_of(world, world.reporter_id)
    assert before is not None
    assert (await c.press_data(today)).text.startswith("Lựa chọn này đã cũ")
    # Right draft and revision, a token of another step (confirm while a question is asked).
    forged = today.rsplit(":", 1)[0].replace(f":{before.revision - 1}:", f":{before.revision}:")
    for token in ("ok", "d1", "f0", "s9"):
        assert (await c.press_data(f"{forged}:{token}")).text.startswith("Lựa chọn này đã cũ")
    after = await draft_of(world, world.reporter_id)
    assert after is not None and (after.revision, after.answers) == (
        before.revision,
        before.answers,
    )
    # Somebody else pressing this person's button: it is not their draft.
    other = chat(world, world.colleague_id)
    assert (await other.press_data(f"{forged}:s0")).text.startswith("Lựa chọn này đã cũ")


async def test_buttons_of_a_cancelled_draft_do_not_work_on_the_next_one(world: World) -> None:
    c = chat(world)
    await start_session_report(c)
    old_today = c.button("Hôm nay")
    await c.cmd("cancel")
    # SQLite may give the new draft the old one's id; the creation time in the button's nonce
    # still tells them apart (a real clock never returns the same instant twice).
    c.now = NOW + timedelta(seconds=5)
    await c.cmd("report")
    await c.press("Chương trình")
    reply = await c.press_data(old_today)
    assert reply.text.startswith("Lựa chọn này đã cũ")
    draft = await draft_of(world, world.reporter_id)
    assert draft is not None and draft.answers == {}


# --- resume ----------------------------------------------------------------------------------


async def test_resume_after_a_restart(world: World) -> None:
    c = chat(world)
    await start_session_report(c)
    await c.say("28/9")
    await c.say("2")
    c.engine = ConversationEngine()  # the bot restarted: all state is in the database
    reply = await c.cmd("report")
    assert reply.text.startswith("Đồng chí đang báo cáo dở, xin tiếp tục:")
    assert "Câu 3/8. Đơn vị hiện có bao nhiêu đảng viên?" in reply.text
    c.engine = ConversationEngine()
    reply = await c.say("30")
    assert reply.text.startswith("Câu 4/8.")
    # Buttons of the message sent before the restart still work.
    async with world.db.read() as session:
        assert await ConversationEngine().has_open_draft(session=session, person_id=c.person_id)


# --- update ----------------------------------------------------------------------------------


async def confirmed_session_report(world: World) -> Chat:
    c = chat(world)
    await fill_until_essays(c)
    await c.say("20")
    await c.press("Xác nhận")
    return c


async def test_update_makes_version_two_and_keeps_version_one(world: World) -> None:
    c = await confirmed_session_report(world)
    c.now = NOW + timedelta(days=5)
    reply = await c.cmd("update")
    assert reply.text.startswith(
        "Báo cáo số 1 («Hội nghị học tập, quán triệt Nghị quyết»): đồng chí muốn sửa mục nào?"
    )
    reply = await c.press("Số bài thu hoạch")
    assert "Giá trị hiện tại: 20. Nhập giá trị mới:" in reply.text
    assert "/capnhat" not in reply.text  # the new-report hint is not repeated when updating
    reply = await c.say("24 bài")
    assert reply.text.startswith("Cập nhật báo cáo số 1 («Hội nghị học tập")
    assert "• Số bài thu hoạch đã nộp: 20 → 24" in reply.text
    reply = await c.press("Xác nhận")
    assert reply.done
    assert reply.text.startswith("Đã cập nhật báo cáo số 1 (phiên bản 2) lúc 10:00 ngày 4/10/2016")
    async with world.db.read() as session:
        history = await report_history(session=session, report_id=1)
        report = await session.get(Report, 1)
        audit = (
            await session.execute(select(AuditLog).where(col(AuditLog.action) == "report.update"))
        ).scalar_one()
    assert [(v.version, v.is_current, v.essays, v.attended) for v in history] == [
        (1, False, 20, 25),
        (2, True, 24, 25),
    ]
    assert report is not None and report.current_version == 2
    assert report.first_confirmed_at == NOW
    assert audit.old == {"version": 1, "essays": 20}
    assert audit.new is not None
    assert {k: audit.new[k] for k in ("version", "essays")} == {"version": 2, "essays": 24}
    assert await draft_of(world, world.reporter_id) is None


async def test_update_checks_rules_against_the_current_answers(world: World) -> None:
    c = await confirmed_session_report(world)
    await c.cmd("update")
    await c.press("Số bài thu hoạch")
    reply = await c.say("40")
    assert reply.text.startswith(
        "Số bài thu hoạch đã nộp (40) không được lớn hơn số đảng viên dự học tập (25)."
    )
    assert "Giá trị hiện tại: 20" in reply.text  # only the essays asked again
    reply = await c.say("25")
    assert "• Số bài thu hoạch đã nộp: 20 → 25" in reply.text
    assert "Số đảng viên dự học tập" not in reply.text  # unchanged lines are not listed


async def test_update_with_the_same_value_changes_nothing(world: World) -> None:
    c = await confirmed_session_report(world)
    await c.cmd("update")
    await c.press("Số bài thu hoạch")
    reply = await c.say("20")
    assert reply.done and reply.text.startswith("Giá trị mới giống giá trị đang có")
    assert await count(world, ReportVersion) == 1


async def test_update_with_several_reports_asks_which(world: World) -> None:
    c = await confirmed_session_report(world)
    await c.cmd("report")
    await c.press("Chương trình")
    await c.press("Chưa")
    await c.press("Xác nhận")
    reply = await c.cmd("update")
    assert reply.text.startswith("Đồng chí muốn cập nhật báo cáo nào của Đảng bộ xã Đông?")
    assert [x.label for row in reply.choices for x in row][:2] == [
        "Hội nghị học tập, quán triệt Nghị quyết (số 1)",
        "Chương trình hành động thực hiện Nghị quyết (số 2)",
    ]
    await c.press("Chương trình")
    await c.press("Chương trình hành động")
    reply = await c.press("Có")
    assert reply.text.startswith("Câu 2/3.")
    await c.say("20/9")
    reply = await c.say("12-CTr/ĐU")
    assert "• Chương trình hành động: Chưa → Có" in reply.text
    assert "• Ngày ban hành chương trình hành động: — → 20/9/2016" in reply.text
    assert "• Số hiệu chương trình hành động: — → 12-CTr/ĐU" in reply.text


async def test_update_without_any_report(world: World) -> None:
    reply = await chat(world).cmd("update")
    assert reply.done
    assert reply.text == "Đảng bộ xã Đông chưa có báo cáo nào để cập nhật. Gõ /baocao để báo cáo."


# --- status ----------------------------------------------------------------------------------


async def test_status_lists_done_and_owed_with_dates(world: World) -> None:
    c = await confirmed_session_report(world)
    reply = await c.cmd("status")
    lines = reply.text.split("\n")
    assert lines[0] == "Tình hình báo cáo của Đảng bộ xã Đông:"
    assert lines[1] == (
        "✓ Hội nghị học tập, quán triệt Nghị quyết: báo cáo số 1, phiên bản 1, "
        "gửi lúc 10:00 ngày 29/9/2016, trễ hạn."
    )
    assert lines[2] == (
        "• Chương trình hành động thực hiện Nghị quyết: chưa báo cáo, hạn 30/9/2016 (còn 1 ngày)."
    )
    c.now = datetime(2016, 10, 5, 1, tzinfo=UTC)
    reply = await c.cmd("status")
    assert "hạn 30/9/2016 (quá hạn 5 ngày)" in reply.text
    c.now = datetime(2016, 9, 30, 1, tzinfo=UTC)
    reply = await c.cmd("status")
    assert "hạn 30/9/2016 (hạn là hôm nay)" in reply.text


async def test_status_shows_on_time_and_reminds_of_an_open_draft(world: World) -> None:
    c = chat(world)
    await c.cmd("report")
    await c.press("Chương trình")
    await c.press("Chưa")
    await c.press("Xác nhận")
    await c.cmd("report")
    await c.press("Kế hoạch")
    replies = await c.send(Input(kind="command", command="status"))
    assert "✓ Chương trình hành động thực hiện Nghị quyết: báo cáo số 1" in replies[0].text
    assert "đúng hạn" in replies[0].text
    assert len(replies) == 2
    assert replies[1].text.startswith("Đồng chí đang báo cáo dở, xin tiếp tục:")


async def test_all_reported_points_to_update(world: World) -> None:
    c = await confirmed_session_report(world)
    await c.cmd("report")
    await c.press("Chương trình")
    await c.say("chưa")
    await c.press("Xác nhận")
    reply = await c.cmd("report")  # one deliverable left: no need to choose
    assert "«Kế hoạch hành động của người đứng đầu»" in reply.text
    await c.say("10")
    await c.say("9")
    await c.press("Xác nhận")
    reply = await c.cmd("report")
    assert reply.done
    assert (
        reply.text
        == "Đảng bộ xã Đông đã báo cáo đủ các nội dung. Nếu cần sửa số liệu, gõ /capnhat."
    )


# --- who may talk ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["stranger_id", "supervisor_id"])
async def test_people_without_a_reporter_role_are_refused(world: World, who: str) -> None:
    c = chat(world, getattr(world, who))
    for inp in (
        Input(kind="command", command="report"),
        Input(kind="command", command="status"),
        Input(kind="command", command="update"),
        Input(kind="text", text="25"),
        Input(kind="choice", data="c:1:1:abcdef:ok"),
    ):
        (reply,) = await c.send(inp)
        assert reply.text.startswith("Xin lỗi, tài khoản này chưa được giao nhiệm vụ báo cáo.")
        assert "Đông" not in reply.text and "Đảng bộ" not in reply.text
    assert await draft_of(world, getattr(world, who)) is None


async def test_a_removed_role_ends_the_draft(world: World) -> None:
    from storage.people import set_role

    c = chat(world)
    await start_session_report(c)
    async with world.db.write() as session:
        await set_role(
            session=session,
            person_id=world.reporter_id,
            kind="reporter",
            unit_id=world.unit_id,
            held=False,
            now=NOW,
        )
    reply = await c.say("28/9")
    assert reply.text.startswith("Xin lỗi")
    assert await draft_of(world, world.reporter_id) is None


async def test_a_reporter_of_two_units_chooses_the_unit(world: World) -> None:
    c = chat(world, world.double_id)
    reply = await c.cmd("report")
    assert reply.text == "Đồng chí báo cáo cho đơn vị nào?"
    assert [x.label for row in reply.choices for x in row] == [
        "Đảng bộ xã Tây",
        "Đảng bộ xã Đông",
        "Hủy",
    ]
    await c.press("Đảng bộ xã Tây")
    reply = await c.press("Hội nghị")
    assert "của Đảng bộ xã Tây" in reply.text
    for text in ["28/9", "2"]:
        reply = await c.say(text)
    assert c.button("12 (theo danh sách)")


async def test_text_without_a_draft_gets_a_hint(world: World) -> None:
    reply = await chat(world).say("chào")
    assert reply.text.startswith("Gõ /baocao để báo cáo")


async def test_english(world: World) -> None:
    c = chat(world, lang="en")
    await c.cmd("report")
    reply = await c.press("Resolution study session")
    assert "Question 1/8. On what date was the study session held?" in reply.text
    assert [x.label for row in reply.choices for x in row] == ["Today", "Yesterday"]
    reply = await c.say("31/2")
    assert reply.text.startswith("You answered “31/2”. There is no such date as 31/2")
