"""The classic group coordinator: consumer groups and committed offsets, sans-IO.

State lives in the compacted ``__consumer_offsets`` topic and is rebuilt by replaying it;
operations return the records to append and the replies to send. See :mod:`.coordinator`
for the facade, :mod:`.results` for the contract with the runtime, :mod:`.state` for the
state machine and :mod:`.records` for the record formats.
"""

from moldau.coordinator.group.config import GroupConfig
from moldau.coordinator.group.coordinator import GroupCoordinator
from moldau.coordinator.group.offsets import CommittedOffset
from moldau.coordinator.group.results import CoordinatorRecord, Result, Token
from moldau.coordinator.group.state import GroupState

__all__ = [
    "CommittedOffset",
    "CoordinatorRecord",
    "GroupConfig",
    "GroupCoordinator",
    "GroupState",
    "Result",
    "Token",
]
