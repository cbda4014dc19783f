"""The knowledge base's articles in the store: seeded once, versioned per article, each change
audited with its diff in the same transaction, conflicts refused, card numbers never kept, and a
change heard by subscribers and seen by another Store on the same database."""

from __future__ import annotations

import threading

import pytest

from nlu.backend import DEMO_KB, KbEntry
from store import Store
from store.knowledge import KnowledgeConflict, KnowledgeError, article_diff, check_article

SEED = [KbEntry(k, q, a) for k, q, a in DEMO_KB]


def test_seed_is_version_one_once(store):
    assert store.knowledge.seed(SEED) == len(SEED)
    assert store.knowledge.seed(SEED) == 0  # a second worker, or a restart: nothing
    arts = store.knowledge.articles()
    assert [a.key for a in arts] == sorted(k for k, _, _ in DEMO_KB)
    assert {a.version for a in arts} == {1} and {a.author for a in arts} == {"system"}
    assert [e.answer for e in store.knowledge.entries() if e.key == "opening_hours"] == [DEMO_KB[0][2]]


def test_a_seed_racing_another_workers_keeps_theirs(store, monkeypatch):
    """Two workers both find the knowledge base empty; the second's insert hits the first's rows."""
    from sqlalchemy.engine import Connection

    assert store.knowledge.seed(SEED) == len(SEED)  # the other worker, first
    real_scalar = Connection.scalar
    monkeypatch.setattr(Connection, "scalar", lambda self, stmt, *a, **kw: 0 if "count(" in str(stmt).lower()
                        else real_scalar(self, stmt, *a, **kw))
    assert store.knowledge.seed(SEED) == 0  # saw it empty, lost the race: no crash
    monkeypatch.undo()
    arts = store.knowledge.articles()
    assert [a.key for a in arts] == sorted(k for k, _, _ in DEMO_KB) and {a.version for a in arts} == {1}


def test_an_edit_is_a_new_version_with_its_audit_entry(store):
    store.knowledge.seed(SEED)
    heard = []
    store.knowledge.on_change(heard.append)
    new = store.knowledge.save("opening_hours", DEMO_KB[0][1], "We are open every day from 7 am to 11 pm.", "ada",
                               "longer hours", expected_version=1)
    assert (new.version, new.author, new.comment) == (2, "ada", "longer hours")
    assert store.knowledge.article("opening_hours").answer == "We are open every day from 7 am to 11 pm."
    assert [a.version for a in heard] == [2]
    history = store.knowledge.history("opening_hours")
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["action"] == "save" and history[0]["from_version"] == 1
    assert history[0]["diff"] == {"answer": {"from": DEMO_KB[0][2], "to": "We are open every day from 7 am to 11 pm."}}
    assert store.knowledge.audit(1)[0]["key"] == "opening_hours"


def test_an_edit_from_an_old_version_is_refused(store):
    store.knowledge.seed(SEED)
    store.knowledge.save("opening_hours", "When are you open?", "Nine to five.", "ada", expected_version=1)
    with pytest.raises(KnowledgeConflict) as err:
        store.knowledge.save("opening_hours", "When are you open?", "Ten to six.", "bob", expected_version=1)
    assert err.value.current == 2 and str(err.value).startswith("version:")
    assert store.knowledge.article("opening_hours").answer == "Nine to five."


def test_rollback_is_a_new_version_with_the_old_text(store):
    store.knowledge.seed(SEED)
    store.knowledge.save("opening_hours", "When are you open?", "Nine to five.", "ada")
    back = store.knowledge.rollback("opening_hours", 1, "ada")
    assert back.version == 3 and back.answer == DEMO_KB[0][2]
    assert store.knowledge.history("opening_hours")[0]["action"] == "rollback"
    with pytest.raises(LookupError):
        store.knowledge.rollback("opening_hours", 9, "ada")


@pytest.mark.parametrize("key,question,answer,field", [
    ("Opening Hours", "q", "a", "key"), ("ok", "", "a", "question"), ("ok", "q", "   ", "answer"),
    ("ok", "q", "x" * 2001, "answer")])
def test_unusable_fields_are_named(key, question, answer, field):
    with pytest.raises(KnowledgeError) as err:
        check_article(key, question, answer)
    assert str(err.value).startswith(field + ":")


def test_card_numbers_are_never_stored(store):
    art = store.knowledge.save("cards", "Which card?", "Use a card like 4111 1111 1111 1111 to pay.", "ada")
    assert "4111 1111 1111 1111" not in art.answer
    assert "4111 1111 1111 1111" not in str(store.knowledge.history("cards"))


def test_another_worker_sees_the_edit_on_refresh(db_url):
    with Store(db_url) as one, Store(db_url) as two:
        one.knowledge.seed(SEED)
        two.knowledge.refresh()
        assert two.knowledge.article("opening_hours").version == 1
        heard = []
        two.knowledge.on_change(heard.append)
        one.knowledge.save("opening_hours", "When are you open?", "Nine to five.", "ada")
        two.knowledge.refresh()
        assert two.knowledge.article("opening_hours").answer == "Nine to five." and [a.version for a in heard] == [2]


def test_diff_names_only_what_changed():
    assert article_diff(None, "q", "a") == {"question": {"from": None, "to": "q"}, "answer": {"from": None, "to": "a"}}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # NOTIFY is PostgreSQL's
def test_on_postgresql_an_edit_reaches_the_other_worker_by_itself(db_url):
    with Store(db_url) as one, Store(db_url) as two:
        two.knowledge.articles()  # read (empty) before the seed: the seed must come by NOTIFY too
        heard = threading.Event()
        two.knowledge.on_change(lambda article: heard.set())
        one.knowledge.seed(SEED)
        assert heard.wait(10), "the other worker never heard of the seed"
        assert two.knowledge.article("opening_hours").version == 1
        heard.clear()
        one.knowledge.save("opening_hours", "When are you open?", "Nine to five.", "ada")
        assert heard.wait(10), "the other worker never heard of the edit"
        assert two.knowledge.article("opening_hours").answer == "Nine to five."
