"""The ``operators`` commands: creating, listing, and hashing for the settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from postventa.cli import app
from postventa.config import Settings
from postventa.console.passwords import verify_password

Env = dict[str, str]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return {
        "POSTVENTA_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "POSTVENTA_DATA_DIR": str(tmp_path),
    }


def run(env: Env, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


def test_an_operator_is_created_from_stdin_and_listed(env: Env) -> None:
    created = run(
        env,
        "operators",
        "create",
        "--username",
        "ana",
        "--password-stdin",
        "--json",
        stdin="correct horse battery\n",
    )
    listed = run(env, "operators", "list", "--json")

    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout) == {"id": 1, "username": "ana"}
    assert [o["username"] for o in json.loads(listed.stdout)] == ["ana"]
    assert "correct horse battery" not in created.output + listed.output


def test_a_taken_username_a_bad_name_and_a_short_password_are_refused(
    env: Env,
) -> None:
    password = "correct horse battery\n"
    run(env, "operators", "create", "--username", "ana", stdin=password)

    taken = run(env, "operators", "create", "--username", "ana", stdin=password)
    bad_name = run(env, "operators", "create", "--username", "a b", stdin=password)
    short = run(env, "operators", "create", "--username", "bo", stdin="short\n")

    assert taken.exit_code == bad_name.exit_code == short.exit_code == 1
    assert "already exists" in taken.output
    assert "username" in bad_name.output
    assert "8 to 1024" in short.output


def test_the_printed_hash_is_accepted_by_the_settings(env: Env) -> None:
    printed = run(env, "operators", "hash", stdin="correct horse battery\n")
    password_hash = printed.stdout.strip()

    settings = Settings.from_env(
        {
            "POSTVENTA_CONSOLE_USERNAME": "ana",
            "POSTVENTA_CONSOLE_PASSWORD_HASH": password_hash,
        }
    )

    assert verify_password("correct horse battery", settings.console_password_hash)


def test_a_console_username_without_its_hash_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings.from_env({"POSTVENTA_CONSOLE_USERNAME": "ana"})
