"""Acceptance (#14.4) over a whole demo campaign's outbox: nobody is reminded or escalated to on
a Saturday, a Sunday or a public holiday; no supervisor gets more than two escalation messages in
any week; the summary says so in plain Vietnamese, with the counts."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from bot.cli.demo import run_demo
from bot.demo.proactive import key_day, proactive_facts
from storage.reminders.days_off import is_day_off


async def test_a_whole_demo_campaign_respects_days_off_and_the_weekly_escalation_cap(
    tmp_path: Path,
) -> None:
    sim, files = await run_demo(tmp_path / "demo", units=16, seed=5, end=date(2016, 10, 3))
    try:
        rows = await sim.outbox_rows()
    finally:
        # run_demo disposed of the database; this read opened a connection again: close it, or
        # aiosqlite warns when it is collected later, inside whichever test runs then.
        await sim.db.dispose()
    kinds = Counter(kind for _key, kind, _person, _status in rows)
    assert kinds["reminder"] > 0 and kinds["escalation"] > 0  # the run exercised both

    per_week: Counter[tuple[int | None, int, int]] = Counter()
    for key, kind, person_id, _status in rows:
        if kind not in ("reminder", "escalation"):
            continue
        day = key_day(key)
        assert day is not None, key
        assert not is_day_off(day), (key, day.strftime("%A"))
        if kind == "escalation":
            iso = day.isocalendar()
            per_week[(person_id, iso.year, iso.week)] += 1
    assert max(per_week.values()) <= 2

    facts = proactive_facts(rows)
    summary = files.summary.read_text(encoding="utf-8")
    assert f"Đã gửi {facts.sent['reminder']} lời nhắc báo cáo, " in summary
    assert "Không có lời nhắc hay tin đôn đốc nào vào thứ Bảy, Chủ nhật hoặc ngày lễ." in summary
    assert "Mỗi đồng chí theo dõi nhận nhiều nhất" in summary
    assert "digest:sent" not in summary and "reminder" not in summary
