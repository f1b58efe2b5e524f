"""Each conversation rule on its own, then the order ``first_refusal`` applies them."""

from __future__ import annotations

import pytest

from postventa.domain.logistics import LogisticType
from postventa.domain.messages import MessageDraft, MessageStatus
from postventa.domain.options import MessageOption
from postventa.domain.orders import parse_order
from postventa.domain.rules import (
    Intent,
    attachment_after_reply,
    buyer_replied_since_last_message,
    conversation_not_blocked,
    first_refusal,
    not_cancelled,
    only_mercadolibre_orders,
    pending_duplicate,
    same_option_after_attachment,
)
from tests.factories import (
    make_attachment,
    make_conversation,
    make_message,
    make_order,
    make_reply,
    pair,
    provider_order_document,
)

OTHER = MessageOption.OTHER
BILLING = MessageOption.REQUEST_BILLING_INFO
WITH_ATTACHMENT = Intent(OTHER, has_attachment=True)
WITHOUT_ATTACHMENT = Intent(OTHER)
STILL_COUNTING = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT)


class TestOnlyMercadoLibreOrders:
    def test_a_mercadolibre_order_can_be_messaged(self):
        assert only_mercadolibre_orders(make_order()) is None

    def test_an_order_of_another_marketplace_is_refused(self):
        refusal = only_mercadolibre_orders(make_order(is_mercadolibre=False))

        assert refusal is not None
        assert refusal.rule == "marketplace"
        assert "Mercado Libre" in refusal.message

    def test_an_imported_order_of_another_marketplace_is_refused(self):
        document = provider_order_document(
            MarketPlace={"Key": 2, "Value": "Amazon", "Channel": "Amazon"}
        )

        order = parse_order(document, account_id=1, account_country="AR")

        assert only_mercadolibre_orders(order) is not None


class TestNotCancelled:
    def test_an_open_order_can_be_messaged(self):
        assert not_cancelled(make_order()) is None

    def test_a_cancelled_order_is_refused_naming_the_order(self):
        refusal = not_cancelled(make_order(id=4242, is_cancelled=True))

        assert refusal is not None
        assert refusal.rule == "cancelled"
        assert "4242" in refusal.message

    def test_an_order_flagged_is_cancelled_by_the_provider_is_refused(self):
        document = provider_order_document(IsCancelled=True)

        order = parse_order(document, account_id=1, account_country="AR")

        assert not_cancelled(order) is not None

    def test_an_order_of_status_type_99_is_refused_even_if_not_flagged(self):
        document = provider_order_document(
            IsCancelled=False, StatusType=pair(99, "Cancelled")
        )

        order = parse_order(document, account_id=1, account_country="AR")

        assert not_cancelled(order) is not None


class TestConversationNotBlocked:
    def test_an_open_conversation_can_be_messaged(self):
        assert conversation_not_blocked(make_conversation()) is None

    def test_a_blocked_conversation_is_refused_giving_the_reason(self):
        conversation = make_conversation(blocked_reason="blocked_by_mediation")

        refusal = conversation_not_blocked(conversation)

        assert refusal is not None
        assert refusal.rule == "conversation_blocked"
        assert "blocked_by_mediation" in refusal.message


class TestBuyerRepliedSinceLastMessage:
    def test_an_empty_conversation_can_be_messaged(self):
        assert buyer_replied_since_last_message(make_conversation()) is None

    @pytest.mark.parametrize("status", STILL_COUNTING, ids=lambda s: f"{s} message")
    def test_a_message_awaiting_a_reply_blocks_the_next_one(self, status):
        conversation = make_conversation(make_message(7, status=status))

        refusal = buyer_replied_since_last_message(conversation)

        assert refusal is not None
        assert refusal.rule == "awaiting_reply"
        assert "7" in refusal.message

    def test_a_moderated_message_counts_as_sent(self):
        conversation = make_conversation(
            make_message(1, status=MessageStatus.MODERATED)
        )

        assert buyer_replied_since_last_message(conversation) is not None

    def test_a_failed_message_does_not_count(self):
        conversation = make_conversation(make_message(1, status=MessageStatus.FAILED))

        assert buyer_replied_since_last_message(conversation) is None

    def test_a_failed_message_after_a_reply_does_not_count(self):
        conversation = make_conversation(
            make_message(1),
            make_reply(2),
            make_message(3, status=MessageStatus.FAILED),
        )

        assert buyer_replied_since_last_message(conversation) is None

    def test_a_reply_of_the_buyer_opens_the_conversation_again(self):
        conversation = make_conversation(make_message(1), make_reply(2))

        assert buyer_replied_since_last_message(conversation) is None

    def test_a_conversation_the_buyer_started_can_be_answered(self):
        assert (
            buyer_replied_since_last_message(make_conversation(make_reply(1))) is None
        )

    def test_a_message_after_the_reply_blocks_again(self):
        conversation = make_conversation(
            make_message(1), make_reply(2), make_message(3)
        )

        refusal = buyer_replied_since_last_message(conversation)

        assert refusal is not None
        assert "3" in refusal.message

    def test_the_refusal_names_the_last_message_awaiting_a_reply(self):
        conversation = make_conversation(
            make_message(11),
            make_message(12, status=MessageStatus.FAILED),
            make_message(13),
            make_message(14, status=MessageStatus.FAILED),
        )

        refusal = buyer_replied_since_last_message(conversation)

        assert refusal is not None
        assert "Message 13 " in refusal.message


