"""/danhgia on both channels (#13.4 "on every channel"): a supervisor on Telegram or Zalo
records the session's assessment of a unit they follow; /donvi then shows it beside the
presenter's name and standing; a unit outside
their scope is answered as one that does not exist."""

from __future__ import annotations

from storage.i18n import t
from tests.review_fixtures import session_report
from tests.test_channel_scenarios import Setup, setup

__all__ = ["setup"]


async def test_a_supervisor_assesses_a_session_on_each_channel(setup: Setup) -> None:
    driver = setup.driver
    await session_report(setup.db, setup.world)
    said = await driver.say("supervisor", "/danhgia CS1 chưa đạt")
    assert said == [
        "Đã ghi nhận: hội nghị học tập, quán triệt của Đảng bộ xã Đông (mã CS1) chưa đạt yêu cầu."
    ]
    view = "\n".join(await driver.say("supervisor", "/donvi CS1"))
    lines = [line.strip() for line in view.splitlines()]
    name = lines.index("Báo cáo viên: Đồng chí Nguyễn Văn B")  # the presenter, then their standing
    assert lines[name + 1] == "Báo cáo viên là: Báo cáo viên cấp tỉnh/cấp huyện"
    assert "Đánh giá hội nghị: Chưa đạt" in view
    assert await driver.say("supervisor", "/danhgia CS3 1") == [
        t("unit.not_visible", "vi", code="CS3")
    ]
