"""DescribeLogDirs (35), v1-4: each data directory with the partitions it holds and their sizes;
v4 adds the directory's total and usable bytes."""

from __future__ import annotations

import os

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.describe_log_dirs import (
    DESCRIBE_LOG_DIRS,
    DescribeLogDirsPartition,
    DescribeLogDirsRequest,
    DescribeLogDirsResponse,
    DescribeLogDirsResult,
    DescribeLogDirsTopic,
)

API = DESCRIBE_LOG_DIRS


def handle(ctx: RequestContext, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse:
    broker = ctx.broker
    wanted: set[tuple[str, int]] | None = None
    if req.topics is not None:
        wanted = {(t.topic, p) for t in req.topics for p in t.partitions}
    results = []
    for log_dir in broker.log_dirs:
        topics: dict[str, DescribeLogDirsTopic] = {}
        for (topic, partition), plog in sorted(broker.logs.logs_in(log_dir).items()):
            if wanted is not None and (topic, partition) not in wanted:
                continue
            entry = topics.setdefault(topic, DescribeLogDirsTopic(name=topic))
            entry.partitions.append(
                DescribeLogDirsPartition(
                    partition_index=partition, partition_size=plog.size_in_bytes(), offset_lag=0
                )
            )
        try:
            st = os.statvfs(log_dir)
            total, usable = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
            code = ErrorCode.NONE
        except OSError:
            total, usable, code = -1, -1, ErrorCode.KAFKA_STORAGE_ERROR
        results.append(
            DescribeLogDirsResult(
                error_code=code,
                log_dir=log_dir,
                topics=list(topics.values()),
                total_bytes=total,
                usable_bytes=usable,
            )
        )
    return DescribeLogDirsResponse(error_code=ErrorCode.NONE, results=results)
