"""RTP payload formats as codecs, and when two of them are the same stream.

:class:`Codec` is what an ``a=rtpmap`` (or a static payload type of RFC 3551 §6)
plus its ``a=fmtp`` describe. :func:`same_codec` says whether a sender using one
can be received by a decoder declaring the other, which is what decides
pass-through versus transcoding: encoding name, clock rate and channels always
(RFC 3264 §6.1), plus the fmtp parameters each payload format defines as part of
the stream's identity (H.264 profile and packetization-mode, RFC 6184 §8.2.2;
VP9 profile-id; AV1 profile) and no others (Opus and VP8 parameters are receiver
preferences, RFC 7587 §7 and RFC 7741 §6.1).

:data:`CONFIG_CODECS` maps the configuration's codec names (``codecs=opus,alaw,...``)
to their SDP form.
"""

from __future__ import annotations

import attrs

from wcs_trio.core.sdp.lines import fmtp_params

#: Static payload types (RFC 3551 §6, Tables 4 and 5) a body may use without rtpmap.
STATIC_PAYLOADS: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    13: ("CN", 8000, 1),
    18: ("G729", 8000, 1),
    26: ("JPEG", 90000, 1),
    31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1),
    34: ("H263", 90000, 1),
}

#: Payload formats that only make sense inside a WebRTC stack (retransmission,
#: redundancy, FEC) and never reach a plain SIP device.
WEBRTC_ONLY = frozenset({"rtx", "red", "ulpfec", "flexfec-03", "flexfec"})

TELEPHONE_EVENT = "telephone-event"


@attrs.frozen
class Codec:
    """One payload format: encoding name (as written), clock rate, channels, fmtp text."""

    name: str
    clock_rate: int
    channels: int = 1
    fmtp: str = ""

    @property
    def key(self) -> str:
        """Lower-cased encoding name: SDP encoding names are case-insensitive (RFC 4855 §3)."""
        return self.name.lower()

    @property
    def params(self) -> dict[str, str]:
        return fmtp_params(self.fmtp)

    @property
    def is_dtmf(self) -> bool:
        return self.key == TELEPHONE_EVENT

    @property
    def is_media(self) -> bool:
        """A codec that carries the stream itself (not DTMF, comfort noise, rtx, red, FEC)."""
        return not self.is_dtmf and self.key != "cn" and self.key not in WEBRTC_ONLY

    def rtpmap(self, pt: int | str) -> str:
        tail = f"/{self.channels}" if self.channels != 1 else ""
        return f"{pt} {self.name}/{self.clock_rate}{tail}"


def codec_of(media: object, pt: str) -> Codec | None:
    """The codec of payload type ``pt`` in a :class:`~wcs_trio.core.sdp.model.MediaSection`."""
    rtpmap = media.rtpmap(pt)  # type: ignore[attr-defined]
    fmtp = media.fmtp(pt) or ""  # type: ignore[attr-defined]
    if rtpmap is not None:
        return Codec(rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels or 1, fmtp)
    if pt.isdigit() and int(pt) in STATIC_PAYLOADS:
        name, clock, channels = STATIC_PAYLOADS[int(pt)]
        return Codec(name, clock, channels, fmtp)
    return None


def codecs_of(media: object) -> list[tuple[str, Codec]]:
    """``(pt, codec)`` for every format of ``media`` that names a known codec, in m= order."""
    out = []
    for pt in media.formats:  # type: ignore[attr-defined]
        codec = codec_of(media, pt)
        if codec is not None:
            out.append((pt, codec))
    return out


# H.264 profiles from (profile_idc, profile-iop) as RFC 6184 §8.1 Table 5 defines them;
# each pattern is (profile_idc, mask, value) over profile-iop's constraint flags.
_H264_PROFILES = (
    (0x42, 0x4F, 0x40, "constrained-baseline"),
    (0x4D, 0x8F, 0x80, "constrained-baseline"),
    (0x58, 0xCF, 0xC0, "constrained-baseline"),
    (0x42, 0x4F, 0x00, "baseline"),
    (0x58, 0xCF, 0x80, "baseline"),
    (0x4D, 0xAF, 0x00, "main"),
    (0x58, 0xCF, 0x00, "extended"),
    (0x64, 0xFF, 0x0C, "constrained-high"),
    (0x64, 0xFF, 0x00, "high"),
    (0x6E, 0xFF, 0x00, "high10"),
    (0xF4, 0xFF, 0x00, "high444"),
)


