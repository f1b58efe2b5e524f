"""Steps 1 to 4 of every endpoint: the key, the account, and the key's rate."""

from __future__ import annotations

from urllib.parse import parse_qsl

from postventa.api.auth import Authenticator
from postventa.api.params import NotUtf8, Parameters, Source, parse_integer
from postventa.api.ratelimit import RateLimiter
from postventa.domain.errors import BadRequest, Forbidden, TooManyRequests


def query_parameters(query: bytes, order_id: str | None = None) -> Parameters:
    """The known parameters of the query string (and the path's order id).

    A value whose escapes are not UTF-8 is kept as such, so that reading it
    refuses the request instead of storing replacement characters.
    """
    params = Parameters()
    # Latin-1 maps each byte, escaped or not, to one character and back.
    text = query.decode("latin-1")
    pairs = parse_qsl(text, keep_blank_values=True, encoding="latin-1")
    for latin_name, latin_value in pairs:
        raw_name, raw_value = (
            latin_name.encode("latin-1"),
            latin_value.encode("latin-1"),
        )
        try:
            name = raw_name.decode()
        except UnicodeDecodeError:
            continue  # not the name of any parameter
        try:
            value: str | NotUtf8 = raw_value.decode()
        except UnicodeDecodeError:
            value = NotUtf8(raw_value)
        params.add(Source.QUERY, name, value)
    if order_id is not None:
        params.add(Source.PATH, "orderId", order_id)
    return params


class Gate:
    """Admits a request for one account, or refuses it (401, 400, 403, 429).

    Every request with a valid key counts against the key's limit for the
    endpoint, whatever its answer; every answer carries the limit's headers.
    """

    def __init__(self, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self._authenticator = authenticator
        self._limiter = limiter

    async def admit(
        self,
        client: str,
        params: Parameters,
        endpoint: str,
        rate_headers: dict[str, str],
    ) -> int:
        """The account to act for; fills ``rate_headers`` once the key is known."""
        grant = await self._authenticator.authenticate(params.api_key, client)
        rate = await self._limiter.take((grant.key_id, endpoint))
        rate_headers.update(rate.headers())

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
