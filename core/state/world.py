"""The ECS world: entities are ids, components are attrs instances, systems query.

All call state of a running server lives in one :class:`World` (no module-level
state). An entity may be *owned* by another (a call by its session, a leg by its
call); destroying an owner destroys everything it owns, so a session that ends can
never leave a call, a leg or a registration behind.
"""

from __future__ import annotations

import enum
import itertools
import json
from collections.abc import Iterator
from typing import Any, TypeVar, overload

import attrs

EntityId = int
C = TypeVar("C")
C2 = TypeVar("C2")


class NoSuchEntity(KeyError):
    """The entity does not exist (it was never created or was destroyed)."""


@attrs.define(eq=False)
class World:
    _next_id: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), repr=False)
    # component type -> {entity: component}; a query walks the smallest table.
    _tables: dict[type, dict[EntityId, Any]] = attrs.field(factory=dict, repr=False)
    _owner: dict[EntityId, EntityId | None] = attrs.field(factory=dict, repr=False)
    _owned: dict[EntityId, set[EntityId]] = attrs.field(factory=dict, repr=False)

    # ---- entities ----
    def create(self, *components: Any, owner: EntityId | None = None) -> EntityId:
        if owner is not None and owner not in self._owner:
            raise NoSuchEntity(owner)
        eid = next(self._next_id)
        self._owner[eid] = owner
        self._owned[eid] = set()
        if owner is not None:
            self._owned[owner].add(eid)
        for component in components:
            self.add(eid, component)
        return eid

    def exists(self, eid: EntityId) -> bool:
        return eid in self._owner

    def owner_of(self, eid: EntityId) -> EntityId | None:
        return self._owner[eid]

    def owned_by(self, eid: EntityId) -> frozenset[EntityId]:
        return frozenset(self._owned.get(eid, ()))

    def destroy(self, eid: EntityId) -> None:
        """Remove the entity, its components and, recursively, every entity it owns."""
        if eid not in self._owner:
            return
        for child in list(self._owned[eid]):
            self.destroy(child)
        for table in self._tables.values():
            table.pop(eid, None)
        owner = self._owner.pop(eid)
        del self._owned[eid]
        if owner is not None and owner in self._owned:
            self._owned[owner].discard(eid)

    def __len__(self) -> int:
        return len(self._owner)

    # ---- components ----
    def add(self, eid: EntityId, component: Any) -> None:
        """Attach ``component`` (replacing one of the same type)."""
        if eid not in self._owner:
            raise NoSuchEntity(eid)
        if not attrs.has(type(component)):
            raise TypeError(f"components are attrs classes, not {type(component).__name__}")
        self._tables.setdefault(type(component), {})[eid] = component

    def remove(self, eid: EntityId, kind: type) -> None:
        self._tables.get(kind, {}).pop(eid, None)

    def get(self, eid: EntityId, kind: type[C]) -> C:
        try:
            return self._tables[kind][eid]  # type: ignore[no-any-return]
        except KeyError:
            raise NoSuchEntity(f"entity {eid} has no {kind.__name__}") from None

    def try_get(self, eid: EntityId, kind: type[C]) -> C | None:
        return self._tables.get(kind, {}).get(eid)

    def components(self, eid: EntityId) -> list[Any]:
        return [table[eid] for table in self._tables.values() if eid in table]

    # ---- queries ----
    @overload
    def query(self, kind: type[C], /) -> Iterator[tuple[EntityId, C]]: ...
    @overload
    def query(self, kind: type[C], kind2: type[C2], /) -> Iterator[tuple[EntityId, C, C2]]: ...
    @overload
    def query(self, *kinds: type) -> Iterator[tuple[Any, ...]]: ...
    def query(self, *kinds: type) -> Iterator[tuple[Any, ...]]:
        """Yield ``(entity, component, ...)`` for every entity that has all of ``kinds``."""
        tables = [self._tables.get(kind, {}) for kind in kinds]
        if not tables:
            return
        smallest = min(tables, key=len)
        for eid in list(smallest):
            if all(eid in table for table in tables):
                yield (eid, *(table[eid] for table in tables))

    def find(self, kind: type[C], **match: Any) -> tuple[EntityId, C] | None:
        """The first entity whose ``kind`` component has all the given attribute values."""
        for eid, component in self.query(kind):
            if all(getattr(component, name) == value for name, value in match.items()):
                return eid, component
        return None

    # ---- snapshot ----
    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready picture of every entity (what ``wcs-trio ops`` reads)."""
        entities = []
        for eid, owner in self._owner.items():
            entities.append({
                "id": eid,
                "owner": owner,
                "components": {type(c).__name__: to_json(c) for c in self.components(eid)},
            })
        return {"entities": entities}

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), sort_keys=True)


def to_json(component: Any) -> Any:
    """A component as plain JSON data; fields with ``metadata={"secret": True}`` are masked."""
    if hasattr(component, "as_json"):
        return component.as_json()
    if attrs.has(type(component)):
        out = {}
        for field in attrs.fields(type(component)):
            if field.name.startswith("_") or field.metadata.get("transient"):
                continue
            value = getattr(component, field.name)
            out[field.name] = "***" if field.metadata.get("secret") and value else to_json(value)
        return out
    if isinstance(component, enum.Enum):
        return component.value
    if isinstance(component, dict):
        return {str(k): to_json(v) for k, v in component.items()}
    if isinstance(component, list | tuple | set | frozenset):
        return [to_json(v) for v in component]
    if component is None or isinstance(component, str | int | float | bool):
        return component
    return str(component)
