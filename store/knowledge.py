"""The knowledge base's articles, versioned and audited like the policy (`store.policy`).

An article is a key (``opening_hours``: the name flows.yaml's ``kb:`` points at), the question a
caller asks and the answer the bot says and the agent reads. Every edit is a new version of that
article, written with its audit entry (who, from which version, the diff) in one transaction;
versions only grow (a rollback is a new version with an old text). Subscribers (``on_change``)
hear of each change after the commit, so the bot's answers and its prompt audio follow the edit.

The newest version of every article is kept in memory (``entries()``, read on every FAQ turn);
a change made here refreshes it; on PostgreSQL each edit also sends ``NOTIFY ivr_knowledge``
and every worker's listener calls ``refresh()``, which tells its subscribers of what changed.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from nlu.backend import KbEntry

from . import schema as t
from .clean import clean_json, redact_text
from .db import write_conn
from .notify import Subscribers, pg_notify
from .values import cut as _s
from .values import utcnow

KNOWLEDGE_CHANNEL = "ivr_knowledge"  # PostgreSQL NOTIFY after each edit; payload: the article's key
KEY = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
MAX_QUESTION, MAX_ANSWER = 500, 2000


class KnowledgeError(ValueError):
    """An article that cannot be stored; the message starts with the field (``answer: ...``)."""


class KnowledgeConflict(RuntimeError):
    """The article changed since the version the editor started from."""

    def __init__(self, key: str, expected: int, current: int | None):
        super().__init__(f"version: article {key} is now version {current}, not {expected}; reload and edit again")
        self.key, self.expected, self.current = key, expected, current


@dataclass(frozen=True)
class Article:
    """The newest version of one article, as the panel and the API show it."""

    key: str
    version: int
    question: str
    answer: str
    author: str
    created_at: Any
    comment: str | None = None

    def entry(self) -> KbEntry:
        return KbEntry(self.key, self.question, self.answer)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "version": self.version, "question": self.question, "answer": self.answer,
                "author": self.author, "created_at": self.created_at, "comment": self.comment}


def check_article(key: str, question: str, answer: str) -> tuple[str, str, str]:
    """The article's fields, trimmed; `KnowledgeError` naming the field that is not usable."""
    key, question, answer = (key or "").strip(), " ".join((question or "").split()), " ".join((answer or "").split())
    if not KEY.match(key):
        raise KnowledgeError("key: lower-case letters, digits and _, at most 64")
    if not question or len(question) > MAX_QUESTION:
        raise KnowledgeError(f"question: 1 to {MAX_QUESTION} characters")
    if not answer or len(answer) > MAX_ANSWER:
        raise KnowledgeError(f"answer: 1 to {MAX_ANSWER} characters")
    return key, question, answer


def article_diff(old: Article | None, question: str, answer: str) -> dict[str, Any]:
    """What an edit changes, field by field (``{"answer": {"from": ..., "to": ...}}``)."""
    before = {"question": old.question, "answer": old.answer} if old else {"question": None, "answer": None}
    after = {"question": question, "answer": answer}
    return {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}


class KnowledgeChanges(Subscribers):
    """``callback(article)`` after every save or rollback (`store.notify.Subscribers`)."""