def h264_profile(profile_level_id: str | None) -> str:
    """The H.264 profile named by a ``profile-level-id`` (default ``420010``, RFC 6184 §8.1)."""
    plid = (profile_level_id or "420010").strip().lower()
    try:
        value = int(plid, 16)
    except ValueError:
        return f"invalid:{plid}"
    if len(plid) != 6:
        return f"invalid:{plid}"
    idc, iop = value >> 16, (value >> 8) & 0xFF
    for p_idc, mask, want, name in _H264_PROFILES:
        if idc == p_idc and iop & mask == want:
            return name
    return f"{idc:02x}{iop:02x}"


def h264_identity(codec: Codec) -> tuple[str, str]:
    """(profile, packetization-mode) of an H.264 codec: what must match for pass-through."""
    params = codec.params
    return h264_profile(params.get("profile-level-id")), params.get("packetization-mode", "0")


def same_codec(a: Codec, b: Codec) -> bool:
    """Whether a stream sent as ``a`` can be decoded by a receiver that declared ``b``."""
    if a.key != b.key or a.clock_rate != b.clock_rate:
        return False
    if a.key == "h264":
        return h264_identity(a) == h264_identity(b)
    if a.key == "vp9":
        return a.params.get("profile-id", "0") == b.params.get("profile-id", "0")
    if a.key == "av1":
        return a.params.get("profile", "0") == b.params.get("profile", "0")
    if a.key in ("opus", "vp8", TELEPHONE_EVENT):
        # Opus is always signalled /48000/2 (RFC 7587 §7); fmtp are preferences.
        return True
    return a.channels == b.channels


@attrs.frozen
class ConfigCodec:
    """A codec name of the ``codecs`` setting with the SDP it stands for."""

    name: str
    kind: str
    codec: Codec
    static_pt: int | None = None

    def matches(self, codec: Codec) -> bool:
        # Any H.264 variant is "h264" here; profiles are a separate setting.
        if self.codec.key == "h264":
            return codec.key == "h264"
        return codec.key == self.codec.key and codec.clock_rate == self.codec.clock_rate


#: The configuration's codec names (MISSION.md ``codecs=...``) and their SDP form.
CONFIG_CODECS: dict[str, ConfigCodec] = {
    c.name: c
    for c in (
        ConfigCodec("opus", "audio", Codec("opus", 48000, 2, "minptime=10;useinbandfec=1")),
        ConfigCodec("alaw", "audio", Codec("PCMA", 8000), 8),
        ConfigCodec("ulaw", "audio", Codec("PCMU", 8000), 0),
        ConfigCodec("g729", "audio", Codec("G729", 8000, 1, "annexb=no"), 18),
        ConfigCodec("speex16", "audio", Codec("speex", 16000)),
        ConfigCodec("g722", "audio", Codec("G722", 8000), 9),
        ConfigCodec("mpeg4-generic", "audio", Codec("mpeg4-generic", 48000, 2)),
        ConfigCodec("telephone-event", "audio", Codec(TELEPHONE_EVENT, 8000, 1, "0-16")),
        ConfigCodec(
            "h264",
            "video",
            Codec("H264", 90000, 1, "profile-level-id=42e01f;packetization-mode=1"),
        ),
        ConfigCodec("vp8", "video", Codec("VP8", 90000)),
        ConfigCodec("flv", "video", Codec("FLV", 90000)),
        ConfigCodec("mpv", "video", Codec("MPV", 90000), 32),
    )
}


def config_name_of(codec: Codec) -> str | None:
    """The ``codecs`` setting name for an SDP codec (``PCMA/8000`` -> ``alaw``), if any."""
    for entry in CONFIG_CODECS.values():
        if entry.matches(codec):
            return entry.name
    return None
