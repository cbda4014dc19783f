"""The jitter buffer: reordering, concealment, repacketising, adaptive delay that never sheds speech."""

import random

import numpy as np

from telephony.jitter_buffer import JitterBuffer


def _frames(n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(160) * 3000).astype(np.int16) for _ in range(n)]


def test_jitter_buffer_reorders_shuffled_packets():
    frames = _frames(40)
    jb = JitterBuffer(target_ms=60)
    order = list(range(40))
    rng = random.Random(3)
    # shuffle within windows of 3 packets (60 ms of jitter)
    for i in range(0, 40, 3):
        chunk = order[i : i + 3]
        rng.shuffle(chunk)
        order[i : i + 3] = chunk
    out = []
    base = 4294967000  # timestamps wrap during the test
    for i, k in enumerate(order):
        jb.push((base + k * 160) % 2**32, frames[k])
        if i >= 3:
            f = jb.pop()
            if f is not None:
                out.append(f)
    while len(out) < 40 and (f := jb.pop()) is not None:
        out.append(f)
    assert len(out) == 40 and all(np.array_equal(a, b) for a, b in zip(out, frames))
    assert jb.concealed == 0 and jb.late == 0


def test_jitter_buffer_conceals_loss_and_keeps_timing():
    frames = _frames(30)
    lost = {5, 12, 13, 14}
    jb = JitterBuffer(target_ms=40)
    out = []
    for k in range(30):
        if k not in lost:
            jb.push(k * 160, frames[k])
        f = jb.pop()
        if f is not None:
            out.append(f)
    while len(out) < 30:
        out.append(jb.pop())
    assert len(out) == 30
    assert np.array_equal(out[5], (frames[4].astype(np.int32) // 2).astype(np.int16))  # attenuated repeat
    assert np.array_equal(out[12], (frames[11].astype(np.int32) // 2).astype(np.int16))
    assert not out[13].any() and not out[14].any()  # then silence
    assert np.array_equal(out[15], frames[15]) and np.array_equal(out[29], frames[29])
    assert jb.concealed == 4


def test_jitter_buffer_repacketises_30ms_and_drops_late_and_duplicates():
    pcm = ((np.arange(240 * 10) % 300) * 40).astype(np.int16)  # speech-loud: none of it is dropped
    jb = JitterBuffer(target_ms=60)
    for i in range(10):
        jb.push(1000 + 240 * i, pcm[240 * i : 240 * (i + 1)])
    assert not jb.push(1000, pcm[:240])  # duplicate
    out = np.concatenate([jb.pop() for _ in range(15)])
    assert np.array_equal(out, pcm)
    assert not jb.push(1000 + 240, pcm[240:480])  # late now
    assert jb.late == 1 and jb.duplicates == 1


def test_jitter_buffer_skips_long_gaps_and_resyncs():
    jb = JitterBuffer(target_ms=20)
    jb.push(0, np.ones(160, np.int16))
    assert jb.pop() is not None
    jb.push(160 + 8000, np.full(160, 7, np.int16))  # 1 s of DTX, then speech
    assert (jb.pop() == 7).all()  # no second of silence played out first
    jb.push(5_000_000, np.full(160, 9, np.int16))  # timeline jump: a new stream
    assert jb.resyncs == 1
    assert (jb.pop() == 9).all()


def test_jitter_buffer_grows_its_delay_when_packets_come_late():
    # Packets every 20 ms but each arrives 30 ms after its slot: a 20 ms target is too small.
    frames = _frames(400)
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    out, arrivals = [], {}
    for k in range(400):
        arrivals.setdefault(k + (0 if k < 3 else 2), []).append(k)  # from packet 3 on, 40 ms later
    for tick in range(420):
        for k in arrivals.get(tick, []):
            jb.push(k * 160, frames[k])
        f = jb.pop()
        if f is not None:
            out.append(f)
    assert jb.grown >= 1 and jb.target > 160  # grew to cover the lateness
    assert jb.target <= 200 * 8  # and never past its limit
    # Once grown, nothing more was late: the last 150 packets played back to back, in order.
    start = next(i for i, f in enumerate(out) if np.array_equal(f, frames[250]))
    assert all(np.array_equal(out[start + j], frames[250 + j]) for j in range(150))


def test_jitter_buffer_fixed_target_without_a_limit_and_growth_is_rate_limited():
    jb = JitterBuffer(target_ms=20)  # no max_target_ms: the target never moves
    jb.push(0, np.ones(160, np.int16))
    jb.pop(), jb.pop(), jb.pop()
    jb.push(160, np.ones(160, np.int16))  # late
    assert jb.target == 160 and jb.grown == 0
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    jb.push(0, np.ones(160, np.int16))
    for _ in range(6):
        jb.pop()
    for k in range(1, 6):  # a burst of late packets, as after a stall of our own loop
        jb.push(k * 160, np.ones(160, np.int16))
    assert jb.grown == 1 and jb.target == 320  # one frame for the whole burst


def _steady_after_burst(frames, burst=6):
    """`burst` packets arrive at once (a peer catching up), then one per tick: what plays out."""
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    for k in range(burst):
        jb.push(k * 160, frames[k])
    out = []
    for k in range(burst, len(frames)):
        out.append(jb.pop())
        jb.push(k * 160, frames[k])
    return jb, out


def test_jitter_buffer_gives_back_a_bursts_excess_in_pauses():
    rng = np.random.default_rng(5)
    quiet = [(rng.standard_normal(160) * 20).astype(np.int16) for _ in range(120)]  # line noise, -64 dBFS
    jb, _ = _steady_after_burst(quiet)
    assert jb.buffered_samples - 160 <= jb.target == 160  # back to its target (less the packet just pushed)
    assert jb.shed == 4 and jb.late == 0 and jb.concealed == 0


def test_jitter_buffer_never_sheds_speech_and_keeps_its_order():
    loud = _frames(120)  # all speech: the excess stays rather than cutting a word
    jb, out = _steady_after_burst(loud)
    assert jb.shed == 0 and all(np.array_equal(a, b) for a, b in zip(out, loud))
    # Speech with pauses in it: every speech frame still plays, in order; pause frames go.
    rng = np.random.default_rng(6)
    mixed = [f if (k // 10) % 2 == 0 else (rng.standard_normal(160) * 20).astype(np.int16) for k, f in enumerate(_frames(160))]
    jb, out = _steady_after_burst(mixed)
    speech = [k for k in range(len(mixed)) if (k // 10) % 2 == 0]
    played = [next(k for k in speech if np.array_equal(f, mixed[k])) for f in out if np.sqrt(np.mean(f.astype(float) ** 2)) > 1000]
    assert jb.shed == 4 and played == speech[: len(played)] and len(played) >= len(speech) - 6


def test_jitter_buffer_steady_jitter_sheds_nothing():
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    rng = np.random.default_rng(7)
    quiet = [(rng.standard_normal(160) * 20).astype(np.int16) for _ in range(300)]
    for k in range(300):  # one packet per tick, alternating early and late within the frame
        jb.push(k * 160, quiet[k])
        jb.pop()
    assert jb.shed == 0 and jb.concealed == 0
