"""Unit tests for servicekit.events: the CloudEvents envelope over Kafka (binary mode)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit import tracing
from servicekit.events import (
    CONTENT_TYPE,
    SPEC_VERSION,
    EnvelopeError,
    Event,
    decode,
    new_event,
)

TOPIC = "platform.selftest"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
header_text = st.text(min_size=1, max_size=40)
optional_text = st.none() | header_text
traceparents = st.none() | st.builds(tracing.child_of, st.none())
times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def _event(**overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "type": "quanzi.platform.probe.recorded.v1",
        "source": "servicekit",
        "tenant_id": "t-1",
        "topic": TOPIC,
        "data": {"probe_id": "p-1", "subject": "member-42", "amount": 5, "seq": 1},
        "key": "member-42",
        "subject": "member-42",
        "traceparent": tracing.child_of(None),
    }
    fields.update(overrides)
    return Event(**fields)


def _record(event: Event) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    key = event.key.encode() if event.key is not None else None
    return key, event.kafka_value(), event.kafka_headers()


def _headers_without(event: Event, name: str) -> list[tuple[str, bytes]]:
    return [(n, v) for n, v in event.kafka_headers() if n != name]


def _replace_header(event: Event, name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(n, value if n == name else v) for n, v in event.kafka_headers()]


@given(
    data=json_objects,
    event_id=header_text,
    tenant_id=header_text,
    event_type=header_text,
    source=header_text,
    key=optional_text,
    subject=optional_text,
    traceparent=traceparents,
    time=times,
)
def test_round_trip_preserves_every_field(
    data: dict[str, Any],
    event_id: str,
    tenant_id: str,
    event_type: str,
    source: str,
    key: str | None,
    subject: str | None,
    traceparent: str | None,
    time: datetime,
) -> None:
    event = Event(
        type=event_type,
        source=source,
        tenant_id=tenant_id,
        topic=TOPIC,
        data=data,
        key=key,
        subject=subject,
        id=event_id,
        time=time,
        traceparent=traceparent,
    )
    raw_key, value, headers = _record(event)

    decoded = decode(TOPIC, raw_key, value, headers)

    assert decoded == event
    assert decoded.data == data


def test_headers_carry_the_cloudevents_attributes() -> None:
    event = _event()
    headers = dict(event.kafka_headers())

    assert headers["ce_specversion"] == SPEC_VERSION.encode()
    assert headers["ce_id"] == event.id.encode()
    assert headers["ce_type"] == event.type.encode()
    assert headers["ce_source"] == b"servicekit"
    assert headers["ce_tenantid"] == b"t-1"
    assert headers["ce_subject"] == b"member-42"
    assert headers["traceparent"] == event.traceparent.encode()  # type: ignore[union-attr]
    assert headers["content-type"] == CONTENT_TYPE.encode()
    assert datetime.fromisoformat(headers["ce_time"].decode()) == event.time


def test_optional_headers_are_omitted_when_unset() -> None:
    names = {name for name, _ in _event(subject=None, traceparent=None).kafka_headers()}

    assert "ce_subject" not in names
    assert "traceparent" not in names


def test_value_is_compact_utf8_json() -> None:
    value = _event(data={"name": "小明", "n": 1}).kafka_value()

    assert value == '{"name":"小明","n":1}'.encode()


def test_default_ids_are_unique_and_time_is_aware() -> None:
    first, second = _event(), _event()

    assert first.id != second.id
    assert first.time.tzinfo is not None


def test_new_event_continues_the_current_trace() -> None:
    parent = tracing.child_of(None)
    token = tracing.current_traceparent.set(parent)
    try:
        event = new_event(type="t.v1", source="s", tenant_id="t-1", topic=TOPIC, data={}, key="k")
    finally:
        tracing.current_traceparent.reset(token)

    assert tracing.trace_id(event.traceparent) == tracing.trace_id(parent)
    assert event.traceparent != parent


def test_new_event_starts_a_trace_when_there_is_none() -> None:
    event = new_event(type="t.v1", source="s", tenant_id="t-1", topic=TOPIC, data={})

    assert tracing.parse(event.traceparent) is not None


def test_decode_uses_the_record_topic_and_key() -> None:
    event = _event()

    decoded = decode("other.topic", b"k-9", event.kafka_value(), event.kafka_headers())

    assert decoded.topic == "other.topic"
    assert decoded.key == "k-9"


def test_empty_value_decodes_to_empty_data() -> None:
    event = _event()

    assert decode(TOPIC, None, b"", event.kafka_headers()).data == {}
    assert decode(TOPIC, None, None, event.kafka_headers()).data == {}


@pytest.mark.parametrize("name", ["ce_id", "ce_type", "ce_source", "ce_tenantid"])
def test_decode_rejects_a_missing_required_header(name: str) -> None:
    event = _event()

    with pytest.raises(EnvelopeError, match=name):
        decode(TOPIC, None, event.kafka_value(), _headers_without(event, name))


@pytest.mark.parametrize("name", ["ce_id", "ce_type", "ce_source", "ce_tenantid"])
def test_decode_rejects_an_empty_required_header(name: str) -> None:
    event = _event()

    with pytest.raises(EnvelopeError, match=name):
        decode(TOPIC, None, event.kafka_value(), _replace_header(event, name, b""))


def test_decode_names_every_missing_header() -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode(TOPIC, None, b"{}", [])

    for name in ("ce_id", "ce_type", "ce_source", "ce_tenantid"):
        assert name in str(caught.value)


@pytest.mark.parametrize("version", [b"0.3", b"2.0", b"", b"1"])
def test_decode_rejects_an_unsupported_specversion(version: bytes) -> None:
    event = _event()

    with pytest.raises(EnvelopeError, match="specversion"):
        decode(TOPIC, None, event.kafka_value(), _replace_header(event, "ce_specversion", version))


@pytest.mark.parametrize("value", [b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_decode_rejects_data_that_is_not_an_object(value: bytes) -> None:
    with pytest.raises(EnvelopeError, match="JSON object"):
        decode(TOPIC, None, value, _event().kafka_headers())


@pytest.mark.parametrize("value", [b"{", b"not json", b"\xff\xfe\x00", b'{"a": }'])
def test_decode_rejects_undecodable_json(value: bytes) -> None:
    with pytest.raises(EnvelopeError, match="undecodable"):
        decode(TOPIC, None, value, _event().kafka_headers())


def test_decode_rejects_an_unparsable_time() -> None:
    event = _event()

    with pytest.raises(EnvelopeError, match="undecodable"):
        decode(TOPIC, None, event.kafka_value(), _replace_header(event, "ce_time", b"yesterday"))


def test_envelope_error_is_a_value_error() -> None:
    assert issubclass(EnvelopeError, ValueError)


# A record whose key is not UTF-8 must be dead-lettered, not crash the consumer loop.
def test_decode_rejects_a_non_utf8_key_with_envelope_error() -> None:
    event = _event()

    with pytest.raises(EnvelopeError):
        decode(TOPIC, b"\xff\xfe", event.kafka_value(), event.kafka_headers())


def test_header_values_survive_as_text() -> None:
    event = _event(tenant_id="租户-1", subject="成员")

    decoded = decode(TOPIC, None, event.kafka_value(), event.kafka_headers())

    assert decoded.tenant_id == "租户-1"
    assert decoded.subject == "成员"
    assert json.loads(event.kafka_value()) == event.data
