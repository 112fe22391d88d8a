"""The demo endpoints' side of offer/answer (RFC 3264 §6), sans-IO.

A demo user agent answers whatever plain SDP the gateway's SIP side offers: audio with
one codec the codec layer can encode (PCMU, PCMA or Opus, the first of them in the
offerer's order, RFC 3264 §6.1) plus the telephone-event format of the same clock
(RFC 4733 §7.1.1), and, for ``echo`` only, video with every media format offered (the
echo sends back the very packets it receives, so any of them is fine). Everything else
is rejected with port 0 (§6). Ports come from the caller, which owns the sockets.
"""

from __future__ import annotations

import attrs

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Connection, Direction, Origin
from wcs_trio.core.sdp.model import MediaSection, SessionDescription
from wcs_trio.core.sdp.plan import CodecChoice
from wcs_trio.core.sdp.rtpcodec import codecs_of

#: Encodings the codec layer encodes and decodes (codecs/g711.py, codecs/opus.py).
ENCODABLE = frozenset({"pcmu", "pcma", "opus"})


@attrs.frozen
class DemoStream:
    """One accepted ``m=`` line: what we send with and what we take in."""

    index: int
    kind: str
    codec: CodecChoice  # the media codec we send (audio: the one we encode)
    pts: frozenset[int]  # every payload type this stream accepts (echo reflects them)
    dtmf_pt: int | None  # telephone-event, if offered at a usable clock rate
    remote: tuple[str, int] | None  # where the offerer receives (None: held, RFC 3264 §8.4)
    direction: Direction  # ours, as stated in the answer


def _remote(offer: SessionDescription, media: MediaSection) -> tuple[str, int] | None:
    conn = offer.connection_of(media)
    if conn is None or conn.is_hold_address or media.port == 0:
        return None
    return conn.address, media.port


def _answer_audio(media: MediaSection) -> tuple[list[str], CodecChoice, int | None]:
    offered = codecs_of(media)
    chosen = next(((pt, c) for pt, c in offered if c.key in ENCODABLE), None)
    if chosen is None:
        names = ", ".join(c.name for _, c in offered) or "nothing"
        raise SdpError(f"audio offers {names}; the demo endpoints speak PCMU, PCMA or Opus")
    pt, codec = chosen
    formats = [pt]
    events = [(p, c) for p, c in offered if c.is_dtmf]
    # RFC 4733 §2.1: the event clock should be the audio clock; 8000 is the usual fallback.
    dtmf = next(((p, c) for p, c in events if c.clock_rate == codec.clock_rate), None) or (
        events[0] if events else None)
    if dtmf is not None:
        formats.append(dtmf[0])
    return formats, CodecChoice.of(codec, pt), int(dtmf[0]) if dtmf else None


def _answer_video(media: MediaSection) -> tuple[list[str], CodecChoice]:
    offered = [(pt, c) for pt, c in codecs_of(media) if c.is_media]
    if not offered:
        raise SdpError("video offers no media codec")
    return [pt for pt, _ in offered], CodecChoice.of(offered[0][1], offered[0][0])


def _copy_format_lines(source: MediaSection, target: MediaSection, formats: list[str]) -> None:
    """rtpmap, fmtp and rtcp-fb of the formats we keep, as offered (§6.1: same PTs)."""
    for pt in formats:
        rtpmap = source.rtpmap(pt)
        if rtpmap is not None:
            target.add("rtpmap", rtpmap.text())
        fmtp = source.fmtp(pt)
        if fmtp:
            target.add("fmtp", f"{pt} {fmtp}")
        for feedback in source.rtcp_fb(pt):
            target.add("rtcp-fb", f"{pt} {feedback}")


def answer_offer(offer: SessionDescription, *, address: str, ports: dict[int, int], video: bool,
                 session_id: str, version: int = 1) -> tuple[SessionDescription, list[DemoStream]]:
    """Our answer to ``offer`` and the streams it accepts.

    ``ports`` maps the index of each ``m=`` line we may accept to our RTP port (RTCP on
    the next one); lines without a port, and video unless ``video``, are rejected.
    Raises :class:`SdpError` (488) when no audio line can be accepted.
    """
    answer = SessionDescription(
        origin=Origin("wcs-trio-demo", session_id, version, address=address),
        session_name="wcs-trio demo", connection=Connection(address))
    streams: list[DemoStream] = []
    for index, media in enumerate(offer.media):
        section = MediaSection(media.kind, 0, media.proto, list(media.formats[:1]) or ["0"])
        port = ports.get(index)
        accept = port is not None and not media.rejected and media.proto.upper().startswith("RTP/")
        if accept and media.kind == "audio" and not any(s.kind == "audio" for s in streams):
            formats, codec, dtmf_pt = _answer_audio(media)
        elif accept and media.kind == "video" and video and not any(s.kind == "video" for s in streams):
            formats, codec = _answer_video(media)
            dtmf_pt = None
        else:
            answer.media.append(section)
            continue
        assert port is not None
        direction = offer.direction_of(media).reversed()
        section = MediaSection(media.kind, port, media.proto, formats)
        _copy_format_lines(media, section, formats)
        section.direction = direction
        answer.media.append(section)
        pts = frozenset(int(pt) for pt in formats)
        streams.append(DemoStream(index, media.kind, codec, pts, dtmf_pt, _remote(offer, media), direction))
    if not any(s.kind == "audio" for s in streams):
        raise SdpError("the offer has no audio stream the demo endpoints can answer")
    return answer, streams
