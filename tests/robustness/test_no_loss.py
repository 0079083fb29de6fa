"""No loss under churn: every message to a connected member arrives exactly once, in order."""

from __future__ import annotations

from conformance.kit.load import Load, run
from conformance.suite.verdicts import requirement
from protocol import limits
from tests.robustness.figures import record
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import connect, say, settle


@requirement(
    "ROUTE-1", "ROUTE-2", "ROUTE-3", "ROUTE-4", "ROUTE-5", "ROUTE-7", "ROUTE-8", "ROUTE-10"
)
@requirement("CONNECT-2", "CONNECT-4", "CONNECT-6", "DISCONNECT-3", "DISCONNECT-5", "DISCONNECT-6")
def test_every_message_to_a_member_arrives_exactly_once_in_order_while_users_come_and_go() -> None:
    """50 users and 2 attackers for 4 s (conformance/kit/load/swarm.py; the ledger explains how a
    delivery is known to be required). The load must have done everything it says it does."""
    with WatchedServer("--no-welcome") as target:
        report = run(target.address, Load(clients=50, seconds=4.0))
        assert target.finish() == (0, [])
    record("no_loss", **report)
    assert report["violation_samples"] == []
    assert report["violations"] == 0
    actions = report["actions"]
    for kind in ("post", "burst", "wander", "direct", "all", "leave", "rejoin", "disconnect"):
        assert actions.get(kind, 0) > 0, kind
    for figure in ("refusals", "hostile_cases", "resets", "rejoins"):
        assert (report.get(figure) or actions.get(figure, 0)) > 0, figure
    assert report["deliveries_required"] > 5000


@requirement("CONNECT-2")
def test_a_connect_gets_the_most_recent_history_of_its_rooms_up_to_the_limit() -> None:
    """Each room keeps `history_per_room` messages; a connect gets all of them, oldest first, or
    the most recent `history_on_connect` when there are more: with one, two and three rooms."""
    kept, most = limits()["history_per_room"], limits()["history_on_connect"]
    with WatchedServer("--no-welcome") as target:
        for rooms in (1, 2, 3):
            names = [f"#h{rooms}-{r}" for r in range(rooms)]
            poster = connect(target.address, f"@poster{rooms}", *names)
            sent = []
            for i in range(kept):
                for room in names:
                    say(poster, room, f"{room}:{i}")
                    sent.append(f"{room}:{i}")
            assert settle(poster) == []
            reader = connect(target.address, f"@reader{rooms}")
            reader.send({"action": "connect", "user_name": reader.label, "targets": names})
            history = [entry["message"] for entry in reader.recv_value()["history"]]
            assert (rooms, history) == (rooms, sent[-most:])
        assert target.finish() == (0, [])
