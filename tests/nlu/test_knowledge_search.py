"""Knowledge-base search on the NLU's own MiniLM (no second model): what a caller says finds the
article about it, an edit is searched at once, and the bot's backend answers from the live source."""

from __future__ import annotations

import numpy as np

from nlu import embeddings
from nlu.backend import DEMO_KB, Backend, KbEntry
from nlu.knowledge import KnowledgeIndex, LiveKnowledgeBackend, rank

ARTICLES = [KbEntry(k, q, a) for k, q, a in DEMO_KB]


def test_what_a_caller_says_finds_its_article():
    index = KnowledgeIndex(lambda: ARTICLES)
    assert index.search("what time do you open on saturday")[0].key == "opening_hours"
    assert index.search("can I send the shoes back and get my money")[0].key == "returns_policy"
    assert index.search("my router keeps dropping the connection")[0].key == "troubleshooting"
    assert index.search("   ") == []


def test_the_index_uses_the_nlu_s_loaded_model():
    before = embeddings.get_embedder()
    KnowledgeIndex(lambda: ARTICLES).search("do you take paypal")
    assert embeddings.get_embedder() is before  # one Embedder per process, shared with the intents


def test_an_edit_is_searched_at_once():
    articles = list(ARTICLES)
    index = KnowledgeIndex(lambda: articles)
    assert index.search("do you sell gift cards", min_score=0.4) == []
    articles.append(KbEntry("gift_cards", "Do you sell gift cards?", "Yes, gift cards from 10 to 500 dollars, in store."))
    assert index.search("do you sell gift cards")[0].key == "gift_cards"


def test_rank_is_nearest_first_above_the_floor():
    vecs = np.array([[1, 0], [0.6, 0.8], [0, 1]], np.float32)
    found = rank(np.array([0, 1], np.float32), vecs, ARTICLES[:3], k=2, min_score=0.5)
    assert [s.key for s in found] == [ARTICLES[2].key, ARTICLES[1].key]
    assert rank(np.array([0, 1], np.float32), vecs, ARTICLES[:3], k=3, min_score=0.9)[0].score == 1.0


def test_the_live_backend_answers_from_its_source(backend):
    articles = [KbEntry("opening_hours", "When are you open?", "Nine to five.")]
    live = LiveKnowledgeBackend(backend, lambda: articles)
    assert isinstance(live, Backend)
    assert live.kb_entry("opening_hours").answer == "Nine to five." and live.kb_entry("store_location") is None
    assert live.order("45678").item == "wireless headphones"  # the rest is the company's backend


def test_the_bot_s_faq_answer_follows_an_edit(backend, understanding, talk):
    from nlu.dialog import TriageDialog

    articles = [KbEntry(k, q, a) for k, q, a in DEMO_KB]
    d = TriageDialog(LiveKnowledgeBackend(backend, lambda: articles), understanding=understanding)
    assert "8 am to 8 pm" in talk(d, "what are your opening hours")[0].text
    articles[0] = KbEntry("opening_hours", "What are your opening hours? When are you open?",
                          "We are open every day from 7 am to 11 pm.")
    d2 = TriageDialog(LiveKnowledgeBackend(backend, lambda: articles), understanding=understanding)
    assert "7 am to 11 pm" in talk(d2, "what are your opening hours")[0].text
