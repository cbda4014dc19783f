"""RFC 4028's rules (`telephony.session_timer`, pure) and the endpoint's 422, PRACK and UPDATE
answers to a scripted raw-UDP phone (the sipp scenarios are in test_carrier_interop_sipp)."""

import pytest

from telephony.session_timer import SessionTimer, SessionTimerConfig, TooBrief, negotiate, parse_session_expires

from tests.telephony.conftest import answered, invite, sdp, simple, status

CONFIG = SessionTimerConfig(session_expires=1800, min_se=90)


def test_no_timer_asked_and_none_supported_leaves_the_session_untimed():
    assert negotiate(None, None, [], [], CONFIG) is None


def test_a_uac_that_supports_timers_is_made_the_refresher_at_our_interval():
    timer = negotiate(None, None, ["timer", "100rel"], [], CONFIG)
    assert timer == SessionTimer(1800, "uac", True)
    assert timer.response_headers() == [("Session-Expires", "1800;refresher=uac"), ("Require", "timer")]
    assert timer.expire_in() == 1800 - 32


def test_an_interval_under_our_min_se_is_too_brief_422():
    verdict = negotiate("60", None, ["timer"], [], CONFIG)
    assert verdict == TooBrief(90) and verdict.response_headers() == [("Min-SE", "90")]


def test_a_longer_interval_is_shortened_to_ours_but_never_under_the_peers_min_se():
    assert negotiate("7200;refresher=uac", None, ["timer"], [], CONFIG).interval == 1800
    assert negotiate("7200", "3600", ["timer"], [], CONFIG).interval == 3600


def test_refresher_uac_from_a_uac_without_timer_support_becomes_uas():
    timer = negotiate("900;refresher=uac", None, [], [], CONFIG)
    assert timer.refresher == "uas" and timer.we_refresh and timer.refresh_in() == 450
    assert ("Require", "timer") not in timer.response_headers()


def test_malformed_session_expires_is_a_value_error():
    with pytest.raises(ValueError):
        parse_session_expires("soon")
    with pytest.raises(ValueError):
        SessionTimerConfig(session_expires=10, min_se=90)
    assert parse_session_expires("1800 ; refresher=UAS") == (1800, "uas")


async def test_endpoint_answers_422_with_min_se_and_400_to_a_malformed_interval(rig):
    ep, peer, calls = rig
    peer.send(invite("st1", "z9hG4bKst1").replace("Max-Forwards: 70", "Max-Forwards: 70\nSession-Expires: 30"),
              ep, sdp(40000))
    got = await peer.expect(status(422))
    assert got.headers.get("Min-SE") == "90"
    peer.send(invite("st2", "z9hG4bKst2").replace("Max-Forwards: 70", "Max-Forwards: 70\nSession-Expires: x"),
              ep, sdp(40000))
    await peer.expect(status(400))
    assert not calls


async def test_prack_that_matches_nothing_is_481_and_update_without_a_dialog_is_481(rig):
    ep, peer, calls = rig
    ok = await answered(ep, peer, "st3")
    prack = simple("PRACK", "st3", "z9hG4bKst3p", 2, ok.to.tag) + "\nRAck: 1 1 INVITE"
    peer.send(prack, ep)
    await peer.expect(status(481))
    peer.send(simple("UPDATE", "st4", "z9hG4bKst4", 1), ep)
    await peer.expect(status(481))
    peer.send(simple("UPDATE", "st3", "z9hG4bKst3u", 3, ok.to.tag), ep)
    assert (await peer.expect(status(200))).cseq.method == "UPDATE"
    assert "UPDATE" in ok.headers.get("Allow") and "timer" in ok.headers.get("Supported")
