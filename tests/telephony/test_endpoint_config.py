"""`EndpointConfig` checks every setting once, with the setting's name in the error, and
normalises what comes from settings files (lists to tuples, an empty advertise to none)."""

import ssl
from dataclasses import FrozenInstanceError, replace

import pytest

from telephony import AdmissionConfig, EndpointConfig, MediaConfig, TimingConfig, Timers, TlsConfig


def test_defaults_are_the_endpoints_old_defaults():
    c = EndpointConfig("0.0.0.0", 5070)
    assert (c.user, c.user_agent, c.tcp) == ("ivr", "ivr-triage", True)
    assert c.media == MediaConfig((20000, 30000), ("PCMU", "PCMA"), 30.0, 20.0)
    assert c.timing == TimingConfig(Timers(), 0.05, 4.0, 30.0)
    assert (c.admission.max_calls, c.admission.allow, c.admission.limit_exempt) == (200, None, ())
    assert c.tls == TlsConfig()
    assert c.advertised_host == "127.0.0.1" and c.advertised_media_host == "127.0.0.1"  # a wildcard bind


def test_advertised_hosts():
    assert EndpointConfig("10.0.0.5", 0).advertised_host == "10.0.0.5"
    c = EndpointConfig("0.0.0.0", 0, advertise="203.0.113.7", media_host="203.0.113.8")
    assert (c.advertised_host, c.advertised_media_host) == ("203.0.113.7", "203.0.113.8")
    assert EndpointConfig("0.0.0.0", 0, advertise="203.0.113.7").advertised_media_host == "203.0.113.7"
    assert EndpointConfig("10.0.0.5", 0, advertise="").advertise is None  # an unset setting


def test_frozen_and_replaceable():
    c = EndpointConfig("127.0.0.1", 0)
    with pytest.raises(FrozenInstanceError):
        c.port = 1  # type: ignore[misc]
    d = replace(c, timing=replace(c.timing, refer_ring_timeout=0.3))
    assert d.timing.refer_ring_timeout == 0.3 and c.timing.refer_ring_timeout == 30.0


def test_lists_from_settings_become_tuples_and_networks_are_checked():
    a = AdmissionConfig(allow=["10.0.0.0/8", "192.0.2.1"], limit_exempt=["127.0.0.3/32"])
    assert a.allow == ("10.0.0.0/8", "192.0.2.1") and a.limit_exempt == ("127.0.0.3/32",)
    assert a.allowed("10.1.2.3") and a.allowed("192.0.2.1") and not a.allowed("192.0.2.2")
    assert not a.allowed("not-an-ip") and a.exempt("127.0.0.3") and not a.exempt("127.0.0.1")
    assert AdmissionConfig().allowed("198.51.100.1") and not AdmissionConfig().exempt("198.51.100.1")
    assert MediaConfig(rtp_ports=[40000, 41000], codecs=["PCMA"]).rtp_ports == (40000, 41000)
    assert MediaConfig(codecs="PCMA").codecs == ("PCMA",)


@pytest.mark.parametrize("make, words", [
    (lambda: EndpointConfig("", 0), "host"),
    (lambda: EndpointConfig("127.0.0.1", 70000), "port"),
    (lambda: EndpointConfig("127.0.0.1", -1), "port"),
    (lambda: EndpointConfig("127.0.0.1", 0, user="a b"), "user"),
    (lambda: EndpointConfig("127.0.0.1", 0, user="ivr@x"), "user"),
    (lambda: EndpointConfig("127.0.0.1", 0, user_agent="x\r\nVia: evil"), "user_agent"),
    (lambda: EndpointConfig("127.0.0.1", 0, advertise="a b"), "advertise"),
    (lambda: EndpointConfig("127.0.0.1", 0, media=TimingConfig()), "media"),
    (lambda: MediaConfig(rtp_ports=(30000, 20000)), "rtp_ports"),
    (lambda: MediaConfig(rtp_ports=(0, 100)), "rtp_ports"),
    (lambda: MediaConfig(rtp_ports=(20000, 70000)), "rtp_ports"),
    (lambda: MediaConfig(rtp_ports=(20000,)), "rtp_ports"),
    (lambda: MediaConfig(codecs=()), "codecs"),
    (lambda: MediaConfig(codecs=("G729",)), "codecs"),
    (lambda: MediaConfig(rtp_timeout=0), "rtp_timeout"),
    (lambda: MediaConfig(jitter_ms=-1), "jitter_ms"),
    (lambda: TimingConfig(sip=0.5), "sip"),
    (lambda: TimingConfig(answer_delay=-0.1), "answer_delay"),
    (lambda: TimingConfig(hangup_wait=0), "hangup_wait"),
    (lambda: TimingConfig(refer_ring_timeout="30"), "refer_ring_timeout"),
    (lambda: AdmissionConfig(max_calls=-1), "max_calls"),
    (lambda: AdmissionConfig(max_calls=True), "max_calls"),
    (lambda: AdmissionConfig(allow=["10.0.0.0/33"]), "allow"),
    (lambda: AdmissionConfig(limit_exempt=["kamailio"]), "limit_exempt"),
    (lambda: TlsConfig(port=5061), "server context"),
    (lambda: TlsConfig(server="cert.pem"), "SSLContext"),
    (lambda: TlsConfig(server=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH), port=99999), "tls port"),
])
def test_bad_settings_are_refused_by_name(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_zero_calls_and_no_delay_are_allowed():
    assert AdmissionConfig(max_calls=0).max_calls == 0  # a phone that is always busy
    assert TimingConfig(answer_delay=0.0).answer_delay == 0.0
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert TlsConfig(server=ctx, port=5061, host="127.0.0.1").port == 5061


def test_port_range_reads_low_high_and_refuses_the_rest():
    from telephony.endpoint_config import port_range

    assert port_range("20000-20999") == (20000, 20999)
    for bad in ("20000", "30000-20000", "0-100", "a-b", "1-70000"):
        with pytest.raises(ValueError):
            port_range(bad)
