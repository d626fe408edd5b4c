"""A post's kinds and media rules, and the review state machine."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.posts.domain import (
    MB,
    Invalid,
    Link,
    Media,
    MediaType,
    PostKind,
    check_post,
    check_update,
    is_https_url,
)
from content.review.domain import (
    TRANSITIONS,
    Decision,
    NotAllowed,
    ReviewState,
    decide,
    initial_state,
    needs_review,
)

IMG = Media("https://cdn.example/a.jpg", MediaType.IMAGE, "image/jpeg", 300_000)
MP3 = Media("https://cdn.example/a.mp3", MediaType.AUDIO, "audio/mpeg", 5 * MB, 600)
MP4 = Media("https://cdn.example/a.mp4", MediaType.VIDEO, "video/mp4", 50 * MB, 120)
PDF = Media("https://cdn.example/a.pdf", MediaType.FILE, "application/pdf", MB, name="a.pdf")


def slug(
    kind: PostKind, body: str = "", media: tuple[Media, ...] = (), link: Link | None = None
) -> str | None:
    try:
        check_post(kind, body, media, link)
    except Invalid as error:
        return error.slug
    return None


def test_each_kind_takes_its_own_media() -> None:
    assert slug(PostKind.TEXT, "早安") is None
    assert slug(PostKind.IMAGES, "", (IMG,) * 9) is None
    assert slug(PostKind.AUDIO, "", (MP3,)) is None
    assert slug(PostKind.VIDEO, "", (MP4,)) is None
    assert slug(PostKind.FILE, "", (PDF,)) is None
    assert slug(PostKind.LINK, "", (), Link("https://mp.weixin.qq.com/s/x")) is None
    assert slug(PostKind.LIVE, "直播开始") is None


def test_inconsistent_posts_are_refused_with_a_named_rule() -> None:
    assert slug(PostKind.TEXT, "  ") == "body-required"
    assert slug(PostKind.TEXT, "x", (IMG,)) == "media-count"
    assert slug(PostKind.IMAGES, "", (IMG,) * 10) == "media-count"
    assert slug(PostKind.IMAGES, "", (MP3,)) == "media-type"
    assert slug(PostKind.AUDIO, "", (MP3, MP3)) == "media-count"
    assert slug(PostKind.LINK, "x") == "link-required"
    assert slug(PostKind.TEXT, "x", (), Link("https://a.example")) == "link-unexpected"
    assert slug(PostKind.LINK, "", (), Link("http://a.example")) == "link-url"


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (Media("http://cdn.example/a.jpg", MediaType.IMAGE, "image/jpeg", 1), "media-url"),
        (Media("https://u:p@cdn.example/a", MediaType.IMAGE, "image/jpeg", 1), "media-url"),
        (Media("https://cdn.example/a.jpg", MediaType.IMAGE, "video/mp4", 1), "media-type"),
        (Media("https://cdn.example/a.jpg", MediaType.IMAGE, "image/jpeg", 21 * MB), "media-size"),
        (Media("https://cdn.example/a.jpg", MediaType.IMAGE, "image/jpeg", 1, 3), "media-duration"),
    ],
)
def test_bad_images(media: Media, expected: str) -> None:
    assert slug(PostKind.IMAGES, "", (media,)) == expected


def test_audio_and_video_need_a_sane_duration() -> None:
    no_duration = Media(MP3.url, MediaType.AUDIO, "audio/mpeg", MB)
    too_long = Media(MP4.url, MediaType.VIDEO, "video/mp4", MB, 5 * 3600)
    assert slug(PostKind.AUDIO, "", (no_duration,)) == "media-duration"
    assert slug(PostKind.VIDEO, "", (too_long,)) == "media-duration"


def test_live_updates() -> None:
    check_update("比分 2:1", ())
    check_update("", (IMG,))
    with pytest.raises(Invalid):
        check_update(" ", ())
    with pytest.raises(Invalid):
        check_update("x", (MP4,))


@given(st.text(max_size=60))
def test_only_https_urls_with_a_host_pass(url: str) -> None:
    if is_https_url(url):
        assert url.startswith("https://") and not any(c.isspace() for c in url)


def test_review_state_machine() -> None:
    change = decide(ReviewState.PENDING, Decision.APPROVE)
    assert change.after is ReviewState.APPROVED and change.published and not change.retracted
    late = decide(ReviewState.APPROVED, Decision.REJECT)
    assert late.after is ReviewState.REJECTED and late.retracted and not late.published
    assert decide(ReviewState.PENDING, Decision.REJECT).retracted is False
    with pytest.raises(NotAllowed):
        decide(ReviewState.REJECTED, Decision.APPROVE)
    with pytest.raises(NotAllowed):
        decide(ReviewState.APPROVED, Decision.APPROVE)


@given(st.lists(st.sampled_from(list(Decision)), max_size=12))
def test_any_sequence_of_decisions(decisions: list[Decision]) -> None:
    """Rejected is final; publication and retraction alternate, never twice in a row."""
    state, published = ReviewState.PENDING, []
    for decision in decisions:
        try:
            change = decide(state, decision)
        except NotAllowed:
            assert (state, decision) not in TRANSITIONS
            continue
        assert state is not ReviewState.REJECTED
        if change.published or change.retracted:
            published.append(change.published)
        state = change.after
    assert all(a != b for a, b in itertools.pairwise(published))
    assert not published or published[0] is True


@given(st.booleans(), st.integers(1, 10), st.none() | st.integers(1, 10))
def test_who_skips_review(by_operator: bool, level: int, auto: int | None) -> None:
    skips = by_operator or (auto is not None and level >= auto)
    assert needs_review(by_operator=by_operator, level=level, auto_approve_level=auto) is not skips
    state = initial_state(by_operator=by_operator, level=level, auto_approve_level=auto)
    assert (state is ReviewState.APPROVED) is skips
