"""HTTP digest, both sides: the RFC 2617 worked example, and a challenge from our registrar
answered by our client side (with and without qop), as the endpoint does on a 401/407."""

from telephony import DigestRegistrar
from telephony.digest import digest_authorization, digest_response, parse_digest
from telephony.sip_message import SipResponse


def test_rfc2617_example():
    response = digest_response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
                               "dcd98b7102dd2f0e8b11d0f600bfb0c093", "auth", "00000001", "0a4f113b")
    assert response == "6629fae49393a05397450978507c4ef1"


def test_parse_digest_reads_quoted_and_bare_values():
    got = parse_digest('Digest realm="ivr", nonce="a,b", algorithm=MD5, qop="auth", stale=true')
    assert got == {"realm": "ivr", "nonce": "a,b", "algorithm": "MD5", "qop": "auth", "stale": "true"}
    assert parse_digest("Basic dXNlcg==") is None and parse_digest("") is None


def _challenge(status: int, value: str) -> SipResponse:
    resp = SipResponse(status)
    resp.headers.add("WWW-Authenticate" if status == 401 else "Proxy-Authenticate", value)
    return resp


def test_our_client_answers_our_registrars_challenge():
    registrar = DigestRegistrar({"alice": "wonderland"}.get, realm="ivr.test")
    name, value = registrar.challenge()
    header, auth = digest_authorization(_challenge(401, value), "REGISTER", "sip:127.0.0.1", "alice", "wonderland")
    assert header == "Authorization"
    params = parse_digest(auth)
    assert params["qop"] == "auth" and params["nc"] == "00000001" and params["realm"] == "ivr.test"
    assert registrar.check(params, "REGISTER", "wonderland")
    assert not registrar.check(params, "REGISTER", "looking-glass")
    assert not registrar.check(params, "INVITE", "wonderland")  # the method is part of the hash


def test_proxy_challenge_without_qop_and_what_is_not_answered():
    header, auth = digest_authorization(_challenge(407, 'Digest realm="pbx", nonce="n1", opaque="o"'),
                                        "INVITE", "sip:agent@10.0.0.5", "agent1", "secret")
    params = parse_digest(auth)
    assert header == "Proxy-Authorization" and "qop" not in params and params["opaque"] == "o"
    assert params["response"] == digest_response("agent1", "pbx", "secret", "INVITE", "sip:agent@10.0.0.5", "n1")
    assert digest_authorization(_challenge(401, 'Digest realm="x", nonce="n", algorithm=SHA-512-256'),
                                "INVITE", "sip:a@b", "u", "p") is None
    assert digest_authorization(_challenge(401, 'Digest realm="x"'), "INVITE", "sip:a@b", "u", "p") is None
    assert digest_authorization(SipResponse(401), "INVITE", "sip:a@b", "u", "p") is None


def test_sha256_is_answered_when_offered_beside_md5():
    """RFC 8760: a client picks SHA-256 from several challenges; the registrar checks it against the stored HA1."""
    from telephony.digest import ha1

    registrar = DigestRegistrar({"alice": {"MD5": ha1("alice", "ivr.test", "wonderland"),
                                           "SHA-256": ha1("alice", "ivr.test", "wonderland", "SHA-256")}}.get,
                                realm="ivr.test")
    resp = SipResponse(401)
    for name, value in registrar.challenges():
        resp.headers.add(name, value)
    assert [parse_digest(v)["algorithm"] for v in resp.headers.get_all("WWW-Authenticate")] == ["MD5", "SHA-256"]
    _, auth = digest_authorization(resp, "REGISTER", "sip:127.0.0.1", "alice", "wonderland")
    params = parse_digest(auth)
    assert params["algorithm"] == "SHA-256" and len(params["response"]) == 64
    assert registrar.check(params, "REGISTER", registrar.credentials_for("alice"))
    assert not registrar.check({**params, "algorithm": "MD5"}, "REGISTER", registrar.credentials_for("alice"))
    # RFC 7616 §3.9.2 test vector (SHA-256, qop=auth)
    assert digest_response("Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
                           "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "auth", "00000001",
                           "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "SHA-256") == \
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
