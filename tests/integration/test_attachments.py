"""Attachments: both ways of sending, every refusal, rules 4 and 5, no leftovers."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar.testing import TestClient

from postventa.api.app import create_app, recover_blobs
from postventa.config import Settings
from postventa.domain.attachments import MAX_ATTACHMENT_BYTES
from postventa.store.blobs import LocalBlobStore
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories
from tests.files import FILES, pdf_file, png_file, text_file
from tests.integration.conftest import Seller

T = TypeVar("T")
MEDIA = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "txt": "text/plain",
}


def stored_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.blob_dir.rglob("*") if p.is_file())


def seller_messages(database: Database, seller: Seller) -> list[Any]:
    with database.snapshot() as repos:
        return repos.messages.conversation(seller.account_id, "2000001").messages


@pytest.fixture
def answered_order(client: TestClient[Any], seller: Seller) -> int:
    """An order whose first plain message the buyer answered: attachments allowed."""
    order_id = seller.add_order()
    first = client.post(
        seller.url(order_id), json={"messageOptions": 4, "message": "Hola"}
    )
    assert first.status_code == 200
    seller.buyer_replies(order_id)
    return order_id


def send_file(
    client: TestClient[Any], seller: Seller, order_id: int, name: str, content: bytes
) -> Any:
    return client.post(
        seller.url(order_id),
        data={"messageOptions": "4", "message": "Adjunto"},
        files={"file": (name, content, "application/octet-stream")},
    )


def send_base64(
    client: TestClient[Any], seller: Seller, order_id: int, **fields: Any
) -> Any:
    body = {"messageOptions": 4, "message": "Adjunto", **fields}
    return client.post(seller.url(order_id), json=body)


@pytest.mark.parametrize("extension", sorted(FILES))
def test_a_real_file_of_each_allowed_type_is_accepted_as_a_multipart_part(
    client: TestClient[Any],
    seller: Seller,
    settings: Settings,
    database: Database,
    answered_order: int,
    extension: str,
) -> None:
    content = FILES[extension]

    response = send_file(client, seller, answered_order, f"doc.{extension}", content)

    assert response.status_code == 200, response.text
    attachment = seller_messages(database, seller)[-1].attachment
    assert attachment.name == f"doc.{extension}"
    assert attachment.media_type == MEDIA[extension]
    assert attachment.size == len(content)
    blobs = LocalBlobStore(settings.blob_dir, MAX_ATTACHMENT_BYTES)
    with blobs.open(attachment.sha256) as stored:
        assert stored.read() == content


@pytest.mark.parametrize("extension", sorted(FILES))
def test_a_real_file_of_each_allowed_type_is_accepted_as_base64(
    client: TestClient[Any],
    seller: Seller,
    database: Database,
    answered_order: int,
    extension: str,
) -> None:
    encoded = base64.b64encode(FILES[extension]).decode()

    response = send_base64(
        client,
        seller,
        answered_order,
        fileBase64=encoded,
        documentName="Factura",
        documentExtension=extension.upper(),
    )

    assert response.status_code == 200, response.text
    attachment = seller_messages(database, seller)[-1].attachment
    assert attachment.name == f"Factura.{extension}"
    assert attachment.extension == extension


def test_base64_in_a_form_body_with_white_space_is_accepted(
    client: TestClient[Any], seller: Seller, answered_order: int
) -> None:
    encoded = base64.encodebytes(pdf_file()).decode()  # wrapped at 76 columns

    response = client.post(
        seller.url(answered_order, documentName="f.pdf", documentExtension="pdf"),
        data={"messageOptions": "4", "message": "Adjunto", "fileBase64": encoded},
    )

    assert response.status_code == 200, response.text


def test_a_name_that_already_ends_with_its_extension_is_not_extended_twice(
    client: TestClient[Any], seller: Seller, database: Database, answered_order: int
) -> None:
    response = send_base64(
        client,
        seller,
        answered_order,
        fileBase64=base64.b64encode(pdf_file()).decode(),
        documentName="Factura.PDF",
        documentExtension="pdf",
    )

    assert response.status_code == 200
    assert seller_messages(database, seller)[-1].attachment.name == "Factura.PDF"


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("an exe", {"documentName": "a", "documentExtension": "exe"}, "not allowed"),
    ("png bytes named pdf", {"content": png_file(), "documentExtension": "pdf"}, "pdf"),
    (
        "binary named txt",
        {"content": b"\x00\x01bin", "documentExtension": "txt"},
        "text",
    ),
    ("an empty file", {"content": b""}, "empty"),
    ("a slash in the name", {"documentName": "a/b"}, "U+002F"),
    ("a backslash in the name", {"documentName": "a\\b"}, "U+005C"),
    ("a control in the name", {"documentName": "a\u0007b"}, "U+0007"),
    ("a 201 character name", {"documentName": "n" * 197}, "201"),
    ("a name of dots", {"documentName": ".."}, "nothing but dots"),
    ("a name that is its extension", {"documentName": ".pdf"}, "nothing but dots"),
    ("no name", {"documentName": None}, "documentName"),
    ("no extension", {"documentExtension": None}, "documentExtension"),
    ("a bad alphabet", {"fileBase64": "JVBE*Rg=="}, "base64"),
    ("bad padding", {"fileBase64": "JVBERg="}, "base64"),
    ("data after padding", {"fileBase64": "JVA=JVBE"}, "base64"),
]


@pytest.mark.parametrize(
    ("fields", "mentions"),
    [pytest.param(f, m, id=name) for name, f, m in REFUSALS],
)
def test_each_bad_attachment_is_a_400_saying_which_and_leaves_nothing(
    client: TestClient[Any],
    seller: Seller,
    settings: Settings,
    database: Database,
    answered_order: int,
    fields: dict[str, Any],
    mentions: str,
) -> None:
    fields = dict(fields)  # the parameter is shared by both backends' runs
    fields = dict(fields)  # the parameters are shared by both backends' runs
    content = fields.pop("content", pdf_file())
    body = {
        "fileBase64": base64.b64encode(content).decode(),
        "documentName": "doc",
        "documentExtension": "pdf",
        **fields,
    }
    before = len(seller_messages(database, seller))

    response = send_base64(client, seller, answered_order, **body)

    assert response.status_code == 400
    assert mentions in response.json()["Message"]
    assert len(seller_messages(database, seller)) == before
    assert stored_files(settings) == []


def test_a_file_over_25_mib_is_refused(
    client: TestClient[Any], seller: Seller, settings: Settings, answered_order: int
) -> None:
    content = b"a" * (MAX_ATTACHMENT_BYTES + 1)

    response = send_file(client, seller, answered_order, "big.txt", content)

    assert response.status_code == 400
    assert "25 MiB" in response.json()["Message"]
    assert stored_files(settings) == []


def test_a_file_of_exactly_25_mib_is_accepted(
    client: TestClient[Any], seller: Seller, answered_order: int
) -> None:
    response = send_file(
        client, seller, answered_order, "big.txt", b"a" * MAX_ATTACHMENT_BYTES
    )

    assert response.status_code == 200, response.text


def test_a_file_part_and_base64_together_are_refused(
    client: TestClient[Any], seller: Seller, settings: Settings, answered_order: int
) -> None:
    response = client.post(
        seller.url(answered_order, documentName="a", documentExtension="pdf"),
        data={
            "messageOptions": "4",
            "message": "x",
            "fileBase64": base64.b64encode(pdf_file()).decode(),
        },
        files={"file": ("a.pdf", pdf_file(), "application/pdf")},
    )

    assert response.status_code == 400
    assert "not both" in response.json()["Message"]
    assert stored_files(settings) == []


def test_a_file_part_without_extension_is_refused(
    client: TestClient[Any], seller: Seller, answered_order: int
) -> None:
    response = send_file(client, seller, answered_order, "factura", pdf_file())

    assert response.status_code == 400
    assert "extension" in response.json()["Message"]


class TestBodyLimit:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return replace(settings, max_body_bytes=64 * 1024)

    def test_a_multipart_body_over_the_limit_is_a_413_from_its_length(
        self,
        client: TestClient[Any],
        seller: Seller,
        settings: Settings,
        answered_order: int,
    ) -> None:
        response = send_file(client, seller, answered_order, "a.txt", b"a" * 70_000)

        assert response.status_code == 413
        assert stored_files(settings) == []

    def test_a_streamed_body_over_the_limit_is_a_413_while_counting(
        self,
        client: TestClient[Any],
        seller: Seller,
        settings: Settings,
        answered_order: int,
    ) -> None:
        boundary = "XyZ"

        def body() -> Iterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="a.txt"\r\n\r\n'
            ).encode()
            for _ in range(20):
                yield b"a" * 8192

        response = client.post(
            seller.url(answered_order, messageOptions=4, message="x"),
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )

        assert response.status_code == 413
        assert stored_files(settings) == []


class TestRuleFour:
    def test_an_attachment_in_the_first_message_is_refused(
        self, client: TestClient[Any], seller: Seller, settings: Settings
    ) -> None:
        order_id = seller.add_order()

        response = send_file(client, seller, order_id, "a.pdf", pdf_file())

        assert response.status_code == 412
        assert "attachment" in response.json()["Message"]
        assert stored_files(settings) == []

    def test_an_attachment_before_the_buyer_replied_is_refused(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json={"messageOptions": 4, "message": "Hola"})

        response = send_file(client, seller, order_id, "a.pdf", pdf_file())

        assert response.status_code == 412

    def test_an_attachment_after_a_plain_message_and_a_reply_is_accepted(
        self, client: TestClient[Any], seller: Seller, answered_order: int
    ) -> None:
        response = send_file(client, seller, answered_order, "a.pdf", pdf_file())

        assert response.status_code == 200


class TestRuleFive:
    def test_after_an_attachment_another_option_is_refused(
        self, client: TestClient[Any], seller: Seller, answered_order: int
    ) -> None:
        assert (
            send_file(client, seller, answered_order, "a.pdf", pdf_file()).status_code
            == 200
        )
        seller.buyer_replies(answered_order)

        response = client.post(seller.url(answered_order), json={"messageOptions": 2})

        assert response.status_code == 412
        assert "OTHER" in response.json()["Message"]

    def test_after_an_attachment_the_same_option_is_accepted(
        self, client: TestClient[Any], seller: Seller, answered_order: int
    ) -> None:
        assert (
            send_file(client, seller, answered_order, "a.pdf", pdf_file()).status_code
            == 200
        )
        seller.buyer_replies(answered_order)

        response = client.post(
            seller.url(answered_order), json={"messageOptions": 4, "message": "Otra"}
        )

        assert response.status_code == 200


class FailingWrites(Database):
    """A real store whose commit fails after the attachment is staged."""

    async def write(self, job: Callable[[Repositories], T]) -> T:
        raise OSError("disk I/O error")


def test_a_crash_after_the_blob_is_written_leaves_no_blob_and_no_row(
    settings: Settings, database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()
    seller.buyer_replies(order_id)
    broken = FailingWrites(settings.database)

    with TestClient(app=create_app(settings, broken)) as client:  # type: ignore[arg-type]
        response = send_file(client, seller, order_id, "a.txt", text_file())
    broken.close()

    assert response.status_code == 500
    assert stored_files(settings) == []
    assert [m.direction.value for m in seller_messages(database, seller)] == ["buyer"]


def test_recovery_keeps_staged_blobs_a_message_names_and_deletes_the_rest(
    settings: Settings,
    database: Database,
    client: TestClient[Any],
    seller: Seller,
    answered_order: int,
) -> None:
    assert (
        send_file(client, seller, answered_order, "a.txt", text_file()).status_code
        == 200
    )
    blobs = LocalBlobStore(settings.blob_dir, MAX_ATTACHMENT_BYTES)
    named = seller_messages(database, seller)[-1].attachment.sha256
    final = blobs.path_of(named)
    crashed = settings.blob_dir / "staging" / f"{named}.0.ready"
    final.rename(crashed)  # as if the process died between commit and rename
    orphan = blobs.stage()
    orphan.write(b"never committed")
    orphan.finish()

    recover_blobs(database, blobs, grace=0.0)

    assert final.read_bytes() == text_file()
    assert not orphan.path.exists()
    assert list((settings.blob_dir / "staging").iterdir()) == []
