"""The start-up cache's store: keys that change with any input, atomic entries safe to share
between workers, damaged or unwritable folders that cost a rebuild and nothing else."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from calls.disk_cache import DiskCache, entry_key, file_digest
from ivr.startup import resolve_dir


def test_a_key_is_stable_and_changes_with_every_part():
    parts = {"text": "Please hold.", "voice": {"model": "abc", "piper": "1.8.0"}}
    key = entry_key("prompt", parts)
    assert key == entry_key("prompt", {"voice": {"piper": "1.8.0", "model": "abc"}, "text": "Please hold."})
    assert key != entry_key("prompt", {**parts, "text": "Please hold!"})
    assert key != entry_key("prompt", {**parts, "voice": {"model": "abc", "piper": "1.9.0"}})
    assert key != entry_key("intents", parts)


def test_a_file_digest_follows_its_content(tmp_path):
    f = tmp_path / "intents.yaml"
    f.write_text("a: 1\n")
    first = file_digest(f)
    f.write_text("a: 2\n")  # same size, new content
    assert file_digest(f) != first


def test_the_folder_is_the_setting_else_the_environment_else_var_cache(monkeypatch):
    monkeypatch.delenv("IVR_CACHE_DIR", raising=False)
    assert resolve_dir(None) == Path("var/cache")
    monkeypatch.setenv("IVR_CACHE_DIR", "/srv/ivr-cache")
    assert resolve_dir(None) == Path("/srv/ivr-cache")
    assert resolve_dir("/elsewhere") == Path("/elsewhere")
    assert resolve_dir("off") is None
    monkeypatch.setenv("IVR_CACHE_DIR", "off")
    assert resolve_dir(None) is None


def test_an_entry_is_built_once_then_read_back_whole(tmp_path):
    cache = DiskCache(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return {"pcm": np.arange(5, dtype=np.int16), "classes": np.array(["yes", "no"])}

    first = cache.get_or_build("prompts", "hold", "k1", build)
    again = DiskCache(tmp_path).get_or_build("prompts", "hold", "k1", build)
    assert len(calls) == 1
    assert again["pcm"].dtype == np.int16 and again["pcm"].tolist() == [0, 1, 2, 3, 4]
    assert again["classes"].tolist() == ["yes", "no"] == first["classes"].tolist()
    assert [p.name for p in (tmp_path / "prompts").iterdir()] == ["k1.npz"]  # no temporary file left


def test_a_damaged_entry_is_built_again(tmp_path):
    cache = DiskCache(tmp_path)
    cache.save("nlu", "k", {"w": np.ones(3)})
    (tmp_path / "nlu" / "k.npz").write_bytes(b"PK\x03\x04 not a zip any more")
    out = cache.get_or_build("nlu", "intents", "k", lambda: {"w": np.zeros(3)})
    assert out["w"].tolist() == [0, 0, 0]
    assert [e.hit for e in cache.events] == [False]
    assert DiskCache(tmp_path).load("nlu", "k")["w"].tolist() == [0, 0, 0]


def test_a_folder_that_cannot_be_written_only_costs_the_rebuild(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cache = DiskCache(blocker)
    out = cache.get_or_build("prompts", "hold", "k", lambda: {"pcm": np.ones(2, dtype=np.int16)})
    assert out["pcm"].tolist() == [1, 1]
    assert "cannot write" in caplog.text


def test_no_cache_builds_every_time():
    cache = DiskCache(None)
    n = []
    for _ in range(2):
        cache.get_or_build("prompts", "hold", "k", lambda: n.append(1) or {"pcm": np.zeros(1)})
    assert len(n) == 2


def test_workers_writing_one_entry_at_once_leave_a_whole_one(tmp_path):
    """Several processes share the folder: a reader sees no entry or a whole one, never half."""
    arrays = [{"pcm": np.full(200_000, i, dtype=np.int16)} for i in range(6)]
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            got = DiskCache(tmp_path).load("prompts", "k")
            if got is not None:
                assert len(set(got["pcm"].tolist())) == 1 and got["pcm"].size == 200_000
                seen.append(int(got["pcm"][0]))

    r = threading.Thread(target=reader)
    r.start()
    writers = [threading.Thread(target=DiskCache(tmp_path).save, args=("prompts", "k", a)) for a in arrays]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    r.join()
    final = DiskCache(tmp_path).load("prompts", "k")
    assert int(final["pcm"][0]) in range(6)
    assert [p.name for p in (tmp_path / "prompts").iterdir()] == ["k.npz"]


def test_an_entry_holding_a_pickled_object_is_refused(tmp_path):
    """Entries are plain arrays, read without pickle: nothing planted in the folder runs."""
    (tmp_path / "nlu").mkdir()
    np.savez(tmp_path / "nlu" / "k.npz", obj=np.array([{"evil": 1}], dtype=object))
    assert DiskCache(tmp_path).load("nlu", "k") is None
