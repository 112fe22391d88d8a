"""Calls: the systems that move a call through its lifecycle (SIP ↔ SDK ↔ media)."""
