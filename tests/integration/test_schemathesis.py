"""Requests drawn from the served OpenAPI document, against a real store.

For every operation of ``/openapi.json``, Schemathesis generates requests that
fit the document and, where the operation takes input, requests that break it.
No answer may be a server error, and each must be what the document says of
it: a documented status, its content type, its body's schema and its headers.
Most requests carry the seller's key, account and existing ids, and most sends
a valid option and text, so they get past the gate and the lookups and reach
the option table and the conversation rules.
"""

from __future__ import annotations

import base64
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from postventa.api.app import create_app
from postventa.api.openapi import openapi_document
from postventa.config import Settings
from postventa.delivery.credentials import StoredCredentials
from postventa.delivery.inbound import Inbound
from postventa.delivery.runtime import DeliveryRuntime
from postventa.domain.attachments import MAX_ATTACHMENT_BYTES
from postventa.marketplaces.mercadolibre import MercadoLibre
from postventa.store.blobs import LocalBlobStore
from postventa.store.database import Database
from postventa.store.tables import messages
from tests.factories import pair
from tests.files import pdf_file
from tests.integration.conftest import Seller, make_seller
from tests.integration.live import closed_port_url, serving

# The last applies to requests that break the document: they must get a 4xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
# Requests generated per operation: (fitting the document, breaking it). An
# operation without input has nothing to break.
EXAMPLES = {
    "sendMessage": (80, 30),
    "listMessages": (12, 8),
    "listOrders": (20, 12),
    "getOrder": (12, 8),
    "listOptions": (12, 8),
    "getMessage": (12, 8),
    "getAttachment": (12, 8),
    "takeNotification": (15, 10),
    "health": (2, 0),
    "ready": (2, 0),
}
RUNS = [
    pytest.param(operation_id, mode, examples, id=f"{operation_id}-{mode.value}")
    for operation_id, counts in EXAMPLES.items()
    for mode, examples in zip(GenerationMode, counts, strict=True)
    if examples
]
# Statuses that valid requests must reach, which shows they were bent to real
# data: every read finds something, and sends get past the gate and the
# lookups to the idempotency check, the option table and the rules.
REACHED = {"sendMessage": {200, 400, 401, 404, 409, 412}}
INTEGER = re.compile(r"[+-]?[0-9]+")
MESSAGE_FIELDS = {
    "message",
    "messageoptions",
    "file",
    "filebase64",
    "documentname",
    "documentextension",
}
SEND = "POST /v2/orders/{orderId}/messages"
TIMEOUT = 30.0
MISSING_ID = 987_654
TEXTS = ["Hola, ¿te llegó el pedido?", "Enviamos mañana.\nSaludos"]
# Printable ISO-8859-1, and the white space a text may hold.
ALPHABET = [chr(c) for c in (9, 10, *range(32, 127), *range(160, 256))]
OPTIONS: list[int | str] = [1, 2, 3, 4, 5, "4", "other", "Request_Variants"]
PDF = {
    "fileBase64": base64.b64encode(pdf_file()).decode(),
    "documentName": "factura",
    "documentExtension": "pdf",
}


@dataclass
class World:
    """The served app, and a seller with orders and a conversation."""

    url: str
    seller: Seller
    orders: list[int]
    messages: list[tuple[int, int]]
    session: requests.Session

    def stored_message_ids(self) -> set[int]:
        with self.seller.database.snapshot() as repos:
            return set(repos.connection.execute(select(messages.c.id)).scalars())


@dataclass
class Tally:
    """What one run saw: answers by status, and the messages it added."""

    statuses: Counter[int] = field(default_factory=Counter)
    accepted: set[int] = field(default_factory=set)
    replies: set[int] = field(default_factory=set)


