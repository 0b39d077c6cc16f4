"""`cadrebot invite`: create one-time invites (one, with its QR image; one per unit into a
printable XLSX sheet with QR codes or a CSV of links, each bound to the unit's imported person;
or one that binds a chat account to an existing person), revoke, list."""

from __future__ import annotations

import os
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlmodel import col

from bot.cli import common
from bot.cli.people import unit_by_code
from bot.invite_sheet import SheetRow, qr_png, sheet_rows, write_csv, write_sheet, zalo_line
from storage.clock import local_date, system_clock
from storage.i18n import t
from storage.invite_bulk import create_unit_invites
from storage.invites import (
    INVITE_IDENTITY,
    RevokeStatus,
    create_invite,
    find_invite,
    invite_link,
    list_invites,
    revoke_invite,
)
from storage.models import ROLE_ADMIN, ChatIdentity, Level, Person, Unit
from storage.organisation import organisation_name
from storage.people import get_person, identities_of, roles_of
from storage.rebind import warn_accounts
from storage.tree import in_subtree

app = typer.Typer(no_args_is_help=True, help="Mã mời / one-time invites.")

BULK_CHUNK = 1000


class RoleChoice(StrEnum):
    reporter = "reporter"
    supervisor = "supervisor"
    admin = "admin"


def vn_date(day: date) -> str:
    return f"{day.day}/{day.month}/{day.year}"


def role_label(kind: str) -> str:
    return t(f"people.role.{kind}")


