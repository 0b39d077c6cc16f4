"""The organisation's name is a setting (CADREBOT_ORGANISATION_NAME): a stranger's refusal on
both channels and the report paragraph say the configured name, never a fixed one."""

from __future__ import annotations

import pytest

from storage.organisation import organisation
from storage.settings import Settings
from tests.test_channel_scenarios import Setup, setup

__all__ = ["setup"]

RENAMED = "Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam"


@pytest.fixture(autouse=True)
def renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the channels' settings are built (an autouse fixture runs first)."""
    monkeypatch.setenv("CADREBOT_ORGANISATION_NAME", RENAMED)


async def test_a_strangers_refusal_names_the_configured_organisation(setup: Setup) -> None:
    [refusal] = await setup.driver.say("stranger", "xin chào")
    assert refusal.startswith("Xin lỗi, đồng chí chưa được cấp quyền sử dụng trợ lý này.")
    assert f"vui lòng liên hệ {RENAMED} để nhận mã mời" in refusal


async def test_the_report_paragraph_of_supervision_names_it_too(setup: Setup) -> None:
    texts = await setup.driver.say("admin", "/thongke")
    assert any(f"Theo số liệu tổng hợp của {RENAMED} đến ngày" in text for text in texts), texts


def test_unset_settings_take_the_catalogs_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CADREBOT_ORGANISATION_NAME")
    default = organisation(Settings(_env_file=None))
    assert default.name == "Ban Tuyên giáo và Dân vận Tỉnh ủy"
    assert (default.parent, default.header, default.symbol) == (
        "Tỉnh ủy",
        "Ban Tuyên giáo và Dân vận",
        "BTGDVTU",
    )
    english = organisation(Settings(_env_file=None), "en")
    assert english.name.startswith("the Propaganda and Mass Mobilisation Department")
    # A configured name is a proper name: the same in both languages.
    assert organisation(Settings(_env_file=None, organisation_name=RENAMED), "en").name == RENAMED
