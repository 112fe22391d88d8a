"""Built-in plugin: the codec policy of the gateway (MISSION.md "Server configuration").

- ``codecs``: the codecs offered to SIP, in this order. A configured codec the
  browser did not offer is added from :data:`~wcs_trio.core.sdp.rtpcodec.CONFIG_CODECS`
  when the media bridge can transcode it (``TRANSCODABLE``); others are left out.
- ``codecs_exclude_sip``: never offered to SIP.
- ``allow_outside_codecs``: browser codecs beyond ``codecs`` are kept (after the
  configured ones) instead of dropped.
- per-call ``stripCodecs``: comma-separated, case-insensitive, by configuration
  name (``alaw``) or encoding name (``PCMA``); removed from the SIP offer/answer.
- ``telephone-event`` is always kept unless stripped (RFC 4733 DTMF).
- ``profiles`` and ``proxy_use_h264_packetization_mode_1_only``: only H.264
  variants of those profiles (RFC 6184 §8.1) and, if set, packetization-mode 1
  go to SIP, so the device answers one the browser decodes and media passes
  through untranscoded.

The browser offer for an incoming call is filtered by ``codecs`` (unless
``allow_outside_codecs``) and ordered like it; if that leaves a stream without a
codec browsers decode, the configured browser codecs are added for transcoding.
A stream left with no codec at all is disabled with port 0 (RFC 3264 §8.2).
"""

from __future__ import annotations

from typing import Any

from wcs_trio.core.hookspecs import hookimpl
from wcs_trio.core.media.transcode import TRANSCODABLE
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.model import MediaSection, SessionDescription
from wcs_trio.core.sdp.rtpcodec import (
    CONFIG_CODECS,
    TELEPHONE_EVENT,
    Codec,
    codecs_of,
    config_name_of,
    h264_identity,
    h264_profile,
)

#: Configuration codec names every WebRTC browser decodes (RFC 7874 §3, RFC 7742 §5).
BROWSER_CODECS = ("opus", "alaw", "ulaw", "g722", "vp8", "h264")


def strip_list(call_options: dict[str, Any]) -> frozenset[str]:
    """The per-call ``stripCodecs`` option as lower-case names."""
    raw = call_options.get("stripCodecs") or ""
    if isinstance(raw, (list, tuple)):
        raw = ",".join(str(x) for x in raw)
    return frozenset(part.strip().lower() for part in str(raw).split(",") if part.strip())


def _names(codec: Codec) -> set[str]:
    names = {codec.key}
    config = config_name_of(codec)
    if config:
        names.add(config)
    return names


def _h264_allowed(codec: Codec, settings: Any) -> bool:
    profile, mode = h264_identity(codec)
    allowed = {h264_profile(p) for p in settings.profiles}
    if settings.proxy_use_h264_packetization_mode_1_only and mode != "1":
        return False
    return profile in allowed


def _add(media: MediaSection, pt: str, codec: Codec) -> None:
    media.formats.append(pt)
    media.add("rtpmap", codec.rtpmap(pt))
    if codec.fmtp:
        media.add("fmtp", f"{pt} {codec.fmtp}")


def _free_pt(sdp: SessionDescription) -> str:
    used = {pt for m in sdp.media for pt in m.formats}
    for pt in (*range(96, 128), *range(35, 64)):
        if str(pt) not in used:
            return str(pt)
    raise SdpError("no free dynamic payload type left")


def _template(name: str, settings: Any) -> Codec:
    codec = CONFIG_CODECS[name].codec
    if name == "h264" and settings.profiles:
        params = f"profile-level-id={settings.profiles[0]};packetization-mode=1"
        return Codec(codec.name, codec.clock_rate, 1, params)
    return codec


def _disable(media: MediaSection) -> None:
    first = media.formats[:1]
    media.keep_formats(first)
    media.port = 0