class KnowledgeBase:
    """The articles' repository (``Store.knowledge``)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._changes = KnowledgeChanges()
        self._current: dict[str, Article] | None = None

    # ---- reading ---------------------------------------------------------------------------------
    def articles(self) -> list[Article]:
        """The newest version of every article, by key."""
        if self._current is None:
            self.refresh()
        assert self._current is not None
        return [self._current[k] for k in sorted(self._current)]

    def entries(self) -> list[KbEntry]:
        """What the bot answers from (`nlu.backend.Backend.kb_entries`), without a database read."""
        return [a.entry() for a in self.articles()]

    def article(self, key: str) -> Article | None:
        return next((a for a in self.articles() if a.key == key), None)

    def refresh(self) -> list[Article]:
        """Re-read the newest version of every article (one query); subscribers hear of those
        that changed since the last read."""
        with self.engine.connect() as conn:
            read = {a.key: a for a in _newest(conn)}
        with self._cache_lock:  # a save made while we read is newer than what we read: keep it
            old = self._current
            newest = {**(old or {}), **{k: a for k, a in read.items()
                                        if old is None or k not in old or a.version > old[k].version}}
            self._current = newest
        if old is not None:
            for key, article in newest.items():
                if key not in old or old[key].version != article.version:
                    self._changes.notify(article)
        return list(newest.values())

    def history(self, key: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: every version of the article with the audit entry that made it."""
        v, a = t.kb_versions, t.kb_audit
        with self.engine.connect() as conn:
            rows = conn.execute(select(v).where(v.c.key == key).order_by(v.c.version.desc()).limit(max(1, limit))).all()
            audits = {r.to_version: r for r in conn.execute(select(a).where(a.c.key == key))}
        out = []
        for r in rows:
            au = audits.get(r.version)
            out.append({"key": r.key, "version": r.version, "question": r.question, "answer": r.answer,
                        "author": r.author, "created_at": r.created_at, "comment": r.comment,
                        "action": au.action if au else None, "from_version": au.from_version if au else None,
                        "diff": au.diff if au else None})
        return out

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.kb_audit).order_by(t.kb_audit.c.id.desc()).limit(max(1, limit)))
            return [dict(r._mapping) for r in rows]

    def on_change(self, callback: Callable[[Article], Any], *, loop: asyncio.AbstractEventLoop | None = None
                  ) -> Callable[[], None]:
        """``callback(article)`` after every change; returns a function that unsubscribes."""
        return self._changes.subscribe(callback, loop)

    # ---- writing ---------------------------------------------------------------------------------
    def seed(self, entries: Iterable[KbEntry]) -> int:
        """Store the company's articles as version 1 when the knowledge base is empty (once, whoever
        of several workers gets there first); returns how many were stored."""
        with self.engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(t.kb_versions)):
                return 0
        stored = 0
        try:
            with self._lock, write_conn(self.engine) as conn:
                if conn.scalar(select(func.count()).select_from(t.kb_versions)):
                    return 0
                for e in entries:
                    key, question, answer = check_article(e.key, e.question, e.answer)
                    self._insert(conn, key, question, answer, None, "system", "seeded from the company database", "seed")
                    stored += 1
                if stored and conn.dialect.name == "postgresql":
                    pg_notify(conn, KNOWLEDGE_CHANNEL, "*")
        except IntegrityError:
            stored = 0  # another worker's seed committed between our count and our insert: theirs stands
        # Re-read rather than forget: a listener's refresh that read before this commit merges into
        # what is read here instead of replacing it with its empty read.
        self.refresh()
        return stored

    def save(self, key: str, question: str, answer: str, author: str, comment: str | None = None, *,
             expected_version: int | None = None) -> Article:
        """Store a new version of the article (a new key starts at 1); `KnowledgeError` for an
        unusable field, `KnowledgeConflict` when ``expected_version`` is no longer the newest."""
        key, question, answer = check_article(key, question, answer)
        return self._store(key, question, answer, author, comment, "save", expected_version)

    def rollback(self, key: str, version: int, author: str, comment: str | None = None) -> Article:
        """Make an old version of the article current again, as a new version."""
        old = next((h for h in self.history(key, 10_000) if h["version"] == version), None)
        if old is None:
            raise LookupError(f"version: article {key} has no version {version}")
        return self._store(key, old["question"], old["answer"], author, comment or f"rollback to version {version}",
                           "rollback", None)

    def _store(self, key: str, question: str, answer: str, author: str, comment: str | None, action: str,
               expected_version: int | None) -> Article:
        if not author:
            raise KnowledgeError("author: an edit needs an author")
        with self._lock, write_conn(self.engine) as conn:
            current = {a.key: a for a in _newest(conn, key)}.get(key)
            cur_version = current.version if current else None
            if expected_version is not None and expected_version != cur_version:
                raise KnowledgeConflict(key, expected_version, cur_version)
            article = self._insert(conn, key, question, answer, current, author, comment, action)
            if conn.dialect.name == "postgresql":  # every worker's listener refreshes (store.Store.start)
                pg_notify(conn, KNOWLEDGE_CHANNEL, key)
        with self._cache_lock:
            if self._current is not None and (key not in self._current or self._current[key].version < article.version):
                self._current = {**self._current, key: article}
        self._changes.notify(article)
        return article

    @staticmethod
    def _insert(conn: Connection, key: str, question: str, answer: str, old: Article | None, author: str,
                comment: str | None, action: str) -> Article:
        version, now = (old.version if old else 0) + 1, utcnow()
        who, note = _s(redact_text(author), 255) or "?", redact_text(comment)
        question, answer = redact_text(question) or "", redact_text(answer) or ""  # never a card number
        conn.execute(insert(t.kb_versions).values(key=key, version=version, question=question, answer=answer,
                                                  author=who, created_at=now, comment=note))
        conn.execute(insert(t.kb_audit).values(at=now, who=who, action=action, key=key,
                                               from_version=old.version if old else None, to_version=version,
                                               diff=clean_json(article_diff(old, question, answer)), comment=note))
        return Article(key, version, question, answer, who, now, note)


def _newest(conn: Connection, key: str | None = None) -> list[Article]:
    v = t.kb_versions
    top = select(v.c.key, func.max(v.c.version).label("version")).group_by(v.c.key)
    if key is not None:
        top = top.where(v.c.key == key)
    top = top.subquery()
    rows = conn.execute(select(v).join(top, (v.c.key == top.c.key) & (v.c.version == top.c.version))).all()
    return [Article(r.key, r.version, r.question, r.answer, r.author, r.created_at, r.comment) for r in rows]


def open_assist(store: Any, engine: Any, hub: Any, on_answers: Callable[[list[Article]], Any] | None = None) -> None:
    """Agent assist at start-up: the company's articles seed the store (once); the bot answers from
    the store's newest versions (`nlu.knowledge.LiveKnowledgeBackend` over ``engine.backend``); the
    desktop hub searches them (``hub.index``, the NLU's MiniLM); ``on_answers(articles)`` now and
    after every edit (the prompt audio). A store without a knowledge base: nothing changes."""
    from nlu.knowledge import KnowledgeIndex, LiveKnowledgeBackend

    kb = getattr(store, "knowledge", None)
    if not isinstance(kb, KnowledgeBase):
        return
    backend = getattr(engine, "backend", None)
    if backend is not None and not isinstance(backend, LiveKnowledgeBackend):
        kb.seed(backend.kb_entries())
        engine.backend = LiveKnowledgeBackend(backend, kb.entries)
    hub.index = KnowledgeIndex(kb.entries)
    if on_answers is not None:
        kb.on_change(lambda article: on_answers([article]))
        on_answers(kb.articles())
