"""The plugin manager: built-ins plus third-party packages from the ``wcs_trio`` entry points.

A plugin that raises is logged with its name and skipped; the hook call goes on with
the other implementations, so a broken plugin never takes a call or the server down.
Only a :class:`~wcs_trio.core.errors.Refusal` propagates: that is a decision, not a bug.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import pluggy

from wcs_trio.core import hookspecs
from wcs_trio.core.errors import Refusal

log = logging.getLogger("wcs_trio.plugins")

ENTRY_POINT_GROUP = "wcs_trio"

# Modules registered on every server, in this order. Imported lazily by name so a
# missing optional built-in is reported, not fatal.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "wcs_trio.plugins.codec_policy",
    "wcs_trio.plugins.sip_sdp",
)


def _guard(plugin_name: str, hook_name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Refusal:
            raise
        except Exception:
            log.exception("plugin %s failed in %s; skipped", plugin_name, hook_name)
            return None

    return guarded


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, with every implementation wrapped so that its failures are contained."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        plugin_name = self.get_name(plugin) or repr(plugin)
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not impl.hookwrapper and not impl.wrapper:
                    impl.function = _guard(plugin_name, caller.name, impl.function)
        return registered


def make_plugin_manager(
    builtins: Iterable[str | ModuleType | object] = BUILTIN_PLUGINS,
    *,
    load_entry_points: bool = True,
) -> PluginManager:
    """A manager with the built-ins and every installed third-party plugin registered.

    Implementations of hooks that do not exist are rejected at start-up
    (``check_pending``), so a misspelt hook is an error, not a silent no-op.
    """
    manager = PluginManager()
    for plugin in builtins:
        if isinstance(plugin, str):
            try:
                module = __import__(plugin, fromlist=["_"])
            except ImportError:
                log.warning("built-in plugin %s is not available", plugin)
                continue
            manager.register(module, plugin)
        else:
            manager.register(plugin)
    if load_entry_points:
        _load_entry_points(manager)
    manager.check_pending()
    return manager


def _load_entry_points(manager: PluginManager) -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if manager.get_plugin(entry.name) is not None or manager.is_blocked(entry.name):
            continue
        try:
            plugin = entry.load()
        except Exception:
            log.exception("plugin %s (%s) failed to load; skipped", entry.name, entry.value)
            continue
        manager.register(plugin, name=entry.name)
        log.info("loaded plugin %s from %s", entry.name, entry.value)
