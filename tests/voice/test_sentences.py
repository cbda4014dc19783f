"""Replies go out sentence by sentence; a fixed sentence plays from the prompt cache at once."""

from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame
from pipecat.tests.utils import run_test

from ivr.triage import fixed_prompts
from nlu.flows import Flows
from voice.sentences import speakable_chunks, split_sentences
from voice.services import PromptCache, SharedPiperTTSService


def test_split_sentences():
    assert split_sentences("Sure. What's your order number?") == ["Sure.", "What's your order number?"]
    assert split_sentences("That's order 4 5 6. Is that right?") == ["That's order 4 5 6.", "Is that right?"]
    assert split_sentences("  Okay!  ") == ["Okay!"]
    assert split_sentences("") == []


def test_a_long_first_sentence_is_cut_at_its_first_clause():
    text = "We're open Monday to Friday, from eight in the morning to six in the evening. Anything else?"
    assert speakable_chunks(text) == ["We're open Monday to Friday,", "from eight in the morning to six in the evening.",
                                      "Anything else?"]
    assert speakable_chunks("Sure. What's your order number?") == ["Sure.", "What's your order number?"]
    # no comma to cut at, or a fragment too short to stand alone: as it is
    assert speakable_chunks("Your order has shipped and should arrive on Tuesday next week.") == [
        "Your order has shipped and should arrive on Tuesday next week."]
    assert speakable_chunks("Thanks, Anna. Your balance is 20 dollars.")[0] == "Thanks, Anna."


def test_fixed_sentences_of_templated_replies_are_cached():
    texts = set(fixed_prompts(Flows.load()).values())
    assert "Your order has shipped." in texts  # from "Your order has shipped. The {item} should arrive by {eta}."
    assert "Sure. Please say or key in your order number." in texts  # a flow's fixed reply, whole
    # digit counts come from the settings, so a prompt that names one is still fixed and cached
    assert "Thanks. For security, please say or key in your four-digit PIN, or say your date of birth." in texts
    # the held partial number: its lead and its question are fixed, only the digits are synthesized
    assert {"Okay.", "What's the rest of the order number?", "What's the rest of the account number?"} <= texts
    assert "Would you like a person? Please say yes or no, or press 1 for yes, 2 for no." in texts
    assert "Please use the keypad for your order number." in texts  # after whatever failed, a fixed sentence
    assert any(t.startswith("Sorry, I'm still not getting it.") and "press 0" in t for t in texts)  # the menu, whole
    assert not any("{" in t for t in texts)


async def test_a_cached_first_sentence_starts_the_reply_from_memory(models):
    cache = PromptCache(models, {"shipped": "Your order has shipped."}).build()
    tts = SharedPiperTTSService(models, cache, sample_rate=8000)
    text = "Your order has shipped. The blue jacket should arrive by Tuesday."
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(text)])
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio[0].metadata.get("tts_first_seconds") == 0.0
    cached_s = len(cache.get("Your order has shipped.", 8000)) / 8000
    total_s = sum(len(f.audio) // 2 for f in audio) / 8000
    assert total_s > cached_s + 1.0  # the variable sentence was synthesized after it


async def test_a_knowledge_base_answer_plays_from_memory_even_with_more_after_it(models):
    """A long cached first sentence is kept whole (cut at its comma it would miss the cache),
    so an FAQ answer followed by a question starts without waiting for Piper."""
    answer = "We're open Monday to Friday, 8 am to 8 pm, and Saturday 9 am to 5 pm."
    cache = PromptCache(models, {"kb:opening_hours": answer}).build()
    tts = SharedPiperTTSService(models, cache, sample_rate=8000)
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(f"{answer} Is there anything else?")])
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio[0].metadata.get("tts_first_seconds") == 0.0
    assert tts._chunks(f"{answer} Is there anything else?") == [answer, "Is there anything else?"]
    uncached = "We're shut Monday to Friday, 8 am to 8 pm, and Saturday 9 am to 5 pm."
    assert tts._chunks(uncached) == speakable_chunks(uncached) and len(speakable_chunks(uncached)) == 2


def test_the_engine_caches_the_knowledge_base_answers():
    import nlu

    backend = nlu.open_demo_backend(":memory:")
    from ivr.engine import kb_prompts

    prompts = kb_prompts(backend)
    assert prompts["kb:opening_hours"].startswith("We're open") and len(prompts) == len(backend.kb_entries())


async def test_the_end_of_a_reply_follows_all_of_its_audio(models):
    """A goodbye's cached first sentence plays at once while its second renders; the end of the
    reply (which hangs up a call) must not overtake the second sentence's audio."""
    from voice.frames import BotReplyEndFrame

    cache = PromptCache(models, {"bye": "Thanks for calling."}).build()
    tts = SharedPiperTTSService(models, cache, sample_rate=8000)
    text = "Thanks for calling. Your reset link is on its way, have a good afternoon."
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(text), BotReplyEndFrame(reply_id=0, end_call=True)])
    kinds = [type(f).__name__ for f in down]
    end = kinds.index("BotReplyEndFrame")
    audio_at = [i for i, k in enumerate(kinds) if k == "TTSAudioRawFrame"]
    cached_s = len(cache.get("Thanks for calling.", 8000)) / 8000
    total_s = sum(len(f.audio) // 2 for f in down if isinstance(f, TTSAudioRawFrame)) / 8000
    assert total_s > cached_s + 1.0  # both sentences were spoken
    assert audio_at and max(audio_at) < end
