"""Call state, ECS style: :class:`World`, components and systems."""

from wcs_trio.core.state.world import EntityId, NoSuchEntity, World, to_json

__all__ = ["EntityId", "NoSuchEntity", "World", "to_json"]
