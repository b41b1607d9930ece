"""The shortlists' tables: a shortlist, and its starred candidates with a note each.

A star is a row of its own, not an item of a list column, so starring, unstarring and
editing a note are each one row's change: two recruiters (or two tabs) working on the
same shortlist never overwrite each other's stars.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAME_CHARS = 200
CANDIDATE_ID_CHARS = 200
METHOD_CHARS = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back timezone-aware, on every backend.

    SQLite has no time zones: it hands back naive datetimes, which are UTC here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints, so a later migration can drop or alter one (SQLite's batch mode
    # rebuilds a table and needs the names).
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Shortlist(Base):
    __tablename__ = "shortlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_CHARS))
    query: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(METHOD_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    # Starring order is the pinned order in /rank: by the row's id, which only grows.
    stars: Mapped[list[Star]] = relationship(
        back_populates="shortlist",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Star.id",
        lazy="selectin",
    )


class Star(Base):
    __tablename__ = "shortlist_stars"
    __table_args__ = (UniqueConstraint("shortlist_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shortlist_id: Mapped[int] = mapped_column(
        ForeignKey("shortlists.id", ondelete="CASCADE"), index=True
    )
    candidate_id: Mapped[str] = mapped_column(String(CANDIDATE_ID_CHARS))
    note: Mapped[str] = mapped_column(Text, default="")
    starred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    shortlist: Mapped[Shortlist] = relationship(back_populates="stars")
