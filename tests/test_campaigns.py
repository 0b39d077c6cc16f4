"""Campaign files: the built-in template, line-numbered errors, and the upsert into the database."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import col

from storage.campaigns import (
    CampaignDefinition,
    DefinitionError,
    add_deliverable,
    definition_of,
    deliverable_kinds,
    deliverables_of,
    get_campaign,
    list_campaigns,
    load_campaign,
    parse_definition,
    template_text,
    validate_definition,
)
from storage.db import Database
from storage.forms import FieldType, Form, measures_of, next_field
from storage.models import (
    AuditLog,
    Campaign,
    Deliverable,
    DeliverableDeadline,
    Report,
    Unit,
)
from storage.units import ensure_default_levels

TEMPLATE = template_text()


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _errors(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(text)
    return info.value.messages("vi")


# --- parsing ------------------------------------------------------------------------------------


def test_template_reproduces_the_article_campaign() -> None:
    definition = parse_definition(TEMPLATE)
    info = definition.campaign
    assert info.reference == "13-KH/TU"
    assert info.start_date == date(2016, 5, 1)
    assert info.timezone == "Asia/Ho_Chi_Minh"
    assert info.min_session_halfdays == 2
    assert info.essay_rate_threshold == 0.9
    assert info.reminders.offsets_days == [-3, -1, 0]
    assert info.reminders.quiet_hours.start.hour == 21  # "21:00" is a time, not 1260 minutes
    assert (info.digest.weekday, info.digest.time.hour, info.digest.time.minute) == (
        "monday",
        7,
        30,
    )
    keys = [item.key for item in definition.deliverables]
    assert keys == ["hoi_nghi", "chuong_trinh", "ke_hoach"]
    session_form = definition.deliverables[0].form()
    assert {f.measure for f in session_form.fields} >= {
        "session_date",
        "duration_halfdays",
        "members",
        "attended",
        "nonmembers_attended",
        "essays",
    }
    assert session_form.field("members").default_from == "unit.members"
    assert session_form.field("duration_halfdays").max == 20
    assert not session_form.field("nonmembers_attended").required
    assert session_form.field("presenter").type == FieldType.TEXT
    assert definition.deliverables[0].deadlines["tinh"] == date(2016, 6, 10)
    assert set(definition.deliverables[2].deadlines) == {"tinh", "huyen", "co_so"}
    # The action program's date is asked only after "yes".
    program = definition.deliverables[1].form()
    first = next_field(program, {})
    assert first is not None and first.key == "action_program"
    assert next_field(program, {"action_program": False}) is None


def test_definition_round_trips_through_json() -> None:
    definition = parse_definition(TEMPLATE)
    again = CampaignDefinition.model_validate(definition.model_dump(mode="json"))
    assert again.model_dump() == definition.model_dump()


def test_wrong_field_type_names_line_and_field() -> None:
    broken = TEMPLATE.replace("type: int\n        min: 1", "type: number\n        min: 1")
    line = _line_of(broken, "type: number")
    assert _errors(broken) == [
        f"Dòng {line}, deliverables[0].fields[1].type: "
        "kiểu “number” không hợp lệ (int, bool, date, text, choice)"
    ]


def test_bad_date_names_line_and_field() -> None:
    broken = TEMPLATE.replace("tinh: 2016-06-10", "tinh: 2016-02-30")
    line = _line_of(broken, "tinh: 2016-02-30")
    [message] = _errors(broken)
    assert message.startswith(f"Dòng {line}, deliverables[0].deadlines.tinh: ngày “2016-02-30”")


def test_rule_over_a_missing_field() -> None:
    broken = TEMPLATE.replace("lte: [essays, attended]", "lte: [essays, attendees]")
    line = _line_of(broken, "attendees")
    assert _errors(broken) == [
        f"Dòng {line}, deliverables[0].rules[1].lte[1]: "
        "quy tắc nhắc tới câu hỏi “attendees” không có trong biểu mẫu"
    ]


def test_bad_measure_and_several_errors_in_file_order() -> None:
    broken = (
        TEMPLATE.replace("measure: heads_with_plan", "measure: heads_plan")
        .replace("          chi_bo: 2016-09-30", "          chi_bo: 2016-04-30")
        .replace("      chi_bo: 2016-09-30", "      chi_bo: 2016-04-30")
    )
    messages = _errors(broken)
    assert len(messages) == 2
    assert (
        "deliverables[1].deadlines.chi_bo: hạn 30/4/2016 sớm hơn ngày bắt đầu đợt (1/5/2016)"
        in (messages[0])
    )
    line = _line_of(broken, "measure: heads_plan")
    assert messages[1].startswith(
        f"Dòng {line}, deliverables[2].fields[1].measure: chỉ tiêu “heads_plan” không có"
    )


def test_missing_and_unknown_keys() -> None:
    broken = TEMPLATE.replace('  resolution: "Nghị quyết', '  resolutoin: "Nghị quyết')
    line = _line_of(broken, "resolutoin")
    messages = _errors(broken)
    assert (
        f"Dòng {line}, campaign.resolutoin: mục này không được hỗ trợ (kiểm tra lại chính tả)"
        in (messages)
    )
    assert any(m.endswith("campaign.resolution: thiếu mục bắt buộc này") for m in messages)


def test_not_yaml_and_not_a_campaign() -> None:
    [message] = _errors("campaign:\n  name: [unclosed\n")
    assert message.startswith("Dòng ")
    assert "YAML" in message
    assert _errors("- just\n- a list\n") == [
        "Dòng 1: tệp phải có hai phần campaign: và deliverables:"
    ]
    assert _errors("") == ["Dòng 1: tệp phải có hai phần campaign: và deliverables:"]


def test_duplicate_keys_and_timezone() -> None:
    broken = TEMPLATE.replace("key: ke_hoach", "key: hoi_nghi").replace(
        "timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Hanoi_Nowhere"
    )
    messages = _errors(broken)
    assert any("campaign.timezone: không có múi giờ “Asia/Hanoi_Nowhere”" in m for m in messages)
    assert any(
        "deliverables[2].key: khóa nội dung báo cáo “hoi_nghi” bị trùng" in m for m in messages
    )


# --- database -----------------------------------------------------------------------------------


async def _levels(db: Database) -> None:
    async with db.write() as session:
        await ensure_default_levels(session=session)


async def test_load_stores_campaign_deliverables_forms_and_deadlines(
    db: Database, now: datetime
) -> None:
    await _levels(db)
    definition = parse_definition(TEMPLATE)
    async with db.write() as session:
        campaign = await load_campaign(session=session, definition=definition, now=now)
        campaign_id = campaign.id
    assert campaign_id is not None
    async with db.read() as session:
        stored = await get_campaign(session=session, campaign_id_or_reference="13-KH/TU")
        assert stored is not None and stored.id == campaign_id
        assert (
            await get_campaign(session=session, campaign_id_or_reference=campaign_id)
        ) is not None
        assert (
            await get_campaign(session=session, campaign_id_or_reference=str(campaign_id))
        ) is not None
        assert stored.min_session_halfdays == 2
        assert stored.essay_rate_threshold == pytest.approx(0.9)
        assert stored.start_date == date(2016, 5, 1)
        assert definition_of(stored).model_dump() == definition.model_dump()
        rows = await deliverables_of(session=session, campaign_id=campaign_id)
        audit = (await session.execute(select(AuditLog))).scalars().all()
    assert [d.key for d, _, _ in rows] == ["hoi_nghi", "chuong_trinh", "ke_hoach"]
    _, form, deadlines = rows[0]
    assert isinstance(form, Form)
    assert form == definition.deliverables[0].form()
    assert deadlines == {
        "tinh": date(2016, 6, 10),
        "huyen": date(2016, 7, 15),
        "co_so": date(2016, 8, 31),
        "chi_bo": date(2016, 8, 31),
    }
    assert set(rows[2][2]) == {"tinh", "huyen", "co_so"}
    assert measures_of(form, {"attended": 25})["attended"] == 25
    assert [(a.action, a.entity, a.entity_id) for a in audit] == [
        ("campaign.load", "campaign", str(campaign_id))
    ]


async def test_reload_is_an_upsert(db: Database, now: datetime) -> None:
    await _levels(db)
    async with db.write() as session:
        first = await load_campaign(session=session, definition=parse_definition(TEMPLATE), now=now)
    changed = (
        TEMPLATE.replace("tinh: 2016-06-10", "tinh: 2016-06-15")
        .replace(
            "      co_so: 2016-09-30\n    fields:\n      - key: heads",
            "    fields:\n      - key: heads",
        )
        .replace("min_session_halfdays: 2", "min_session_halfdays: 3")
    )
    later = now + timedelta(days=1)
    async with db.write() as session:
        second = await load_campaign(
            session=session, definition=parse_definition(changed), now=later
        )
    assert second.id == first.id
    async with db.read() as session:
        assert len(await list_campaigns(session=session)) == 1
        assert (
            await session.execute(select(func.count()).select_from(Deliverable))
        ).scalar_one() == 3
        rows = await deliverables_of(session=session, campaign_id=first.id or 0)
        campaign = await session.get(Campaign, first.id)
        actions = (
            (await session.execute(select(col(AuditLog.action)).order_by(col(AuditLog.id))))
            .scalars()
            .all()
        )
    assert campaign is not None and campaign.min_session_halfdays == 3
    assert campaign.updated_at == later and campaign.created_at == now
    assert rows[0][2]["tinh"] == date(2016, 6, 15)
    assert set(rows[2][2]) == {"tinh", "huyen"}
    assert list(actions) == ["campaign.load", "campaign.reload"]


async def test_loading_by_id_renames_in_place_and_keeps_references_unique(
    db: Database, now: datetime
) -> None:
    await _levels(db)
    other = TEMPLATE.replace('reference: "13-KH/TU"', 'reference: "99-KH/TU"')
    async with db.write() as session:
        first = await load_campaign(session=session, definition=parse_definition(TEMPLATE), now=now)
        await load_campaign(session=session, definition=parse_definition(other), now=now)
    renamed = TEMPLATE.replace('reference: "13-KH/TU"', 'reference: "13-KH/TU-2"')
    async with db.write() as session:
        moved = await load_campaign(
            session=session, definition=parse_definition(renamed), now=now, campaign_id=first.id
        )
    assert moved.id == first.id and moved.reference == "13-KH/TU-2"
    taken = TEMPLATE.replace('reference: "13-KH/TU"', 'reference: "99-KH/TU"')
    line = _line_of(taken, 'reference: "99-KH/TU"')
    async with db.write() as session:
        with pytest.raises(DefinitionError) as info:
            await load_campaign(
                session=session, definition=parse_definition(taken), now=now, campaign_id=first.id
            )
    assert info.value.messages() == [
        f"Dòng {line}, campaign.reference: đã có đợt khác mang số hiệu 99-KH/TU"
    ]
    async with db.read() as session:
        references = sorted(c.reference for c in await list_campaigns(session=session))
    assert references == ["13-KH/TU-2", "99-KH/TU"]


def test_a_send_hour_inside_the_quiet_hours_is_refused() -> None:
    quiet = TEMPLATE.replace("    send_hour: 8", "    send_hour: 22")
    line = _line_of(quiet, "send_hour: 22")
    assert _errors(quiet) == [
        f"Dòng {line}, campaign.reminders.send_hour: giờ gửi nhắc 22 giờ rơi vào giờ yên lặng "
        "(21:00–07:00); đồng chí chọn giờ khác hoặc đổi giờ yên lặng"
    ]


async def test_unknown_level_is_refused_with_its_line(db: Database, now: datetime) -> None:
    await _levels(db)
    broken = TEMPLATE.replace("      huyen: 2016-07-15", "      xa: 2016-07-15")
    definition = parse_definition(broken)
    line = _line_of(broken, "xa: 2016-07-15")
    async with db.write() as session:
        with pytest.raises(DefinitionError) as info:
            await load_campaign(session=session, definition=definition, now=now)
    assert info.value.messages() == [
        f"Dòng {line}, deliverables[0].deadlines.xa: "
        "không có cấp “xa” (các cấp hiện có: chi_bo, co_so, huyen, tinh)"
    ]
    async with db.read() as session:
        assert await list_campaigns(session=session) == []


async def test_scope_must_be_a_known_unit(db: Database, now: datetime) -> None:
    await _levels(db)
    scoped = TEMPLATE.replace("  # scope: TU_BN", "  scope: TU_BN")
    async with db.write() as session:
        with pytest.raises(DefinitionError, match="TU_BN"):
            await load_campaign(session=session, definition=parse_definition(scoped), now=now)
    async with db.write() as session:
        await session.execute(
            insert(Unit).values(
                code="TU_BN",
                name="Tỉnh ủy Bắc Ninh",
                level_code="tinh",
                path="/1/",
                depth=0,
                members=100,
                created_at=now,
                updated_at=now,
            )
        )
        campaign = await load_campaign(
            session=session, definition=parse_definition(scoped), now=now
        )
        assert campaign.scope_unit_id is not None


async def test_a_deliverable_with_reports_cannot_be_dropped(db: Database, now: datetime) -> None:
    await _levels(db)
    async with db.write() as session:
        campaign = await load_campaign(
            session=session, definition=parse_definition(TEMPLATE), now=now
        )
        unit = Unit(
            code="X",
            name="Chi bộ X",
            level_code="chi_bo",
            path="/1/",
            depth=0,
            members=10,
            created_at=now,
            updated_at=now,
        )
        session.add(unit)
        await session.flush()
        plan = (
            await session.execute(select(Deliverable).where(col(Deliverable.key) == "ke_hoach"))
        ).scalar_one()
        session.add(
            Report(
                campaign_id=campaign.id or 0,
                deliverable_id=plan.id or 0,
                unit_id=unit.id or 0,
                first_confirmed_at=now,
                updated_at=now,
            )
        )
    without_plan = TEMPLATE[: TEMPLATE.index("  - key: ke_hoach")]
    async with db.write() as session:
        with pytest.raises(DefinitionError, match="ke_hoach"):
            await load_campaign(session=session, definition=parse_definition(without_plan), now=now)
    # Without reports it goes, with its deadlines.
    without_program = TEMPLATE.replace(
        TEMPLATE[TEMPLATE.index("  - key: chuong_trinh") : TEMPLATE.index("  - key: ke_hoach")], ""
    )
    async with db.write() as session:
        await load_campaign(session=session, definition=parse_definition(without_program), now=now)
    async with db.read() as session:
        keys = (await session.execute(select(col(Deliverable.key)))).scalars().all()
        deadlines = (
            await session.execute(select(func.count()).select_from(DeliverableDeadline))
        ).scalar_one()
    assert sorted(keys) == ["hoi_nghi", "ke_hoach"]
    assert deadlines == 4 + 3


def test_days_off_must_fall_inside_the_campaign() -> None:
    text = TEMPLATE.replace(
        "    escalation_up_days: 7",
        "    escalation_up_days: 7\n    days_off: [2016-09-02, 2016-04-30]",
    )
    line = _line_of(text, "days_off:")
    assert _errors(text) == [
        f"Dòng {line}, campaign.reminders.days_off[1]: "
        "ngày nghỉ 30/4/2016 sớm hơn ngày bắt đầu đợt (1/5/2016)"
    ]
    ended = text.replace("2016-04-30", "2017-01-02").replace(
        "  # end_date: 2016-12-31", "  end_date: 2016-12-31"
    )
    [message] = _errors(ended)
    assert message.endswith("ngày nghỉ 2/1/2017 muộn hơn ngày kết thúc đợt (31/12/2016)")
    fine = parse_definition(ended.replace("2017-01-02", "2016-12-31"))
    assert [str(d) for d in fine.campaign.reminders.days_off] == ["2016-09-02", "2016-12-31"]


def test_a_deliverable_of_a_template_kind_comes_with_its_questions() -> None:
    kinds = {kind.key: kind for kind in deliverable_kinds()}
    assert list(kinds) == ["hoi_nghi", "chuong_trinh", "ke_hoach"]
    kinds["hoi_nghi"].fields.clear()  # a copy: the next caller gets the questions again
    assert deliverable_kinds()[0].fields
    data = parse_definition(TEMPLATE).model_dump(mode="python")
    due = {"tinh": date(2016, 10, 1)}
    first = add_deliverable(
        data, kind="hoi_nghi", name_vi="Hội nghị sơ kết", name_en="", deadlines=due
    )
    second = add_deliverable(
        data,
        kind="hoi_nghi",
        name_vi="Hội nghị tổng kết",
        name_en="Review",
        deadlines=due,
        taken=["hoi_nghi_3"],
    )
    assert (first, second) == ("hoi_nghi_2", "hoi_nghi_4")  # unique, never a key being removed
    definition = validate_definition(data)
    added = definition.deliverables[3]
    assert (added.name_vi, added.name_en) == ("Hội nghị sơ kết", "Resolution study session")
    assert [f.key for f in added.fields] == [f.key for f in definition.deliverables[0].fields]
    assert added.rules == definition.deliverables[0].rules
    assert definition.deliverables[4].name_en == "Review"
    with pytest.raises(KeyError):
        add_deliverable(data, kind="bi_mat", name_vi="X", name_en="", deadlines=due)


def test_a_date_outside_the_years_a_campaign_can_run_is_refused() -> None:
    """A year typed wrong (0001, 9999) is refused: the deadline 31/12/9999 has no end of day,
    and every figure of the campaign would fail on it."""
    far = TEMPLATE.replace("      tinh: 2016-09-30", "      tinh: 9999-12-31", 1)
    line = _line_of(far, "9999-12-31")
    assert _errors(far) == [
        f"Dòng {line}, deliverables[1].deadlines.tinh: "
        "ngày 31/12/9999 không hợp lệ: năm phải từ 2000 đến 2100"
    ]
    early = TEMPLATE.replace("  start_date: 2016-05-01", "  start_date: 0001-05-01")
    [message] = _errors(early)
    assert message.endswith(
        "campaign.start_date: ngày 1/5/1 không hợp lệ: năm phải từ 2000 đến 2100"
    )
    edges = TEMPLATE.replace("  start_date: 2016-05-01", "  start_date: 2000-01-01")
    assert parse_definition(edges).campaign.start_date == date(2000, 1, 1)


def test_a_deliverable_added_of_a_kind_gets_its_sheet_titled_by_its_own_name() -> None:
    """The kind's short sheet name ('Kế hoạch của người đứng đầu') names the template's
    deliverable; one added under another name is titled by that name in the paper template."""
    from storage.report_import.sheet_names import sheet_titles

    data = parse_definition(TEMPLATE).model_dump(mode="python")
    due = {"tinh": date(2016, 10, 1)}
    key = add_deliverable(
        data, kind="ke_hoach", name_vi="Kế hoạch sơ kết", name_en="Review plan", deadlines=due
    )
    definition = validate_definition(data)
    for lang in ("vi", "en"):
        titles = sheet_titles(
            [
                (d.key, d.name_en if lang == "en" else d.name_vi, getattr(d, f"sheet_{lang}"))
                for d in definition.deliverables
            ]
        )
        assert titles[key] == ("Review plan" if lang == "en" else "Kế hoạch sơ kết")
        assert titles["ke_hoach"] != titles[key]
