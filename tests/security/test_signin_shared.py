"""The panel's sign-in throttle counts in the store: two workers (two apps over one database)
share it, and a restart of both keeps it (it was per worker, in memory, before issue 19)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from store import Store
from web.app import create_app
from web.auth import Auth, hash_password
from web.dependencies import WebDeps

PASSWORD = "correct horse battery"


def worker(store: Store) -> TestClient:
    auth = Auth(store.accounts, failures=store.auth_failures)
    return TestClient(create_app(WebDeps(store=store, auth=auth)), client=("198.51.100.4", 40000))


def login(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf, "next": "/"},
                       follow_redirects=False)


def test_two_workers_share_the_sign_in_count_and_a_restart_keeps_it(tmp_path):
    url = f"sqlite:///{tmp_path}/ivr.db"
    one, two = Store(url, listen=False), Store(url, listen=False)
    one.accounts.add_user("sam", "supervisor", hash_password(PASSWORD))
    one.accounts.add_user("ada", "admin", hash_password(PASSWORD))
    a, b = worker(one), worker(two)
    for client in (a, b, a, b):
        assert login(client, "sam", "guess-guess").status_code == 401
    assert login(b, "ada").status_code == 303  # a right password on the way: sam's count is not cleared
    assert login(a, "sam", "guess-guess").status_code == 401  # the fifth for sam, across the two workers
    r = login(b, "sam")  # even the right password now waits
    assert r.status_code == 429 and 290 <= int(r.headers["retry-after"]) <= 301
    one.close()
    two.close()
    again = Store(url, listen=False)  # both workers restarted
    try:
        c = worker(again)
        assert login(c, "sam").status_code == 429
        assert login(c, "ada").status_code == 303  # another user is not locked out
        assert again.auth_failures.flagged("web").keys() == {"sam"}  # shown on the panel (/api/security)
    finally:
        again.close()


def test_the_panel_shows_flagged_names_and_blocked_addresses_and_an_admin_clears_a_flag(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/ivr.db", listen=False)
    try:
        store.accounts.add_user("sam", "supervisor", hash_password(PASSWORD))
        store.accounts.add_user("ada", "admin", hash_password(PASSWORD))
        client = worker(store)
        for _ in range(10):
            login(client, "sam", "guess-guess")
        assert login(client, "ada").status_code == 303
        page = client.get("/security")
        assert page.status_code == 200 and 'data-flagged="web:sam"' in page.text
        assert 'id="blocked"' in page.text  # the blocked addresses' table (a right answer from there cleared it)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post("/security/clear", data={"csrf": csrf, "scope": "web", "user": "sam"}, follow_redirects=False)
        assert r.status_code == 303 and store.auth_failures.flagged("web") == {}
        assert 'data-flagged="web:sam"' not in client.get("/security").text
        assert client.post("/security/clear", data={"scope": "web", "user": "sam"}).status_code == 403  # no CSRF token
    finally:
        store.close()
