"""The rate limit for anonymous clients: a token bucket per address, 429 with Retry-After."""

from __future__ import annotations

import pytest
from accounts import sign_in

from mapper.errors import MapperError
from mapper.web import create_app, ratelimit


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_refills_at_the_rate():
    clock = Clock()
    buckets = ratelimit.Buckets(2.0, 3, clock=clock)  # 2 a second, 3 at once
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: one more in half a second
    assert buckets.take("b") == 0.0  # another address has its own bucket
    clock.now += 0.25  # half a request refilled (a refused try took none)
    assert buckets.take("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert buckets.take("a") == 0.0
    clock.now += 100  # never more than the burst
    assert [buckets.take("a") for _ in range(4)][-1] == pytest.approx(0.5)


def test_addresses_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_ADDRESSES", 5)
    buckets = ratelimit.Buckets(1.0, 1, clock=Clock())
    for i in range(20):
        buckets.take(f"10.0.0.{i}")
    assert list(buckets._buckets) == [f"10.0.0.{i}" for i in range(15, 20)]


@pytest.fixture
def limited(tiny_workspace):
    return create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace),
                       "ANON_RATE_PER_S": 0.5, "ANON_BURST": 3})


def test_anonymous_clients_get_429_with_retry_after_once_the_bucket_is_empty(limited):
    client = limited.test_client()
    assert [client.get("/api/wards").status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/wards")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"  # one request refills in 2 s at 0.5/s
    assert "at most 0.5 a second on average (3 at once)" in refused.get_json()["error"]
    page = client.get("/")
    assert page.status_code == 429 and "Too many requests" in page.get_data(as_text=True)
    assert client.get("/health").status_code == 200  # never counted
    other = limited.test_client()
    other_address = {"REMOTE_ADDR": "192.0.2.7"}
    assert other.get("/api/wards", environ_base=other_address).status_code == 200


def test_signed_in_users_are_not_limited(limited):
    client = sign_in(limited.test_client(), "officer")
    assert {client.get("/api/wards").status_code for _ in range(8)} == {200}


def test_apps_for_tests_have_no_limit_unless_set_and_bad_settings_are_refused(tiny_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)})
    assert app.extensions["mapper_anon_buckets"] is None
    served = create_app({"WORKSPACE": str(tiny_workspace)})
    buckets = served.extensions["mapper_anon_buckets"]
    assert (buckets.rate, buckets.burst) == (ratelimit.ANON_RATE_PER_S, ratelimit.ANON_BURST)
    with pytest.raises(MapperError, match="ANON_RATE_PER_S"):
        create_app({"WORKSPACE": str(tiny_workspace), "ANON_RATE_PER_S": -1})
