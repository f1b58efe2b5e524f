"""The command line against a fresh SQLite file per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from postventa.cli import app
from postventa.domain.accounts import key_digest
from postventa.domain.orders import Order
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

Env = dict[str, str]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return {
        "POSTVENTA_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "POSTVENTA_DATA_DIR": str(tmp_path),
    }


def run(env: Env, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


@contextmanager
def repositories(env: Env) -> Iterator[Repositories]:
    database = Database(env["POSTVENTA_DATABASE_URL"])
    try:
        with database.transaction() as repos:
            yield repos
    finally:
        database.close()


def stored_order(env: Env, account_id: int, order_id: int) -> Order | None:
    with repositories(env) as repos:
        return repos.orders.get(account_id, order_id)


def new_account(env: Env, site: str = "MLA") -> int:
    result = run(env, "accounts", "create", "--name", "Shop", "--site", site)
    assert result.exit_code == 0, result.output
    return int(result.stdout)


def order(order_id: Any, **fields: Any) -> dict[str, Any]:
    """An order in the provider's shape; keyword fields replace the defaults."""
    record: dict[str, Any] = {
        "Id": order_id,
        "ExternalOrderId": f"2000{order_id}",
        "MarketPlace": {"Key": 1, "Value": "MercadoLibre", "Channel": "MercadoLibre"},
        "StatusType": {"Key": 1, "Value": "Pending"},
        "IsCancelled": False,
        "Buyer": {"Nickname": "B", "Address": {"CountryId": "AR"}},
        "Shipping": {
            "LogisticType": {"Key": 8, "Value": "cross_docking"},
            "Status": {"Key": 1, "Value": "ready_to_ship"},
            "ReceiverAddress": {"CountryId": "AR"},
        },
    }
    return record | fields


# Two good orders around three bad records: a non-numeric id, a country outside
# Mercado Libre, and something that is not an object.
MIXED: list[Any] = [
    order(11),
    order("abc"),
    order(12, Buyer={"Address": {"CountryId": "ZZ"}}, Shipping={}),
    order(13),
    [1, 2],
]
BAD_POSITIONS = [2, 3, 5]


def as_array(records: list[Any]) -> str:
    return json.dumps(records)


def as_json_lines(records: list[Any]) -> str:
    return "\n".join(json.dumps(record) for record in records) + "\n"


def as_results_page(records: list[Any]) -> str:
    return json.dumps({"Paging": {"Total": len(records)}, "Results": records})


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "orders.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_creating_an_account_prints_only_its_id(env: Env) -> None:
    result = run(env, "accounts", "create", "--name", "Shop", "--site", "MLA")

    assert result.exit_code == 0
    assert result.stdout.strip().isdigit()


def test_creating_an_account_with_json_prints_its_id_name_and_site(env: Env) -> None:
    result = run(
        env, "accounts", "create", "--name", " Shop ", "--site", "br", "--json"
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"id": 1, "name": "Shop", "site": "MLB"}


def test_an_unknown_site_is_refused_with_one_line_on_stderr(env: Env) -> None:
    result = run(env, "accounts", "create", "--name", "Shop", "--site", "XYZ")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "XYZ" in result.stderr


def test_a_refusal_with_json_is_an_error_object_on_stdout(env: Env) -> None:
    result = run(env, "accounts", "create", "--name", "", "--site", "MLA", "--json")

    assert result.exit_code == 1
    assert set(json.loads(result.stdout)) == {"error"}


def test_invalid_settings_are_listed_on_stderr_with_exit_2(env: Env) -> None:
    result = run(env | {"POSTVENTA_PORT": "0"}, "accounts", "list")

    assert result.exit_code == 2
    assert "POSTVENTA_PORT" in result.stderr


@pytest.mark.parametrize("port", ["-1", "65536", "x"])
def test_a_worker_metrics_port_out_of_range_is_refused(env: Env, port: str) -> None:
    result = run(env | {"POSTVENTA_WORKER_METRICS_PORT": port}, "accounts", "list")

    assert result.exit_code == 2
    assert "POSTVENTA_WORKER_METRICS_PORT" in result.stderr


