"""Prometheus metrics of delivery, read from the tables when /metrics is scraped.

The workers are processes of their own with no HTTP server; the tables are what they share
with the service that is scraped, so the counts are right however many workers run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.deliveries.models import DeliveryAttempt
from services.notifications.notifications.models import Delivery
from services.notifications.webhooks.models import WebhookMessage
from shared.contracts.notifications import ChannelName
from shared.queue import counts_by_state
from shared.timeutil import utcnow

log = logging.getLogger("lingkar.metrics")
OUTCOMES = ("sent", "failed", "dead")
WEBHOOK_STATES = ("due", "scheduled", "dead")
# Every channel is shown, at 0 until used. By name: the channels' code (SMTP, the providers'
# clients) is the worker's, and the service process need not load it for its metrics.
CHANNELS = tuple(c.value for c in ChannelName)


class DeliveryMetrics(Collector):
    """Tries by channel and outcome (a counter: tries are never deleted) and the queue's depth."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.tries: dict[tuple[str, str], int] = {}
        self.depth: dict[tuple[str, str], int] = {}
        self.webhooks: dict[str, int] = {}

    async def refresh(self) -> None:
        """Read the counts; when the database cannot be read, the last ones stay."""
        try:
            async with AsyncSession(self.engine) as db:
                tries = await db.exec(
                    select(DeliveryAttempt.channel, DeliveryAttempt.outcome, func.count()).group_by(
                        col(DeliveryAttempt.channel), col(DeliveryAttempt.outcome)
                    )
                )
                self.tries = {(c, o): n for c, o, n in tries.all()}
                self.depth = await self._depth(db)
                self.webhooks = await self._webhooks(db)
        except Exception:
            log.warning("delivery metrics not refreshed", exc_info=True)

    async def _depth(self, db: AsyncSession) -> dict[tuple[str, str], int]:
        counts = await counts_by_state(db, Delivery, now=utcnow(), by=[Delivery.channel])
        return {(c, state): n for (c, state), n in counts.items() if state != "dead"}

    async def _webhooks(self, db: AsyncSession) -> dict[str, int]:
        """Webhook messages still to send (due now or later) and given up (dead)."""
        counts = await counts_by_state(db, WebhookMessage, now=utcnow())
        return {state: counts.get((state,), 0) for state in WEBHOOK_STATES}

    def collect(self) -> Iterator[Metric]:
        tries = CounterMetricFamily(
            "lingkar_notification_deliveries",
            "Delivery tries by channel and outcome (sent, failed and to be retried, dead)",
            labels=["channel", "outcome"],
        )
        for channel in sorted(set(CHANNELS) | {c for c, _ in self.tries}):
            for outcome in sorted(set(OUTCOMES) | {o for c, o in self.tries if c == channel}):
                tries.add_metric([channel, outcome], self.tries.get((channel, outcome), 0))
        yield tries
        depth = GaugeMetricFamily(
            "lingkar_notification_queue_depth",
            "Pending deliveries by channel: due now, or scheduled for later",
            labels=["channel", "state"],
        )
        for channel in sorted(set(CHANNELS) | {c for c, _ in self.depth}):
            for state in ("due", "scheduled"):
                depth.add_metric([channel, state], self.depth.get((channel, state), 0))
        yield depth
        webhooks = GaugeMetricFamily(
            "lingkar_webhook_messages",
            "Webhook messages pending (due now, or scheduled for a retry) and given up (dead)",
            labels=["state"],
        )
        for state in WEBHOOK_STATES:
            webhooks.add_metric([state], self.webhooks.get(state, 0))
        yield webhooks
