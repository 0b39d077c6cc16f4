"""A fictional province: a deterministic unit tree over the four default levels.

Names are invented (no real province, district or commune is meant). The same seed always gives
the same tree, so demo output is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from storage.unit_import import UnitRow

DISTRICT_NAMES = [
    "Huyện ủy Yên Hòa",
    "Huyện ủy Đông Thành",
    "Thành ủy Phú Lâm",
    "Huyện ủy Tân Lạc",
    "Huyện ủy Gia Bình Xuyên",
    "Đảng ủy Khối Cơ quan tỉnh",
    "Đảng ủy Khối Doanh nghiệp tỉnh",
    "Huyện ủy Thuận Mỹ",
    "Huyện ủy Quế Sơn Hạ",
    "Thị ủy Long Điền",
]
COMMUNE_STEMS = [
    "An",
    "Bình",
    "Cẩm",
    "Đông",
    "Giang",
    "Hòa",
    "Hưng",
    "Khánh",
    "Lạc",
    "Minh",
    "Nghĩa",
    "Phong",
    "Phúc",
    "Quang",
    "Sơn",
    "Tân",
    "Thái",
    "Thanh",
    "Trung",
    "Vĩnh",
    "Xuân",
    "Yên",
]
COMMUNE_TAILS = ["Lộc", "Thịnh", "Hải", "Tiến", "Đức", "Mỹ", "Phú", "Thành", "Lợi", "Hà"]
CELL_KINDS = ["Chi bộ thôn", "Chi bộ khu phố", "Chi bộ trường học", "Chi bộ trạm y tế"]
VILLAGE_NAMES = [
    "Đông Xá",
    "Trung Hòa",
    "Phú Mỹ",
    "Cổ Am",
    "Lạc Thổ",
    "Hữu Bằng",
    "Mai Động",
    "Tiên Du",
    "Đại Lâm",
    "Yên Việt",
    "Ngọc Hà",
    "Kim Đôi",
    "Thượng Đồng",
    "Vân Khám",
    "Bảo Tháp",
]


@dataclass(frozen=True)
class Province:
    rows: list[UnitRow]
    province_code: str

    def codes_at(self, level: str) -> list[str]:
        return [row.code for row in self.rows if row.level == level]


def build_province(*, units: int = 200, seed: int = 2016, two_level: bool = False) -> Province:
    """About `units` units: 1 province, districts (~4%), grassroots (~20%), the rest cells.
    `two_level` (the structure since 2025): no districts, the communes and wards (grassroots
    committees) straight under the province."""
    if units < 8:
        raise ValueError("the demo needs at least 8 units")
    rng = random.Random(seed)
    rows: list[UnitRow] = []
    line = 2

    def add(code: str, name: str, level: str, parent: str | None, members: int) -> None:
        nonlocal line
        rows.append(
            UnitRow(
                line=line, code=code, name=name, level=level, parent_code=parent, members=members
            )
        )
        line += 1

    districts = 0 if two_level else max(2, min(len(DISTRICT_NAMES), round(units * 0.04)))
    grassroots = max(districts, 2, round(units * 0.2))
    cells = max(0, units - 1 - districts - grassroots)

    add("TU", "Đảng bộ tỉnh Hòa Bình Xanh (hư cấu)", "tinh", None, 120)
    district_codes = []
    for i in range(districts):
        code = f"H{i + 1:02d}"
        district_codes.append(code)
        add(code, DISTRICT_NAMES[i], "huyen", "TU", rng.randint(45, 90))
    grassroots_codes = []
    for i in range(grassroots):
        if two_level:
            parent, code = "TU", f"X{i + 1:03d}"  # a commune or ward under the province
        else:
            parent = district_codes[i % districts]
            code = f"{parent}-CS{i // districts + 1:02d}"
        grassroots_codes.append(code)
        stem = COMMUNE_STEMS[i % len(COMMUNE_STEMS)]
        tail = COMMUNE_TAILS[(i * 7) % len(COMMUNE_TAILS)]
        add(code, f"Đảng bộ xã {stem} {tail}", "co_so", parent, rng.randint(60, 180))
    for i in range(cells):
        parent = grassroots_codes[i % grassroots]
        code = f"{parent}-CB{i // grassroots + 1:02d}"
        kind = CELL_KINDS[rng.randrange(len(CELL_KINDS))]
        village = VILLAGE_NAMES[rng.randrange(len(VILLAGE_NAMES))]
        add(code, f"{kind} {village}", "chi_bo", parent, rng.randint(8, 45))
    # A grassroots committee's members include those of its cells (which do not report
    # separately under the campaign's reporting groups): no member is counted twice.
    cells_of: dict[str, int] = {}
    for row in rows:
        if row.level == "chi_bo" and row.parent_code:
            cells_of[row.parent_code] = cells_of.get(row.parent_code, 0) + (row.members or 0)
    rows = [
        replace(row, members=(row.members or 0) + cells_of.get(row.code, 0))
        if row.level == "co_so"
        else row
        for row in rows
    ]
    return Province(rows=rows, province_code="TU")


FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thu", "Quang", "Ngọc", "Hữu"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dung",
    "Hạnh",
    "Hùng",
    "Lan",
    "Long",
    "Mai",
    "Nam",
    "Phương",
    "Quân",
    "Sơn",
    "Thảo",
    "Trang",
    "Tuấn",
    "Yến",
]


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
