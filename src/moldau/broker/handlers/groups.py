"""Group APIs that the group coordinator answers without broker-side work:

- SyncGroup (14), v0-5: the leader's assignment reaches every member; followers wait for it.
- Heartbeat (12), v0-4: keeps a member alive and tells it when a rebalance starts.
- LeaveGroup (13), v0-5: members leave, batched from v3.
- OffsetFetch (9), v1-9: committed offsets, for several groups from v8.
- OffsetDelete (47), v0: removes committed offsets of partitions a group no longer consumes.
- DescribeGroups (15), v0-6: state, protocol and members of groups.
- ListGroups (16), v0-5: every group, filtered by state (v4+) and type (v5+).
- DeleteGroups (42), v0-2: removes empty groups and their offsets.

JoinGroup, OffsetCommit and FindCoordinator have modules of their own (they do work here).
"""

from __future__ import annotations

from moldau.broker.handlers.coordinated import CoordinatorHandler
from moldau.protocol.messages.delete_groups import DELETE_GROUPS
from moldau.protocol.messages.describe_groups import DESCRIBE_GROUPS
from moldau.protocol.messages.heartbeat import HEARTBEAT
from moldau.protocol.messages.leave_group import LEAVE_GROUP
from moldau.protocol.messages.list_groups import LIST_GROUPS
from moldau.protocol.messages.offset_delete import OFFSET_DELETE
from moldau.protocol.messages.offset_fetch import OFFSET_FETCH
from moldau.protocol.messages.sync_group import SYNC_GROUP

HANDLERS = [
    CoordinatorHandler(SYNC_GROUP, "groups", "sync_group"),
    CoordinatorHandler(HEARTBEAT, "groups", "heartbeat"),
    CoordinatorHandler(LEAVE_GROUP, "groups", "leave_group"),
    CoordinatorHandler(OFFSET_FETCH, "groups", "offset_fetch"),
    CoordinatorHandler(OFFSET_DELETE, "groups", "offset_delete"),
    CoordinatorHandler(DESCRIBE_GROUPS, "groups", "describe_groups"),
    CoordinatorHandler(LIST_GROUPS, "groups", "list_groups"),
    CoordinatorHandler(DELETE_GROUPS, "groups", "delete_groups"),
]
