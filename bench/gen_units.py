"""Deterministic generator of a national-scale unit-tree CSV (fictional Vietnamese names).

Default 300,000 units: 63 provinces (tinh), ~700 districts (huyen), 10,000 grassroots (co_so), the
rest subordinate cells (chi_bo); smaller N scales the upper levels down. Rows are shuffled (a
parent often comes after its child) unless --ordered. --bad-rows K spoils K cell rows, each in a
known way, and prints their line numbers (header = line 1).

    python -m bench.gen_units --units 300000 --output /tmp/units.csv --bad-rows 3
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

HEADER = ["code", "name", "level", "parent_code", "members"]
NATIONAL = {"tinh": 63, "huyen": 700, "co_so": 10_000}
BAD_KINDS = (
    "unknown_parent",
    "missing_name",
    "unknown_level",
    "members_negative",
    "members_not_whole",
    "own_parent",
    "duplicate_code",
    "missing_code",
)
SYLLABLES = [
    "An",
    "Bình",
    "Cẩm",
    "Đông",
    "Giang",
    "Hà",
    "Hòa",
    "Hưng",
    "Khánh",
    "Lạc",
    "Long",
    "Minh",
    "Nam",
    "Ninh",
    "Phú",
    "Phúc",
    "Quảng",
    "Sơn",
    "Tân",
    "Thái",
    "Thanh",
    "Thuận",
    "Tiên",
    "Trung",
    "Vĩnh",
    "Xuân",
    "Yên",
    "Đức",
    "Lộc",
    "Mỹ",
    "Hải",
    "Thủy",
    "Hồng",
    "Quế",
    "Lĩnh",
    "Kỳ",
    "Ân",
    "Nghĩa",
]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(SYLLABLES)} {rng.choice(SYLLABLES)}"


def level_counts(units: int) -> dict[str, int]:
    scale = units / 300_000
    counts = {level: max(1, round(n * scale)) for level, n in NATIONAL.items()}
    counts["chi_bo"] = max(0, units - sum(counts.values()))
    return counts


def generate(
    units: int = 300_000, *, bad_rows: int = 0, seed: int = 2016, ordered: bool = False
) -> tuple[list[list[str]], dict[int, str]]:
    """Data rows (no header) and {line number: kind} of the spoiled rows."""
    rng = random.Random(seed)
    counts = level_counts(units)
    rows: list[list[str]] = []
    tinh = [f"T{i:02d}" for i in range(1, counts["tinh"] + 1)]
    for code in tinh:
        rows.append(
            [code, f"Đảng bộ tỉnh {_name(rng)}", "tinh", "", str(rng.randint(20_000, 200_000))]
        )
    huyen = [f"H{i:04d}" for i in range(1, counts["huyen"] + 1)]
    for code in huyen:
        kind = rng.choice(("Huyện ủy", "Thị ủy", "Thành ủy", "Đảng ủy Khối"))
        rows.append(
            [
                code,
                f"{kind} {_name(rng)}",
                "huyen",
                rng.choice(tinh),
                f"{rng.randint(1_000, 20_000):,}".replace(",", "."),
            ]
        )
    co_so = [f"C{i:05d}" for i in range(1, counts["co_so"] + 1)]
    for code in co_so:
        kind = rng.choice(("Đảng bộ xã", "Đảng bộ phường", "Đảng bộ thị trấn", "Chi bộ Trường"))
        rows.append(
            [code, f"{kind} {_name(rng)}", "co_so", rng.choice(huyen), str(rng.randint(20, 500))]
        )
    for i in range(1, counts["chi_bo"] + 1):
        kind = rng.choice(("Chi bộ thôn", "Chi bộ tổ dân phố", "Chi bộ khu", "Chi bộ xóm"))
        rows.append(
            [
                f"B{i:06d}",
                f"{kind} {_name(rng)} {rng.randint(1, 12)}",
                "chi_bo",
                rng.choice(co_so),
                str(rng.randint(5, 80)),
            ]
        )
    if not ordered:
        rng.shuffle(rows)

    bad: dict[int, str] = {}
    if bad_rows:
        cells = [i for i, r in enumerate(rows) if r[2] == "chi_bo"]
        if len(cells) < bad_rows + 1:
            raise ValueError("not enough cell rows to spoil")
        donor = cells[0]  # the first cell in the file: its code is reused for `duplicate_code`
        for n, index in enumerate(sorted(rng.sample(cells[1:], bad_rows))):
            kind = BAD_KINDS[n % len(BAD_KINDS)]
            row = rows[index]
            if kind == "unknown_parent":
                row[3] = "KHONG-CO"
            elif kind == "missing_name":
                row[1] = ""
            elif kind == "unknown_level":
                row[2] = "to_dang"
            elif kind == "members_negative":
                row[4] = "-5"
            elif kind == "members_not_whole":
                row[4] = "12,5"
            elif kind == "own_parent":
                row[3] = row[0]
            elif kind == "duplicate_code":
                row[0] = rows[donor][0]
            elif kind == "missing_code":
                row[0] = ""
            bad[index + 2] = kind
    return rows, bad


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--bad-rows", type=int, default=0)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--ordered", action="store_true", help="parents before children")
    args = parser.parse_args(argv)
    rows, bad = generate(args.units, bad_rows=args.bad_rows, seed=args.seed, ordered=args.ordered)
    write_csv(args.output, rows)
    counts = level_counts(args.units)
    print(f"wrote {len(rows):,} units to {args.output} ({counts})", file=sys.stderr)
    for line, kind in sorted(bad.items()):
        print(f"bad line {line}: {kind}")


if __name__ == "__main__":
    main()