@app.command("create")
def create_command(
    role: RoleChoice | None = typer.Option(None, "--role", help="reporter | supervisor | admin"),
    unit: str | None = typer.Option(None, "--unit", help="Mã đơn vị"),
    person: int | None = typer.Option(
        None, "--person", min=1, help="Số của người đã có (xem people list)"
    ),
    name: str | None = typer.Option(None, "--name", help="Họ tên người nhận"),
    days: int | None = typer.Option(None, "--days", min=1, max=365, help="Số ngày hiệu lực"),
    all_units: bool = typer.Option(False, "--all-units", help="Một mã cho mỗi đơn vị"),
    level: str | None = typer.Option(None, "--level", help="Chỉ đơn vị ở cấp này"),
    under: str | None = typer.Option(None, "--under", help="Chỉ đơn vị trong nhánh này"),
    output: Path | None = typer.Option(
        None, "--output", help="Tệp kết quả: .xlsx (bảng in kèm mã QR) hoặc .csv"
    ),
    qr: Path | None = typer.Option(None, "--qr", help="Ghi mã QR của một mã vào tệp PNG này"),
) -> None:
    """Tạo mã mời: một mã (--role, --unit), mỗi đơn vị một mã (--all-units --output ma-moi.xlsx:
    bảng in khổ A4 kèm mã QR; hoặc .csv), hoặc cho một người đã có (--person SỐ, ví dụ người
    được nhập bằng people import).

    Với --all-units: mỗi mã gắn với đúng người đã nhập của đơn vị (people import), nên khi tham
    gia không sinh người trùng; người đã tham gia rồi không nhận mã mới.

    Với --person: mã gắn tài khoản chat của người dùng mã với đúng người đó; người đó giữ mọi vai
    trò đã có. Nếu người đó đang dùng trợ lý, tài khoản hiện tại được báo ngay. Thêm --role (và
    --unit) để giao thêm một vai trò khi dùng mã. --person không dùng cùng --name hay
    --all-units."""
    config = common.settings()
    ttl = timedelta(days=days or config.invite_ttl_days)
    if all_units:
        if role is None:
            raise common.fail(t("invite.error.role_required"))
        if unit is not None:
            raise common.fail(t("invite.error.unit_with_all"))
        if name is not None:
            raise common.fail(t("invite.error.name_with_all"))
        if person is not None:
            raise common.fail(t("invite.error.person_with_all"))
        if output is None:
            raise common.fail(t("invite.error.output_required"))
        if output.suffix.lower() not in (".xlsx", ".csv"):
            raise common.fail(t("invite.error.output_kind"))
        if qr is not None:
            raise common.fail(t("invite.error.qr_bulk"))
        _create_bulk(role.value, level, under, output, ttl)
        return
    if level is not None or under is not None or output is not None:
        raise common.fail(t("invite.error.bulk_only"))
    if person is not None and name is not None:
        raise common.fail(t("invite.error.name_with_person"))
    if role is None:
        if person is None:
            raise common.fail(t("invite.error.role_required"))
        if unit is not None:
            raise common.fail(t("invite.error.unit_without_role"))
    elif unit is None and role.value != ROLE_ADMIN:
        raise common.fail(t("invite.error.unit_required", "vi", role=role_label(role.value)))
    role_kind = role.value if role is not None else INVITE_IDENTITY

    async def _create() -> tuple[str, str, Any, Person | None, list[ChatIdentity]]:
        async with common.database(config) as db, db.write() as session:
            bound: Person | None = None
            in_use: list[ChatIdentity] = []
            now = system_clock()
            if person is not None:
                bound = await get_person(session=session, person_id=person)
                if bound is None or bound.forgotten_at is not None:
                    raise common.fail(t("people.remove.not_found", "vi", id=person))
                if role is None and not await roles_of(session=session, person_id=person):
                    raise common.fail(t("invite.error.person_without_role", "vi", id=person))
                in_use = await identities_of(session=session, person_id=person)
            target = await unit_by_code(session, unit) if unit else None
            invite, code = await create_invite(
                session=session,
                role_kind=role_kind,
                unit_id=target.id if target else None,
                now=now,
                ttl=ttl,
                person_id=person,
                person_name=name,
            )
            if bound is not None and in_use:
                # The operator's command is the confirmation; the accounts in use are told.
                full_name = bound.full_name
                await warn_accounts(
                    session=session,
                    accounts=in_use,
                    text=lambda lang: t(
                        "invite.rebind.notice",
                        lang or "vi",
                        name=full_name,
                        organisation=organisation_name(config, lang or "vi"),
                    ),
                    key=f"rebind:{invite.id}",
                    now=now,
                )
            where = f"{target.code} {target.name}" if target else t("people.whole_tree")
            return code, where, invite.expires_at, bound, in_use

    code, where, expires_at, bound, in_use = common.run(_create())
    expires = vn_date(local_date(expires_at, config.timezone))
    if bound is not None:
        common.say(
            t("invite.created.person", "vi", name=bound.full_name, id=bound.id, expires=expires)
        )
        if in_use:
            channels = ", ".join(t(f"invite.channel.{i.channel}") for i in in_use)
            common.say(
                t("invite.rebind.cli_warning", "vi", name=bound.full_name, channels=channels)
            )
    if role is not None:
        common.say(
            t("invite.created", "vi", role=role_label(role.value), unit=where, expires=expires)
        )
    common.say(t("invite.code", "vi", code=code))
    common.say(t("invite.link", "vi", link=invite_link(config.bot_username, code)))
    common.say(zalo_line(code))
    common.say(t("invite.shown_once", "vi", code=code))
    if qr is not None:
        qr.write_bytes(qr_png(invite_link(config.bot_username, code)))
        common.say(t("invite.qr_written", "vi", path=qr))