def apply_sip_policy(
    sdp: SessionDescription, settings: Any, strip: frozenset[str], *, add_missing: bool = True
) -> None:
    """Rewrite the codecs of every RTP stream of a SIP offer in place."""
    for media in sdp.media:
        if media.rejected or media.kind not in ("audio", "video"):
            continue
        present = codecs_of(media)
        keep: list[str] = []
        for name in settings.codecs:
            entry = CONFIG_CODECS.get(name)
            if entry is None or entry.kind != media.kind:
                continue
            if name in settings.codecs_exclude_sip or name in strip:
                continue
            if name == TELEPHONE_EVENT:
                continue  # placed after the media codecs below
            matches = [pt for pt, c in present if entry.matches(c) and not (_names(c) & strip)]
            if name == "h264":
                matches = [pt for pt in matches if _h264_allowed(_codec(present, pt), settings)]
            if matches:
                keep.extend(matches)
            elif add_missing and entry.codec.key in TRANSCODABLE and entry.codec.key not in strip:
                # Only what the media bridge can transcode: a PBX picking a codec
                # nobody can produce would leave the call silent.
                pt = str(entry.static_pt) if entry.static_pt is not None else _free_pt(sdp)
                if pt in media.formats:
                    pt = _free_pt(sdp)
                _add(media, pt, _template(name, settings))
                present.append((pt, _template(name, settings)))
                keep.append(pt)
        if settings.allow_outside_codecs:
            for pt, codec in present:
                config = config_name_of(codec)
                excluded = config in settings.codecs_exclude_sip or config == TELEPHONE_EVENT
                if pt not in keep and not excluded and not (_names(codec) & strip):
                    if codec.key != "h264" or _h264_allowed(codec, settings):
                        keep.append(pt)
        if TELEPHONE_EVENT not in strip:
            keep.extend(pt for pt, c in present if c.is_dtmf)
        if not any(_codec(present, pt).is_media for pt in keep):
            _disable(media)
        else:
            media.keep_formats(keep)


def _codec(present: list[tuple[str, Codec]], pt: str) -> Codec:
    return next(c for p, c in present if p == pt)


def apply_browser_policy(sdp: SessionDescription, settings: Any) -> None:
    """Filter and order the codecs of a browser offer built from a SIP offer."""
    for media in sdp.media:
        if media.rejected:
            continue
        present = codecs_of(media)
        keep: list[str] = []
        for name in settings.codecs:
            entry = CONFIG_CODECS.get(name)
            if entry is not None and entry.kind == media.kind and name != TELEPHONE_EVENT:
                keep.extend(pt for pt, c in present if entry.matches(c) and pt not in keep)
        if settings.allow_outside_codecs:
            keep.extend(pt for pt, c in present if pt not in keep and not c.is_dtmf)
        keep.extend(pt for pt, c in present if c.is_dtmf)
        if not any(config_name_of(_codec(present, pt)) in BROWSER_CODECS for pt in keep):
            # Nothing the browser decodes: offer it the configured browser codecs
            # and let the bridge transcode.
            for name in BROWSER_CODECS:
                entry = CONFIG_CODECS[name]
                if entry.kind == media.kind and name in settings.codecs:
                    pt = str(entry.static_pt) if entry.static_pt is not None else _free_pt(sdp)
                    if pt in media.formats:
                        pt = _free_pt(sdp)
                    codec = _template(name, settings)
                    _add(media, pt, codec)
                    present.append((pt, codec))
                    keep.append(pt)
        if not any(_codec(present, pt).is_media for pt in keep):
            _disable(media)
        else:
            media.keep_formats(keep)


@hookimpl
def wcs_rewrite_sip_offer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Any
) -> None:
    apply_sip_policy(sdp, settings, strip_list(call_options), add_missing=True)


@hookimpl
def wcs_rewrite_sip_answer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Any
) -> None:
    # The answer's codecs were already chosen against the SIP offer: only the
    # explicit removals apply, and removing the chosen codec refuses the call
    # rather than leaving a silent stream.
    strip = strip_list(call_options)
    for media in sdp.media:
        if media.rejected:
            continue
        keep = []
        for pt, codec in codecs_of(media):
            gone = _names(codec) & strip or config_name_of(codec) in settings.codecs_exclude_sip
            if not gone:
                keep.append((pt, codec))
        if not any(c.is_media for _, c in keep):
            raise SdpError(
                f"codec policy (stripCodecs={','.join(sorted(strip)) or '-'}) leaves the "
                f"{media.kind} stream of the answer without a codec"
            )
        media.keep_formats(pt for pt, _ in keep)


@hookimpl
def wcs_rewrite_browser_offer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Any
) -> None:
    apply_browser_policy(sdp, settings)
