"""The PBX hand-off's pure parts: RFC 7433 User-to-User, the Call-Info pop link, the desk, the config."""

import pytest

from routing.pbx_handoff import (UUI_MAX_OCTETS, PbxDesk, PbxHandoffConfig, decode_uui, encode_uui, handoff_headers,
                                 pop_url, uui_fields, uui_payload)

SECRET = b"k" * 32


def test_uui_is_hex_with_encoding_purpose_and_content():
    value = encode_uui(b"cid=abc", "isdn-uui")
    assert value == "6369643d616263;encoding=hex;purpose=isdn-uui;content=isdn-uui"
    data, params = decode_uui(value)
    assert data == b"cid=abc" and params == {"encoding": "hex", "purpose": "isdn-uui", "content": "isdn-uui"}


def test_uui_refuses_too_long_data_a_bad_purpose_and_non_hex():
    with pytest.raises(ValueError, match="octets"):
        encode_uui(b"x" * (UUI_MAX_OCTETS + 1))
    with pytest.raises(ValueError, match="purpose"):
        encode_uui(b"x", "a;b")
    with pytest.raises(ValueError):
        decode_uui("zz;encoding=hex")
    with pytest.raises(ValueError, match="not hex"):
        decode_uui("abc;encoding=base64")


def test_payload_keeps_the_call_id_first_and_fits():
    data = uui_payload("c" * 40, "card_stolen", "frustration")
    assert uui_fields(data) == {"cid": "c" * 40, "i": "card_stolen", "r": "frustration"}
    long = uui_payload("c" * 40, "i" * 200, "frustration")
    assert len(long) <= UUI_MAX_OCTETS and uui_fields(long)["cid"] == "c" * 40 and "i" not in uui_fields(long)


def test_payload_redacts_a_card_number_in_the_intent_slot():
    assert b"4111111111111111" not in uui_payload("c1", "4111111111111111", "x")


def test_headers_carry_uui_and_a_signed_call_info_url():
    cfg = PbxHandoffConfig(queue_uri="sip:support@10.0.0.5", public_url="https://panel.example/")
    headers = dict(handoff_headers("call-1", "frustration", {"intent": "billing"}, cfg, SECRET))
    assert uui_fields(decode_uui(headers["User-to-User"])[0])["cid"] == "call-1"
    url = pop_url("https://panel.example/", "call-1", SECRET)
    assert headers["Call-Info"] == f"<{url}>;purpose=info"
    assert url.startswith("https://panel.example/api/pbx/pop/call-1?sig=")
    desk = PbxDesk(SECRET)
    assert desk.signed("call-1", url.rsplit("=", 1)[1]) and not desk.signed("call-2", url.rsplit("=", 1)[1])


def test_desk_forgets_pops_after_an_hour():
    now = [0.0]
    desk = PbxDesk(SECRET, clock=lambda: now[0])
    desk.keep("c1", {"call_id": "c1"})
    assert desk.get("c1") == {"call_id": "c1"}
    now[0] = 3601.0
    assert desk.get("c1") is None


@pytest.mark.parametrize("kw", [{"queue_uri": "support@10.0.0.5"}, {"queue_uri": "sip:10.0.0.5"},
                                {"queue_uri": "sip:q@10.0.0.5", "public_url": "ftp://x"}])
def test_config_refuses_what_cannot_work(kw):
    with pytest.raises(ValueError):
        PbxHandoffConfig(**kw)


def test_the_service_reads_the_pbx_setting_from_the_environment(monkeypatch):
    from ivr.settings import load_settings

    monkeypatch.delenv("IVR_PBX", raising=False)
    assert load_settings().pbx is None
    monkeypatch.setenv("IVR_PBX", '{"queue_uri": "sip:support@10.0.0.5:5060", "public_url": "https://panel.example"}')
    assert load_settings().pbx == PbxHandoffConfig(queue_uri="sip:support@10.0.0.5:5060", public_url="https://panel.example")
    monkeypatch.setenv("IVR_PBX", '{"queue_uri": "support"}')
    with pytest.raises(Exception, match="queue_uri"):
        load_settings()
