"""The codec plan of a call: the ECS component the media bridge reads.

Per media kind: which codec and payload types each leg uses, the telephone-event
payload types, whether the bridge must transcode, whether the stream is active,
and the direction each leg declared. Built by :mod:`wcs_trio.core.sdp.translate`
while the call negotiates; serialisable with :meth:`CodecPlan.as_json` (plain
dicts, lists, str, int, bool and None) and back with :meth:`CodecPlan.from_json`.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from wcs_trio.core.sdp.rtpcodec import Codec, same_codec


class MediaState(enum.StrEnum):
    """Where one stream of a call stands in its offer/answer exchange (RFC 3264 §4)."""

    OFFERED = "offered"
    ACTIVE = "active"
    REJECTED = "rejected"


@attrs.frozen
class CodecChoice:
    """The codec one leg uses: ``send_pt`` is what we put on packets to that leg,
    ``recv_pt`` what we expect on packets from it (equal unless the peer renumbered)."""

    name: str
    clock_rate: int
    channels: int
    fmtp: str
    send_pt: int
    recv_pt: int

    @classmethod
    def of(cls, codec: Codec, send_pt: str | int, recv_pt: str | int | None = None) -> CodecChoice:
        recv = send_pt if recv_pt is None else recv_pt
        return cls(codec.name, codec.clock_rate, codec.channels, codec.fmtp, int(send_pt), int(recv))

    @property
    def codec(self) -> Codec:
        return Codec(self.name, self.clock_rate, self.channels, self.fmtp)


@attrs.define
class MediaPlan:
    """One stream of the call, as both legs see it.

    ``browser_index``/``sip_index`` are the positions of its ``m=`` line in each
    leg's SDP (``None`` when that leg never saw it, e.g. a data channel kept off
    the SIP side). Directions are the ones each leg declared in its own SDP.
    """

    kind: str
    browser_index: int | None
    sip_index: int | None
    state: MediaState = MediaState.OFFERED
    browser: CodecChoice | None = None
    sip: CodecChoice | None = None
    browser_dtmf: CodecChoice | None = None
    sip_dtmf: CodecChoice | None = None
    browser_direction: str | None = None
    sip_direction: str | None = None
    held: bool = False

    @property
    def transcode(self) -> bool:
        """True when the legs use different codecs, so the bridge must transcode."""
        if self.state is not MediaState.ACTIVE or self.browser is None or self.sip is None:
            return False
        return not same_codec(self.browser.codec, self.sip.codec)


@attrs.define
class CodecPlan:
    """All streams of one call; ``negotiated`` once both legs answered."""

    media: list[MediaPlan] = attrs.Factory(list)
    negotiated: bool = False

    @property
    def transcoding(self) -> bool:
        return any(m.transcode for m in self.media)

    def by_kind(self, kind: str) -> MediaPlan | None:
        """The first active (else any) stream of this kind."""
        found = [m for m in self.media if m.kind == kind]
        active = [m for m in found if m.state is MediaState.ACTIVE]
        return (active or found or [None])[0]

    def by_sip_index(self, index: int) -> MediaPlan | None:
        return next((m for m in self.media if m.sip_index == index), None)

    def by_browser_index(self, index: int) -> MediaPlan | None:
        return next((m for m in self.media if m.browser_index == index), None)

    def as_json(self) -> dict[str, Any]:
        media = []
        for m in self.media:
            item = attrs.asdict(m, recurse=True)
            item["state"] = m.state.value
            item["transcode"] = m.transcode
            media.append(item)
        return {"negotiated": self.negotiated, "transcoding": self.transcoding, "media": media}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodecPlan:
        media = []
        for item in data["media"]:
            fields = {k: v for k, v in item.items() if k != "transcode"}
            fields["state"] = MediaState(fields["state"])
            for key in ("browser", "sip", "browser_dtmf", "sip_dtmf"):
                if fields[key] is not None:
                    fields[key] = CodecChoice(**fields[key])
            media.append(MediaPlan(**fields))
        return cls(media, data["negotiated"])
