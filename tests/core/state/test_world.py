import json

import attrs
import pytest

from wcs_trio.core.state.components import CallInfo, SessionInfo, SipAccountInfo
from wcs_trio.core.state.world import NoSuchEntity, World


@attrs.define
class Leg:
    kind: str


def make_world() -> tuple[World, int, int, int]:
    world = World()
    session = world.create(SessionInfo(session_id="s1", remote="127.0.0.1:1"))
    call = world.create(CallInfo(call_id="c1", direction="outgoing", caller="a", callee="b"), owner=session)
    leg = world.create(Leg("webrtc"), owner=call)
    return world, session, call, leg


def test_query_by_components() -> None:
    world, session, call, leg = make_world()
    world.add(call, Leg("sip"))
    assert [eid for eid, _ in world.query(CallInfo)] == [call]
    assert sorted(eid for eid, _ in world.query(Leg)) == [call, leg]
    assert [(eid, c.call_id, lg.kind) for eid, c, lg in world.query(CallInfo, Leg)] == [(call, "c1", "sip")]
    assert world.find(SessionInfo, session_id="s1") == (session, world.get(session, SessionInfo))
    assert world.find(SessionInfo, session_id="nope") is None


def test_add_replaces_and_remove_detaches() -> None:
    world, session, _, _ = make_world()
    world.add(session, SessionInfo(session_id="s1", remote="x", status="ESTABLISHED"))
    assert world.get(session, SessionInfo).status == "ESTABLISHED"
    world.remove(session, SessionInfo)
    assert world.try_get(session, SessionInfo) is None
    with pytest.raises(NoSuchEntity):
        world.get(session, SessionInfo)


def test_destroying_a_session_removes_everything_it_owns() -> None:
    world, session, call, leg = make_world()
    other = world.create(SessionInfo(session_id="s2", remote="127.0.0.1:2"))
    world.destroy(session)
    assert not any(world.exists(e) for e in (session, call, leg))
    assert list(world.query(CallInfo)) == [] and list(world.query(Leg)) == []
    assert [eid for eid, _ in world.query(SessionInfo)] == [other]
    assert len(world) == 1


def test_components_must_be_attrs_and_entities_must_exist() -> None:
    world = World()
    with pytest.raises(TypeError):
        world.create({"not": "a component"})
    with pytest.raises(NoSuchEntity):
        world.add(42, Leg("x"))
    with pytest.raises(NoSuchEntity):
        world.create(Leg("x"), owner=42)


def test_snapshot_is_json_and_hides_secrets() -> None:
    world, session, call, _ = make_world()
    world.add(session, SipAccountInfo(login="1001", auth_name="1001", domain="pbx", password="hunter2"))
    snapshot = json.loads(world.snapshot_json())
    by_id = {e["id"]: e for e in snapshot["entities"]}
    assert by_id[call]["owner"] == session
    assert by_id[call]["components"]["CallInfo"]["callee"] == "b"
    account = by_id[session]["components"]["SipAccountInfo"]
    assert account["password"] == "***" and "hunter2" not in world.snapshot_json()
    assert by_id[session]["components"]["SessionInfo"]["auth_token"] == ""


def test_two_worlds_share_nothing() -> None:
    first, second = World(), World()
    first.create(Leg("a"))
    assert len(second) == 0 and list(second.query(Leg)) == []
