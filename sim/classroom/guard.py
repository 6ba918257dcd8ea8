"""The classroom server's gate: what a school network may not reach.

``python -m sim.classroom.guard run sim.classroom.page ...`` is ``solara run`` with
:class:`Guard` in front of solara's app (``freemium-sim classroom`` starts it so):

- a websocket whose ``Origin`` is not the address it was opened on is refused (403), so a
  page of another site cannot drive a team's or the teacher's session (cross-site
  websocket hijacking);
- solara's internals (``/readyz``, ``/resourcez``) answer 404 without the teacher's key
  (``?teacher=KEY``);
- every answer says ``Referrer-Policy: no-referrer``: a link followed from the teacher's page
  does not carry its address, which holds the key.

The pages themselves check the key and the team tokens (:mod:`sim.classroom.page`).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
INTERNALS = ("/readyz", "/resourcez")


def header(scope: Scope, name: bytes) -> str:
    """The value of request header ``name`` (lower case), or ''."""
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == name), "")


def same_origin(scope: Scope) -> bool:
    """Whether the request's ``Origin`` names the host it was sent to (a browser always sends
    one with a websocket; a client without one is no browser page of another site)."""
    origin = header(scope, b"origin")
    return not origin or urlsplit(origin).netloc.lower() == header(scope, b"host").lower()


def has_key(scope: Scope, key: str) -> bool:
    """Whether the address carries the teacher's key (``?teacher=KEY``)."""
    given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("teacher", [""])[0]
    return bool(key) and secrets.compare_digest(given.encode(), key.encode())


class Guard:
    """ASGI middleware in front of solara's app (see the module docstring); ``key`` is the teacher's."""

    def __init__(self, app: ASGIApp, key: str):
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] == "websocket" and not same_origin(scope):
            await send({"type": "websocket.close", "code": 1008})  # before accept: the client gets 403
            return
        if scope["type"] == "http" and scope["path"] in INTERNALS and not has_key(scope, self.key):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain"), (b"referrer-policy", b"no-referrer")]})
            await send({"type": "http.response.body", "body": b"Not Found"})
            return

        async def no_referrer(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, no_referrer if scope["type"] == "http" else send)


def main(argv: list[str]) -> None:
    """``solara ARGV`` (``run MODULE ...``) with the guard in front of its app; the teacher's key
    comes from the game's settings in ``$FREEMIUM_SIM_CLASSROOM``."""
    os.environ["SOLARA_APP"] = argv[1]  # solara's app module reads it when imported, as `solara run` sets it
    import solara.__main__
    import solara.server.starlette

    from sim.classroom.page import ENV

    solara.server.starlette.app.add_middleware(Guard, key=json.loads(os.environ.get(ENV) or "{}").get("key", ""))
    sys.argv = ["solara", *argv]
    solara.__main__.main()


if __name__ == "__main__":
    main(sys.argv[1:])
