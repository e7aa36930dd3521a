"""`Hint`: a one-line message for the user about a command, raised where the command goes wrong."""

from __future__ import annotations

__all__ = ["Hint", "int_arg"]


class Hint(Exception):
    """A one-line message for the user about a command (bad arguments, nothing to show)."""


def int_arg(text: str, usage: str, low: int, high: int) -> int:
    """`text` as a whole number from `low` to `high`.

    Raises:
        Hint: it is not one, with `usage`.
    """
    try:
        value = int(text)
    except ValueError:
        raise Hint(f"usage: {usage} (a whole number from {low} to {high})") from None
    if not low <= value <= high:
        raise Hint(f"usage: {usage} (a whole number from {low} to {high}, got {value})")
    return value
