"""HTTP digest for SIP (RFC 3261 §22, RFC 2617, RFC 7616 / RFC 8760: MD5 and SHA-256): both sides, pure functions.

The client side answers a 401/407 challenge on an outbound INVITE (`digest_authorization`);
the registrar checks an Authorization against a stored HA1 (`digest_response_ha1`), so no
password needs to be kept in plain text (`ha1` makes the stored value). Both read the same
`Digest k=v, k="v"` syntax (`parse_digest`), so a challenge we issue is one we can answer.
"""

from __future__ import annotations

import hashlib
import secrets

from .sip_headers import split_header_list
from .sip_message import SipResponse

ALGORITHMS = ("SHA-256", "MD5")  # RFC 8760 §2.3: the strongest first, MD5 for the phones that know nothing else
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def algorithm_name(value: str | None) -> str | None:
    """The canonical name of a digest algorithm we support (absent means MD5), else None."""
    name = (value or "MD5").strip().upper()
    return name if name in _HASHES else None


def hash_hex(algorithm: str, text: str) -> str:
    return _HASHES[algorithm](text.encode()).hexdigest()


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password): what a registrar stores instead of the password (RFC 7616 §3.4.2)."""
    return hash_hex(algorithm, f"{username}:{realm}:{password}")


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


def digest_response_ha1(ha1_hex: str, method: str, uri: str, nonce: str, qop: str | None = None,
                        nc: str = "", cnonce: str = "", algorithm: str = "MD5") -> str:
    """The `response=` value (RFC 7616 §3.4.1, qop=auth, or none for RFC 2069) from a stored HA1."""
    ha2 = hash_hex(algorithm, f"{method}:{uri}")
    if qop == "auth":
        return hash_hex(algorithm, f"{ha1_hex}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return hash_hex(algorithm, f"{ha1_hex}:{nonce}:{ha2}")


def digest_response(username: str, realm: str, password: str, method: str, uri: str, nonce: str,
                    qop: str | None = None, nc: str = "", cnonce: str = "", algorithm: str = "MD5") -> str:
    """The `response=` value RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1 define, from the password."""
    return digest_response_ha1(ha1(username, realm, password, algorithm), method, uri, nonce, qop, nc, cnonce,
                               algorithm)


def digest_authorization(resp: SipResponse, method: str, uri: str, username: str, password: str) -> tuple[str, str] | None:
    """Answer a 401/407 digest challenge (RFC 7616: SHA-256 when offered, else MD5; qop=auth or none)."""
    name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
    offers = [p for p in (parse_digest(v) for v in resp.headers.get_all(name)) if p and "nonce" in p]
    offers = [p for p in offers if algorithm_name(p.get("algorithm"))]
    if not offers:
        return None
    params = min(offers, key=lambda p: ALGORITHMS.index(algorithm_name(p.get("algorithm")) or "MD5"))
    algorithm = algorithm_name(params.get("algorithm")) or "MD5"
    realm, nonce = params.get("realm", ""), params["nonce"]
    fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', f"algorithm={algorithm}"]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = digest_response(username, realm, password, method, uri, nonce, "auth", nc, cnonce, algorithm)
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = digest_response(username, realm, password, method, uri, nonce, algorithm=algorithm)
    fields.append(f'response="{response}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    header = "Authorization" if resp.status == 401 else "Proxy-Authorization"
    return header, "Digest " + ", ".join(fields)
