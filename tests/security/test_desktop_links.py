"""Desktop links expire and can be revoked (they were an HMAC of the agent id that never expired)."""

from __future__ import annotations

import os
import subprocess

from store import Store
from web.desktop import DesktopTokens, token_ok

from tests.support import IVR_CMD


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_link_expires_and_is_only_for_its_agent():
    clock = Clock()
    tokens = DesktopTokens("server-secret", clock=clock)
    token, expires = tokens.issue("alice", ttl_s=3600)
    assert expires == clock.t + 3600 and token_ok(tokens, "alice", token)
    assert not token_ok(tokens, "bob", token)  # signed for alice only
    issued, until, mac = token.split(".")
    forged = f"{issued}.{int(until, 16) + 86400:x}.{mac}"  # a longer life written in: the signature no longer fits
    assert not token_ok(tokens, "alice", forged) and not token_ok(tokens, "alice", "0" * 32)
    assert not token_ok(DesktopTokens("another-secret", clock=clock), "alice", token)
    clock.t += 3600
    assert not token_ok(tokens, "alice", token)  # expired


def test_revoking_ends_the_links_issued_so_far(tmp_path):
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path}/ivr.db", listen=False)
    try:
        store.desktop_links.clock = clock
        tokens = DesktopTokens("server-secret", revoked_before=store.desktop_links.not_before, clock=clock)
        old, _ = tokens.issue("alice")
        bobs, _ = tokens.issue("bob")
        clock.t += 10
        store.desktop_links.revoke("alice")
        assert not tokens.verify("alice", old) and tokens.verify("bob", bobs)  # only alice's links end
        clock.t += 1
        new, _ = tokens.issue("alice")
        assert tokens.verify("alice", new)  # a link issued afterwards works
    finally:
        store.close()


def test_ivr_desktop_url_prints_the_expiry_and_revokes(tmp_path):
    env = {**os.environ, "IVR_SECRET": "0123456789abcdef0123456789abcdef"}
    out = subprocess.run([*IVR_CMD, "desktop-url", "alice", "--hours", "2"], capture_output=True, text=True, timeout=120,
                         env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    link, expiry = out.stdout.splitlines()
    token = link.split("token=")[1]
    assert DesktopTokens(env["IVR_SECRET"]).verify("alice", token) and expiry.startswith("expires 20")
    revoke = subprocess.run([*IVR_CMD, "desktop-url", "alice", "--revoke", "--db", f"sqlite:///{tmp_path}/ivr.db"],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert revoke.returncode == 0, revoke.stderr
    store = Store(f"sqlite:///{tmp_path}/ivr.db", listen=False)
    try:
        assert store.desktop_links.not_before("alice") > 0
    finally:
        store.close()
