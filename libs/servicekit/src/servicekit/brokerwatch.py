"""Noticing that the broker came back empty, so that nothing it held is lost.

The dev broker (Tansu, memory storage) starts empty after every restart: no topics, no
records, no committed offsets. Events the relays had already marked sent, but which a
consumer had not applied yet, would be gone. Each broker start gets its own cluster id
(``DevBroker`` makes a fresh one), so a different cluster id is the sign:

- the relay compares the broker's cluster id with the one it last published to, kept in the
  service's database (``broker_epochs``), before every batch. On a change it marks the
  outbox rows sent within its retention window unsent again, in the transaction that
  records the new id, and provisions the service's topics on the new broker; the rows then
  go out again in id order, older ones first. Only one replica wins the conditional update
  that records the new id. Then the relay's producer rereads the partitions of its topics:
  Tansu creates a topic on any client's metadata request, with 4 partitions (a consumer's
  request often comes before the provisioning), and acknowledges sends to partitions it
  does not list, which no reader ever sees. Routed by the old broker's 6, a third of the
  events were lost that way. Such a topic keeps 4 partitions (Tansu cannot add any); a
  key still goes to one partition, so its events stay in order.
- the consumer compares the cluster id with the one it started on before applying a fetched
  batch. On a change it rereads its partitions from the beginning: the inbox skips every
  event it had applied, and nothing the new broker holds is skipped (its committed offsets
  and in-memory position belong to the old broker).

The guarantee is bounded by that window (``relay_retention_hours``, 24 h by default): an
event that a consumer had not applied when the broker was lost is recovered if it was sent
within the window. Each recovery puts the window's events on the new broker again, so the broker's
memory after a recycle is what the services retained.

Apache Kafka keeps its cluster id for life, so with it the check never fires; a move to
another cluster republishes the retained window, which the inboxes make harmless. A broker
answering metadata below version 2 has no cluster id: the check is then off.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.protocol.metadata import MetadataRequest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import insert_ignore
from servicekit.tables import broker_epochs, outbox
from servicekit.types import utcnow

log = logging.getLogger(__name__)

EPOCH_NAME = "relay"

_KNOWN = select(broker_epochs.c.cluster_id).where(broker_epochs.c.name == EPOCH_NAME)


async def cluster_id(producer: AIOKafkaProducer) -> str | None:
    """The cluster id the broker reports now (one small metadata request, no topics)."""
    client = producer.client
    node = client.get_random_node()
    if node is None:
        await client.force_metadata_update()
        node = client.get_random_node()
        if node is None:
            return None
    response = await client.send(node, MetadataRequest([]))
    found = getattr(response, "cluster_id", None)
    return str(found) if found else None


async def record_broker(
    session: AsyncSession, current: str, window: timedelta = timedelta(hours=24)
) -> int | None:
    """Remember ``current`` as the relay's broker. When it replaces another one, mark the
    outbox rows sent within ``window`` unsent again and return how many; None when nothing
    was replaced (the first broker ever, the same one, or another replica recorded it first)."""
    known = (await session.execute(_KNOWN)).scalar_one_or_none()
    now = utcnow()
    if known is None:
        await insert_ignore(
            session, broker_epochs, {"name": EPOCH_NAME, "cluster_id": current, "seen_at": now}
        )
        return None
    if known == current:
        return None
    moved = await session.execute(
        update(broker_epochs)
        .where(broker_epochs.c.name == EPOCH_NAME, broker_epochs.c.cluster_id == known)
        .values(cluster_id=current, seen_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    requeued = await session.execute(
        update(outbox).where(outbox.c.sent_at >= now - window).values(sent_at=None)
    )
    count = int(requeued.rowcount)  # type: ignore[attr-defined]
    log.warning(
        "the broker changed (cluster %s, was %s): %d retained events will be published again",
        current,
        known,
        count,
    )
    return count