def test_listing_accounts_shows_which_are_disabled(env: Env) -> None:
    first, second = new_account(env), new_account(env, "MLM")

    assert run(env, "accounts", "disable", "--account", str(first)).exit_code == 0
    result = run(env, "accounts", "list", "--json")

    assert json.loads(result.stdout) == [
        {"id": first, "name": "Shop", "site": "MLA", "disabled": True},
        {"id": second, "name": "Shop", "site": "MLM", "disabled": False},
    ]


def test_an_enabled_account_is_listed_as_enabled_again(env: Env) -> None:
    account = new_account(env)
    run(env, "accounts", "disable", "--account", str(account))

    result = run(env, "accounts", "enable", "--account", str(account), "--json")

    assert json.loads(result.stdout) == {"id": account, "disabled": False}
    assert "enabled" in run(env, "accounts", "list").stdout


def test_disabling_an_unknown_account_is_not_found(env: Env) -> None:
    result = run(env, "accounts", "disable", "--account", "42", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"error": "Account 42 does not exist."}


def test_a_new_key_is_printed_alone_and_starts_with_pv(env: Env) -> None:
    account = new_account(env)

    result = run(env, "keys", "create", "--account", str(account))

    assert result.exit_code == 0
    assert result.stdout.startswith("pv_")
    assert len(result.stdout.split()) == 1


def test_a_key_created_for_two_accounts_opens_both(env: Env) -> None:
    first, second = new_account(env), new_account(env)

    result = run(
        env,
        "keys",
        "create",
        "--account",
        str(first),
        "--account",
        str(second),
        "--json",
    )

    created = json.loads(result.stdout)
    assert created["accounts"] == [first, second]
    with repositories(env) as repos:
        grant = repos.api_keys.grant(key_digest(created["key"]))
    assert grant is not None
    assert grant.key_id == created["key_id"]
    assert grant.account_ids == {first, second}


def test_a_key_for_an_unknown_account_is_not_created(env: Env) -> None:
    result = run(env, "keys", "create", "--account", "7")

    assert result.exit_code == 1
    assert "Account 7 does not exist." in result.stderr


def test_linking_a_key_lets_it_open_one_more_account(env: Env) -> None:
    first, second = new_account(env), new_account(env)
    created = json.loads(
        run(env, "keys", "create", "--account", str(first), "--json").stdout
    )

    result = run(
        env,
        "keys",
        "link",
        "--key-id",
        str(created["key_id"]),
        "--account",
        str(second),
    )

    assert result.exit_code == 0
    with repositories(env) as repos:
        grant = repos.api_keys.grant(key_digest(created["key"]))
    assert grant is not None
    assert grant.account_ids == {first, second}


def test_linking_an_unknown_key_is_not_found(env: Env) -> None:
    account = new_account(env)

    result = run(env, "keys", "link", "--key-id", "9", "--account", str(account))

    assert result.exit_code == 1
    assert "API key 9 does not exist." in result.stderr


def test_a_revoked_key_opens_nothing_and_cannot_be_revoked_twice(env: Env) -> None:
    account = new_account(env)
    created = json.loads(
        run(env, "keys", "create", "--account", str(account), "--json").stdout
    )
    key_id = str(created["key_id"])

    first = run(env, "keys", "revoke", "--key-id", key_id, "--json")
    second = run(env, "keys", "revoke", "--key-id", key_id)

    assert json.loads(first.stdout) == {"key_id": created["key_id"], "revoked": True}
    assert second.exit_code == 1
    with repositories(env) as repos:
        assert repos.api_keys.grant(key_digest(created["key"])) is None


@pytest.mark.parametrize(
    "layout", [as_array, as_json_lines, as_results_page], ids=lambda f: f.__name__
)
def test_an_import_stores_the_good_records_and_reports_the_bad_ones(
    env: Env, tmp_path: Path, layout: Callable[[list[Any]], str]
) -> None:
    account = new_account(env)
    path = write(tmp_path, layout(MIXED))

    result = run(env, "orders", "import", "--account", str(account), path)

    assert result.exit_code == 0, result.output
    assert "Imported 2 orders, rejected 3." in result.stdout
    rejections = result.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in rejections] == [
        "Rejected record 2 (order abc)",
        "Rejected record 3 (order 12)",
        "Rejected record 5",
    ]
    assert stored_order(env, account, 11) is not None
    assert stored_order(env, account, 13) is not None
    assert stored_order(env, account, 12) is None


