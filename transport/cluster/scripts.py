"""The Lua scripts that carry out the cluster's semantics in Redis, each atomically.

The keys (all under `jc:`), as cluster_semantics.md lays them out:

    jc:node:{id}      a node's liveness lease (SET PX node_lease_ms, renewed every lease_renew_ms)
    jc:name:{name}    the node id that holds a user name (CONNECT-3 across nodes)
    jc:members:{room} the ids of the nodes with at least one local member in the room
    jc:seq:{room}     the room's last sequence number (INCR)
    jc:order          one global counter, to merge the histories of several rooms in order
    jc:stream:{room}  the room's messages, capped (room_stream_length); entry id `{seq}-1`,
                      fields o (order), n (origin node), c (origin connection), e (entry)
    jc:epoch          a random value set once per Redis dataset: a change says Redis lost its data

and the pub/sub channels: `jc:room:{room}` (room messages, every member node subscribes) and
`jc:node:{id}` (direct messages for the sessions of one node).

A name or a room membership of a node whose lease has expired counts for nothing: a claim takes
the name, and whoever next touches the room removes the dead node from it; a room left with no
live node is dropped with its history (ROUTE-12), except `#all`, which every node is always in.
Each script is sent with EVALSHA; the SHA1 of its source is known without asking Redis.
Standalone Redis only: the scripts touch keys they compute, which Redis Cluster forbids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

ALL = "#all"

_PRELUDE = """
local function alive(node, me)
  return node == me or redis.call('EXISTS', 'jc:node:' .. node) == 1
end

local function claim(name, me)
  local key = 'jc:name:' .. name
  local owner = redis.call('GET', key)
  if owner and not alive(owner, me) then owner = false end
  if owner and owner ~= me then return false end
  redis.call('SET', key, me)
  return true
end

-- Removes dead nodes from the room; true when no live node is left in it.
local function prune(room, me)
  local key = 'jc:members:' .. room
  for _, node in ipairs(redis.call('SMEMBERS', key)) do
    if not alive(node, me) then redis.call('SREM', key, node) end
  end
  return redis.call('SCARD', key) == 0
end

-- ROUTE-12: an empty room is dropped with its history; #all never is.
local function drop(room)
  if room ~= '#all' then redis.call('DEL', 'jc:stream:' .. room, 'jc:seq:' .. room) end
end

-- This node becomes a member; returns the room's last sequence number.
local function join(room, me)
  if prune(room, me) then drop(room) end
  redis.call('SADD', 'jc:members:' .. room, me)
  return tonumber(redis.call('GET', 'jc:seq:' .. room) or '0')
end
"""


@dataclass(frozen=True)
class Script:
    name: str
    body: str
    source: str = field(init=False)
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        source = _PRELUDE + self.body
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "sha", hashlib.sha1(source.encode()).hexdigest())


# ARGV: me, name ('' for none), history, n, n rooms to join, then the history rooms.
# Returns {granted, {sequence per room}, {order, entry, order, entry, ...}} (history newest first
# per room; the driver merges the rooms by order).
REGISTER = Script(
    "register",
    """
local me, name, want, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if name ~= '' and not claim(name, me) then return {0, {}, {}} end
local sequences = {}
for i = 5, 4 + n do sequences[#sequences + 1] = join(ARGV[i], me) end
local history = {}
if want > 0 then
  for i = 5 + n, #ARGV do
    local stream = 'jc:stream:' .. ARGV[i]
    for _, item in ipairs(redis.call('XREVRANGE', stream, '+', '-', 'COUNT', want)) do
      history[#history + 1] = item[2][2]
      history[#history + 1] = item[2][8]
    end
  end
end
return {1, sequences, history}
""",
)

# ARGV: me, conn, room, entry, joined ('1' or '0'), stream length. Returns the sequence number.
PUBLISH = Script(
    "publish",
    """
local me, conn, room, entry = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] == '1' then join(room, me) end
local seq = redis.call('INCR', 'jc:seq:' .. room)
local order = redis.call('INCR', 'jc:order')
redis.call('XADD', 'jc:stream:' .. room, 'MAXLEN', '~', ARGV[6], seq .. '-1',
           'o', order, 'n', me, 'c', conn, 'e', entry)
local header = seq .. ' ' .. order .. ' ' .. me .. ' ' .. conn .. ' '
redis.call('PUBLISH', 'jc:room:' .. room, header .. entry)
return seq
""",
)

# ARGV: me, target, data. Returns 1 when a live node holding the name was subscribed, else 0.
DIRECT = Script(
    "direct",
    """
local owner = redis.call('GET', 'jc:name:' .. ARGV[2])
if not owner or not alive(owner, ARGV[1]) then return 0 end
local payload = string.len(ARGV[2]) .. ':' .. ARGV[2] .. ARGV[3]
if redis.call('PUBLISH', 'jc:node:' .. owner, payload) > 0 then return 1 end
return 0
""",
)

# ARGV: me, room.
LEAVE = Script(
    "leave",
    """
local me, room = ARGV[1], ARGV[2]
redis.call('SREM', 'jc:members:' .. room, me)
if prune(room, me) then drop(room) end
return 0
""",
)

# ARGV: me, name.
RELEASE = Script(
    "release",
    """
local key = 'jc:name:' .. ARGV[2]
if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
return 0
""",
)

# ARGV: me, n, n names, then the rooms. Returns {{sequence per room}, {names held elsewhere}}.
RESUME = Script(
    "resume",
    """
local me, n = ARGV[1], tonumber(ARGV[2])
local taken = {}
for i = 3, 2 + n do
  if not claim(ARGV[i], me) then taken[#taken + 1] = ARGV[i] end
end
local sequences = {}
for i = 3 + n, #ARGV do sequences[#sequences + 1] = join(ARGV[i], me) end
return {sequences, taken}
""",
)

ALL_SCRIPTS = (REGISTER, PUBLISH, DIRECT, LEAVE, RELEASE, RESUME)
