"""The agent desktop's routes (`web.routers.desktop`) in the whole app: a socket from another
site is refused even with the agent's session cookie."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect


def test_a_cross_site_page_cannot_open_an_agents_socket(app, signed_in):
    alice = signed_in("alice")
    with alice.websocket_connect("/ws/agent/alice", headers={"origin": "http://evil.example"}) as ws:
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 1008
