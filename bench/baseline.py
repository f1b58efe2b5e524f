"""The ceiling: a bare Starlette app that parses a JSON body and answers a string.

Served with the uvicorn settings of `postventa serve` (one process, uvloop,
httptools, no access log, warnings only), it shows what one process of this
stack answers when the handler does no work of its own.

Run: .venv/bin/python -m bench.baseline --port 8001
"""

from __future__ import annotations

import argparse

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def send_message(request: Request) -> Response:
    """Parse the body as postventa's send endpoint must, then answer an id."""
    body = msgspec.json.decode(await request.body())
    if not isinstance(body, dict) or "messageOptions" not in body:
        return Response(b'"bad request"', status_code=400)
    return Response(b'"1"', media_type="application/json")


app = Starlette(
    routes=[Route("/v2/orders/{order_id}/messages", send_message, methods=["POST"])]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8001)
    port = parser.parse_args().port
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_config=None,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
