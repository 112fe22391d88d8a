"""An aiortc peer for the WebRTC transport tests, run as a subprocess.

Protocol on stdin/stdout, one JSON object per line:
  out {"offer": sdp}          the offer, candidates included
  in  {"answer": sdp}         our answer
  out {"result": {...}}       after --seconds: connection state and the frames
                              aiortc decoded from what came back, by kind
With --answer the roles swap: we send {"offer": sdp} in, aiortc replies with
{"answer": sdp}, then {"result": ...}. aiortc answers an actpass offer with
a=setup:active; --setup passive makes it the DTLS server instead.
Only loopback is used: host candidates are forced to 127.0.0.1 and no STUN
server is configured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"]


aioice.ice.get_host_addresses = _loopback_only


async def main(seconds: float, video: bool, answer_setup: str | None) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames: dict[str, int] = {"audio": 0, "video": 0}
    sizes: list[tuple[int, int]] = []
    states: list[str] = []
    tasks = []

    @pc.on("connectionstatechange")
    def on_state() -> None:
        states.append(pc.connectionState)

    async def consume(track) -> None:
        try:
            while True:
                frame = await track.recv()
                frames[track.kind] += 1
                if track.kind == "video":
                    sizes.append((frame.width, frame.height))
        except MediaStreamError:
            pass

    @pc.on("track")
    def on_track(track) -> None:
        tasks.append(asyncio.ensure_future(consume(track)))

    async def read_line() -> dict:
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        return json.loads(line)

    if answer_setup is None:
        pc.addTrack(AudioStreamTrack())
        if video:
            pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        print(json.dumps({"offer": pc.localDescription.sdp}), flush=True)
        answer = (await read_line())["answer"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    else:
        offer = (await read_line())["offer"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for transceiver in list(pc.getTransceivers()):
            pc.addTrack(AudioStreamTrack() if transceiver.kind == "audio" else VideoStreamTrack())
            if answer_setup == "passive":
                # aiortc has no public knob: it answers actpass as the DTLS
                # client unless its transport's role is already set.
                transceiver.receiver.transport._set_role("server")
        await pc.setLocalDescription(await pc.createAnswer())
        print(json.dumps({"answer": pc.localDescription.sdp}), flush=True)
    await asyncio.sleep(seconds)
    result = {
        "states": states,
        "frames": frames,
        "video_sizes": sorted(set(sizes)),
    }
    await pc.close()
    for task in tasks:
        task.cancel()
    print(json.dumps({"result": result}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--answer", choices=["active", "passive"],
                        help="answer an offer from stdin with this a=setup")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, not args.no_video, args.answer))
