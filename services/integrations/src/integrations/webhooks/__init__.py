"""Webhooks. The use cases are functions taking the caller's session: one transaction per
use case, opened by the entry point (a route, the consumer, a timer or the dispatcher).

- ``endpoints``: a tenant's URLs, their subscriptions and signing secrets;
- ``messages``: ``fan_out`` makes one delivery per subscribed endpoint, in member order;
  deliveries are listed, tested, redelivered and recovered;
- ``attempts``: a delivery's attempts, claimed under a lease and recorded (at least once);
- ``delivery``: the dispatcher that sends attempts outside any transaction.
"""
