"""The options endpoint and the POST decide alike, for generated orders and
conversations."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import text

from postventa.domain.logistics import LogisticType
from postventa.domain.messages import Attachment, Direction, Message, MessageStatus
from postventa.domain.options import MessageOption
from postventa.domain.sites import COUNTRIES
from tests.factories import pair
from tests.files import pdf_file
from tests.integration.conftest import Seller

_packs = itertools.count(1)

events = st.lists(
    st.one_of(
        st.just(("buyer",)),
        st.tuples(
            st.just("seller"),
            st.sampled_from(list(MessageOption)),
            st.booleans(),
            st.sampled_from([MessageStatus.SENT, MessageStatus.FAILED]),
        ),
    ),
    max_size=5,
)
orders = st.fixed_dictionaries(
    {
        "country": st.sampled_from(COUNTRIES),
        "logistic": st.sampled_from(list(LogisticType)),
        "cancelled": st.sampled_from([False, False, False, True]),
        "delivered": st.booleans(),
        "mercadolibre": st.sampled_from([True, True, True, False]),
        "blocked": st.sampled_from([False, False, False, True]),
    }
)


def build_pack(seller: Seller, spec: dict[str, Any], history: list[Any]) -> int:
    """A fresh order in its own pack, with the generated history stored."""
    number = next(_packs)
    order_id = seller.add_order(
        Id=10_000 + number,
        PackId=f"gen-{number}",
        MarketPlace={
            "Key": 1,
            "Value": "MercadoLibre" if spec["mercadolibre"] else "Shop",
        },
        IsCancelled=spec["cancelled"],
        Shipping={
            "LogisticType": pair(int(spec["logistic"]), spec["logistic"].label),
            "Status": pair(1, "delivered" if spec["delivered"] else "shipped"),
            "ReceiverAddress": {"CountryId": spec["country"]},
        },
    )
    now = datetime.now(UTC)
    with seller.database.transaction() as repos:
        for event in history:
            seller_side = event[0] == "seller"
            repos.messages.add(
                Message(
                    id=0,
                    account_id=seller.account_id,
                    order_id=order_id,
                    pack_id=f"gen-{number}",
                    direction=Direction.SELLER if seller_side else Direction.BUYER,
                    option=event[1] if seller_side else None,
                    text=f"earlier {event}",
                    attachment=Attachment(
                        "a.pdf", "pdf", 1, "0" * 64, "application/pdf"
                    )
                    if seller_side and event[2]
                    else None,
                    status=event[3] if seller_side else MessageStatus.RECEIVED,
                    reason=None,
                    created_at=now,
                )
            )
        if spec["blocked"]:
            repos.messages.lock_conversation(seller.account_id, f"gen-{number}", now)
            repos.connection.execute(
                text(
                    "UPDATE conversations SET blocked_reason = 'blocked_by_buyer' "
                    "WHERE pack_id = :pack"
                ),
                {"pack": f"gen-{number}"},
            )
    return order_id


def post(
    client: TestClient[Any],
    seller: Seller,
    order_id: int,
    option: MessageOption,
    attach: bool,
) -> int:
    fields = {"messageOptions": str(int(option)), "message": "Un mensaje nuevo"}
    if attach:
        return client.post(
            seller.url(order_id),
            data=fields,
            files={"file": ("f.pdf", pdf_file(), "application/pdf")},
        ).status_code
    return client.post(seller.url(order_id), data=fields).status_code


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=orders, history=events)
def test_options_agree_with_the_post_for_every_option(
    client: TestClient[Any], seller: Seller, spec: dict[str, Any], history: list[Any]
) -> None:
    probe = build_pack(seller, spec, history)
    listed = client.get(
        f"/v2/orders/{probe}/messages/options",
        params={"API_KEY": seller.key, "accountId": seller.account_id},
    ).json()["Options"]

    for entry in listed:
        option = MessageOption(entry["Key"])
        for attach, allowed in (
            (False, entry["Allowed"]),
            (True, entry["AttachmentAllowed"]),
        ):
            fresh = build_pack(seller, spec, history)
            status = post(client, seller, fresh, option, attach)
            assert status in (200, 412), status
            assert (status == 200) == allowed, (option, attach, entry["Reason"])
