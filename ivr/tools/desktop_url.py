"""`ivr desktop-url AGENT`: the link an agent opens, carrying a signed token that expires (never
printed by `ivr serve`); `--revoke` ends every link of the agent issued so far."""

from __future__ import annotations

import sys
import time


def add_arguments(d) -> None:
    d.add_argument("agent", help="agent id")
    d.add_argument("--http", default="127.0.0.1:8080", help="the service's HTTP address")
    d.add_argument("--hours", type=float, default=12.0, help="how long the link works (default 12: one shift)")
    d.add_argument("--revoke", action="store_true", help="end every link of the agent issued so far (in the store)")
    d.add_argument("--db", default=None, help="store URL for --revoke (default: the settings' db)")
    d.set_defaults(func=desktop_url)


def desktop_url(args) -> int:
    """Print the link and, on the next line, when it expires; or revoke the agent's links."""
    from ivr.serve import server_secret
    from ivr.settings import Settings, parse_hostport
    from web.desktop import DesktopTokens

    try:
        settings = Settings()
        if getattr(args, "revoke", False):
            return _revoke(args.agent, args.db or settings.db)
        host, port = parse_hostport(args.http, 8080)
        hours = getattr(args, "hours", 12.0)
        if not 0 < hours <= 24 * 30:
            raise ValueError("--hours: more than 0, at most 720")
        secret = server_secret(settings)
    except ValueError as exc:
        print(f"ivr desktop-url: {exc}", file=sys.stderr)
        return 2
    token, expires = DesktopTokens(secret).issue(args.agent, hours * 3600)
    print(f"http://{host}:{port}/desktop/{args.agent}?token={token}")
    print(f"expires {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(expires))}")
    return 0


def _revoke(agent: str, url: str) -> int:
    from store import Store

    try:
        store = Store(url, listen=False)
    except Exception as exc:
        print(f"ivr desktop-url: cannot open the store {url.split('@')[-1]}: {type(exc).__name__}", file=sys.stderr)
        return 2
    try:
        store.desktop_links.revoke(agent)
    finally:
        store.close()
    print(f"{agent}: every desktop link issued until now is refused (within 5 s on every worker)")
    return 0
