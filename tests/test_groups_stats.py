"""/thongke shows the campaign's reporting groups by default (#13.3)."""

from __future__ import annotations

from tests.test_telegram_supervision import ADMIN, Setup, setup

__all__ = ["setup"]


async def test_stats_show_the_campaigns_reporting_groups(setup: Setup) -> None:
    text = (await setup.harness.send("/thongke", ADMIN)).text()
    assert "Cấp tỉnh và cấp huyện" in text and "Cấp cơ sở" in text
    assert "Chi bộ trực thuộc" not in text  # levels are not listed one by one
