"""The errors the Marketo emulator answers with, shared by its state, bulk and custom activity modules.

Kept apart so that those modules need not import each other (marketo_state builds the custom activity
types; marketo_custom_activities raises these errors): one direction, no import cycle.
"""

from __future__ import annotations


class MarketoError(Exception):
    """A Marketo error answered in the standard envelope (HTTP 200, success false)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class InjectedServerError(Exception):
    """An injected '5xx' fault: the app answers HTTP 503 with an HTML page, like a real outage."""
