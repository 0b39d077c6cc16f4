"""The data model for all of PRODUCT.md (sqlmodel on SQLAlchemy 2).

Conventions: every timestamp is a `UTCDateTime` (aware, stored as UTC); calendar days that belong
to the campaign's local time (deadlines, session dates) are plain `date`s. Units form a tree with a
materialised path (see `storage.tree`), so "everything under X" is one indexed range query.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import JSONType, PathString, UTCDateTime

ROLE_ADMIN = "admin"
ROLE_SUPERVISOR = "supervisor"
ROLE_REPORTER = "reporter"
ROLES = (ROLE_ADMIN, ROLE_SUPERVISOR, ROLE_REPORTER)

CHANNEL_TELEGRAM = "telegram"
CHANNEL_ZALO = "zalo"
CHANNEL_CLI = "cli"
CHANNEL_SYSTEM = "system"
CHANNEL_WEB = "web"

metadata = SQLModel.metadata
metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _fk(
    target: str, *, ondelete: str | None = None, nullable: bool = True, index: bool = False
) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        ),
    )


class Level(SQLModel, table=True):
    __tablename__: ClassVar[str] = "level"

    code: str = Field(primary_key=True, max_length=32)
    label_vi: str = Field(max_length=100)
    label_en: str = Field(max_length=100)
    rank: int = Field(default=0)


class Unit(SQLModel, table=True):
    __tablename__: ClassVar[str] = "unit"
    __table_args__ = (Index("ix_unit_level_path", "level_code", "path"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=255)
    level_code: str = Field(foreign_key="level.code", max_length=32)
    parent_id: int | None = _fk("unit.id", index=True)
    path: str = Field(sa_type=PathString, unique=True, index=True)
    depth: int = Field(default=0)
    members: int = Field(default=0)
    active: bool = Field(default=True)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Person(SQLModel, table=True):
    __tablename__: ClassVar[str] = "person"

    id: int | None = Field(default=None, primary_key=True)
    full_name: str = Field(max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8)
    preferred_channel: str | None = Field(default=None, max_length=16)
    unreachable_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unreachable_reason: str | None = Field(default=None, max_length=255)
    # Weekdays (0 = Monday) the person takes escalation lists on, e.g. "0,3"; None: the
    # campaign's (`/nhacnho caidat`).
    escalation_weekdays: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    forgotten_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChatIdentity(SQLModel, table=True):
    """One person's account on one channel (a person may have Telegram and Zalo)."""

    __tablename__: ClassVar[str] = "chat_identity"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_chat_identity_channel_external"),
        UniqueConstraint("person_id", "channel", name="uq_chat_identity_person_channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id", ondelete="CASCADE", nullable=False)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    chat_id: str | None = Field(default=None, max_length=64)
    language_code: str | None = Field(default=None, max_length=16)
    bound_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Role(SQLModel, table=True):
    """admin over a subtree (unit_id None = whole tree), supervisor of one unit (one row per unit
    followed), reporter of one unit."""

    __tablename__: ClassVar[str] = "role"
    __table_args__ = (
        UniqueConstraint("person_id", "kind", "unit_id", name="uq_role_person_kind_unit"),
        Index("ix_role_unit_kind", "unit_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id", ondelete="CASCADE", nullable=False, index=True)
    kind: str = Field(max_length=16)
    unit_id: int | None = _fk("unit.id", ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Invite(SQLModel, table=True):
    """A one-time code. Only its SHA-256 is stored; the code itself is shown once."""

    __tablename__: ClassVar[str] = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True, index=True)
    role_kind: str = Field(max_length=16)
    unit_id: int | None = _fk("unit.id", ondelete="CASCADE", index=True)
    person_id: int | None = _fk("person.id", ondelete="CASCADE")
    person_name: str | None = Field(default=None, max_length=255)
    created_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Campaign(SQLModel, table=True):
    __tablename__: ClassVar[str] = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    resolution: str = Field(max_length=255)
    start_date: date
    end_date: date | None = None
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    status: str = Field(default="open", max_length=16)
    scope_unit_id: int | None = _fk("unit.id", ondelete="SET NULL")
    min_session_halfdays: int = Field(default=1)
    essay_rate_threshold: float = Field(default=0.9)
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Deliverable(SQLModel, table=True):
    """Something every unit in scope must report (the study session, the action program ...).

    `form` holds the field declarations (see storage.forms). The levels it applies to are the
    levels that have a row in `deliverable_deadline`."""

    __tablename__: ClassVar[str] = "deliverable"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_deliverable_campaign_key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = _fk("campaign.id", ondelete="CASCADE", nullable=False)
    key: str = Field(max_length=64)
    name_vi: str = Field(max_length=255)
    name_en: str = Field(max_length=255)
    position: int = Field(default=0)
    form: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)