def _create_bulk(
    role: str, level: str | None, under: str | None, output: Path, ttl: timedelta
) -> None:
    config = common.settings()
    output = output.resolve()
    partial = output.with_name(output.name + ".partial")

    async def _bulk() -> tuple[int, int]:
        async with common.database(config) as db, db.write() as session:
            query = (
                select(Unit, col(Level.label_vi))
                .join(Level, col(Level.code) == col(Unit.level_code))
                .where(col(Unit.active).is_(True))
                .order_by(col(Unit.path))
            )
            if level is not None:
                query = query.where(col(Unit.level_code) == level)
            if under is not None:
                root = await unit_by_code(session, under)
                query = query.where(in_subtree(col(Unit.path), root.path))
            found = (await session.execute(query)).all()
            if not found:
                return 0, 0
            labels = {unit.level_code: label for unit, label in found}
            units = [unit for unit, _ in found]
            now = system_clock()
            expires = vn_date(local_date(now + ttl, config.timezone))
            rows: list[SheetRow] = []
            joined = 0
            with common.progress() as bar:
                task = bar.add_task(t("invite.bulk.progress"), total=len(units))
                for start in range(0, len(units), BULK_CHUNK):
                    chunk = units[start : start + BULK_CHUNK]
                    result = await create_unit_invites(
                        session=session, role_kind=role, units=chunk, now=now, ttl=ttl
                    )
                    joined += result.joined
                    rows += sheet_rows(
                        result.invites,
                        levels=labels,
                        role=role_label(role),
                        bot_username=config.bot_username,
                        expires=expires,
                    )
                    bar.advance(task, len(chunk))
            if not rows:
                return 0, joined
            # Written inside the transaction: a file that cannot be written rolls back the
            # invites (codes nobody will ever see).
            if output.suffix.lower() == ".xlsx":
                title = t("invite.sheet.title", "vi", role=role_label(role), expires=expires)
                write_sheet(partial, rows, title=title)
            else:
                write_csv(partial, rows)
            return len(rows), joined
        # the transaction commits when the block above exits without error

    try:
        count, joined = common.run(_bulk())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if joined:
        common.say(t("invite.bulk.joined", "vi", count=joined))
    if count == 0:
        partial.unlink(missing_ok=True)
        raise common.fail(t("invite.bulk.none"))
    os.replace(partial, output)
    common.say(t("invite.bulk.done", "vi", count=count, path=output))


@app.command("revoke")
def revoke_command(
    code_or_id: str = typer.Argument(..., help="Mã mời, hoặc số của mã (xem invite list)"),
) -> None:
    """Thu hồi một mã mời chưa dùng."""
    value = code_or_id.strip()
    by_id = value.isdigit() and len(value) < 16

    async def _revoke() -> tuple[RevokeStatus, int | None]:
        async with common.database() as db, db.write() as session:
            invite = await find_invite(
                session=session,
                invite_id=int(value) if by_id else None,
                code=None if by_id else value,
            )
            if invite is None or invite.id is None:
                return RevokeStatus.NOT_FOUND, None
            status = await revoke_invite(session=session, invite_id=invite.id, now=system_clock())
            return status, invite.id

    status, shown = common.run(_revoke())
    if status is not RevokeStatus.REVOKED:
        raise common.fail(t(f"invite.revoke.{status.value}"))
    common.console.print(t("invite.revoke.revoked", "vi", id=shown))


@app.command("list")
def list_command(
    unit: str | None = typer.Option(None, "--unit", help="Chỉ mã mời của đơn vị này"),
) -> None:
    """Liệt kê mã mời và trạng thái (không bao giờ hiện mã: hệ thống không lưu mã)."""
    config = common.settings()

    async def _list() -> list[Any]:
        async with common.database(config) as db, db.read() as session:
            unit_id = (await unit_by_code(session, unit)).id if unit else None
            return await list_invites(session=session, now=system_clock(), unit_id=unit_id)

    invites = common.run(_list())
    if not invites:
        common.console.print(t("invite.list.empty"))
        return
    table = Table(title=t("invite.list.title"))
    for key in ("id", "role", "unit", "person", "created", "expires", "state", "used_by"):
        table.add_column(t(f"invite.list.{key}"))
    dash = t("common.dash")
    for invite in invites:
        table.add_row(
            str(invite.id),
            role_label(invite.role_kind),
            invite.unit_code
            or (dash if invite.role_kind == INVITE_IDENTITY else t("people.whole_tree")),
            invite.person_name or dash,
            vn_date(local_date(invite.created_at, config.timezone)),
            vn_date(local_date(invite.expires_at, config.timezone)),
            t(f"invite.state.{invite.state.value}"),
            invite.used_by or dash,
        )
    common.console.print(table)
