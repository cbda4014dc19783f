"""`ivr desktop-url AGENT`: the link an agent opens, carrying their token (never printed by `ivr serve`)."""

from __future__ import annotations

import sys

from ivr.serve import server_secret
from ivr.settings import Settings, parse_hostport


def desktop_url(args) -> int:
    """`ivr desktop-url AGENT`: the link an agent opens (it carries their token)."""
    from web.desktop import agent_token

    try:
        host, port = parse_hostport(args.http, 8080)
        secret = server_secret(Settings())
    except ValueError as exc:
        print(f"ivr desktop-url: {exc}", file=sys.stderr)
        return 2
    print(f"http://{host}:{port}/desktop/{args.agent}?token={agent_token(secret, args.agent)}")
    return 0
