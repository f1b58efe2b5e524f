"""Steps 1 to 4 of every endpoint: the key, the account, and the key's rate."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

from postventa.api.auth import Authenticator
from postventa.api.params import Parameters, Source, parse_integer
from postventa.api.ratelimit import RateLimiter
from postventa.domain.errors import BadRequest, Forbidden, TooManyRequests


def query_parameters(request: Request[Any, Any, Any]) -> Parameters:
    """The known parameters of the query string (and the path's order id)."""
    params = Parameters()
    query = request.scope["query_string"].decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.add(Source.QUERY, name, value)
    if "orderId" in request.path_params:
        params.add(Source.PATH, "orderId", request.path_params["orderId"])
    return params


class Gate:
    """Admits a request for one account, or refuses it (401, 400, 403, 429).

    Every request with a valid key counts against the key's limit for the
    endpoint, whatever its answer; the limit's headers are left on the request
    for every answer to carry.
    """

    def __init__(self, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self._authenticator = authenticator
        self._limiter = limiter

    async def admit(
        self, request: Request[Any, Any, Any], params: Parameters, endpoint: str
    ) -> int:
        client = request.client.host if request.client else "unknown"
        grant = await self._authenticator.authenticate(params.api_key, client)
        rate = await self._limiter.take((grant.key_id, endpoint))
        request.state.rate_headers = rate.headers()

        account_id = params.single("accountId", parse_integer)
        if account_id is None:
            raise BadRequest("accountId is required in the query string.")
        if account_id not in grant.account_ids:
            raise Forbidden(f"Account {account_id} is not linked to this API_KEY.")
        if not rate.allowed:
            raise TooManyRequests(
                "The API_KEY's request rate is exceeded.", rate.retry_after
            )
        return account_id
