"""The classroom server's gate (sim.classroom.guard) as ASGI, without a server or a browser;
tests/test_classroom_browser.py checks it on the real server too."""

from __future__ import annotations

import asyncio

from sim.classroom.guard import Guard

KEY = "k" * 22


def call(scope: dict) -> list[dict]:
    """The messages the guard (in front of an app that accepts everything) sends for ``scope``."""
    sent: list[dict] = []

    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        return {"type": "websocket.connect"} if scope["type"] == "websocket" else {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(Guard(app, KEY)(scope, receive, send))
    return sent


def websocket(origin: str | None, host: str = "10.0.0.2:8766") -> dict:
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    return {"type": "websocket", "path": "/jupyter/api/kernels/x/channels", "headers": headers, "query_string": b""}


def http(path: str, query: str = "") -> dict:
    return {"type": "http", "path": path, "headers": [(b"host", b"10.0.0.2:8766")], "query_string": query.encode()}


def test_a_websocket_from_another_site_is_refused():
    assert call(websocket("http://evil.example"))[0] == {"type": "websocket.close", "code": 1008}
    assert call(websocket("http://10.0.0.2:9999"))[0]["type"] == "websocket.close"  # another port is another origin
    assert call(websocket("http://10.0.0.2:8766"))[0]["type"] == "websocket.accept"
    assert call(websocket(None))[0]["type"] == "websocket.accept"  # no browser page sends none


def test_internals_need_the_key_and_no_page_leaks_its_address():
    for path in ("/readyz", "/resourcez"):
        assert call(http(path))[0]["status"] == 404
        assert call(http(path, f"teacher={KEY[:-1]}x"))[0]["status"] == 404
        assert call(http(path, f"teacher={KEY}"))[0]["status"] == 200
    start = call(http("/join"))[0]
    assert start["status"] == 200 and (b"referrer-policy", b"no-referrer") in start["headers"]
