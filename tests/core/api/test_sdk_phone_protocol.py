"""The Phone page on a scripted server: protocol 1 as PROTOCOL.md tells it, with both SDKs.

The test plays the gateway's part over a real WebSocket (trio-websocket on loopback) and
serves core/api/web over HTTP, with /flashphoner.js being our SDK or, unchanged, the official
@flashphoner/websdk bundle installed by `npm ci` in tests/webcompat. It checks every frame the
page sends and what the page shows for every frame the server sends.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection, WebSocketRequest, serve_websocket

from tests.support.browser import ChromiumPage, dominant_frequency, open_browser, write_tone_wav

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "core" / "api" / "web"
SDKS = {
    "ours": WEB / "flashphoner.js",
    "official": ROOT / "tests/webcompat/node_modules/@flashphoner/websdk/flashphoner.js",
}

pytestmark = pytest.mark.peers


class _Handler(http.server.SimpleHTTPRequestHandler):
    sdk: Path = SDKS["ours"]

    def translate_path(self, path: str) -> str:
        if path.split("?")[0] == "/flashphoner.js":
            return str(self.sdk)
        # As the gateway's HTTP side does (core/api/http.py ALIASES): Phone Video is the
        # Phone page in video mode.
        if path.startswith("/phone-video/"):
            path = "/phone/" + path[len("/phone-video/"):]
        return super().translate_path(path)

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def http_root(request: pytest.FixtureRequest) -> Iterator[str]:
    sdk = SDKS[request.param]
    assert sdk.exists(), f"{sdk} missing: run `npm ci` in tests/webcompat"
    handler = type("Handler", (_Handler,), {"sdk": sdk})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(WEB))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class FakeGateway:
    """The server side of one WebSocket, driven step by step by the test."""

    def __init__(self) -> None:
        self.send_conn, self.recv_conn = trio.open_memory_channel[WebSocketConnection](1)
        self.ws: WebSocketConnection | None = None

    async def handler(self, request: WebSocketRequest) -> None:
        ws = await request.accept()
        await self.send_conn.send(ws)
        await trio.sleep_forever()

    async def accept(self) -> None:
        with trio.fail_after(10):
            self.ws = await self.recv_conn.receive()

    async def send(self, message: str, *data: Any) -> None:
        assert self.ws is not None
        await self.ws.send_message(json.dumps({"message": message, "data": list(data)}))

    async def expect(self, message: str) -> Any:
        """The next frame named ``message`` (pongs and pings are skipped); returns data[0]."""
        assert self.ws is not None
        with trio.fail_after(10):
            while True:
                frame = json.loads(await self.ws.get_message())
                assert isinstance(frame["data"], list), frame
                if frame["message"] == message:
                    return frame["data"][0]
                assert frame["message"] in ("pong", "ping"), frame


@pytest.fixture
async def gateway(nursery: trio.Nursery) -> AsyncIterator[tuple[FakeGateway, int]]:
    fake = FakeGateway()
    server = await nursery.start(
        functools.partial(serve_websocket, fake.handler, "127.0.0.1", 0, ssl_context=None)
    )
    yield fake, server.port
    nursery.cancel_scope.cancel()


async def status_is(page: ChromiumPage, element: str, value: str) -> None:
    await page.wait_for(
        "([id, v]) => document.getElementById(id).textContent === v", [element, value]
    )


async def click(page: ChromiumPage, selector: str) -> None:
    await page.run(lambda p: p.click(selector))


OFFER_JS = """async () => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio');
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  window.remotePeer = pc;
  return offer.sdp;
}"""


@pytest.mark.parametrize("http_root", ["ours", "official"], indirect=True)
async def test_phone_page_speaks_protocol_1(
    http_root: str, gateway: tuple[FakeGateway, int], request: pytest.FixtureRequest
) -> None:
    fake, ws_port = gateway
    ours = await _is_ours(http_root)
    assert ours == (request.node.callspec.params["http_root"] == "ours")
    query = (
        f"?url=ws://127.0.0.1:{ws_port}&sipLogin=alice&sipAuthenticationName=alice-auth"
        "&sipPassword=secret&sipDomain=sip.test&sipOutboundProxy=127.0.0.1&sipPort=5070"
    )
    async with open_browser() as page:
        try:
            await page.goto(f"{http_root}/phone/{query}")
            await page.wait_for("document.getElementById('connectBtn').textContent === 'Connect'")
            await click(page, "#connectBtn")
            await fake.accept()

            # --- connect and register (PROTOCOL.md §4.1)
            conn = await fake.expect("connection")
            assert conn["appKey"] == "defaultApp" and conn["clientVersion"] == "2.0"
            assert conn["sipLogin"] == "alice" and conn["sipAuthenticationName"] == "alice-auth"
            assert conn["sipPassword"] == "secret" and conn["sipDomain"] == "sip.test"
            assert conn["sipOutboundProxy"] == "127.0.0.1" and conn["sipPort"] == "5070"
            assert conn["sipRegisterRequired"] is True and conn["keepAlive"] is False
            assert conn["mediaProviders"][0] == "WebRTC"
            if ours:
                assert conn["protocolVersion"] == 1
            await fake.send("getUserData", {"authToken": "tok-1", "sipLogin": "alice"})
            await status_is(page, "connectionStatus", "ESTABLISHED")
            assert await page.evaluate("document.getElementById('authToken').value") == "tok-1"
            await fake.send("registered", {})
            await status_is(page, "connectionStatus", "REGISTERED")

            # --- keep-alive: every server frame has a data array, pong answers ping
            await fake.send("ping", None)
            assert await fake.expect("pong") is None

            # --- outgoing call, busy (§4.2)
            await page.run(lambda p: p.fill("#callee", "bob"))
            await click(page, "#callBtn")
            call = await fake.expect("call")
            assert call["incoming"] is False and call["status"] == "PENDING"
            assert call["caller"] == "alice" and call["callee"] == "bob"
            assert call["visibleName"] == "alice" and call["mediaProvider"] == "WebRTC"
            assert call["hasAudio"] is True and call["hasVideo"] is False
            assert call["sdp"].startswith("v=0") and "m=audio" in call["sdp"]
            assert "m=video" not in call["sdp"]
            cid = call["callId"]
            await fake.send("notifyTryingResponse", {"callId": cid, "status": "TRYING"})
            await status_is(page, "callStatus", "TRYING")
            await fake.send("ring", {"callId": cid, "status": "RING", "sipStatus": 180})
            await status_is(page, "callStatus", "RING")
            await fake.send("finish", {"callId": cid, "status": "BUSY", "sipStatus": 486,
                                       "sipMessage": "Busy Here", "info": "486 Busy Here"})
            await status_is(page, "callStatus", "BUSY")
            if ours:
                assert await page.text("#callInfo") == "486 Busy Here"
            await page.wait_for("document.getElementById('callBtn').textContent === 'Call'")

            # --- incoming call, answered, held, DTMF, transfer, hung up (§4.3-4.7)
            offer = await page.evaluate(OFFER_JS)
            await fake.send("setRemoteSDP", "in-1", offer)
            await fake.send("notifyIncomingCall", {
                "callId": "in-1", "incoming": True, "status": "NEW", "caller": "carol",
                "callee": "alice", "visibleName": "Carol", "hasAudio": True, "hasVideo": False})
            await fake.send("ring", {"callId": "in-1", "status": "RING"})
            await status_is(page, "callStatus", "RING")
            assert (await page.text("#caller")).startswith("carol")
            await click(page, "#answerBtn")
            answer = await fake.expect("answer")
            assert answer["callId"] == "in-1" and answer["incoming"] is True
            assert answer["sdp"].startswith("v=0") and "a=setup:active" in answer["sdp"]
            assert answer["callee"] == "alice"
            await fake.send("talk", {"callId": "in-1", "status": "ESTABLISHED", "sipStatus": 200})
            await status_is(page, "callStatus", "ESTABLISHED")

            await click(page, "#holdBtn")
            assert await fake.expect("hold") == {"callId": "in-1"}
            await fake.send("hold", {"callId": "in-1", "status": "HOLD"})
            await page.wait_for("document.getElementById('holdBtn').textContent === 'Unhold'")
            await click(page, "#holdBtn")
            assert await fake.expect("unhold") == {"callId": "in-1"}
            await fake.send("talk", {"callId": "in-1", "status": "ESTABLISHED"})
            await page.wait_for("!document.getElementById('holdBtn').disabled")

            await page.run(lambda p: p.fill("#dtmfInput", "12#"))
            await click(page, "#dtmfSendBtn")
            dtmf = await fake.expect("sendDtmf")
            assert dtmf == {"callId": "in-1", "type": "RFC2833", "dtmf": "12#"}

            await page.run(lambda p: p.fill("#transferTarget", "sip:dave@sip.test"))
            await click(page, "#transferBtn")
            transfer = await fake.expect("transfer")
            assert transfer == {"callId": "in-1", "target": "sip:dave@sip.test"}
            await fake.send("notifyTransferEvent", {"callId": "in-1", "status": "ACCEPTED"})

            await click(page, "#callBtn")
            assert await fake.expect("hangup") == {"callId": "in-1"}
            await fake.send("finish", {"callId": "in-1", "status": "FINISH",
                                       "info": "Normal call clearing"})
            await status_is(page, "callStatus", "FINISH")

            # --- a fatal fail ends the session (§3)
            await fake.send("fail", {"apiMethod": "RegistrationStatusEvent", "status": "FAILED",
                                     "sipStatus": 403, "sipMessage": "Forbidden",
                                     "info": "403 Forbidden"})
            await page.wait_for("document.getElementById('sessionInfo').textContent.includes('403')")
            if ours:
                await status_is(page, "connectionStatus", "FAILED")
            else:
                assert fake.ws is not None
                await fake.ws.aclose()
                await status_is(page, "connectionStatus", "DISCONNECTED")
        except BaseException:
            print("\n".join(page.console[-40:]))
            raise


async def _is_ours(http_root: str) -> bool:
    def fetch() -> bool:
        import urllib.request

        with urllib.request.urlopen(f"{http_root}/flashphoner.js") as r:
            return b"wcs-trio JavaScript SDK" in r.read(400)

    return await trio.to_thread.run_sync(fetch)


# An in-page stand-in for the gateway's WebRTC leg: answers the SDK's offer, sends a 600 Hz
# tone, and plays what it receives in <video id="peerHears">. It waits for ICE gathering so
# its answer carries candidates, as the ICE-lite gateway's does.
PEER_ANSWER_JS = """async (offer) => {
  const pc = new RTCPeerConnection();
  window.remotePeer = pc;
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  osc.frequency.value = 600;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(dest);
  osc.start();
  const hears = document.createElement('video');
  hears.id = 'peerHears';
  hears.muted = true;
  document.body.appendChild(hears);
  pc.ontrack = (ev) => { hears.srcObject = ev.streams[0] || new MediaStream([ev.track]); hears.play(); };
  await pc.setRemoteDescription({type: 'offer', sdp: offer});
  pc.addTrack(dest.stream.getAudioTracks()[0], dest.stream);
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((r) => pc.addEventListener('icegatheringstatechange',
      () => pc.iceGatheringState === 'complete' && r()));
  }
  return pc.localDescription.sdp;
}"""


@pytest.mark.parametrize("http_root", ["ours"], indirect=True)
async def test_phone_page_call_carries_audio_both_ways(
    http_root: str, gateway: tuple[FakeGateway, int], tmp_path: Path
) -> None:
    fake, ws_port = gateway
    wav = write_tone_wav(tmp_path / "tone.wav", 1000.0, seconds=5.0)
    query = f"?url=ws://127.0.0.1:{ws_port}&sipLogin=alice&sipDomain=sip.test"
    async with open_browser(
        fake_audio_wav=wav, extra_args=["--disable-features=WebRtcHideLocalIpsWithMdns"]
    ) as page:
        try:
            await page.goto(f"{http_root}/phone/{query}")
            await page.wait_for("document.getElementById('connectBtn').textContent === 'Connect'")
            await click(page, "#connectBtn")
            await fake.accept()
            await fake.expect("connection")
            await fake.send("getUserData", {"authToken": "t", "sipLogin": "alice"})
            await fake.send("registered", {})
            await status_is(page, "connectionStatus", "REGISTERED")
            await page.run(lambda p: p.fill("#callee", "echo"))
            await click(page, "#callBtn")
            call = await fake.expect("call")
            answer = await page.evaluate(PEER_ANSWER_JS, call["sdp"])
            await fake.send("setRemoteSDP", call["callId"], answer)
            await fake.send("talk", {"callId": call["callId"], "status": "ESTABLISHED"})
            await status_is(page, "callStatus", "ESTABLISHED")

            heard = await dominant_frequency(page, "#remoteDisplay video", 1.5)
            assert abs(heard.frequency - 600) < 15 and heard.rms > 0.01, heard
            sent = await dominant_frequency(page, "#peerHears", 1.5)
            assert abs(sent.frequency - 1000) < 15 and sent.rms > 0.01, sent

            stats = await page.evaluate("phone.call.getStats()")
            out = stats["outboundStream"]
            assert out["audio"]["bytesSent"] > 0 and out["audio"]["packetsSent"] > 0
            assert out["audioStats"] == out["audio"] and out["audio"]["codec"]
            assert stats["inboundStream"]["audio"]["packetsReceived"] > 0
            await page.wait_for("document.getElementById('statsAudioBytesSent').textContent > 0")

            await click(page, "#callBtn")
            assert await fake.expect("hangup") == {"callId": call["callId"]}
            await fake.send("finish", {"callId": call["callId"], "status": "FINISH"})
            await status_is(page, "callStatus", "FINISH")
            released = await page.evaluate(
                "!document.querySelector('#remoteDisplay video') && "
                "!document.querySelector('#localDisplay video')"
            )
            assert released is True
        except BaseException:
            print("\n".join(page.console[-40:]))
            raise


# The in-page stand-in as the caller: offers audio (600 Hz) and video (a canvas), with its
# candidates; `window.applyAnswer(sdp)` completes the exchange.
PEER_OFFER_JS = """async () => {
  const pc = new RTCPeerConnection();
  window.remotePeer = pc;
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  osc.frequency.value = 600;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(dest);
  osc.start();
  const canvas = document.createElement('canvas');
  canvas.width = 320; canvas.height = 240;
  const g = canvas.getContext('2d');
  let n = 0;
  setInterval(() => { g.fillStyle = `hsl(${(n += 7) % 360} 80% 50%)`; g.fillRect(0, 0, 320, 240); }, 40);
  const video = canvas.captureStream(25).getVideoTracks()[0];
  const stream = new MediaStream([dest.stream.getAudioTracks()[0], video]);
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((r) => pc.addEventListener('icegatheringstatechange',
      () => pc.iceGatheringState === 'complete' && r()));
  }
  window.applyAnswer = (sdp) => pc.setRemoteDescription({type: 'answer', sdp});
  return pc.localDescription.sdp;
}"""


@pytest.mark.parametrize("http_root", ["ours"], indirect=True)
async def test_phone_video_page_answers_audio_and_video(
    http_root: str, gateway: tuple[FakeGateway, int]
) -> None:
    fake, ws_port = gateway
    query = (
        f"?url=ws://127.0.0.1:{ws_port}&sipLogin=alice&sipDomain=sip.test"
        "&sipRegisterRequired=false"
    )
    async with open_browser(extra_args=["--disable-features=WebRtcHideLocalIpsWithMdns"]) as page:
        try:
            await page.goto(f"{http_root}/phone-video/{query}")
            await page.wait_for("document.getElementById('connectBtn').textContent === 'Connect'")
            await click(page, "#connectBtn")
            await fake.accept()
            conn = await fake.expect("connection")
            assert conn["sipRegisterRequired"] is False
            await fake.send("getUserData", {"authToken": "t", "sipLogin": "alice"})
            await status_is(page, "connectionStatus", "ESTABLISHED")

            offer = await page.evaluate(PEER_OFFER_JS)
            await fake.send("setRemoteSDP", "in-v", offer)
            await fake.send("notifyIncomingCall", {
                "callId": "in-v", "incoming": True, "status": "NEW", "caller": "carol",
                "callee": "alice", "visibleName": "Carol", "hasAudio": True, "hasVideo": True})
            await fake.send("ring", {"callId": "in-v", "status": "RING"})
            await status_is(page, "callStatus", "RING")
            await click(page, "#answerBtn")
            answer = await fake.expect("answer")
            assert "m=video" in answer["sdp"] and "a=sendrecv" in answer["sdp"]
            await page.evaluate("(sdp) => window.applyAnswer(sdp)", answer["sdp"])
            await fake.send("talk", {"callId": "in-v", "status": "ESTABLISHED"})
            await status_is(page, "callStatus", "ESTABLISHED")

            heard = await dominant_frequency(page, "#remoteDisplay video", 1.0)
            assert abs(heard.frequency - 600) < 15 and heard.rms > 0.01, heard
            await page.wait_for(
                "phone.stats && phone.stats.inboundStream.video"
                " && phone.stats.inboundStream.video.framesDecoded > 0"
                " && phone.stats.outboundStream.video.framesEncoded > 0",
                timeout_s=10,
            )
            assert int(await page.text("#statsVideoFramesDecoded")) > 0
            # The caller receives our fake camera too.
            received = await page.evaluate(
                """async () => { const r = await remotePeer.getStats(); let f = 0;
                   r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video')
                     f = s.framesDecoded || 0; }); return f; }"""
            )
            assert received > 0
            await click(page, "#muteVideoBtn")
            assert await page.evaluate("phone.call.isVideoMuted()") is True
        except BaseException:
            print("\n".join(page.console[-40:]))
            raise
