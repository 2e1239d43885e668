"""Prometheus metrics of the outbox, read from its table when /metrics is scraped.

Every api process relays from the one table, so the counts are the deployment's whichever
process is scraped. `lingkar_outbox_oldest_due_seconds` is the one to alert on: a message
waiting that long past its time is held back (a lane whose first message keeps failing holds
its session's later calls) or no relay is running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from shared.queue import counts_by_state
from shared.timeutil import as_utc, utcnow

log = logging.getLogger("lingkar.metrics")
STATES = ("due", "scheduled", "dead")


class OutboxMetrics(Collector):
    """Messages still to deliver (due now, or scheduled for a retry), given up on, and how long
    the oldest due one has waited past its time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.counts: dict[tuple[Any, ...], int] = {}
        self.oldest_due_seconds = 0.0

    async def refresh(self) -> None:
        """Read the counts; when the database cannot be read, the last ones stay."""
        now = utcnow()
        try:
            async with AsyncSession(self.engine) as db:
                counts = await counts_by_state(db, OutboxMessage, now=now, by=[OutboxMessage.kind])
                oldest = (
                    await db.exec(
                        select(func.min(OutboxMessage.next_attempt_at)).where(
                            OutboxMessage.status == "pending",
                            col(OutboxMessage.next_attempt_at) <= now,
                        )
                    )
                ).one()
        except Exception:
            log.warning("outbox metrics not refreshed", exc_info=True)
            return
        self.counts = counts
        self.oldest_due_seconds = (now - as_utc(oldest)).total_seconds() if oldest else 0.0

    def collect(self) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "lingkar_outbox_messages",
            "Calls to other services in the outbox by kind: due now, scheduled for a retry, "
            "or given up on (dead)",
            labels=["kind", "state"],
        )
        for kind in sorted({k for k, _ in self.counts}):
            for state in STATES:
                messages.add_metric([kind, state], self.counts.get((kind, state), 0))
        yield messages
        yield GaugeMetricFamily(
            "lingkar_outbox_oldest_due_seconds",
            "How long the oldest due outbox message has waited past its time (0: none due)",
            value=self.oldest_due_seconds,
        )