def add_orders(seller: Seller) -> list[int]:
    """Orders that each option and rule has something to say about."""
    mexico = {"CountryId": "MX"}
    chile = {"CountryId": "CL"}
    brazil = {"CountryId": "BR"}
    variants: list[dict[str, Any]] = [
        {},
        {},
        {"PackId": "p-201"},
        {"Buyer": {"Address": mexico}, "Shipping": {"ReceiverAddress": mexico}},
        {
            "Buyer": {"Address": brazil},
            "Shipping": {"LogisticType": pair(6, "flex"), "ReceiverAddress": brazil},
        },
        {
            "Buyer": {"Address": chile},
            "Shipping": {"Status": pair(3, "delivered"), "ReceiverAddress": chile},
        },
        {"IsCancelled": True, "StatusType": pair(99, "Cancelled")},
        {"MarketPlace": {"Key": 2, "Value": "Amazon", "Channel": "Amazon"}},
        {},
        {},
    ]
    ids = []
    for number, overrides in enumerate(variants, start=201):
        document = {"Id": number, "PackId": f"p-{number}", **overrides}
        ids.append(seller.add_order(**document))
    return ids


def converse(world: World, answered: list[int]) -> list[tuple[int, int]]:
    """A message and a reply on each answered order, then a PDF on the first:
    each message with its order (the PDF's first), a missing one, and one
    with an order of another pack."""
    ids = []
    for order_id in answered:
        ids.append(send(world, order_id, {"messageOptions": 4, "message": "Hola"}))
        ids.append(world.seller.buyer_replies(order_id))
    invoice = {**PDF, "messageOptions": 4, "message": "La factura"}
    ids.append(send(world, answered[0], invoice))
    invoice_message = (answered[0], ids[-1])
    ours = [(answered[0], i) for i in ids[:2]] + [(answered[1], i) for i in ids[2:4]]
    return [
        invoice_message,
        *ours,
        (answered[0], MISSING_ID),
        (world.orders[0], ids[-1]),
    ]