class TestAttachmentAfterReply:
    def test_a_message_without_attachment_is_never_refused_by_this_rule(self):
        assert attachment_after_reply(make_conversation(), WITHOUT_ATTACHMENT) is None

    def test_a_first_message_cannot_carry_an_attachment(self):
        refusal = attachment_after_reply(make_conversation(), WITH_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "attachment_before_reply"

    def test_an_attachment_is_allowed_once_a_plain_message_was_answered(self):
        conversation = make_conversation(make_message(1), make_reply(2))

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is None

    def test_an_attachment_is_refused_before_the_buyer_replies(self):
        conversation = make_conversation(make_message(1))

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is not None

    def test_a_failed_plain_message_does_not_open_attachments(self):
        conversation = make_conversation(
            make_message(1, status=MessageStatus.FAILED), make_reply(2)
        )

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is not None

    def test_a_moderated_plain_message_that_was_answered_opens_attachments(self):
        conversation = make_conversation(
            make_message(1, status=MessageStatus.MODERATED), make_reply(2)
        )

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is None

    def test_a_reply_before_the_plain_message_does_not_count(self):
        conversation = make_conversation(make_reply(1), make_message(2))

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is not None

    def test_a_buyer_who_wrote_first_does_not_open_attachments(self):
        conversation = make_conversation(make_reply(1))

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is not None

    def test_a_first_message_with_an_attachment_does_not_open_attachments(self):
        conversation = make_conversation(
            make_message(1, attachment=make_attachment()), make_reply(2)
        )

        assert attachment_after_reply(conversation, WITH_ATTACHMENT) is not None


class TestSameOptionAfterAttachment:
    def test_without_attachments_any_option_may_follow(self):
        conversation = make_conversation(make_message(1, option=BILLING), make_reply(2))

        assert same_option_after_attachment(conversation, WITHOUT_ATTACHMENT) is None

    def test_the_option_of_the_attachment_message_may_follow(self):
        conversation = make_conversation(
            make_message(1),
            make_reply(2),
            make_message(3, option=BILLING, attachment=make_attachment()),
            make_reply(4),
        )

        assert same_option_after_attachment(conversation, Intent(BILLING)) is None

    def test_another_option_is_refused_naming_the_required_one(self):
        conversation = make_conversation(
            make_message(1),
            make_reply(2),
            make_message(3, option=BILLING, attachment=make_attachment()),
            make_reply(4),
        )

        refusal = same_option_after_attachment(conversation, WITHOUT_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "attachment_option"
        assert "REQUEST_BILLING_INFO" in refusal.message

    def test_another_option_with_an_attachment_is_refused_too(self):
        conversation = make_conversation(
            make_message(1, option=BILLING, attachment=make_attachment()),
        )

        assert same_option_after_attachment(conversation, WITH_ATTACHMENT) is not None

    def test_a_failed_attachment_message_does_not_bind_the_option(self):
        conversation = make_conversation(
            make_message(1),
            make_reply(2),
            make_message(
                3,
                option=BILLING,
                attachment=make_attachment(),
                status=MessageStatus.FAILED,
            ),
        )

        assert same_option_after_attachment(conversation, WITHOUT_ATTACHMENT) is None

    def test_the_latest_attachment_message_decides_the_option(self):
        conversation = make_conversation(
            make_message(1, option=BILLING, attachment=make_attachment()),
            make_reply(2),
            make_message(3, option=OTHER, attachment=make_attachment()),
            make_reply(4),
        )

        assert same_option_after_attachment(conversation, Intent(OTHER)) is None
        assert same_option_after_attachment(conversation, Intent(BILLING)) is not None


class TestPendingDuplicate:
    def test_a_repeat_of_the_message_awaiting_a_reply_is_found(self):
        waiting = make_message(1, text="Hola")
        conversation = make_conversation(waiting)

        assert pending_duplicate(conversation, MessageDraft(OTHER, "Hola")) == waiting

    def test_a_repeat_of_a_moderated_message_is_found(self):
        waiting = make_message(1, text="Hola", status=MessageStatus.MODERATED)

        found = pending_duplicate(
            make_conversation(waiting), MessageDraft(OTHER, "Hola")
        )

        assert found == waiting

    def test_a_repeat_with_the_same_attachment_is_found(self):
        waiting = make_message(1, text="Hola", attachment=make_attachment())
        draft = MessageDraft(OTHER, "Hola", make_attachment(name="otro.pdf"))

        assert pending_duplicate(make_conversation(waiting), draft) == waiting

    def test_a_repeat_of_an_answered_message_is_not_a_duplicate(self):
        conversation = make_conversation(make_message(1, text="Hola"), make_reply(2))

        assert pending_duplicate(conversation, MessageDraft(OTHER, "Hola")) is None

    def test_a_repeat_of_a_failed_message_is_not_a_duplicate(self):
        conversation = make_conversation(
            make_message(1, text="Hola", status=MessageStatus.FAILED)
        )

        assert pending_duplicate(conversation, MessageDraft(OTHER, "Hola")) is None

    @pytest.mark.parametrize(
        "draft",
        [
            pytest.param(MessageDraft(OTHER, "Chau"), id="another text"),
            pytest.param(MessageDraft(BILLING, "Hola"), id="another option"),
            pytest.param(
                MessageDraft(OTHER, "Hola", make_attachment()), id="an added attachment"
            ),
            pytest.param(
                MessageDraft(OTHER, "Hola", make_attachment(sha256="cd" * 32)),
                id="another attachment",
            ),
        ],
    )
    def test_a_message_that_differs_is_not_a_duplicate(self, draft):
        conversation = make_conversation(make_message(1, text="Hola"))

        assert pending_duplicate(conversation, draft) is None


class TestFirstRefusalOrder:
    def test_a_message_that_breaks_no_rule_is_allowed(self):
        conversation = make_conversation(make_message(1), make_reply(2))

        assert first_refusal(make_order(), conversation, WITH_ATTACHMENT) is None

    def test_the_marketplace_is_checked_before_cancellation(self):
        order = make_order(is_mercadolibre=False, is_cancelled=True)

        refusal = first_refusal(order, make_conversation(), WITHOUT_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "marketplace"

    def test_cancellation_is_checked_before_the_option_table(self):
        order = make_order(is_cancelled=True, country="PE")

        refusal = first_refusal(order, make_conversation(), Intent(BILLING))

        assert refusal is not None
        assert refusal.rule == "cancelled"

    def test_the_country_is_checked_before_the_logistic_type(self):
        order = make_order(country="PE", logistic_type=LogisticType.FULFILLMENT)

        refusal = first_refusal(
            order, make_conversation(), Intent(MessageOption.REQUEST_VARIANTS)
        )

        assert refusal is not None
        assert refusal.rule == "option_country"

    def test_the_option_table_is_checked_before_a_blocked_conversation(self):
        order = make_order(logistic_type=LogisticType.CROSS_DOCKING)
        conversation = make_conversation(blocked_reason="blocked_by_buyer")

        refusal = first_refusal(
            order, conversation, Intent(MessageOption.DELIVERY_PROMISE)
        )

        assert refusal is not None
        assert refusal.rule == "option_logistic_type"

    def test_delivery_is_checked_before_a_blocked_conversation(self):
        order = make_order(country="MX", shipment_delivered=True)
        conversation = make_conversation(blocked_reason="blocked_by_buyer")

        refusal = first_refusal(order, conversation, WITHOUT_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "option_after_delivery"

    def test_a_blocked_conversation_is_checked_before_a_pending_reply(self):
        conversation = make_conversation(
            make_message(1), blocked_reason="blocked_by_buyer"
        )

        refusal = first_refusal(make_order(), conversation, WITHOUT_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "conversation_blocked"

    def test_a_pending_reply_is_checked_before_the_attachment_rule(self):
        conversation = make_conversation(make_message(1))

        refusal = first_refusal(make_order(), conversation, WITH_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "awaiting_reply"

    def test_the_attachment_rule_is_checked_before_the_option_binding(self):
        conversation = make_conversation(
            make_message(1, option=BILLING, attachment=make_attachment()),
            make_reply(2),
        )

        refusal = first_refusal(make_order(), conversation, WITH_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "attachment_before_reply"

    def test_the_option_binding_is_checked_last(self):
        conversation = make_conversation(
            make_message(1),
            make_reply(2),
            make_message(3, option=BILLING, attachment=make_attachment()),
            make_reply(4),
        )

        refusal = first_refusal(make_order(), conversation, WITH_ATTACHMENT)

        assert refusal is not None
        assert refusal.rule == "attachment_option"
