"""A post's shape: its kind, its media and link, and the rules that keep them consistent.

Media are referenced by URL (the app uploads them to its own storage or CDN); content
checks what it is told about them, so a feed never shows a 3 GB "image" or an audio post
without audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

MB = 1024 * 1024
MAX_URL = 2000


class PostKind(StrEnum):
    TEXT = "text"  # markdown body
    IMAGES = "images"  # an image set (九宫格)
    AUDIO = "audio"
    VIDEO = "video"
    LINK = "link"
    FILE = "file"
    LIVE = "live"  # 图文直播: timed updates appended to it


class MediaType(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"


@dataclass(frozen=True)
class Media:
    url: str
    type: MediaType
    mime_type: str
    size_bytes: int
    duration_s: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class Link:
    url: str
    title: str | None = None


@dataclass(frozen=True)
class Limits:
    """How many media of which type a kind takes, and how big they may be."""

    media_type: MediaType | None
    min_count: int
    max_count: int
    max_bytes: int = 0
    max_duration_s: int | None = None


# An image set as a chat app shows it (up to 9); audio and video one each, up to 4 h;
# files as course material.
LIMITS: dict[PostKind, Limits] = {
    PostKind.TEXT: Limits(None, 0, 0),
    PostKind.IMAGES: Limits(MediaType.IMAGE, 1, 9, 20 * MB),
    PostKind.AUDIO: Limits(MediaType.AUDIO, 1, 1, 500 * MB, 4 * 3600),
    PostKind.VIDEO: Limits(MediaType.VIDEO, 1, 1, 4096 * MB, 4 * 3600),
    PostKind.LINK: Limits(None, 0, 0),
    PostKind.FILE: Limits(MediaType.FILE, 1, 9, 1024 * MB),
    PostKind.LIVE: Limits(MediaType.IMAGE, 0, 9, 20 * MB),
}
# A live update: a line of text and up to 9 images.
UPDATE_LIMITS = Limits(MediaType.IMAGE, 0, 9, 20 * MB)


class Invalid(ValueError):
    """Content that breaks a rule of its kind: a 422 problem with ``slug``."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


def is_https_url(url: str) -> bool:
    if len(url) > MAX_URL or any(ch.isspace() for ch in url):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname) and not parts.username


def check_media(limits: Limits, media: tuple[Media, ...], what: str) -> None:
    if not limits.min_count <= len(media) <= limits.max_count:
        raise Invalid(
            "media-count",
            f"{what} takes {limits.min_count} to {limits.max_count} media, not {len(media)}",
        )
    for item in media:
        _check_one(limits, item, what)


def _check_one(limits: Limits, item: Media, what: str) -> None:
    if not is_https_url(item.url):
        raise Invalid("media-url", f"media URLs must be https URLs: {item.url[:100]!r}")
    if item.type is not limits.media_type:
        raise Invalid("media-type", f"{what} takes {limits.media_type} media, not {item.type}")
    family = item.mime_type.split("/", 1)[0]
    if item.type is not MediaType.FILE and family != item.type.value:
        raise Invalid("media-type", f"a {item.type} cannot have the MIME type {item.mime_type}")
    if not 0 < item.size_bytes <= limits.max_bytes:
        raise Invalid("media-size", f"{item.type} size must be 1 to {limits.max_bytes // MB} MB")
    timed = item.type in (MediaType.AUDIO, MediaType.VIDEO)
    if timed and (
        item.duration_s is None or not 0 < item.duration_s <= (limits.max_duration_s or 0)
    ):
        raise Invalid(
            "media-duration",
            f"{item.type} needs a duration of 1 to {limits.max_duration_s} seconds",
        )
    if not timed and item.duration_s is not None:
        raise Invalid("media-duration", f"a {item.type} has no duration")


def check_post(kind: PostKind, body: str, media: tuple[Media, ...], link: Link | None) -> None:
    """Raise Invalid when the post's parts do not fit its kind."""
    check_media(LIMITS[kind], media, f"a {kind} post")
    if kind is PostKind.LINK:
        if link is None:
            raise Invalid("link-required", "a link post needs a link")
        if not is_https_url(link.url):
            raise Invalid("link-url", "the link must be an https URL")
    elif link is not None:
        raise Invalid("link-unexpected", f"a {kind} post has no link; use kind link")
    if kind is PostKind.TEXT and not body.strip():
        raise Invalid("body-required", "a text post needs a body")


def check_update(body: str, media: tuple[Media, ...]) -> None:
    check_media(UPDATE_LIMITS, media, "a live update")
    if not body.strip() and not media:
        raise Invalid("body-required", "a live update needs text or images")
