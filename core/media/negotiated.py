"""What the bridge needs from the SIP side's SDP, per media kind.

Where to send RTP (``c=`` and ``m=`` port; ``c=0.0.0.0`` is the old hold form, RFC 3264
§8.4), where to send RTCP (``a=rtcp``, RFC 3605 §2.1, else port + 1, RFC 3550 §11; one
port with ``a=rtcp-mux``, RFC 5761 §5.1.1) and which feedback the device accepts
(``a=rtcp-fb``, RFC 4585 §4.2; RFC 5104 §7.1) for the payload type the plan chose.
"""

from __future__ import annotations

import attrs

from wcs_trio.core.media.rtcpmap import Feedback
from wcs_trio.core.media.udp import Address
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.plan import CodecPlan, MediaState


@attrs.frozen
class SipTarget:
    rtp: Address | None
    rtcp: Address | None
    rtcp_mux: bool
    feedback: Feedback


def sip_targets(plan: CodecPlan, sdp: SessionDescription) -> dict[str, SipTarget]:
    """Per kind of the plan's active streams, the SIP device's addresses and feedback."""
    out: dict[str, SipTarget] = {}
    for media in plan.media:
        index = media.sip_index
        if media.state is not MediaState.ACTIVE or index is None or index >= len(sdp.media):
            continue
        section = sdp.media[index]
        conn = sdp.connection_of(section)
        host = conn.address.split("/")[0] if conn is not None else None
        rtp = (host, section.port) if host is not None and section.port else None
        mux = section.has("rtcp-mux")
        rtcp = rtp if mux else None
        value = section.get("rtcp")
        if value and rtp is not None:
            fields = value.split()
            try:
                port = int(fields[0])
            except ValueError:
                port = None  # a malformed a=rtcp: fall back to port + 1
            if port is not None:
                rtcp = (fields[3] if len(fields) >= 4 else rtp[0], port)
        pt = str(media.sip.recv_pt) if media.sip is not None else "*"
        out.setdefault(media.kind, SipTarget(rtp, rtcp, mux, Feedback.from_rtcp_fb(section.rtcp_fb(pt))))
    return out
