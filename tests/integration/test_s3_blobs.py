"""Attachments in an S3 bucket: moto's server in process, the real HTTP stack."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from moto.server import ThreadedMotoServer

from postventa.api.app import create_app, recover_blobs
from postventa.bootstrap import blob_store
from postventa.config import Settings
from postventa.domain.attachments import MAX_ATTACHMENT_BYTES
from postventa.marketplaces.mercadolibre import MercadoLibre
from postventa.marketplaces.sandbox import SandboxConfig, create_sandbox_app
from postventa.store.blobs import Staging
from postventa.store.database import Database
from postventa.store.s3blobs import S3BlobStore, s3_client
from tests.files import pdf_file, text_file
from tests.integration.conftest import Seller
from tests.integration.test_attachments import seller_messages, send_file
from tests.integration.test_mercadolibre import (
    INVOICE,
    PACK,
    PDF,
    SELLER,
    MemoryCredentials,
    outgoing,
)

MIB = 1024 * 1024
PREFIX = "attachments"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """An S3 API on a free loopback port, for the module's tests."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, and none of the machine's own AWS configuration."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-creds"))


@dataclass
class Bucket:
    """A bucket of this test's own, with the S3 calls made by the store."""

    client: Any
    name: str
    calls: list[tuple[str, type]]

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return [item["Key"] for item in listed.get("Contents", [])]

    def content(self, sha256: str) -> bytes:
        key = f"{PREFIX}/objects/{sha256}"
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def operations(self, *names: str) -> list[str]:
        return [name for name, _ in self.calls if name in names]

    def create(self) -> None:
        self.client.create_bucket(Bucket=self.name)


@pytest.fixture
def bucket(endpoint: str) -> Bucket:
    client = s3_client(endpoint)
    found = Bucket(client, f"pv-{uuid.uuid4().hex[:12]}", [])
    found.create()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        found.calls.append((model.name, type(params.get("Body"))))

    client.meta.events.register("before-parameter-build.s3", record)
    return found


@pytest.fixture
def store(bucket: Bucket, settings: Settings) -> S3BlobStore:
    staging = Staging(settings.blob_dir / "staging", MAX_ATTACHMENT_BYTES)
    return S3BlobStore(bucket.client, bucket.name, PREFIX, staging)


@pytest.fixture
def web(
    settings: Settings, database: Database, store: S3BlobStore
) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings, database, store)) as test_client:
        yield test_client


@pytest.fixture
def answered_order(web: TestClient[Any], seller: Seller) -> int:
    order_id = seller.add_order()
    first = web.post(
        seller.url(order_id), json={"messageOptions": 4, "message": "Hola"}
    )
    assert first.status_code == 200
    seller.buyer_replies(order_id)
    return order_id


def staged_files(settings: Settings) -> list[str]:
    return sorted(path.name for path in (settings.blob_dir / "staging").iterdir())


def attachment_url(seller: Seller, order_id: int, message_id: str) -> str:
    query = f"API_KEY={seller.key}&accountId={seller.account_id}"
    return f"/v2/orders/{order_id}/messages/{message_id}/attachment?{query}"


def test_a_multi_megabyte_upload_is_stored_under_its_digest_and_read_back_whole(
    web: TestClient[Any],
    seller: Seller,
    settings: Settings,
    database: Database,
    bucket: Bucket,
    answered_order: int,
) -> None:
    content = os.urandom(6 * MIB).hex().encode()  # 12 MiB of text

    sent = send_file(web, seller, answered_order, "big.txt", content)
    read = web.get(attachment_url(seller, answered_order, sent.json()))

    assert sent.status_code == 200, sent.text
    sha256 = seller_messages(database, seller)[-1].attachment.sha256
    assert bucket.keys() == [f"{PREFIX}/objects/{sha256}"]
    assert bucket.content(sha256) == content
    assert read.status_code == 200
    assert read.content == content
    assert staged_files(settings) == []


def test_keep_uploads_in_parts_read_from_the_staging_file(
    web: TestClient[Any], seller: Seller, bucket: Bucket, answered_order: int
) -> None:
    content = b"a" * (20 * MIB)

    sent = send_file(web, seller, answered_order, "big.txt", content)

    assert sent.status_code == 200, sent.text
    parts = [body for name, body in bucket.calls if name == "UploadPart"]
    assert len(parts) == 3  # 8 + 8 + 4 MiB
    assert all(hasattr(body, "read") for body in parts)  # files, not bytes
    assert bucket.operations("PutObject") == []


