"""The media half of an independent WebRTC client (aiortc) for the e2e tests, run as a subprocess.

The test speaks the SDK's WebSocket protocol itself; this process only does WebRTC. One JSON
object per line on stdin/stdout:
  out {"offer": sdp}            an audio offer (a sine of --tone Hz), candidates included
  in  {"answer": sdp}           the gateway's setRemoteSDP
  out {"result": {...}}         after --seconds of media: ICE/connection states, frames
                                received, and the dominant frequency and RMS of what it heard
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import sys
import time

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

RATE = 48000
SAMPLES = 960  # 20 ms


class ToneTrack(MediaStreamTrack):
    """A sine wave, paced in real time like a microphone."""

    kind = "audio"

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz
        self.pts = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        wait = self.start + self.pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(SAMPLES) + self.pts) / RATE
        samples = (0.5 * 32767 * np.sin(2 * np.pi * self.hz * t)).astype("<i2")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        self.pts += SAMPLES
        return frame


def dominant(samples: np.ndarray, rate: int) -> tuple[float, float]:
    if samples.size == 0:
        return 0.0, 0.0
    x = samples.astype(float) / 32768.0
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[:3] = 0.0
    return float(np.argmax(spectrum)) * rate / len(x), float(np.sqrt(np.mean(x * x)))


async def main(tone: float, seconds: float, skip: float) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    states: list[str] = []
    heard: list[np.ndarray] = []
    frames = 0
    rate = RATE
    started: list[float] = []

    @pc.on("connectionstatechange")
    def on_state() -> None:
        states.append(pc.connectionState)

    async def consume(track: MediaStreamTrack) -> None:
        nonlocal frames, rate
        try:
            while True:
                frame = await track.recv()
                frames += 1
                if not started:
                    started.append(time.monotonic())
                if time.monotonic() - started[0] < skip:
                    continue
                rate = frame.sample_rate
                data = frame.to_ndarray()
                heard.append(data.reshape(-1)[:: len(frame.layout.channels)])
        except MediaStreamError:
            pass

    tasks: list[asyncio.Task[None]] = []

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        tasks.append(asyncio.ensure_future(consume(track)))

    pc.addTrack(ToneTrack(tone))
    await pc.setLocalDescription(await pc.createOffer())
    print(json.dumps({"offer": pc.localDescription.sdp}), flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=json.loads(line)["answer"], type="answer"))
    await asyncio.sleep(seconds)
    hz, rms = dominant(np.concatenate(heard) if heard else np.zeros(0), rate)
    result = {"states": states, "frames": frames, "dominant_hz": hz, "rms": rms,
              "heard_seconds": sum(len(h) for h in heard) / rate}
    print(json.dumps({"result": result}), flush=True)
    await pc.close()
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tone", type=float, default=1200.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--skip", type=float, default=0.5, help="seconds of received audio to ignore")
    args = parser.parse_args()
    asyncio.run(main(args.tone, args.seconds, args.skip))
