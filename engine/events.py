"""What goes into the engine and what comes out: small frozen dataclasses, as in h11.

The transport turns socket activity into input events and carries out the outputs. Connection
ids are chosen by the transport; time is passed in (`now`, in seconds on any monotonic clock),
so the engine never reads a clock and the same event log always gives the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import ErrorCode, Trigger

ConnId = int


@dataclass(frozen=True, slots=True)
class ConnectionOpened:
    conn: ConnId
    now: float = 0.0
    address: str = ""


@dataclass(frozen=True, slots=True)
class DataReceived:
    conn: ConnId
    data: bytes
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The peer closed or reset the connection; unknown or already closed ids are ignored."""

    conn: ConnId


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed: lets the engine end sessions that never connected."""

    now: float


@dataclass(frozen=True, slots=True)
class Kick:
    """The transport ends a session for a reason only it can see (e.g. `queue_full`).

    `error` is the error of a limit (errors.json: a `LIMIT-` rule); any other is a `UsageError`.
    """

    conn: ConnId
    error: ErrorCode


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


# -- the cluster: what a node learns from the broker it shares with other nodes -----------------
#
# With several nodes (`jsonchat serve --redis`), names, room sequences and room traffic live in a
# broker (Redis; a fake in tests). The engine stays pure: it asks with outputs and hears answers as
# events. Every room message, the sender's node included, is delivered from the broker's
# `RoomMessage`, numbered by a per-room sequence the broker assigns, so every member on every node
# sees a room's messages in one order; a node that sees a gap asks for it with `Fetch`.
# A request of a session (`Register`, `SendDirect`) holds that session's later frames until it is
# answered, so replies keep the order of the frames that caused them.


@dataclass(frozen=True, slots=True)
class Registered:
    """The answer to `Register`.

    `granted` is False when the name is held on another node (CONNECT-3): nothing was changed.
    `sequences`: for each room of the request, the room's last sequence number when this node
    became a member (a message numbered above it is for the session; at or below, it is history).
    `history`: the rooms' most recent entries, each `(order, entry)` where `order` is the broker's
    global order of messages (comparable across rooms) and `entry` the JSON object as bytes
    (`{"target", "from", "message"}`), oldest first, at most the `history` of the request per
    room.
    """

    conn: ConnId
    granted: bool
    sequences: tuple[tuple[str, int], ...] = ()
    history: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Published:
    """The answer to `Publish`: the sequence number the broker gave the message in its room."""

    conn: ConnId
    room: str
    sequence: int


@dataclass(frozen=True, slots=True)
class RoomMessage:
    """A message of `room`, numbered `sequence` there (1, 2, ... per room, no gaps).

    `sender` is the sending connection when the sender is on this node (never delivered back to
    it, ROUTE-3), None when it is on another node. `entry` is the JSON object as bytes, as
    published.
    """

    room: str
    sequence: int
    sender: ConnId | None
    entry: bytes


@dataclass(frozen=True, slots=True)
class Fetched:
    """The answer to `Fetch`: the room's messages after the asked sequence, oldest first.

    Fewer than asked for when the broker no longer holds the oldest (its stream is capped):
    those are lost, and the engine goes on from what it got.
    """

    room: str
    messages: tuple[RoomMessage, ...]


@dataclass(frozen=True, slots=True)
class DirectSent:
    """The answer to `SendDirect`: False when no node holds the target name (ROUTE-7)."""

    conn: ConnId
    delivered: bool


@dataclass(frozen=True, slots=True)
class DirectMessage:
    """A direct message from another node for the session named `target` on this node."""

    target: str
    data: bytes


@dataclass(frozen=True, slots=True)
class BrokerFailed:
    """The broker could not carry out the request of `conn` (unreachable, restarting).

    The session gets the `unavailable` error and keeps its state (a connect not done stays not
    done); nothing is retried for it.
    """

    conn: ConnId


@dataclass(frozen=True, slots=True)
class BrokerReconnected:
    """The node's connection to the broker was lost and is back; messages may have been missed.

    `state_lost`: the broker lost what it held (a restart without persistence), so names and
    room memberships must be claimed again and room sequences started over. The engine answers
    with `Resume`.
    """

    state_lost: bool


@dataclass(frozen=True, slots=True)
class Resumed:
    """The answer to `Resume`: each room's last sequence number now."""

    sequences: tuple[tuple[str, int], ...]