@pytest.mark.parametrize(
    ("first_message", "name", "status"),
    [
        pytest.param(False, "a.png", 400, id="content refused"),
        pytest.param(True, "a.pdf", 412, id="rule refused at commit"),
    ],
)
def test_a_refused_request_leaves_no_object_and_no_staging_file(
    web: TestClient[Any],
    seller: Seller,
    settings: Settings,
    bucket: Bucket,
    answered_order: int,
    first_message: bool,
    name: str,
    status: int,
) -> None:
    order_id = seller.add_order(Id=2, PackId="other") if first_message else None

    response = send_file(web, seller, order_id or answered_order, name, pdf_file())

    assert response.status_code == status, response.text
    assert bucket.keys() == []
    assert staged_files(settings) == []


def test_the_same_content_sent_twice_is_uploaded_once(
    web: TestClient[Any], seller: Seller, bucket: Bucket, answered_order: int
) -> None:
    first = send_file(web, seller, answered_order, "a.txt", text_file())
    seller.buyer_replies(answered_order)
    second = web.post(
        seller.url(answered_order),
        data={"messageOptions": "4", "message": "Otra vez"},
        files={"file": ("b.txt", text_file(), "text/plain")},
    )

    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert len(bucket.keys()) == 1
    assert bucket.operations("PutObject", "CreateMultipartUpload") == ["PutObject"]


def test_recovery_uploads_a_ready_file_a_message_names_and_deletes_an_orphan(
    web: TestClient[Any],
    seller: Seller,
    settings: Settings,
    database: Database,
    store: S3BlobStore,
    bucket: Bucket,
    answered_order: int,
) -> None:
    assert (
        send_file(web, seller, answered_order, "a.txt", text_file()).status_code == 200
    )
    named = seller_messages(database, seller)[-1].attachment.sha256
    # As if the process died between the commit and the upload.
    bucket.client.delete_object(Bucket=bucket.name, Key=store.key_of(named))
    crashed = settings.blob_dir / "staging" / f"{named}.0.ready"
    crashed.write_bytes(text_file())
    orphan = store.stage()
    orphan.write(b"never committed")
    orphan.finish()

    recover_blobs(database, store, grace=0.0)

    assert bucket.content(named) == text_file()
    assert bucket.keys() == [store.key_of(named)]
    assert staged_files(settings) == []


def test_a_failed_upload_leaves_the_file_ready_for_recovery(
    web: TestClient[Any],
    seller: Seller,
    settings: Settings,
    database: Database,
    store: S3BlobStore,
    bucket: Bucket,
    answered_order: int,
) -> None:
    bucket.client.delete_bucket(Bucket=bucket.name)

    response = send_file(web, seller, answered_order, "a.txt", text_file())
    left = staged_files(settings)
    bucket.create()
    recover_blobs(database, store, grace=0.0)

    assert response.status_code == 500
    named = seller_messages(database, seller)[-1].attachment.sha256
    assert [name.split(".")[0] for name in left] == [named]
    assert bucket.content(named) == text_file()
    assert staged_files(settings) == []


def test_the_blob_url_setting_chooses_the_bucket_and_its_prefix(
    settings: Settings, endpoint: str, bucket: Bucket
) -> None:
    chosen = blob_store(
        replace(
            settings,
            blob_url=f"s3://{bucket.name}/{PREFIX}/",
            s3_endpoint_url=endpoint,
        )
    )
    staged = chosen.stage()
    staged.write(b"hola")
    staged.finish()

    chosen.keep(staged)

    assert isinstance(chosen, S3BlobStore)
    assert bucket.keys() == [f"{PREFIX}/objects/{staged.sha256}"]
    assert chosen.exists(staged.sha256)
    with chosen.open(staged.sha256) as stored:
        assert stored.read(2) == b"ho"
        assert stored.read() == b"la"
    assert not chosen.exists("0" * 64)
    with pytest.raises(FileNotFoundError):
        chosen.open("0" * 64)


@pytest.mark.anyio
async def test_the_connector_uploads_an_attachment_read_from_the_bucket(
    bucket: Bucket, tmp_path: Path
) -> None:
    staging = Staging(tmp_path, MAX_ATTACHMENT_BYTES)
    store = S3BlobStore(bucket.client, bucket.name, PREFIX, staging)
    key = store.key_of(INVOICE.sha256)
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=PDF)
    sandbox = create_sandbox_app(SandboxConfig(sellers=(SELLER,)))
    transport = httpx.ASGITransport(app=sandbox)  # type: ignore[arg-type]

    async with httpx.AsyncClient(transport=transport, base_url="http://ml") as http:
        connector = MercadoLibre(
            "http://ml", MemoryCredentials(), store.open, http=http
        )
        await connector.send(outgoing())
        await http.post(f"/_sandbox/packs/{PACK}/reply", json={"text": "Gracias"})
        await connector.send(outgoing(attachment=INVOICE, buyer_replied=True))
        stored = await http.get("/_sandbox/messages", params={"pack_id": PACK})
        await connector.aclose()

    [attachment_id] = stored.json()["messages"][-1]["attachments"]
    assert attachment_id.endswith(".pdf")
