"""Exceptions shared across the core."""


class Refusal(Exception):
    """A deliberate refusal (bad SDP, a forbidden header...) raised by core code or a plugin.

    Unlike any other exception raised inside a hook implementation, a refusal is not
    swallowed by the plugin manager: it reaches the caller, which turns it into the
    wire reply (a SIP 488, an SDK ``fail`` naming the field).
    """
