"""HTTP digest for SIP (RFC 3261 §22, RFC 2617 / RFC 7616 with MD5): both sides, pure functions.

The client side answers a 401/407 challenge on an outbound INVITE (`digest_authorization`);
the registrar checks an Authorization against a password (`digest_response`). Both read the
same `Digest k=v, k="v"` syntax (`parse_digest`), so a challenge we issue is one we can answer.
"""

from __future__ import annotations

import hashlib
import secrets

from .sip_headers import split_header_list
from .sip_message import SipResponse


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def parse_digest(value: str) -> dict[str, str] | None:
    """`Digest k=v, k="v", ...` (an Authorization or a challenge) into lower-cased keys; None if not digest."""
    if not value or value[:6].lower() != "digest":
        return None
    params: dict[str, str] = {}
    for part in split_header_list(value[6:]):
        k, eq, v = part.partition("=")
        if not eq:
            continue
        v = v.strip()
        params[k.strip().lower()] = v[1:-1] if len(v) >= 2 and v.startswith('"') and v.endswith('"') else v
    return params


def digest_response(username: str, realm: str, password: str, method: str, uri: str, nonce: str,
                    qop: str | None = None, nc: str = "", cnonce: str = "") -> str:
    """The `response=` value RFC 2617 §3.2.2.1 defines (qop=auth, or none for RFC 2069)."""
    ha1 = md5_hex(f"{username}:{realm}:{password}")
    ha2 = md5_hex(f"{method}:{uri}")
    if qop == "auth":
        return md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return md5_hex(f"{ha1}:{nonce}:{ha2}")


def digest_authorization(resp: SipResponse, method: str, uri: str, username: str, password: str) -> tuple[str, str] | None:
    """Answer a 401/407 digest challenge (RFC 2617 / RFC 7616 with MD5, qop=auth or none)."""
    name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
    challenge = resp.headers.get(name)
    if not challenge or not challenge.lower().startswith("digest"):
        return None
    params: dict[str, str] = {}
    for part in split_header_list(challenge[6:]):
        k, _, v = part.partition("=")
        v = v.strip()
        params[k.strip().lower()] = v[1:-1] if v.startswith('"') and v.endswith('"') else v
    algorithm = params.get("algorithm", "MD5")
    if algorithm.upper() != "MD5" or "nonce" not in params:
        return None
    realm, nonce = params.get("realm", ""), params["nonce"]
    fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', "algorithm=MD5"]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = digest_response(username, realm, password, method, uri, nonce, "auth", nc, cnonce)
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = digest_response(username, realm, password, method, uri, nonce)
    fields.append(f'response="{response}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    header = "Authorization" if resp.status == 401 else "Proxy-Authorization"
    return header, "Digest " + ", ".join(fields)