@pytest.mark.parametrize(
    "layout", [as_array, as_json_lines, as_results_page], ids=lambda f: f.__name__
)
def test_an_import_with_json_lists_each_rejection_with_position_and_reason(
    env: Env, tmp_path: Path, layout: Callable[[list[Any]], str]
) -> None:
    account = new_account(env)
    path = write(tmp_path, layout(MIXED))

    result = run(env, "orders", "import", "--account", str(account), path, "--json")

    report = json.loads(result.stdout)
    assert report["imported"] == 2
    assert [r["position"] for r in report["rejected"]] == BAD_POSITIONS
    assert [r["order_id"] for r in report["rejected"]] == ["abc", 12, None]
    assert all(r["reason"] for r in report["rejected"])


def test_importing_one_order_object_stores_it(env: Env, tmp_path: Path) -> None:
    account = new_account(env)
    path = write(tmp_path, json.dumps(order(21, PackId="P-9"), indent=2))

    result = run(env, "orders", "import", "--account", str(account), path, "--json")

    assert json.loads(result.stdout) == {"imported": 1, "rejected": []}
    stored = stored_order(env, account, 21)
    assert stored is not None
    assert stored.pack_id == "P-9"
    assert stored.is_mercadolibre


def test_orders_are_read_from_stdin_given_a_dash(env: Env) -> None:
    account = new_account(env)

    result = run(
        env,
        "orders",
        "import",
        "--account",
        str(account),
        "-",
        stdin=as_json_lines(MIXED),
    )

    assert result.exit_code == 0
    assert stored_order(env, account, 11) is not None


def test_a_line_that_is_not_json_is_rejected_and_the_others_import(
    env: Env, tmp_path: Path
) -> None:
    account = new_account(env)
    text = json.dumps(order(31)) + "\n{not json\n" + json.dumps(order(32)) + "\n"

    result = run(
        env,
        "orders",
        "import",
        "--account",
        str(account),
        write(tmp_path, text),
        "--json",
    )

    report = json.loads(result.stdout)
    assert report["imported"] == 2
    assert [r["position"] for r in report["rejected"]] == [2]
    assert stored_order(env, account, 32) is not None


def test_a_byte_order_mark_does_not_stop_an_import(env: Env, tmp_path: Path) -> None:
    account = new_account(env)
    path = tmp_path / "orders.json"
    path.write_text(as_array([order(41)]), encoding="utf-8-sig")

    result = run(env, "orders", "import", "--account", str(account), str(path))

    assert result.exit_code == 0
    assert stored_order(env, account, 41) is not None


def test_an_import_larger_than_one_chunk_stores_every_order(
    env: Env, tmp_path: Path
) -> None:
    account = new_account(env)
    records = [order(n) for n in range(1, 1202)] + [order(1, PackId="last")]

    result = run(
        env,
        "orders",
        "import",
        "--account",
        str(account),
        write(tmp_path, as_array(records)),
    )

    assert result.exit_code == 0
    assert "Imported 1202 orders, rejected 0." in result.stdout
    assert stored_order(env, account, 1201) is not None
    last = stored_order(env, account, 1)
    assert last is not None
    assert last.pack_id == "last"


def test_an_import_where_every_record_is_rejected_exits_with_1(
    env: Env, tmp_path: Path
) -> None:
    account = new_account(env)
    path = write(tmp_path, as_array([order(0), order("x")]))

    result = run(env, "orders", "import", "--account", str(account), path, "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["imported"] == 0


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_an_import_for_an_unknown_account_exits_with_2(
    env: Env, tmp_path: Path, flags: list[str]
) -> None:
    path = write(tmp_path, as_array([order(1)]))

    result = run(env, "orders", "import", "--account", "99", path, *flags)

    assert result.exit_code == 2
    message = json.loads(result.stdout)["error"] if flags else result.stderr
    assert "Account 99 does not exist." in message