class DeliverableDeadline(SQLModel, table=True):
    __tablename__: ClassVar[str] = "deliverable_deadline"
    __table_args__ = (
        UniqueConstraint("deliverable_id", "level_code", name="uq_deadline_deliverable_level"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deliverable_id: int = _fk("deliverable.id", ondelete="CASCADE", nullable=False)
    level_code: str = Field(foreign_key="level.code", max_length=32)
    due_date: date


class Draft(SQLModel, table=True):
    """A report in progress. One per person; survives restarts because it lives here."""

    __tablename__: ClassVar[str] = "draft"
    # Never reuse a deleted draft's id on SQLite: callback data embeds it.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    unit_id: int = _fk("unit.id", ondelete="CASCADE", nullable=False)
    deliverable_id: int | None = _fk("deliverable.id", ondelete="CASCADE")
    report_id: int | None = _fk("report.id", ondelete="CASCADE")
    mode: str = Field(default="new", max_length=16)
    step: str = Field(default="", max_length=64)
    channel: str = Field(max_length=16)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    revision: int = Field(default=0)
    # Files sent during the form, held until the confirm (storage.evidence_drafts); None: none.
    held_files: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Report(SQLModel, table=True):
    """A unit's confirmed report for one deliverable; its id is the receipt number."""

    __tablename__: ClassVar[str] = "report"
    __table_args__ = (
        UniqueConstraint("deliverable_id", "unit_id", name="uq_report_deliverable_unit"),
        Index("ix_report_campaign_unit", "campaign_id", "unit_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = _fk("campaign.id", ondelete="CASCADE", nullable=False)
    deliverable_id: int = _fk("deliverable.id", ondelete="CASCADE", nullable=False)
    unit_id: int = _fk("unit.id", ondelete="CASCADE", nullable=False, index=True)
    first_confirmed_at: datetime = Field(sa_type=UTCDateTime)
    current_version: int = Field(default=1)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # A supervisor's or reviewer's assessment of the study session (ASSESSMENTS), audited.
    assessment: str | None = Field(default=None, max_length=16)
    assessed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assessed_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")


# The session assessment: "đạt yêu cầu" / "chưa đạt".
ASSESSMENT_PASSED = "dat"
ASSESSMENT_FAILED = "chua_dat"
ASSESSMENTS = (ASSESSMENT_PASSED, ASSESSMENT_FAILED)


class ReportVersion(SQLModel, table=True):
    """Every change is a new version; the old ones are kept. `answers` holds the whole form; the
    typed measure columns hold the fields the figures are computed from (set-based, in SQL)."""

    __tablename__: ClassVar[str] = "report_version"
    __table_args__ = (
        UniqueConstraint("report_id", "version", name="uq_report_version_report_version"),
        Index("ix_report_version_report_created", "report_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = _fk("report.id", ondelete="CASCADE", nullable=False)
    version: int
    is_current: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")
    channel: str = Field(max_length=16)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    session_date: date | None = None
    duration_halfdays: int | None = None
    members: int | None = None
    attended: int | None = None
    nonmembers_attended: int | None = None
    essays: int | None = None
    action_program: bool | None = None
    action_program_date: date | None = None
    heads_with_plan: int | None = None
    heads: int | None = None
    presenter_standing: str | None = Field(default=None, max_length=64)
    reported_on: date | None = None  # a paper report: the date written on it
    # Review (storage.review): every new version starts "pending"; a campaign that requires
    # review has its versions approved or returned (with a reason); approved ones are locked.
    review_state: str = Field(
        default="pending", max_length=16, sa_column_kwargs={"server_default": "pending"}
    )
    review_reason: str | None = Field(default=None, max_length=500)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")


MEASURES = (
    "session_date",
    "duration_halfdays",
    "members",
    "attended",
    "nonmembers_attended",
    "essays",
    "action_program",
    "action_program_date",
    "heads_with_plan",
    "heads",
    "presenter_standing",
)


class _StoredFile(SQLModel):
    """The columns an evidence file has whether its report is confirmed or still a draft."""

    sha256: str = Field(max_length=64, index=True)
    content_type: str = Field(max_length=64)
    size: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    channel: str = Field(max_length=16)


class Evidence(_StoredFile, table=True):
    """A file attached to a report (minutes, sign-in sheet, the action programme's scan): the
    bytes live in a folder by content hash (storage.evidence), this row says whose they are."""

    __tablename__: ClassVar[str] = "evidence"
    __table_args__ = (UniqueConstraint("report_id", "sha256", name="uq_evidence_report_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = _fk("report.id", ondelete="CASCADE", nullable=False, index=True)
    created_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")


class DraftEvidence(_StoredFile, table=True):
    """A file sent while its report was still a draft (the form in progress): it becomes the
    report's `Evidence` when the draft is confirmed, and goes with the draft if it is cancelled
    (storage.evidence)."""

    __tablename__: ClassVar[str] = "draft_evidence"
    __table_args__ = (
        UniqueConstraint("draft_id", "sha256", name="uq_draft_evidence_draft_sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = _fk("draft.id", ondelete="CASCADE", nullable=False, index=True)
    created_by_person_id: int | None = _fk("person.id", ondelete="SET NULL")


class ReviewAsk(SQLModel, table=True):
    """A reason the bot asked a reviewer for (a "Trả lại" / "Mở lại" button): their next typed
    message is the reason for this version (storage.review_asks). One per person."""

    __tablename__: ClassVar[str] = "review_ask"

    person_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    version_id: int = _fk("report_version.id", ondelete="CASCADE", nullable=False)
    action: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Who changed what, when, old -> new, and through which channel."""

    __tablename__: ClassVar[str] = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_person_id: int | None = _fk("person.id", ondelete="SET NULL")
    channel: str = Field(max_length=16)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    old: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    new: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class Outbox(SQLModel, table=True):
    """A proactive message, written once per `key` (the unique key forbids a second one)."""

    __tablename__: ClassVar[str] = "outbox"
    __table_args__ = (Index("ix_outbox_status_not_before", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32)
    person_id: int | None = _fk("person.id", ondelete="CASCADE", index=True)
    channel: str | None = Field(default=None, max_length=16)
    chat_id: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    not_before: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_id: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, sa_type=String(500))


class ProcessedUpdate(SQLModel, table=True):
    """Update ids already handled, so a replayed update (getUpdates after a crash, a webhook
    retry) is processed once. `replies`: the messages the update's turn sent, stored in its
    transaction and sent again on a replay (None: nothing to say, or a row from before 0002)."""

    __tablename__: ClassVar[str] = "processed_update"

    channel: str = Field(primary_key=True, max_length=16)
    update_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    replies: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONType)


class WebLink(SQLModel, table=True):
    """A one-time link into the web console (`/web`), bound to one person. Only the SHA-256 of
    its token is stored; it opens once, before `expires_at`."""

    __tablename__: ClassVar[str] = "web_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    person_id: int = _fk("person.id", ondelete="CASCADE", nullable=False, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in browser (the web console's cookie holds the token; only its hash is here)."""

    __tablename__: ClassVar[str] = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    person_id: int = _fk("person.id", ondelete="CASCADE", nullable=False, index=True)
    via: str = Field(max_length=16)  # "link" or "miniapp"
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class KeptFile(SQLModel, table=True):
    """A file kept for a short while for a chat link (the digest chart Zalo fetches, a /xuat
    workbook): any worker on the database serves it until `expires_at` (storage.kept_files).
    `person_id`: the one person the link is for (None: anyone with the link, e.g. a chart,
    kept once per content `sha256`)."""

    __tablename__: ClassVar[str] = "kept_file"

    id: str = Field(primary_key=True, max_length=24)
    person_id: int | None = _fk("person.id", ondelete="CASCADE", index=True)
    filename: str = Field(default="", max_length=200)
    content_type: str = Field(max_length=100)
    sha256: str = Field(max_length=64, index=True)
    data: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
