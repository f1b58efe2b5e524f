"""The GCRA limiter against an injected clock, and the headers of its decisions."""

from __future__ import annotations

import pytest

from postventa.api.ratelimit import GcraLimiter, RateDecision

KEY = ("key", "POST /v2/orders/{orderId}/messages")


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def limiter(clock: Clock, limit: int = 3, max_keys: int = 100_000) -> GcraLimiter:
    return GcraLimiter(limit, clock=clock, max_keys=max_keys)


def burst(gcra: GcraLimiter, count: int, key: object = KEY) -> list[RateDecision]:
    return [gcra.hit(key) for _ in range(count)]


class TestBurst:
    def test_a_burst_up_to_the_limit_is_allowed_with_remaining_counting_down(
        self, clock: Clock
    ) -> None:
        decisions = burst(limiter(clock), 3)

        assert [d.allowed for d in decisions] == [True, True, True]
        assert [d.remaining for d in decisions] == [2, 1, 0]
        assert {d.limit for d in decisions} == {3}
        assert {d.retry_after for d in decisions} == {0.0}

    @pytest.mark.parametrize("start", [0.0, 1000.0, 12345.678])
    def test_a_burst_of_exactly_the_limit_is_allowed_for_every_limit(
        self, start: float
    ) -> None:
        clock = Clock()
        clock.now = start
        short = []
        for limit in range(1, 101):
            decisions = burst(limiter(clock, limit=limit), limit)
            if not all(d.allowed for d in decisions):
                short.append(limit)

        assert short == []

    def test_the_reset_grows_by_one_interval_per_request(self, clock: Clock) -> None:
        decisions = burst(limiter(clock), 3)

        assert [d.reset_after for d in decisions] == pytest.approx([20, 40, 60])

    def test_a_request_past_the_limit_is_refused_with_the_time_to_wait(
        self, clock: Clock
    ) -> None:
        gcra = limiter(clock)
        burst(gcra, 3)

        refused = gcra.hit(KEY)

        assert not refused.allowed
        assert refused.remaining == 0
        assert refused.retry_after == pytest.approx(20)
        assert refused.reset_after == pytest.approx(60)

    def test_each_key_has_its_own_allowance(self, clock: Clock) -> None:
        gcra = limiter(clock)
        burst(gcra, 3, key="a")

        decision = gcra.hit("b")

        assert decision.allowed
        assert decision.remaining == 2


class TestRecovery:
    def test_waiting_the_retry_after_is_enough_to_be_served(self, clock: Clock) -> None:
        gcra = limiter(clock)
        burst(gcra, 3)
        clock.advance(gcra.hit(KEY).retry_after)

        decision = gcra.hit(KEY)

        assert decision.allowed
        assert decision.remaining == 0

    def test_waiting_less_than_the_retry_after_is_not_enough(
        self, clock: Clock
    ) -> None:
        gcra = limiter(clock)
        burst(gcra, 3)
        clock.advance(19.9)

        decision = gcra.hit(KEY)

        assert not decision.allowed
        assert decision.retry_after == pytest.approx(0.1)

    def test_a_refused_request_does_not_consume_the_allowance(
        self, clock: Clock
    ) -> None:
        gcra = limiter(clock)
        burst(gcra, 3)
        refusals = burst(gcra, 50)
        clock.advance(20)

        decision = gcra.hit(KEY)

        assert not any(r.allowed for r in refusals)
        assert decision.allowed

    def test_the_allowance_comes_back_one_interval_at_a_time(
        self, clock: Clock
    ) -> None:
        gcra = limiter(clock)
        burst(gcra, 3)
        clock.advance(40)

        decisions = burst(gcra, 3)

        assert [d.allowed for d in decisions] == [True, True, False]
        assert [d.remaining for d in decisions] == [1, 0, 0]

    def test_a_full_window_of_quiet_restores_the_whole_burst(
        self, clock: Clock
    ) -> None:
        gcra = limiter(clock)
        burst(gcra, 3)
        clock.advance(600)

        decisions = burst(gcra, 4)

        assert [d.allowed for d in decisions] == [True, True, True, False]

    def test_a_steady_rate_at_the_limit_is_always_served(self, clock: Clock) -> None:
        gcra = limiter(clock, limit=60)
        decisions = []
        for _ in range(300):
            decisions.append(gcra.hit(KEY))
            clock.advance(1.0)

        assert all(d.allowed for d in decisions)

    def test_forgetting_idle_keys_never_frees_a_busy_one(self, clock: Clock) -> None:
        gcra = limiter(clock, max_keys=1)
        burst(gcra, 3, key="busy")
        gcra.hit("idle")
        clock.advance(30)
        gcra.hit("newcomer")

        decision = gcra.hit("busy")

        assert decision.allowed is True
        assert decision.remaining == 0
        assert burst(gcra, 1, key="busy")[0].allowed is False


class TestHeaders:
    def test_an_allowed_decision_gives_the_four_headers_and_minus_one(
        self, clock: Clock
    ) -> None:
        decision = limiter(clock).hit(KEY)

        assert decision.headers() == {
            "x-ratelimit-limit": "3",
            "x-ratelimit-remaining": "2",
            "x-ratelimit-reset": "20",
            "x-ratelimit-retryafter": "-1",
        }

    def test_a_refused_decision_adds_retry_after_in_whole_seconds(
        self, clock: Clock
    ) -> None:
        gcra = limiter(clock, limit=4)
        burst(gcra, 4)
        clock.advance(0.25)

        headers = gcra.hit(KEY).headers()

        assert headers == {
            "x-ratelimit-limit": "4",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "60",
            "x-ratelimit-retryafter": "15",
            "retry-after": "15",
        }

    @pytest.mark.parametrize(
        ("retry_after", "expected"),
        [(0.001, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60")],
    )
    def test_retry_after_rounds_up_and_is_at_least_one_second(
        self, retry_after: float, expected: str
    ) -> None:
        decision = RateDecision(False, 10, 0, 60.0, retry_after)

        headers = decision.headers()

        assert headers["retry-after"] == expected
        assert headers["x-ratelimit-retryafter"] == expected

    def test_the_reset_is_given_in_whole_seconds_rounded_up(self) -> None:
        decision = RateDecision(True, 10, 4, 35.2, 0.0)

        assert decision.headers()["x-ratelimit-reset"] == "36"
