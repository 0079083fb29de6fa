"""Exactly-once, in-order accounting of every delivery, exact despite joins, leaves and reconnects.

Every message text is `<tag><incarnation>:<seq>`, numbered per sender incarnation (one
connection's life under a name) and target; the tag tells runs on one server apart. The ledger
keeps one logical clock, ticked by every send and every packet handled, all in one thread, so
clock order is real-time order. Three facts make it exact:

- The server handles everything in one order. A delivery on a receiver's stream falls between the
  replies that changed its membership, so each delivery is attributed to one membership interval
  of the receiver exactly, by its position.
- The messages of one sender to one target that the server handled during an interval are
  consecutive: each run of seqs in an interval must go up by one (no loss, duplicate or reorder
  inside it), and seqs never repeat for a receiver (no duplicate across intervals).
- Which messages an interval MUST hold is known from the clock: those sent after the receiver read
  the reply that made it a member (the server had handled that before), and confirmed (a later
  self-addressed message of the sender came back: the server had handled it) before the receiver
  asked to leave. Messages in between may or may not arrive; if they do, they extend the run.
  All of that is known when the interval ends, so it is checked then, and its runs dropped.

An auto-join (posting to a room one is not in) has no reply: its interval may receive from the
post on, and must from when the poster's next barrier comes back. Direct messages to a user are an
interval of that user's incarnation; a direct message the server refused must have been answered
with `Target user not connected`, so per sender, refusals = sent - delivered, counted exactly.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

INF = float("inf")
MAX_KEPT = 30  # violations described; all are counted, by kind
KINDS = ("lost", "duplicated", "misdelivered", "refusals", "other")


@dataclass(eq=False)
class Interval:
    receiver: int
    target: str  # "#room", "#all" or the receiver's "@name"
    opened: int  # clock from which deliveries are allowed (for the report)
    required_after: float  # sends after this clock must arrive (INF until a barrier tells)
    required_before: float = INF  # confirmed before this clock: must arrive; set when it closes
    runs: dict[int, list[int]] = field(default_factory=dict)  # sender -> [first, last] seq


@dataclass(eq=False)
class Incarnation:
    id: int
    name: str
    sends: dict[str, list[int]] = field(default_factory=dict)  # target -> send clock per seq
    barriers_sent: deque[int] = field(default_factory=deque)
    confirmed_sent: list[int] = field(default_factory=list)  # clocks of barriers that came
    confirmed_back: list[int] = field(default_factory=list)  # back, and of their return
    members: dict[str, Interval] = field(default_factory=dict)
    fuzzy: list[Interval] = field(default_factory=list)  # auto-joins awaiting a barrier
    refusals: int = 0  # `Target user not connected` received
    refusals_confirmed: tuple[int, int] | None = None  # (last confirmed barrier sent, refusals)
    # Per target, per sender: the last seq got in memberships that ended (to catch a duplicate
    # after a rejoin); dropped with the incarnation.
    past: dict[str, dict[int, int]] = field(default_factory=dict)


class Ledger:
    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.clock = 0
        self.incarnations: list[Incarnation] = []
        self.intervals = 0
        self.required = 0  # messages that closed intervals had to get (and were checked for)
        # Per target, every message's send clock and sender, in send (so clock) order.
        self.clocks_to: dict[str, list[int]] = defaultdict(list)
        self.senders_to: dict[str, list[int]] = defaultdict(list)
        self.direct_delivered: dict[int, list[tuple[str, int]]] = defaultdict(list)
        self.deliveries = 0
        self.violation_count = 0
        self.kinds: Counter[str] = Counter()  # lost, duplicated, misdelivered, refusals, other
        self.violations: list[str] = []

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def violation(self, text: str, kind: str = "other") -> None:
        self.violation_count += 1
        self.kinds[kind] += 1
        if len(self.violations) < MAX_KEPT:
            self.violations.append(text)

    # -- the sending side ---------------------------------------------------------------------

    def incarnation(self, name: str) -> Incarnation:
        incarnation = Incarnation(len(self.incarnations), name)
        self.incarnations.append(incarnation)
        return incarnation

    def text(self, sender: Incarnation, target: str) -> str:
        """The text of the next message of `sender` to `target`, sent now."""
        clocks = sender.sends.setdefault(target, [])
        clocks.append(self.tick())
        self.clocks_to[target].append(self.clock)
        self.senders_to[target].append(sender.id)
        if target == sender.name:
            sender.barriers_sent.append(self.clock)
        return f"{self.tag}{sender.id}:{len(clocks)}"

    # -- the receiving side, in the order of each receiver's stream -------------------------

    def join(self, who: Incarnation, targets: list[str], after: float | None = None) -> None:
        """`who` is a member of `targets` from now on (a connect's reply was read)."""
        now = self.tick()
        for target in targets:
            if target not in who.members:
                interval = Interval(who.id, target, now, now if after is None else after)
                who.members[target] = interval
                self.intervals += 1
                if after == INF:
                    who.fuzzy.append(interval)

    def leave(self, who: Incarnation, target: str, asked_at: int) -> None:
        """`who` is no longer a member of `target`; it asked at clock `asked_at`."""
        interval = who.members.pop(target, None)
        if interval is not None:
            interval.required_before = asked_at
            if interval in who.fuzzy:
                who.fuzzy.remove(interval)
            self._settle(interval)
            last = who.past.setdefault(target, {})
            for sender, (_, seq) in interval.runs.items():
                last[sender] = max(seq, last.get(sender, 0))

    def end(self, who: Incarnation, asked_at: int, confirms: bool) -> None:
        """The connection ends: `disconnect` asked at `asked_at` (which, once answered, confirms
        everything sent before), or a reset after the barrier sent at `asked_at` came back."""
        if confirms:
            self._confirm(who, asked_at)
        for target in list(who.members):
            self.leave(who, target, asked_at)
        who.past.clear()

    def refused(self, who: Incarnation) -> None:
        who.refusals += 1

    def barrier_back(self, who: Incarnation) -> None:
        if not who.barriers_sent:
            self.violation(f"{who.name}: a barrier came back that was never sent")
            return
        self._confirm(who, who.barriers_sent.popleft())

    def _confirm(self, who: Incarnation, sent: int) -> None:
        now = self.tick()
        who.confirmed_sent.append(sent)
        who.confirmed_back.append(now)
        who.refusals_confirmed = (sent, who.refusals)
        for interval in [i for i in who.fuzzy if i.opened < sent]:
            interval.required_after = now
            who.fuzzy.remove(interval)

    def delivered(self, to: Incarnation, entry: dict[str, Any]) -> None:
        self.deliveries += 1
        target, claimed = entry.get("target"), entry.get("from")
        sender_seq = self._parse(entry)
        if sender_seq is None:
            self.violation(f"{to.name} got a message nobody sent: {entry!r}", "misdelivered")
            return
        sender, seq = sender_seq
        where = f"{to.name} got {entry!r}"
        if claimed != sender.name:
            return self.violation(f"{where}, sent by {sender.name}", "misdelivered")
        if not (isinstance(target, str) and 1 <= seq <= len(sender.sends.get(target, ()))):
            return self.violation(f"{where}: never sent to that target", "misdelivered")
        if target[0] == "@" and target != to.name:
            return self.violation(f"{where}: a direct message for someone else", "misdelivered")
        if sender is to and target != to.name:
            return self.violation(f"{where}: its own message", "misdelivered")
        interval = to.members.get(target)
        if interval is None:
            return self.violation(f"{where}: not a member", "misdelivered")
        run = interval.runs.get(sender.id)
        last = run[1] if run else self._last_seen(to, sender.id, target)
        if seq <= last:
            return self.violation(
                f"{where}: after seq {last} (duplicate or reordered)", "duplicated"
            )
        if run is None:
            interval.runs[sender.id] = [seq, seq]
        elif seq == run[1] + 1:
            run[1] = seq
        else:
            self.violation(f"{where}: after seq {run[1]}: {seq - run[1] - 1} lost", "lost")
            run[1] = seq
        if target[0] == "@" and sender is not to:
            self.direct_delivered[sender.id].append((target, seq))

    def acceptable(self, to: Incarnation, entry: dict[str, Any]) -> bool:
        """Whether `entry` could be `to`'s next delivery: from a target it is a member of, and
        not seen yet. (A reply to a connect with one entry is not; see swarm.py.)"""
        sender_seq = self._parse(entry)
        if sender_seq is None or entry.get("target") not in to.members:
            return False
        sender, seq = sender_seq
        target = str(entry.get("target"))
        run = to.members[target].runs.get(sender.id)
        return seq > (run[1] if run else self._last_seen(to, sender.id, target))

    @staticmethod
    def _last_seen(to: Incarnation, sender: int, target: str) -> int:
        """The last seq from `sender` to `target` that `to` got in its earlier memberships."""
        return to.past.get(target, {}).get(sender, 0)

    def _parse(self, entry: dict[str, Any]) -> tuple[Incarnation, int] | None:
        text = str(entry.get("message"))
        if not text.startswith(self.tag):
            return None
        try:
            sender_id, seq = (int(part) for part in text[len(self.tag) :].split(":"))
            return self.incarnations[sender_id], seq
        except (ValueError, IndexError):
            return None

    def was_sent(self, entry: dict[str, Any]) -> bool:
        """Whether a history entry (in a connect's reply) is a message someone sent there;
        entries of an earlier run on the same server (another tag) cannot be checked."""
        if not str(entry.get("message")).startswith(self.tag):
            return True
        sender_seq = self._parse(entry)
        if sender_seq is None:
            return False
        sender, seq = sender_seq
        target = entry.get("target")
        sent = isinstance(target, str) and 1 <= seq <= len(sender.sends.get(target, ()))
        return sent and entry.get("from") == sender.name

    # -- the verdict --------------------------------------------------------------------------

    def _settle(self, interval: Interval) -> None:
        """Check a membership as it ends: what it had to get is known by then, since a message is
        required only if sent after it began and confirmed before it was asked to end."""
        clocks = self.clocks_to[interval.target]
        start = bisect_right(clocks, interval.required_after)
        end = bisect_left(clocks, interval.required_before)
        # Only a sender with a message sent during the interval can owe it one.
        for sender_id in set(self.senders_to[interval.target][start:end]):
            if sender_id != interval.receiver or interval.target[0] == "@":
                self.required += self._check(interval, self.incarnations[sender_id])

    def verify(self) -> dict[str, int]:
        """Once everyone has gone: no membership left open, every refusal accounted for."""
        for who in self.incarnations:
            for target in who.members:
                self.violation(f"{who.name} ({who.id}) is still in {target}")
            self._check_refusals(who)
        sent = sum(len(c) for i in self.incarnations for c in i.sends.values())
        return {
            "incarnations": len(self.incarnations),
            "messages_sent": sent,
            "deliveries_checked": self.deliveries,
            "deliveries_required": self.required,
            "intervals": self.intervals,
            "violations": self.violation_count,
            **{f"violations_{kind}": self.kinds[kind] for kind in KINDS},
        }

    def _check(self, interval: Interval, sender: Incarnation) -> int:
        clocks = sender.sends.get(interval.target, [])
        first = bisect_right(clocks, interval.required_after) + 1
        barriers = bisect_left(sender.confirmed_back, interval.required_before)
        last = bisect_left(clocks, sender.confirmed_sent[barriers - 1]) if barriers else 0
        if first > last:
            return 0
        run = interval.runs.get(sender.id)
        if run is None or run[0] > first or run[1] < last:
            receiver = self.incarnations[interval.receiver].name
            self.violation(
                f"{receiver} ({interval.receiver}) in {interval.target} had to get "
                f"{sender.id}:{first}..{last} from {sender.name}, got {run}",
                "lost",
            )
        return last - first + 1

    def _check_refusals(self, who: Incarnation) -> None:
        if who.refusals_confirmed is None:
            return
        until, refusals = who.refusals_confirmed
        sends = [
            (target, seq)
            for target, clocks in who.sends.items()
            if target[0] == "@" and target != who.name
            for seq, clock in enumerate(clocks, 1)
            if clock < until
        ]
        wanted = set(sends)
        delivered = sum(1 for pair in self.direct_delivered[who.id] if pair in wanted)
        if len(sends) - delivered != refusals:
            self.violation(
                f"{who.name} ({who.id}): {len(sends)} direct messages, {delivered} delivered, "
                f"{refusals} refused",
                "refusals",
            )