ClusterEvent = (
    Registered
    | Published
    | RoomMessage
    | Fetched
    | DirectSent
    | DirectMessage
    | BrokerFailed
    | BrokerReconnected
    | Resumed
)

Event = ConnectionOpened | DataReceived | ConnectionLost | Tick | Kick | Shutdown


@dataclass(frozen=True, slots=True, init=False)
class Send:
    """Write `data` (one or more whole `\\n`-ended frames) to every connection in `to`.

    A delivery is encoded once; the same bytes object goes to every recipient.
    """

    to: tuple[ConnId, ...]
    data: bytes

    def __init__(self, to: tuple[ConnId, ...], data: bytes) -> None:
        # The __init__ dataclass writes for a frozen class, but through the fields' own slot
        # setters rather than `object.__setattr__`: the engine makes one Send per frame it
        # answers, and this halves what making one costs (4,300 instructions before).
        _set_to(self, to)
        _set_data(self, data)


_set_to, _set_data = Send.__dict__["to"].__set__, Send.__dict__["data"].__set__


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection once everything sent to it before has been written.

    `reason` is the event that ended the session (`disconnect`, `shutdown`) or the error code of
    the limit that did (`too_many_errors`, `connect_timeout`, `queue_full`, `server_full`), for
    the transport's logs; either is a `str`.
    """

    conn: ConnId
    reason: Trigger | ErrorCode


# -- the cluster: what a node asks of the broker ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    """A session connects, or reconnects with other rooms: answered by `Registered`.

    Claim `name` across the cluster unless it is None (a reconnect keeps its name); make this node
    a member of `rooms` (`#all` included on a first connect) and return their last sequence
    numbers; return the last `history` entries of each of `history_rooms` (a room's own cap,
    ROUTE-12), merged in the broker's order: the engine keeps the last `history_on_connect`.
    """

    conn: ConnId
    name: str | None
    rooms: tuple[str, ...]
    history_rooms: tuple[str, ...]
    history: int


@dataclass(frozen=True, slots=True)
class Publish:
    """Number a message in `room`, keep it in the room's history, send it to every node that is
    a member (this one too, as a `RoomMessage`). `joined`: the sender joins the room by sending
    (ROUTE-4), so this node becomes a member first. Answered by `Published`."""

    conn: ConnId
    room: str
    entry: bytes
    joined: bool = False


@dataclass(frozen=True, slots=True)
class SendDirect:
    """Deliver `data` to the session named `target` on whichever node holds it: `DirectSent`."""

    conn: ConnId
    target: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Fetch:
    """Ask for the messages of `room` numbered above `after` (to repair a gap): `Fetched`."""

    room: str
    after: int


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    """This node no longer has a member in `room` (an empty room is dropped, ROUTE-12)."""

    room: str


@dataclass(frozen=True, slots=True)
class Release:
    """The name is free again (CONNECT-6, DISCONNECT-6)."""

    name: str


@dataclass(frozen=True, slots=True)
class Resume:
    """After `BrokerReconnected`: claim `names` and memberships of `rooms` again where the broker
    lost them, and report each room's last sequence number (`Resumed`)."""

    names: tuple[str, ...]
    rooms: tuple[str, ...]


ClusterOutput = Register | Publish | SendDirect | Fetch | LeaveRoom | Release | Resume

Output = Send | Close  # what a single node's engine emits; a node of a cluster also `ClusterOutput`

# What a node of a cluster (`engine.cluster.ClusterEngine`) takes in and gives out.
NodeEvent = Event | ClusterEvent
NodeOutput = Output | ClusterOutput
