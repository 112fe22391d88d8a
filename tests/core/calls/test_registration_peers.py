"""A browser session registers through the gateway to a real Kamailio (digest auth)."""

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from tests.support.kamailio import kamailio
from tests.support.serve import running_server

pytestmark = pytest.mark.peers


def connection(user: str, password: str, port: int, **extra: Any) -> str:
    body = {"appKey": "defaultApp", "sipLogin": user, "sipAuthenticationName": user,
            "sipPassword": password, "sipDomain": "127.0.0.1", "sipOutboundProxy": "127.0.0.1",
            "sipPort": str(port), "sipRegisterRequired": True, **extra}
    return json.dumps({"message": "connection", "data": [body]})


async def next_message(ws: WebSocketConnection, skip: tuple[str, ...] = ("ping",)) -> dict[str, Any]:
    with trio.fail_after(10):
        while True:
            message = json.loads(await ws.get_message())
            if message["message"] not in skip:
                return message  # type: ignore[no-any-return]


async def options_via_kamailio(user: str, port: int) -> bytes:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    with sock:
        await sock.bind(("127.0.0.1", 0))
        me = sock.getsockname()[1]
        await sock.sendto((
            f"OPTIONS sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{trio.current_time():.0f}x{me};rport\r\n"
            f"Max-Forwards: 70\r\nTo: <sip:{user}@127.0.0.1>\r\nFrom: <sip:probe@127.0.0.1>;tag=p{me}\r\n"
            f"Call-ID: probe{me}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
            ("127.0.0.1", port))
        with trio.fail_after(5):
            while True:
                data, _ = await sock.recvfrom(65536)
                if not data.startswith(b"SIP/2.0 1"):
                    return data


async def test_register_then_unregister_on_disconnect(tmp_path: Path) -> None:
    async with kamailio(tmp_path) as k, running_server(tmp_path) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(connection("10005", "10005pw", k.ports["udp"]))
            hello = await next_message(ws)
            assert hello["message"] == "getUserData" and hello["data"][0]["sipLogin"] == "10005"
            assert "sipPassword" not in hello["data"][0]
            assert (await next_message(ws))["message"] == "registered"
            # Kamailio relays an OPTIONS for 10005 to the binding: the gateway answers it.
            assert (await options_via_kamailio("10005", k.ports["udp"])).startswith(b"SIP/2.0 200")
        with trio.fail_after(5):  # un-REGISTERed when the WebSocket closed: the binding is gone
            while not (await options_via_kamailio("10005", k.ports["udp"])).startswith(b"SIP/2.0 404"):
                await trio.sleep(0.1)
        assert "registration REGISTERED (200" in server.log()
        assert "10005pw" not in server.log()


async def test_wrong_password_fails_with_the_sip_status(tmp_path: Path) -> None:
    async with kamailio(tmp_path) as k, running_server(tmp_path) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(connection("10006", "wrong", k.ports["udp"]))
            assert (await next_message(ws))["message"] == "getUserData"
            fail = await next_message(ws)
            assert fail["message"] == "fail"
            body = fail["data"][0]
            assert body["apiMethod"] == "RegistrationStatusEvent" and body["status"] == "FAILED"
            assert body["sipStatus"] in (401, 403) and body["info"].startswith(str(body["sipStatus"]))
            with pytest.raises(ConnectionClosed):
                await next_message(ws)
        # the server keeps serving
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(connection("10007", "10007pw", k.ports["udp"]))
            assert (await next_message(ws))["message"] == "getUserData"
            assert (await next_message(ws))["message"] == "registered"


@pytest.mark.parametrize(("field", "value"), [("sipLogin", "bad\x01user"), ("sipPort", "http")])
async def test_a_login_rfc_3261_forbids_is_refused_naming_the_field(
        tmp_path: Path, field: str, value: str) -> None:
    async with running_server(tmp_path) as server:
        async with open_websocket_url(server.ws_url) as ws:
            frame = json.loads(connection("10008", "x", 5060))
            frame["data"][0][field] = value
            await ws.send_message(json.dumps(frame))
            reply = await next_message(ws, skip=("ping", "getUserData"))
            assert reply["message"] == "fail" and reply["data"][0]["field"] == field
            with pytest.raises(ConnectionClosed):
                await next_message(ws)


async def test_register_over_tls_trusting_the_configured_ca_file(tmp_path: Path) -> None:
    from tests.support.certs import self_signed

    cert, key = self_signed(tmp_path)
    async with kamailio(tmp_path, tls=(str(cert), str(key))) as k:
        # Without the CA file the PBX's self-signed certificate is refused...
        async with running_server(tmp_path, ["sip_use_tls=true"]) as server, \
                open_websocket_url(server.ws_url) as ws:
            await ws.send_message(connection("10011", "10011pw", k.ports["tls"]))
            assert (await next_message(ws))["message"] == "getUserData"
            fail = await next_message(ws)
            assert fail["message"] == "fail" and fail["data"][0]["status"] == "FAILED", fail
        # ...with it (no keystore dance: one config key) the session registers over TLS.
        async with running_server(tmp_path, ["sip_use_tls=true", f"sip_ca_file={cert}"]) as server, \
                open_websocket_url(server.ws_url) as ws:
            await ws.send_message(connection("10012", "10012pw", k.ports["tls"]))
            assert (await next_message(ws))["message"] == "getUserData"
            assert (await next_message(ws))["message"] == "registered"
        assert "REQ REGISTER" in k.log() and "/tls" in k.log()
