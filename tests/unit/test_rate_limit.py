"""The gateway's per-key token bucket and its VIP reserve, on a fake clock."""

from __future__ import annotations

from journeys_app.edges.gateway.ratelimit import RateLimiter


def test_bucket_refills_and_keeps_a_reserve_for_vips() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, reserve=0.2, clock=lambda: now[0])
    allowed = [limiter.take("k") == 0 for _ in range(60)]
    assert allowed.count(True) == 48  # 20 % of the minute's budget is held back
    assert limiter.needs_vip("k")
    assert limiter.take("k", vip=True) == 0  # a VIP request uses the reserve
    wait = limiter.take("k")
    assert 0 < wait <= 2.0  # one token per second refills
    now[0] += wait
    assert limiter.take("k") == 0
    assert limiter.take("other") == 0  # keys do not share a bucket
