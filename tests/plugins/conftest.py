from __future__ import annotations

from pathlib import Path

import pluggy
import pytest

import wcs_trio.core.hookspecs
import wcs_trio.plugins.codec_policy
import wcs_trio.plugins.sip_sdp
from wcs_trio.core.config import Settings
from wcs_trio.core.sdp.lines import Origin
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.translate import SipMedia, browser_offer_to_sip

VECTORS = Path(__file__).parents[1] / "core" / "sdp" / "vectors"
SIP = SipMedia("192.0.2.1", {"audio": 20000, "video": 20002})
ORIGIN = Origin("wcs-trio", "4242424242", 1, address="192.0.2.1")


def vector(name: str) -> SessionDescription:
    return SessionDescription.parse((VECTORS / name).read_bytes())


@pytest.fixture
def pm() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("wcs_trio")
    manager.add_hookspecs(wcs_trio.core.hookspecs)
    manager.register(wcs_trio.plugins.codec_policy)
    manager.register(wcs_trio.plugins.sip_sdp)
    manager.check_pending()
    return manager


@pytest.fixture
def settings() -> Settings:
    return Settings()


def sip_offer_from(name: str = "chromium_offer_audio_video.sdp") -> SessionDescription:
    return browser_offer_to_sip(vector(name), SIP, ORIGIN)[0]


def encodings(media) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for pt in media.formats:
        rtpmap = media.rtpmap(pt)
        params = media.fmtp_params(pt)
        name = f"{rtpmap.encoding}/{rtpmap.clock_rate}"
        if rtpmap.encoding == "H264":
            name += f"/{params['profile-level-id']}/{params.get('packetization-mode', '0')}"
        out.append(name)
    return out
