import json

import pytest

from wcs_trio.core.api.protocol import ProtocolError, decode, encode


def frame(name: str, *data: object) -> str:
    return json.dumps({"message": name, "data": list(data)})


def test_connection_as_the_official_sdk_sends_it() -> None:
    message = decode(frame("connection", {
        "appKey": "defaultApp", "mediaProviders": ["WebRTC"], "keepAlive": False, "authToken": None,
        "clientVersion": "2.0", "custom": {}, "sipLogin": "10005", "sipAuthenticationName": "10005",
        "sipPassword": "x", "sipDomain": "127.0.0.1", "sipOutboundProxy": "127.0.0.1", "sipPort": "5060",
        "sipRegisterRequired": True,
    }))
    assert message.name == "connection" and message.body["sipLogin"] == "10005"


@pytest.mark.parametrize(
    ("raw", "field", "text"),
    [
        ("{not json", "", "not JSON"),
        (b"\xff\xfe", "", "not JSON"),
        ("[1,2]", "message", "JSON object"),
        (json.dumps({"data": []}), "message", "'message' must be"),
        (json.dumps({"message": "call", "data": {}}), "data", "'data' must be an array"),
        (frame("nosuch"), "message", "unknown message 'nosuch'"),
        (frame("connection", "text"), "data", "data[0] must be an object"),
        (frame("connection", {"sipPort": "http"}), "sipPort", "sipPort must be a port"),
        (frame("connection", {"sipPort": 0}), "sipPort", "sipPort must be a port"),
        (frame("connection", {"keepAlive": "yes"}), "keepAlive", "keepAlive must be a boolean"),
        (frame("call", {"callId": "1", "sdp": "v=0"}), "callee", "callee is required"),
        (frame("call", {"callId": "1", "callee": "b", "sdp": "v=0", "sipSDP": "b=AS:1"}), "sipSDP", "array"),
        (frame("hangup", {}), "callId", "callId is required"),
    ],
)
def test_bad_frames_name_the_field(raw: str | bytes, field: str, text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(raw)
    assert info.value.field == field
    assert text in info.value.info
    fail = info.value.as_fail()
    assert fail["info"] == info.value.info and "apiMethod" in fail


def test_encode_round_trips() -> None:
    text = encode("setRemoteSDP", "call-1", "v=0\r\n")
    assert json.loads(text) == {"message": "setRemoteSDP", "data": ["call-1", "v=0\r\n"]}
    assert decode(encode("pong", None)).name == "pong"