def send(world: World, order_id: int, body: dict[str, Any]) -> int:
    response = world.session.post(
        world.url + world.seller.url(order_id), json=body, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return int(response.json())


def inbound_only(database: Database, blobs: LocalBlobStore) -> DeliveryRuntime:
    """Notifications are taken, and no worker or poller runs. No account has
    marketplace credentials, so no notification leads to a call, and the
    marketplace's address is a port where nothing listens."""
    marketplace = MercadoLibre(
        closed_port_url(), StoredCredentials(database), blobs.open
    )
    return DeliveryRuntime(Inbound(database, marketplace), polls=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for every run: building it costs more than a run of reads."""
    directory = tmp_path_factory.mktemp("schemathesis")
    settings = Settings(
        data_dir=directory,
        database_url=f"sqlite:///{directory / 'postventa.db'}",
        rate_limit_per_minute=100_000,
        bad_key_limit_per_minute=1_000,
        auth_cache_seconds=0,
    )
    database = Database(settings.database)
    database.migrate()
    seller = make_seller(database)
    orders = add_orders(seller)
    blobs = LocalBlobStore(settings.blob_dir, MAX_ATTACHMENT_BYTES)
    delivery = inbound_only(database, blobs)
    app = create_app(settings, database, blobs, delivery)
    with serving(app) as url, requests.Session() as session:
        found = World(url, seller, orders, [], session)
        found.messages = converse(found, orders[-2:])
        yield found
    database.close()


@dataclass(frozen=True)
class Plan:
    """How a generated request is bent towards the seller's real data."""

    authentic: bool
    order_id: int
    message: tuple[int, int]
    payload: dict[str, Any] | None
    idempotency_key: str | None
    reply: bool


def pick(case: schemathesis.Case[Any], world: World) -> Plan:
    """A plan picked evenly, seeded by the generated request: Hypothesis's own
    picks from a list lean to its first items. The same request gets the same
    plan, so a failing example replays as it ran."""
    rng = random.Random(repr(case))
    payload: dict[str, Any] | None = None
    if rng.random() < 0.7:
        text = "".join(rng.choices(ALPHABET, k=rng.randint(1, 350))).strip() or "."
        payload = {
            "messageOptions": rng.choice(OPTIONS),
            "message": rng.choice([*TEXTS, text]),
        }
        if rng.random() < 0.3:
            payload.update(PDF)
    reads_attachment = case.operation.label.endswith("/attachment")
    return Plan(
        authentic=rng.random() < 0.8,
        order_id=MISSING_ID if rng.random() < 0.2 else rng.choice(world.orders),
        message=world.messages[0]
        if reads_attachment and rng.random() < 0.5
        else rng.choice(world.messages),
        payload=payload,
        idempotency_key=rng.choice(["a-1", "a-2", *[None] * 8]),
        reply=rng.random() < 0.7,
    )


def is_integer(value: Any) -> bool:
    return isinstance(value, str) and INTEGER.fullmatch(unquote(value)) is not None


def bend(case: schemathesis.Case[Any], plan: Plan, world: World) -> None:
    """Put the real key, account and ids where the generated ones fit the
    document; an invalid value stays, so requests that break it still do."""
    if not plan.authentic:
        return
    query, path = dict(case.query or {}), dict(case.path_parameters or {})
    if isinstance(query.get("API_KEY"), str):
        query["API_KEY"] = world.seller.key
    if is_integer(query.get("accountId")):
        query["accountId"] = str(world.seller.account_id)
    order_id = plan.message[0] if "messageId" in path else plan.order_id
    if is_integer(path.get("orderId")):
        path["orderId"] = str(order_id)
    if is_integer(path.get("messageId")):
        path["messageId"] = str(plan.message[1])
    if is_integer(path.get("orderId")) and is_integer(query.get("orderId")):
        query["orderId"] = path["orderId"]
    case.query, case.path_parameters = query, path
    if case.operation.label == SEND and not is_negative(case):
        fill_message(case, plan)


def fill_message(case: schemathesis.Case[Any], plan: Plan) -> None:
    """Put a valid option and text (and at times a PDF) in place of the
    generated message fields, in the body when there is one."""
    if plan.idempotency_key is not None:
        headers = CaseInsensitiveDict(case.headers)
        headers["Idempotency-Key"] = plan.idempotency_key
        case.headers = headers
    if plan.payload is None:
        return
    fields = dict(plan.payload)
    query = {k: v for k, v in case.query.items() if k.lower() not in MESSAGE_FIELDS}
    if not isinstance(case.body, dict):
        fields = {k: str(v) for k, v in fields.items() if k not in PDF}
        case.query = {**query, **fields}
        return
    if case.media_type != "application/json":
        fields = {k: str(v) for k, v in fields.items()}
    body = {k: v for k, v in case.body.items() if k.lower() not in MESSAGE_FIELDS}
    case.query, case.body = query, {**body, **fields}


def is_negative(case: schemathesis.Case[Any]) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_negative


def count(
    seen: Tally,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
    plan: Plan,
    world: World,
) -> None:
    """Count the answer and check what the document cannot say: an error's
    Status repeats the HTTP status, a new message's Location names it. After
    an accepted message the buyer may reply, so later sends can pass again."""
    seen.statuses[response.status_code] += 1
    media_type = response.headers.get("content-type", [""])[0]
    if not media_type.startswith("application/json"):
        return
    body = response.json()
    if response.status_code >= 400 and isinstance(body, dict):
        assert body["Status"] == response.status_code
    if case.operation.label == SEND and response.status_code == 200:
        message_id, order_id = int(body), int(case.path_parameters["orderId"])
        location = f"/v2/orders/{order_id}/messages/{message_id}"
        assert response.headers["location"] == [location]
        seen.accepted.add(message_id)
        if plan.reply:
            seen.replies.add(world.seller.buyer_replies(order_id))


@pytest.mark.parametrize(("operation_id", "mode", "examples"), RUNS)
def test_every_generated_request_gets_a_documented_answer(
    world: World, operation_id: str, mode: GenerationMode, examples: int
) -> None:
    schema = schemathesis.openapi.from_url(
        world.url + "/openapi.json", config=schemathesis.Config()
    )
    operation = schema.find_operation_by_id(operation_id)
    before = world.stored_message_ids()
    seen = Tally()

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answer_is_documented(case: schemathesis.Case[Any]) -> None:
        plan = pick(case, world)
        bend(case, plan, world)
        response = case.call_and_validate(
            session=world.session, checks=CHECKS, timeout=TIMEOUT
        )
        count(seen, response, case, plan, world)

    answer_is_documented()

    print(operation_id, mode.value, dict(sorted(seen.statuses.items())))
    stored = world.stored_message_ids()
    assert seen.accepted <= stored
    assert stored - before == (seen.accepted | seen.replies) - before
    if mode.is_positive:
        assert REACHED.get(operation_id, {200}) <= set(seen.statuses)


def test_every_operation_of_the_document_is_exercised() -> None:
    document = openapi_document()

    operation_ids = {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    }

    assert operation_ids == set(EXAMPLES)
