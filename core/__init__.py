"""The gateway core: SIP, WebRTC, SDP, media bridge, call state and the SDK API."""
