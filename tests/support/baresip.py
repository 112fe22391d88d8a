"""baresip as a headless softphone in tests: config, process and its ctrl_tcp socket.

Recipe from the peers notes: no sound card (``aubridge`` as a dummy player), the
``sndfile`` filter records what the UA hears as ``dump-*-dec.wav``, ``ausine`` or
``aufile`` plays a known tone, ``ctrl_tcp`` takes JSON commands in netstrings.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

AUDIO_MODULES = ("g711.so", "g722.so", "opus.so")


@attrs.define
class Control:
    """baresip's ctrl_tcp: netstring-framed JSON commands, responses and events."""

    stream: trio.SocketStream
    buffer: bytearray = attrs.field(factory=bytearray)
    events: list[dict[str, Any]] = attrs.field(factory=list)
    counter: int = 0

    async def _read(self) -> dict[str, Any]:
        while True:
            colon = self.buffer.find(b":")
            if colon > 0:
                length = int(self.buffer[:colon])
                if len(self.buffer) >= colon + 1 + length + 1:
                    payload = bytes(self.buffer[colon + 1:colon + 1 + length])
                    del self.buffer[:colon + 1 + length + 1]
                    return dict(json.loads(payload))
            data = await self.stream.receive_some(65536)
            if not data:
                raise ConnectionError("baresip closed its control socket")
            self.buffer += data

    async def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        self.counter += 1
        token = str(self.counter)
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        await self.stream.send_all(b"%d:%s," % (len(body), body))
        with trio.fail_after(timeout):
            while True:
                message = await self._read()
                if message.get("event"):
                    self.events.append(message)
                elif message.get("response") and message.get("token") == token:
                    return message

    async def wait_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("type") == kind:
                self.events.remove(event)
                return event
        with trio.fail_after(timeout):
            while True:
                message = await self._read()
                if message.get("event"):
                    if message.get("type") == kind:
                        return message
                    self.events.append(message)


@attrs.define
class Baresip:
    user: str
    process: trio.Process
    control: Control
    record_dir: Path
    log_path: Path

    def recordings(self, kind: str = "dec") -> list[Path]:
        """What the UA heard (``dec``) or sent (``enc``), oldest first."""
        return sorted(self.record_dir.glob(f"dump-*-{kind}.wav"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def write_config(folder: Path, *, user: str, registrar: str, listen: str, ctrl_port: int,
                 rtp_ports: tuple[int, int], tone_hz: int | None = None, tone_wav: Path | None = None,
                 answer: str = "auto", video_modules: Sequence[str] = (),
                 transport: str = "udp") -> Path:
    record = folder / "rec"
    record.mkdir(parents=True, exist_ok=True)
    source = f"aufile,{tone_wav}" if tone_wav else f"ausine,{tone_hz or 440}"
    modules = [*AUDIO_MODULES, "ausine.so", "aufile.so", "aubridge.so", "sndfile.so", *video_modules]
    lines = [
        "poll_method\tepoll",
        f"sip_listen\t{listen}",
        "call_local_timeout\t120",
        "call_max_calls\t4",
        f"audio_source\t{source}",
        f"audio_player\taubridge,sink{user}",
        f"audio_alert\taubridge,sink{user}",
        "ausrc_srate\t48000",
        "ausrc_channels\t2",
        "audio_buffer\t20-160",
        f"rtp_ports\t{rtp_ports[0]}-{rtp_ports[1]}",
        "rtcp_mux\tno",
        "jitter_buffer_delay\t5-10",
        "module_path\t/usr/lib/baresip/modules",
        *(f"module\t{m}" for m in modules),
        "module_tmp\taccount.so",
        "module_app\tmenu.so",
        "module_app\tctrl_tcp.so",
        f"ctrl_tcp_listen\t127.0.0.1:{ctrl_port}",
        f"snd_path\t{record}",
    ]
    if video_modules:
        lines += ["video_source\tfakevideo,nil", "video_display\tfakevideo,nil",
                  "video_size\t320x240", "video_fps\t15"]
    (folder / "config").write_text("\n".join(lines) + "\n")
    (folder / "accounts").write_text(
        f"<sip:{user}@{registrar};transport={transport}>;auth_pass={user}pw;"
        f"answermode={answer};regint=300\n")
    return folder


@asynccontextmanager
async def running_baresip(folder: Path, *, user: str, ctrl_host: str, ctrl_port: int,
                          prefix: Sequence[str] = ()) -> AsyncIterator[Baresip]:
    """Start baresip with ``folder``'s config (``prefix`` e.g. ``ip netns exec NS``), stop it after."""
    log_path = folder / "baresip.log"
    with log_path.open("wb") as log_file:
        process = await trio.lowlevel.open_process(
            [*prefix, "baresip", "-f", str(folder)], stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    try:
        with trio.fail_after(10):
            while True:
                try:
                    stream = await trio.open_tcp_stream(ctrl_host, ctrl_port)
                    break
                except OSError:
                    if process.poll() is not None:
                        raise RuntimeError(f"baresip exited:\n{log_path.read_text()}") from None
                    await trio.sleep(0.05)
        yield Baresip(user, process, Control(stream), folder / "rec", log_path)
        await stream.aclose()
    finally:
        # SIGTERM un-REGISTERs first and may linger: a second one ends it.
        for _ in range(2):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with trio.move_on_after(1.5):
                    await process.wait()
        if process.poll() is None:
            process.kill()
            await process.wait()
