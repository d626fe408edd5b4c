"""Unit tests for the pure parts of servicekit.idempotency: fingerprints and key checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit.idempotency import MAX_KEY_LENGTH, IdempotentResult, _check_key, fingerprint
from servicekit.problems import Problem

bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def test_fingerprint_is_a_sha256_hex_digest() -> None:
    digest = fingerprint("POST", "/v1/rewards/grants", {"amount": 5})

    assert len(digest) == 64
    int(digest, 16)


def test_fingerprint_ignores_key_order_and_method_case() -> None:
    assert fingerprint("post", "/p", {"a": 1, "b": [1, 2]}) == fingerprint(
        "POST", "/p", {"b": [1, 2], "a": 1}
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("POST", "/p", {"a": 1}), ("PUT", "/p", {"a": 1})),
        (("POST", "/p", {"a": 1}), ("POST", "/q", {"a": 1})),
        (("POST", "/p", {"a": 1}), ("POST", "/p", {"a": 2})),
        (("POST", "/p", {"a": 1}), ("POST", "/p", {"a": "1"})),
        (("POST", "/p", [1, 2]), ("POST", "/p", [2, 1])),
        (("POST", "/p", None), ("POST", "/p", {})),
        (("POST", "/p/a", "b"), ("POST", "/p", "a/b")),
    ],
)
def test_fingerprint_differs_when_the_request_differs(
    left: tuple[str, str, object], right: tuple[str, str, object]
) -> None:
    assert fingerprint(*left) != fingerprint(*right)


@given(method=st.sampled_from(["POST", "PUT", "PATCH"]), path=st.text(max_size=20), body=bodies)
def test_fingerprint_is_deterministic(method: str, path: str, body: object) -> None:
    assert fingerprint(method, path, body) == fingerprint(method.lower(), path, body)


@pytest.mark.parametrize("key", ["k", "a" * MAX_KEY_LENGTH, "order-42:retry 1", "~!"])
def test_acceptable_keys(key: str) -> None:
    _check_key(key)


@pytest.mark.parametrize(
    "key",
    ["", "a" * (MAX_KEY_LENGTH + 1), "tab\there", "new\nline", "nul\x00", "\x7f", "ключ", " a"],
)
def test_unacceptable_keys_are_a_400_problem(key: str) -> None:
    with pytest.raises(Problem) as caught:
        _check_key(key)

    assert caught.value.status == 400
    assert caught.value.slug == "invalid-idempotency-key"
    assert str(MAX_KEY_LENGTH) in (caught.value.detail or "")


def test_replayed_results_are_marked() -> None:
    replayed = IdempotentResult(201, {"id": 1}, replayed=True).response()
    fresh = IdempotentResult(201, {"id": 1}, replayed=False).response()

    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.body == b'{"id":1}'
