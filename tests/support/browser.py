"""Headless Chromium for tests: Debian's /usr/bin/chromium driven by Playwright, from trio.

Playwright's sync API binds every object to the thread that created it, and trio's worker
threads are a pool, so one dedicated thread owns Playwright, the browser and its pages; trio
code hands it jobs (plain functions of the page) and waits for their results without blocking
the trio loop. Closing the helper, whatever the outcome, stops Chromium and deletes the fresh
profile directory.

    async with open_browser(fake_audio_wav=wav) as browser:
        await browser.goto(f"http://127.0.0.1:{port}/phone/?url=ws://127.0.0.1:{ws}")
        await browser.run(lambda page: page.click("#connectBtn"))
        freq, level = await dominant_frequency(browser, "#remoteDisplay video", 2.0)
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import queue
import shutil
import struct
import tempfile
import threading
import wave
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Remote audio must play (and feed WebAudio) without a click in a headless page.
    "--autoplay-policy=no-user-gesture-required",
)

T = TypeVar("T")
_STOP = object()


class BrowserError(RuntimeError):
    """Chromium or Playwright could not be started, or a job failed inside the browser thread."""


@attrs.frozen
class Spectrum:
    """What `dominant_frequency` measured: the peak and how loud the stream was."""

    frequency: float  # Hz, bin of the highest average power
    level_db: float  # that bin's average power, dBFS as the analyser reports it
    rms: float  # time-domain RMS, 0..1 (0 = silence)


@attrs.define
class ChromiumPage:
    """A running Chromium with one page; every Playwright call runs on its own thread."""

    _jobs: queue.Queue[Any]
    _thread: threading.Thread
    console: list[str] = attrs.field(factory=list)

    async def run(self, job: Callable[..., T], *args: Any) -> T:
        """Run ``job(page, *args)`` on the browser thread and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, args, future))
        return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)

    async def goto(self, url: str) -> None:
        await self.run(lambda page: page.goto(url))

    async def evaluate(self, script: str, arg: Any = None) -> Any:
        return await self.run(lambda page: page.evaluate(script, arg))

    async def wait_for(self, script: str, arg: Any = None, timeout_s: float = 10.0) -> Any:
        """Wait until the JS expression/function ``script`` is truthy; return its value."""
        return await self.run(
            lambda page: page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000).json_value()
        )

    async def text(self, selector: str) -> str:
        return await self.run(lambda page: page.inner_text(selector))


def _browser_thread(
    jobs: queue.Queue[Any],
    ready: concurrent.futures.Future[None],
    args: Sequence[str],
    profile: str,
    console: list[str],
) -> None:
    # Imported here so that merely importing this module needs no Playwright.
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=list(args)
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
                page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
                ready.set_result(None)
                while (item := jobs.get()) is not _STOP:
                    job, job_args, future = item
                    if not future.set_running_or_notify_cancel():
                        continue
                    try:
                        future.set_result(job(page, *job_args))
                    except BaseException as exc:  # handed to the trio side, not swallowed
                        future.set_exception(exc)
            finally:
                context.close()
    except BaseException as exc:
        if not ready.done():
            ready.set_exception(BrowserError(f"cannot start {CHROMIUM}: {exc}"))
        else:
            raise


@asynccontextmanager
async def open_browser(
    fake_audio_wav: Path | None = None, extra_args: Sequence[str] = ()
) -> AsyncIterator[ChromiumPage]:
    """Start headless Chromium (fresh profile, fake camera and microphone) with one page.

    ``fake_audio_wav`` feeds the fake microphone from a WAV file (Chromium loops it).
    A missing /usr/bin/chromium raises BrowserError: tests must fail, not skip.
    """
    if not os.access(CHROMIUM, os.X_OK):
        raise BrowserError(f"{CHROMIUM} is missing: apt-get install chromium")
    args = list(BASE_ARGS) + list(extra_args)
    if fake_audio_wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio_wav}")
    profile = tempfile.mkdtemp(prefix="wcs-trio-chromium-")
    jobs: queue.Queue[Any] = queue.Queue()
    ready: concurrent.futures.Future[None] = concurrent.futures.Future()
    console: list[str] = []
    thread = threading.Thread(
        target=_browser_thread, args=(jobs, ready, args, profile, console), daemon=True
    )
    thread.start()
    try:
        await trio.to_thread.run_sync(ready.result, abandon_on_cancel=True)
        yield ChromiumPage(jobs, thread, console)
    finally:
        jobs.put(_STOP)
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(thread.join, 15.0)
        shutil.rmtree(profile, ignore_errors=True)


# Measures the spectrum of the audio of a media element's MediaStream with WebAudio.
# Chromium feeds a remote WebRTC stream to an AnalyserNode only while the stream also plays in
# a media element, so a muted <audio> plays it alongside.
_SPECTRUM_JS = """
async ({selector, ms}) => {
  const el = document.querySelector(selector);
  if (!el || !el.srcObject) throw new Error('no MediaStream on ' + selector);
  const stream = el.srcObject;
  if (!stream.getAudioTracks().length) throw new Error('no audio track on ' + selector);
  const sink = new Audio();
  sink.muted = true;
  sink.srcObject = stream;
  await sink.play().catch(() => {});
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 16384;
  analyser.smoothingTimeConstant = 0;
  const source = ctx.createMediaStreamSource(stream);
  source.connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const power = new Float64Array(analyser.frequencyBinCount);
  const wave = new Float32Array(analyser.fftSize);
  let frames = 0, sumSq = 0, samples = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    analyser.getFloatFrequencyData(bins);
    for (let i = 0; i < bins.length; i++) power[i] += Math.pow(10, bins[i] / 10);
    analyser.getFloatTimeDomainData(wave);
    for (const v of wave) { sumSq += v * v; }
    samples += wave.length;
    frames++;
  }
  source.disconnect();
  await ctx.close();
  sink.srcObject = null;
  const hz = ctx.sampleRate / analyser.fftSize;
  let best = Math.ceil(50 / hz);
  for (let i = best; i < power.length; i++) if (power[i] > power[best]) best = i;
  return {frequency: best * hz, levelDb: 10 * Math.log10(power[best] / Math.max(frames, 1)),
          rms: Math.sqrt(sumSq / Math.max(samples, 1))};
}
"""


async def dominant_frequency(page: ChromiumPage, selector: str, duration_s: float) -> Spectrum:
    """Dominant frequency of the audio playing in the media element at ``selector``.

    The SDK attaches the remote stream when the browser's track event fires, which may come
    a moment after the page shows ESTABLISHED: wait for it (up to 3 s) before listening.
    """
    await page.wait_for(
        "(sel) => { const el = document.querySelector(sel); return !!(el && el.srcObject); }",
        selector, timeout_s=3.0)
    r = await page.evaluate(_SPECTRUM_JS, {"selector": selector, "ms": duration_s * 1000})
    return Spectrum(frequency=float(r["frequency"]), level_db=float(r["levelDb"]), rms=float(r["rms"]))


def write_tone_wav(path: Path, frequency: float, seconds: float = 10.0, rate: int = 48000) -> Path:
    """A stereo 16-bit sine WAV, the format Chromium's fake audio capture expects."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        v = int(0.5 * 32767 * math.sin(2 * math.pi * frequency * n / rate))
        frames += struct.pack("<hh", v, v)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path
