from __future__ import annotations

import numpy as np
import pytest

from tests.codecs.test_opus import peak, tone
from tests.core.media.test_bridge import FakeLeg, FakeStream, rtp
from wcs_trio.codecs.g711 import PCMU
from wcs_trio.codecs.opus import FRAME_SAMPLES, Opus
from wcs_trio.core.media.bridge import MediaBridge
from wcs_trio.core.media.transcode import UnsupportedCodec, make_transcoder
from wcs_trio.core.sdp.plan import CodecChoice, CodecPlan, MediaPlan, MediaState
from wcs_trio.core.webrtc.rtp import parse_rtp

OPUS = CodecChoice("opus", 48000, 2, "minptime=10;useinbandfec=1", 111, 111)
PCMU_C = CodecChoice("PCMU", 8000, 1, "", 0, 0)


def opus_packets(freq: float, seconds: float) -> list[bytes]:
    encoder = Opus()
    pcm = tone(freq, seconds)
    return [encoder.encode(pcm[i:i + FRAME_SAMPLES].tobytes()) for i in range(0, len(pcm), FRAME_SAMPLES)]


def test_opus_to_pcmu_keeps_1000_hz() -> None:
    transcoder = make_transcoder(OPUS, PCMU_C)
    frames = [f for packet in opus_packets(1000, 1.0) for f in transcoder.transcode(packet)]
    assert len(frames) >= 48 and {ticks for _, ticks in frames} == {160}
    assert {len(payload) for payload, _ in frames} == {160}
    pcm = np.frombuffer(b"".join(PCMU.decode(p) for p, _ in frames), dtype=np.int16)
    assert peak(pcm[800:], 8000) == pytest.approx(1000, abs=10)


def test_pcmu_to_opus_keeps_1000_hz() -> None:
    transcoder = make_transcoder(PCMU_C, OPUS)
    pcm8 = tone(1000, 1.0, 8000)
    frames = []
    for i in range(0, len(pcm8), 160):
        frames += transcoder.transcode(PCMU.encode(pcm8[i:i + 160].tobytes()))
    assert len(frames) >= 48 and {ticks for _, ticks in frames} == {960}
    decoder = Opus()
    pcm = np.frombuffer(b"".join(decoder.decode(p) for p, _ in frames), dtype=np.int16)
    assert peak(pcm[4800:], 48000) == pytest.approx(1000, abs=10)
    assert np.abs(pcm[4800:]).max() > 3000


def test_bad_packets_and_unknown_codecs() -> None:
    transcoder = make_transcoder(OPUS, PCMU_C)
    assert transcoder.transcode(b"\xff\xff\xff") == [] and transcoder.decode_errors == 1
    with pytest.raises(UnsupportedCodec):
        make_transcoder(CodecChoice("VP8", 90000, 1, "", 96, 96), PCMU_C)


def test_bridge_transcodes_browser_opus_to_sip_pcmu_with_own_numbering() -> None:
    leg, audio = FakeLeg(), FakeStream("audio")
    plan = CodecPlan([MediaPlan("audio", 0, 0, MediaState.ACTIVE, OPUS, PCMU_C)], negotiated=True)
    assert plan.transcoding
    now = [10.0]
    bridge = MediaBridge(leg, plan, {"audio": audio}, clock=lambda: now[0])  # type: ignore[arg-type]
    for i, packet in enumerate(opus_packets(1000, 0.5)):
        bridge.browser_rtp(None, rtp(111, 40000 + i, 960 * i, 0xAAAA, packet))
        now[0] += 0.02
    got = [parse_rtp(p) for p in audio.rtp]
    assert len(got) >= 23
    assert {h.payload_type for h in got} == {0} and len({h.ssrc for h in got}) == 1
    assert [(h.sequence - got[0].sequence) % 65536 for h in got] == list(range(len(got)))
    assert [(h.timestamp - got[0].timestamp) % 2**32 for h in got] == [160 * i for i in range(len(got))]
    pcm = np.frombuffer(b"".join(PCMU.decode(bytes(p)[12:]) for p in audio.rtp), dtype=np.int16)
    assert peak(pcm[800:], 8000) == pytest.approx(1000, abs=10)
    # And back: PCMU from the device reaches the browser as Opus at 48 kHz ticks.
    pcm8 = tone(1000, 0.2, 8000)
    for i in range(10):
        bridge.sip_rtp(audio, memoryview(rtp(0, i, 160 * i, 0xD1, PCMU.encode(pcm8[160 * i:160 * i + 160].tobytes()))))
    back = [parse_rtp(p) for p in leg.rtp]
    assert back and {h.payload_type for h in back} == {111}
    assert [(h.timestamp - back[0].timestamp) % 2**32 for h in back] == [960 * i for i in range(len(back))]


def test_browser_dtmf_in_a_transcoded_call_is_retimed_into_our_stream() -> None:
    import struct

    te48 = CodecChoice("telephone-event", 48000, 1, "", 126, 126)
    te8 = CodecChoice("telephone-event", 8000, 1, "", 101, 101)
    plan = CodecPlan([MediaPlan("audio", 0, 0, MediaState.ACTIVE, OPUS, PCMU_C, te48, te8)], True)
    leg, audio = FakeLeg(), FakeStream("audio")
    now = [10.0]
    digits: list[str] = []
    bridge = MediaBridge(leg, plan, {"audio": audio}, clock=lambda: now[0],  # type: ignore[arg-type]
                         on_browser_dtmf=digits.append)
    packets = opus_packets(1000, 0.2)
    for i, packet in enumerate(packets[:5]):
        bridge.browser_rtp(None, rtp(111, i, 960 * i, 0xAAAA, packet))
        now[0] += 0.02
    for duration, flags in ((960, 10), (1920, 10), (2880, 0x80 | 10)):
        event = struct.pack("!BBH", 7, flags, duration)
        bridge.browser_rtp(None, rtp(126, 99, 4800, 0xAAAA, event, marker=duration == 960))
    bridge.browser_rtp(None, rtp(111, 100, 5760, 0xAAAA, packets[5]))
    got = [parse_rtp(p) for p in audio.rtp]
    assert [(h.sequence - got[0].sequence) % 65536 for h in got] == list(range(len(got)))
    events = [(h, bytes(p)[12:]) for h, p in zip(got, audio.rtp, strict=True) if h.payload_type == 101]
    assert [struct.unpack("!BBH", e)[2] for _, e in events] == [160, 320, 480]
    assert [h.marker for h, _ in events] == [True, False, False]
    last_audio = [h for h in got if h.payload_type == 0 and h.sequence < events[0][0].sequence][-1]
    assert {h.timestamp for h, _ in events} == {(last_audio.timestamp + 160) % 2**32}
    assert digits == ["7"]
