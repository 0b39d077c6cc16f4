"""Aligned tables as each channel can show them: list lines on Zalo, <pre> on Telegram."""

from __future__ import annotations

from bot.channels.tables import as_html_pre, as_lists

DIGEST = (
    "Theo cấp:\n"
    "Cấp        (1)  (2)  (3)  Thu hoạch\n"
    "Cấp huyện  2/2  2/2  1/2      93,5%\n"
    "Cấp cơ sở  3/4  3/4  3/4      93,8%\n"
    "\n"
    "Đơn vị chưa báo cáo (đã quá hạn): 1\n"
    "- Đảng bộ C12 (C12): (2)"
)


def test_zalo_writes_each_row_as_a_line_naming_its_columns() -> None:
    assert as_lists(DIGEST) == (
        "Theo cấp:\n"
        "• Cấp huyện: (1) 2/2, (2) 2/2, (3) 1/2, Thu hoạch 93,5%\n"
        "• Cấp cơ sở: (1) 3/4, (2) 3/4, (3) 3/4, Thu hoạch 93,8%\n"
        "\n"
        "Đơn vị chưa báo cáo (đã quá hạn): 1\n"
        "- Đảng bộ C12 (C12): (2)"
    )


def test_telegram_keeps_the_alignment_in_pre_and_escapes_everything() -> None:
    text = DIGEST.replace("Đảng bộ C12", "Đảng bộ <C12> & co")
    html = as_html_pre(text)
    assert "<pre>Cấp        (1)  (2)  (3)  Thu hoạch\nCấp huyện  2/2" in html
    assert "Cấp cơ sở  3/4  3/4  3/4      93,8%</pre>" in html
    assert "Đảng bộ &lt;C12&gt; &amp; co" in html


def test_text_without_a_table_is_left_as_it_is() -> None:
    plain = "Kính gửi đồng chí,\nĐơn vị còn 2 nội dung.\n• Hội nghị: hạn 31/8/2016"
    assert as_lists(plain) == plain
    assert as_html_pre(plain) == plain
    one_row = "Cấp  (1)  (2)"  # a single aligned line is no table
    assert as_lists(one_row) == one_row
