"""The client commands (send, messages, options) against a live server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from postventa.api.app import create_app
from postventa.cli import app
from postventa.config import ConfigError, Settings
from postventa.store.database import Database
from tests.files import pdf_file
from tests.integration.conftest import Seller
from tests.integration.live import serving

Env = dict[str, str]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The client sees only HTTP, so one store is enough (the API's own tests
    run on both)."""
    return f"sqlite:///{tmp_path / 'postventa.db'}"


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """The CLI sends logs to its captured stderr; put logging back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def server(settings: Settings, database: Database) -> Iterator[str]:
    with serving(create_app(settings, database)) as url:
        yield url


@pytest.fixture
def env(server: str, seller: Seller) -> Env:
    return {
        "POSTVENTA_URL": server,
        "POSTVENTA_API_KEY": seller.key,
        "POSTVENTA_ACCOUNT_ID": str(seller.account_id),
    }


def run(env: Env, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


class TestSend:
    def test_a_message_is_sent_and_its_id_printed(
        self, env: Env, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        result = run(env, "send", str(order_id), "--option", "other", "--text", "Hola")

        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == "1"

    def test_a_file_is_attached_and_json_printed(
        self, env: Env, seller: Seller, tmp_path: Path
    ) -> None:
        order_id = seller.add_order()
        run(env, "send", str(order_id), "--option", "4", "--text", "Hola")
        seller.buyer_replies(order_id)
        path = tmp_path / "factura.pdf"
        path.write_bytes(pdf_file())

        result = run(
            env, "send", str(order_id), "--option", "OTHER", "--text", "Factura",
            "--file", str(path), "--json",
        )  # fmt: skip

        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"id": "3", "order": order_id}

    def test_a_refusal_is_one_line_on_stderr_and_exit_1(
        self, env: Env, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        run(env, "send", str(order_id), "--option", "other", "--text", "Hola")

        result = run(env, "send", str(order_id), "--option", "other", "--text", "Otra")

        assert result.exit_code == 1
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("Error: 412: ")
        assert seller.key not in result.stderr

    def test_a_refusal_under_json_is_an_error_object(
        self, env: Env, seller: Seller
    ) -> None:
        result = run(env, "send", "999", "--option", "other", "--text", "x", "--json")

        assert result.exit_code == 1
        assert json.loads(result.stdout)["error"].startswith("404: ")

    def test_an_unknown_option_or_missing_file_is_one_line(
        self, env: Env, seller: Seller, tmp_path: Path
    ) -> None:
        order_id = str(seller.add_order())

        unknown = run(env, "send", order_id, "--option", "nope", "--text", "x")
        missing = run(
            env, "send", order_id, "--option", "4", "--file", str(tmp_path / "no.pdf")
        )

        assert unknown.exit_code == missing.exit_code == 1
        assert "Unknown message option" in unknown.stderr
        assert "no.pdf" in missing.stderr


class TestReads:
    def test_messages_prints_the_conversation_as_json_or_a_table(
        self, env: Env, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        run(env, "send", str(order_id), "--option", "other", "--text", "Hola")
        seller.buyer_replies(order_id, "Gracias")

        as_json = run(env, "messages", str(order_id), "--json")
        table = run(env, "messages", str(order_id))

        assert as_json.exit_code == table.exit_code == 0, table.output
        found = json.loads(as_json.stdout)
        assert [m["direction"] for m in found] == ["seller", "buyer"]
        assert found[0]["option"] == "OTHER"
        assert found[0]["text"] == "Hola"
        assert found[0]["date_created"].endswith("+00:00")
        assert "Gracias" in table.stdout
        assert "OTHER" in table.stdout

    def test_options_prints_each_option_with_its_reason(
        self, env: Env, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        as_json = run(env, "options", str(order_id), "--json")
        table = run(env, "options", str(order_id))

        assert as_json.exit_code == table.exit_code == 0, table.output
        found = {o["option"]: o for o in json.loads(as_json.stdout)}
        assert found["OTHER"]["allowed"] is True
        assert found["OTHER"]["attachment_allowed"] is False
        assert "option_country" in found["SEND_INVOICE_LINK"]["reason"]
        assert "SEND_INVOICE_LINK" in table.stdout


class TestConnection:
    def test_flags_stand_in_for_the_environment(
        self, server: str, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        result = run(
            {}, "options", str(order_id), "--url", server, "--api-key", seller.key,
            "--account", str(seller.account_id), "--json",
        )  # fmt: skip

        assert result.exit_code == 0, result.output

    def test_a_missing_server_address_is_exit_2(self, seller: Seller) -> None:
        result = run({"POSTVENTA_API_KEY": seller.key}, "messages", "1")

        assert result.exit_code == 2
        assert "--url" in result.stderr
        assert "--account" in result.stderr

    def test_a_wrong_key_is_unauthorized_and_not_echoed(self, env: Env) -> None:
        result = run({**env, "POSTVENTA_API_KEY": "pv_wrong_key"}, "options", "1")

        assert result.exit_code == 1
        assert result.stderr.startswith("Error: 401: ")
        assert "pv_wrong_key" not in result.output


def test_the_client_variables_do_not_trouble_the_server_settings() -> None:
    client = {"POSTVENTA_URL": "http://x", "POSTVENTA_API_KEY": "k"}

    assert Settings.from_env({**client, "POSTVENTA_ACCOUNT_ID": "1"}) == Settings()
    with pytest.raises(ConfigError, match="POSTVENTA_ACCOUNT"):
        Settings.from_env({**client, "POSTVENTA_ACCOUNT": "1"})
