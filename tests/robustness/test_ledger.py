"""The ledger that the no-loss test and the soak rely on must catch every kind of fault."""

from __future__ import annotations

from conformance.kit.load.ledger import INF, Incarnation, Ledger


def entry(ledger: Ledger, sender: Incarnation, target: str, seq: int) -> dict[str, str]:
    """The delivery of `sender`'s message `seq` to `target`, its text as `ledger` writes it."""
    return {"target": target, "from": sender.name, "message": f"{ledger.tag}{sender.id}:{seq}"}


def room_of_two() -> tuple[Ledger, Incarnation, Incarnation]:
    """@a and @b connected to #r; @a sends three messages and confirms them with a barrier."""
    ledger = Ledger()
    a, b = ledger.incarnation("@a"), ledger.incarnation("@b")
    ledger.join(a, ["#r", "@a"])
    ledger.join(b, ["#r", "@b"])
    for _ in range(3):
        ledger.text(a, "#r")
    ledger.text(a, "@a")
    ledger.delivered(a, entry(ledger, a, "@a", 1))
    ledger.barrier_back(a)
    return ledger, a, b


def verdict(ledger: Ledger, a: Incarnation, b: Incarnation) -> list[str]:
    for who in (a, b):
        ledger.end(who, ledger.tick(), confirms=True)
    ledger.verify()
    return ledger.violations


def test_all_delivered_once_in_order_passes() -> None:
    ledger, a, b = room_of_two()
    for seq in (1, 2, 3):
        ledger.delivered(b, entry(ledger, a, "#r", seq))
    assert verdict(ledger, a, b) == []


def test_a_lost_message_is_caught() -> None:
    ledger, a, b = room_of_two()
    for seq in (1, 3):
        ledger.delivered(b, entry(ledger, a, "#r", seq))
    assert any("lost" in v for v in verdict(ledger, a, b))


def test_a_missing_tail_is_caught() -> None:
    ledger, a, b = room_of_two()
    for seq in (1, 2):
        ledger.delivered(b, entry(ledger, a, "#r", seq))
    assert any("had to get" in v for v in verdict(ledger, a, b))


def test_duplicates_and_reordering_are_caught() -> None:
    for order in ((1, 2, 2, 3), (2, 1, 3)):
        ledger, a, b = room_of_two()
        for seq in order:
            ledger.delivered(b, entry(ledger, a, "#r", seq))
        assert any("duplicate or reordered" in v for v in verdict(ledger, a, b)), order


def test_wrong_recipients_and_forged_senders_are_caught() -> None:
    ledger, a, b = room_of_two()
    c = ledger.incarnation("@c")
    ledger.join(c, ["@c"])
    ledger.delivered(c, entry(ledger, a, "#r", 1))  # not a member
    ledger.text(a, "@b")
    ledger.delivered(c, entry(ledger, a, "@b", 1))  # someone else's direct message
    ledger.delivered(a, entry(ledger, a, "#r", 1))  # its own room message
    ledger.delivered(b, {"target": "#r", "from": "@c", "message": f"{a.id}:1"})  # forged
    ledger.delivered(b, {"target": "#r", "from": "@a", "message": "hello"})  # never sent
    ledger.end(c, ledger.tick(), confirms=True)
    problems = verdict(ledger, a, b)
    for words in ("not a member", "for someone else", "its own", "sent by", "nobody sent"):
        assert any(words in v for v in problems), words


def test_edges_of_a_membership_are_optional_and_its_middle_required() -> None:
    ledger, a, b = room_of_two()
    for seq in (1, 2, 3):
        ledger.delivered(b, entry(ledger, a, "#r", seq))
    ledger.text(a, "#r")  # seq 4: not confirmed before @b asks to leave, so optional
    ledger.leave(b, "#r", ledger.tick())
    assert verdict(ledger, a, b) == []
    ledger, a, b = room_of_two()
    ledger.leave(b, "#r", ledger.tick())  # seqs 1 to 3 were confirmed before: required
    ledger.join(b, ["#r"])
    ledger.text(a, "#r")  # seq 4, sent after @b joined again: required
    ledger.text(a, "@a")
    ledger.barrier_back(a)
    problems = verdict(ledger, a, b)
    assert len(problems) == 2 and "0:1..3" in problems[0] and "0:4..4" in problems[1]


def test_an_auto_join_is_required_from_its_barrier_on() -> None:
    ledger, a, b = room_of_two()
    for seq in (1, 2, 3):
        ledger.delivered(b, entry(ledger, a, "#r", seq))
    ledger.text(b, "#s")  # @b posts to #s and so joins it; when, only its barrier tells
    ledger.join(b, ["#s"], after=INF)
    ledger.text(a, "#s")  # may or may not reach @b
    ledger.text(b, "@b")
    ledger.barrier_back(b)
    ledger.text(a, "#s")  # sent after @b's barrier came back: required
    ledger.text(a, "@a")
    ledger.barrier_back(a)
    problems = verdict(ledger, a, b)
    assert len(problems) == 1 and "had to get 0:2..2" in problems[0]


def test_refusals_must_account_for_every_undelivered_direct_message() -> None:
    ledger, a, b = room_of_two()
    ledger.text(a, "@ghost")
    ledger.text(a, "@b")
    ledger.delivered(b, entry(ledger, a, "@b", 1))
    ledger.end(a, ledger.tick(), confirms=True)  # no refusal received for @ghost
    ledger.end(b, ledger.tick(), confirms=True)
    ledger.verify()
    assert any("1 delivered, 0 refused" in v for v in ledger.violations)
