"""The offer/answer model (RFC 3264) over :class:`SessionDescription`.

Pure functions:

- :func:`answer_direction` — the direction an answerer states (RFC 3264 §6.1).
- :func:`select_codecs` — the offer's payload types for the codecs we want, in our
  order (an answer reuses the offer's numbers, §6.1).
- :func:`negotiate` — the offerer's view of an answer: per ``m=`` line whether it
  was accepted, the codecs both sides agreed on (offer PT, answer PT, codec) and
  the answerer's direction; raises :class:`SdpError` when the answer breaks §6
  (different number or kinds of ``m=`` lines, codecs not offered).
- :func:`is_on_hold` — whether an offer puts a stream on hold (``sendonly``,
  ``inactive`` or the RFC 2543 ``c=0.0.0.0``, §8.4).
- :func:`with_next_version` — stamp a new offer or answer with the ``o=`` line
  RFC 3264 §8 requires: same username and sess-id, version + 1 when changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Direction
from wcs_trio.core.sdp.model import MediaSection, SessionDescription
from wcs_trio.core.sdp.rtpcodec import Codec, codecs_of, same_codec


def answer_direction(offered: Direction, local: Direction = Direction.SENDRECV) -> Direction:
    """RFC 3264 §6.1: we may send only if the offerer receives, receive only if it sends."""
    return Direction.of(offered.receives and local.sends, offered.sends and local.receives)


def select_codecs(offer: MediaSection, wanted: Sequence[Codec]) -> list[tuple[str, Codec]]:
    """For each wanted codec (in that order) the first offered PT carrying it."""
    offered = codecs_of(offer)
    out: list[tuple[str, Codec]] = []
    for want in wanted:
        for pt, codec in offered:
            if same_codec(codec, want) and all(pt != got for got, _ in out):
                out.append((pt, codec))
                break
    return out


@attrs.frozen
class MediaResult:
    """What one ``m=`` line settled on, seen by the offerer."""

    index: int
    kind: str
    accepted: bool
    direction: Direction
    #: (offer PT, answer PT, the answer's codec), in the answer's order of preference.
    pairs: tuple[tuple[str, str, Codec], ...] = ()

    @property
    def codec(self) -> tuple[str, str, Codec] | None:
        """The first media codec (not DTMF/CN) of the answer: what will be sent."""
        return next((p for p in self.pairs if p[2].is_media), None)

    def dtmf(self, clock_rate: int | None = None) -> tuple[str, str, Codec] | None:
        """The telephone-event pair, preferring the given clock rate (RFC 4733 §2.1)."""
        events = [p for p in self.pairs if p[2].is_dtmf]
        for pair in events:
            if clock_rate is None or pair[2].clock_rate == clock_rate:
                return pair
        return events[0] if events else None


def negotiate(offer: SessionDescription, answer: SessionDescription) -> list[MediaResult]:
    """Match an answer against the offer it answers (RFC 3264 §6, §7).

    RFC 3264 §6 wants as many m= lines in the answer as in the offer. Some SIP
    devices and IVRs answer an audio+video offer with the audio line alone; the
    missing trailing lines are taken as rejected rather than failing the call
    (MISSION.md: an audio+video call answered audio-only must still have sound).
    """
    if len(answer.media) > len(offer.media) or not answer.media:
        raise SdpError(
            f"answer has {len(answer.media)} m= lines, the offer had {len(offer.media)}"
        )
    results = []
    for index, om in enumerate(offer.media):
        if index >= len(answer.media):
            results.append(MediaResult(index, om.kind, False, Direction.INACTIVE))
            continue
        am = answer.media[index]
        if om.kind != am.kind:
            raise SdpError(f"m= line {index + 1} of the answer is {am.kind}, offered {om.kind}")
        direction = answer.direction_of(am)
        if am.rejected or om.rejected:
            results.append(MediaResult(index, am.kind, False, Direction.INACTIVE))
            continue
        offered = codecs_of(om)
        pairs = []
        for apt, acodec in codecs_of(am):
            for opt, ocodec in offered:
                if same_codec(acodec, ocodec):
                    pairs.append((opt, apt, acodec))
                    break
        if not any(c.is_media for _, _, c in pairs):
            raise SdpError(f"answer's {am.kind} stream has no codec from the offer")
        results.append(MediaResult(index, am.kind, True, direction, tuple(pairs)))
    return results


def is_on_hold(sdp: SessionDescription, media: MediaSection) -> bool:
    """Whether the sender of ``sdp`` stopped receiving ``media`` (RFC 3264 §8.4)."""
    conn = sdp.connection_of(media)
    if conn is not None and conn.is_hold_address:
        return True
    return not sdp.direction_of(media).receives


def hold_direction(current: Direction, hold: bool) -> Direction:
    """The direction a re-offer states to put a stream on hold or take it off (§8.4)."""
    # Holding stops receiving: sendrecv -> sendonly, recvonly -> inactive; resuming
    # restores it.
    return Direction.of(current.sends, not hold)


def with_next_version(
    new: SessionDescription, previous: SessionDescription | None
) -> SessionDescription:
    """Give ``new`` the ``o=`` line that follows ``previous`` (RFC 3264 §8).

    Username, sess-id, nettype, addrtype and address stay as in ``previous``; the
    version goes up by one if anything else in the body changed and stays the same
    if not (a re-INVITE that changes nothing repeats the previous SDP). ``new`` is
    edited in place and returned.
    """
    if previous is None:
        return new
    unchanged = list(new.lines())[2:] == list(previous.lines())[2:]
    version = previous.origin.sess_version + (0 if unchanged else 1)
    new.origin = attrs.evolve(previous.origin, sess_version=version)
    return new
