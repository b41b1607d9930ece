"""ShortlistStore: create, list, open, rename, update, star and unstar, delete.

Every change is one short transaction that first locks its shortlist's row (SELECT ...
FOR UPDATE on PostgreSQL; on SQLite the IMMEDIATE transaction holds the database's write
lock), then changes only the rows it means to: a star is inserted or deleted, a note
updated, never the whole list rewritten. So concurrent requests queue rather than
overwrite each other, and the star limit holds even when two stars arrive at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, noload, sessionmaker

from shortlister.core.errors import ShortlisterError
from shortlister.serve.shortlists.database import IMMEDIATE, describe, open_engine
from shortlister.serve.shortlists.models import Shortlist, Star, utc_now

logger = logging.getLogger(__name__)

_UNSET = object()


class ShortlistNotFound(ShortlisterError, LookupError):
    def __init__(self, shortlist_id: int) -> None:
        self.shortlist_id = shortlist_id
        super().__init__(f"no shortlist with id {shortlist_id}")


class TooManyStars(ShortlisterError):
    def __init__(self, max_stars: int, shortlist_id: int | None = None) -> None:
        which = "a shortlist" if shortlist_id is None else f"shortlist {shortlist_id}"
        super().__init__(
            f"{which} may have at most {max_stars} starred candidates (serve.max_stars); "
            "unstar one first"
        )


@dataclass(frozen=True)
class StarRecord:
    candidate_id: str
    note: str
    starred_at: datetime


@dataclass(frozen=True)
class ShortlistRecord:
    id: int
    name: str
    query: str | None
    method: str | None
    created_at: datetime
    updated_at: datetime
    stars: tuple[StarRecord, ...] = ()
    n_stars: int = 0


class ShortlistStore:
    """Saved shortlists in one database (SQLite file or a SQLAlchemy URL)."""

    def __init__(self, engine: Engine, *, max_stars: int) -> None:
        self.engine = engine
        self.max_stars = max_stars
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )
        sqlite = engine.dialect.name == "sqlite"
        self._lock: AbstractContextManager[Any] = threading.Lock() if sqlite else nullcontext()

    @classmethod
    def open(cls, url: str, *, max_stars: int) -> ShortlistStore:
        """The store at `url`, its schema migrated to the newest revision; raises
        ShortlistStoreError (one line: the file and what to do) when it cannot be used."""
        store = cls(open_engine(url), max_stars=max_stars)
        logger.info("shortlists database: %s", describe(url))
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction. On SQLite this process's writers first queue on a lock of
        its own: waiting in SQLite's busy handler means sleeps of up to 100 ms a retry."""
        with self._lock, self._write.begin() as session:
            yield session

    def create(
        self,
        name: str,
        *,
        query: str | None = None,
        method: str | None = None,
        stars: Sequence[tuple[str, str]] = (),
    ) -> ShortlistRecord:
        """A new shortlist; `stars`: (candidate id, note) pairs, distinct, in order."""
        ids = [cid for cid, _ in stars]
        if len(set(ids)) != len(ids):
            raise ValueError("starred candidate ids must be distinct")
        if len(ids) > self.max_stars:
            raise TooManyStars(self.max_stars)
        now = utc_now()
        with self._writing() as session:
            shortlist = Shortlist(
                name=name, query=query, method=method, created_at=now, updated_at=now
            )
            shortlist.stars = [Star(candidate_id=c, note=n, starred_at=now) for c, n in stars]
            session.add(shortlist)
            session.flush()
            return _record(shortlist)

    def list(self) -> list[ShortlistRecord]:
        """Every shortlist (without its stars, with their number), last changed first."""
        counts = (
            select(Star.shortlist_id, func.count().label("n"))
            .group_by(Star.shortlist_id)
            .subquery()
        )
        query = (
            select(Shortlist, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.shortlist_id == Shortlist.id)
            .order_by(Shortlist.updated_at.desc(), Shortlist.id.desc())
            .options(noload(Shortlist.stars))
        )
        with self._read() as session:
            rows = session.execute(query).all()
            return [_record(s, with_stars=False, n_stars=n) for s, n in rows]

    def get(self, shortlist_id: int) -> ShortlistRecord:
        with self._read() as session:
            shortlist = session.get(Shortlist, shortlist_id)
            if shortlist is None:
                raise ShortlistNotFound(shortlist_id)
            return _record(shortlist)

    def update(
        self,
        shortlist_id: int,
        *,
        name: str | object = _UNSET,
        query: str | None | object = _UNSET,
        method: str | None | object = _UNSET,
    ) -> ShortlistRecord:
        """Rename, or change the role query or the method; what is not given is kept."""
        with self._writing() as session:
            shortlist = _locked(session, shortlist_id)
            for field, value in (("name", name), ("query", query), ("method", method)):
                if value is not _UNSET:
                    setattr(shortlist, field, value)
            shortlist.updated_at = utc_now()
            session.flush()
            return _record(shortlist)

    def star(self, shortlist_id: int, candidate_id: str, note: str = "") -> ShortlistRecord:
        """Star a candidate with a note, or set the note of one already starred (its place
        in the starring order is kept)."""
        with self._writing() as session:
            shortlist = _locked(session, shortlist_id)  # its stars are read under the lock
            star = next((s for s in shortlist.stars if s.candidate_id == candidate_id), None)
            now = utc_now()
            if star is None:
                if len(shortlist.stars) >= self.max_stars:
                    raise TooManyStars(self.max_stars, shortlist_id)
                shortlist.stars.append(Star(candidate_id=candidate_id, note=note, starred_at=now))
            else:
                star.note = note
            shortlist.updated_at = now
            session.flush()
            return _record(shortlist)

    def unstar(self, shortlist_id: int, candidate_id: str) -> ShortlistRecord:
        """Remove a star; a candidate that is not starred is no error (toggles may race)."""
        with self._writing() as session:
            shortlist = _locked(session, shortlist_id)
            star = next((s for s in shortlist.stars if s.candidate_id == candidate_id), None)
            if star is not None:
                shortlist.stars.remove(star)  # delete-orphan: one DELETE of that row
                shortlist.updated_at = utc_now()
            session.flush()
            return _record(shortlist)

    def delete(self, shortlist_id: int) -> None:
        with self._writing() as session:
            session.delete(_locked(session, shortlist_id))


def _locked(session: Session, shortlist_id: int) -> Shortlist:
    shortlist = session.scalar(
        select(Shortlist).where(Shortlist.id == shortlist_id).with_for_update()
    )
    if shortlist is None:
        raise ShortlistNotFound(shortlist_id)
    return shortlist


def _record(
    shortlist: Shortlist, *, with_stars: bool = True, n_stars: int | None = None
) -> ShortlistRecord:
    stars: Iterable[Star] = shortlist.stars if with_stars else ()
    records = tuple(StarRecord(s.candidate_id, s.note, s.starred_at) for s in stars)
    return ShortlistRecord(
        id=shortlist.id,
        name=shortlist.name,
        query=shortlist.query,
        method=shortlist.method,
        created_at=shortlist.created_at,
        updated_at=shortlist.updated_at,
        stars=records,
        n_stars=len(records) if n_stars is None else n_stars,
    )
