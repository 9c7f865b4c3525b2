"""Member details: protocol matching and voting, consumer subscriptions, the timer."""

from __future__ import annotations

from moldau.coordinator.group.member import Member, subscribed_topics
from moldau.coordinator.group.timer import Timer, heartbeat_key, join_key

from .harness import subscription


def member(*protocols: tuple[str, bytes]) -> Member:
    return Member("m", None, "c", "/h", 1000, 1000, "consumer", tuple(protocols))


def test_matching_is_exact_and_ordered():
    m = member(("range", b"a"), ("roundrobin", b"b"))
    assert m.matches((("range", b"a"), ("roundrobin", b"b")))
    assert not m.matches((("roundrobin", b"b"), ("range", b"a")))
    assert not m.matches((("range", b"x"), ("roundrobin", b"b")))
    assert m.metadata("roundrobin") == b"b" and m.metadata("sticky") == b""


def test_vote_follows_preference():
    m = member(("sticky", b""), ("range", b""), ("roundrobin", b""))
    assert m.vote({"range", "roundrobin"}) == "range"


def test_subscription_topics():
    assert subscribed_topics(subscription("a", "b")) == {"a", "b"}
    # later versions only append fields: the version-0 prefix is all that is read
    assert subscribed_topics(subscription("a", version=3, user_data=b"x") + b"\x00\x00\x00\x00more") == {"a"}
    assert subscribed_topics(b"") is None
    assert subscribed_topics(b"\x00\x00\x00\x00\x00\x05\x00\x01a") is None  # five topics promised
    assert subscribed_topics(b"\xff\xff\x00\x00\x00\x00") is None  # negative version


def test_timer_moves_and_cancels_deadlines():
    timer = Timer()
    timer.schedule(heartbeat_key("g", "m"), 100)
    timer.schedule(join_key("g"), 50)
    timer.schedule(heartbeat_key("g", "m"), 30)  # moved earlier
    assert timer.next_deadline() == 30
    assert timer.pop_due(29) is None
    assert timer.pop_due(30) == heartbeat_key("g", "m")
    timer.cancel(join_key("g"))
    assert timer.next_deadline() is None


def test_timer_compacts_moved_entries():
    timer = Timer()
    key = heartbeat_key("g", "m")
    for deadline in range(10_000):
        timer.schedule(key, deadline)
    assert len(timer._heap) < 200  # the point is the internal size
    assert timer.next_deadline() == 9_999
