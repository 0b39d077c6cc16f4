"""Acceptance (#14.4) over a whole demo campaign's outbox: nobody is reminded or escalated to on
a Saturday, a Sunday or a public holiday (neither the day a message was planned for nor the day
it went out); no supervisor gets more than two escalation messages in any week; the summary
states the counts in plain Vietnamese. The counts are read from the outbox here, not from the
summary's own code."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from bot.cli.demo import DEMO_START, run_demo
from bot.demo.proactive import TZ, key_day
from storage.i18n import t
from storage.i18n.formatting import number
from storage.reminders.days_off import is_day_off, public_holidays

END = date(2016, 10, 3)


async def test_a_whole_demo_campaign_respects_days_off_and_the_weekly_escalation_cap(
    tmp_path: Path,
) -> None:
    sim, files = await run_demo(tmp_path / "demo", units=30, seed=5, end=END)
    try:
        rows = await sim.outbox_rows()
    finally:
        # run_demo disposed of the database; this read opened a connection again: close it, or
        # aiosqlite warns when it is collected later, inside whichever test runs then.
        await sim.db.dispose()
    # The run spans weekends and public holidays (30/4-1/5 is before it; 2/9 inside it).
    assert date(2016, 9, 2) in public_holidays(2016) and DEMO_START.date() < date(2016, 9, 2) < END

    sent = Counter(row.kind for row in rows if row.status == "sent")
    # The run exercised both, enough for the weekly cap to matter (30 units: some 18 lists).
    assert sent["reminder"] > 0 and sent["escalation"] > 8
    escalations_a_week: Counter[tuple[int | None, int, int]] = Counter()
    for row in rows:
        if row.kind not in ("reminder", "escalation"):
            continue
        planned = key_day(row.key)
        assert planned is not None, row.key
        assert not is_day_off(planned), (row.key, planned.strftime("%A"))
        if row.status != "sent":
            continue
        assert row.sent_at is not None
        went_out = row.sent_at.astimezone(TZ).date()
        assert not is_day_off(went_out), (row.key, went_out.strftime("%A %d/%m"))
        if row.kind == "escalation":
            iso = went_out.isocalendar()
            escalations_a_week[(row.person_id, iso.year, iso.week)] += 1
    most = max(escalations_a_week.values())
    assert most <= 2

    summary = files.summary.read_text(encoding="utf-8").splitlines()
    assert (
        f"Đã gửi {number(sent['reminder'])} lời nhắc báo cáo, {number(sent['escalation'])} tin "
        f"đôn đốc tới các đồng chí theo dõi và {number(sent['digest'])} bản tổng hợp tuần."
    ) in summary
    assert "Không có lời nhắc hay tin đôn đốc nào vào thứ Bảy, Chủ nhật hoặc ngày lễ." in summary
    assert f"Mỗi đồng chí theo dõi nhận nhiều nhất {most} tin đôn đốc trong một tuần." in summary
    withdrawn = sum(row.status == "withdrawn" for row in rows)
    if withdrawn:
        assert t("demo.summary.withdrawn", "vi", count=number(withdrawn)) in summary
    text = "\n".join(summary)
    assert "digest:sent" not in text and "reminder" not in text and "escalation" not in text
