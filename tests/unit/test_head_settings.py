"""The limits on a request's head are read from the environment and checked."""

from __future__ import annotations

import pytest

from postventa.config import ConfigError, Settings


def test_the_head_limits_have_defaults_and_can_be_set() -> None:
    default = Settings.from_env({})
    chosen = Settings.from_env(
        {
            "POSTVENTA_HEADER_TIMEOUT_SECONDS": "2.5",
            "POSTVENTA_MAX_HEADER_BYTES": "8192",
        }
    )

    assert (default.header_timeout_seconds, default.max_header_bytes) == (20.0, 65536)
    assert (chosen.header_timeout_seconds, chosen.max_header_bytes) == (2.5, 8192)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POSTVENTA_HEADER_TIMEOUT_SECONDS", "0"),
        ("POSTVENTA_HEADER_TIMEOUT_SECONDS", "soon"),
        ("POSTVENTA_MAX_HEADER_BYTES", "-1"),
        ("POSTVENTA_MAX_HEADER_BYTES", "64k"),
    ],
)
def test_a_bad_head_limit_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
