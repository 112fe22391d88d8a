"""The plugin manager: contained failures, refusals, and a real third-party entry point."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.support.serve import running_server
from wcs_trio.core.errors import Refusal
from wcs_trio.core.hookspecs import hookimpl
from wcs_trio.core.pluginmanager import make_plugin_manager


class Broken:
    @hookimpl
    def wcs_route_call(self, session_id: str, callee: str) -> str:
        raise RuntimeError("bug in a plugin")

    @hookimpl
    def wcs_call_state_changed(self, call_id: str, old: str, new: str, info: str) -> None:
        raise KeyError("another bug")


class Router:
    seen: list[str]

    def __init__(self) -> None:
        self.seen = []

    @hookimpl(trylast=True)
    def wcs_route_call(self, session_id: str, callee: str) -> str:
        return f"sip:{callee}@pbx.example"

    @hookimpl
    def wcs_call_state_changed(self, call_id: str, old: str, new: str, info: str) -> None:
        self.seen.append(new)


class Refuser:
    @hookimpl
    def wcs_rewrite_sip_offer(self, sdp: object, call_options: dict, settings: object) -> None:
        raise Refusal("sipSDP line 'x' is not SDP")


def test_a_raising_plugin_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    router = Router()
    manager = make_plugin_manager([router, Broken()], load_entry_points=False)
    assert manager.hook.wcs_route_call(session_id="s", callee="100") == "sip:100@pbx.example"
    manager.hook.wcs_call_state_changed(call_id="c", old="NEW", new="RING", info="")
    assert router.seen == ["RING"]
    assert "failed in wcs_route_call" in caplog.text and "RuntimeError" in caplog.text


def test_a_refusal_reaches_the_caller() -> None:
    manager = make_plugin_manager([Refuser()], load_entry_points=False)
    with pytest.raises(Refusal, match="not SDP"):
        manager.hook.wcs_rewrite_sip_offer(sdp=None, call_options={}, settings=None)


def test_a_misspelt_hook_is_rejected_at_start() -> None:
    class Typo:
        @hookimpl
        def wcs_sesion_opened(self, session_id: str) -> None: ...

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager([Typo()], load_entry_points=False)


PLUGIN_SOURCE = '''
import os
from wcs_trio.core.hookspecs import hookimpl

def _note(line):
    with open(os.environ["MARKER_FILE"], "a") as out:
        out.write(line + "\\n")

@hookimpl
def wcs_server_started(settings):
    _note(f"started ws={settings.ws_port}")

@hookimpl
def wcs_session_opened(session_id, remote, app_key):
    _note(f"opened {app_key}")
    raise RuntimeError("this plugin is buggy on purpose")
'''


def build_plugin_distribution(tmp_path: Path) -> Path:
    """A real distribution with an entry point in group wcs_trio, installed by pip into a folder."""
    source = tmp_path / "src"
    (source / "wcs_hello_plugin").mkdir(parents=True)
    (source / "wcs_hello_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    (source / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "wcs-hello-plugin"
        version = "1.0"
        [project.entry-points.wcs_trio]
        hello = "wcs_hello_plugin"
        [tool.setuptools]
        packages = ["wcs_hello_plugin"]
    '''))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )
    assert list(target.glob("wcs_hello_plugin-1.0.dist-info/entry_points.txt"))
    return target


async def test_third_party_plugin_loads_from_its_entry_point(tmp_path: Path) -> None:
    site = await trio.to_thread.run_sync(build_plugin_distribution, tmp_path)
    marker = tmp_path / "marker.txt"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "MARKER_FILE": str(marker)}
    async with running_server(tmp_path, ["log_level=INFO"], env=env) as server:
        with trio.fail_after(5):
            while not marker.exists():
                await trio.sleep(0.05)
        assert marker.read_text() == f"started ws={server.ws_port}\n"
        for app in ("first", "second"):
            async with open_websocket_url(server.ws_url) as ws:
                await ws.send_message(json.dumps({"message": "connection", "data": [{"appKey": app}]}))
                assert json.loads(await ws.get_message())["message"] == "getUserData"
        assert marker.read_text().splitlines()[1:] == ["opened first", "opened second"]
        log = server.log()
        assert "loaded plugin hello" in log
        assert "plugin hello failed in wcs_session_opened" in log
