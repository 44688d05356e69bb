"""Checkers for the coding exercises of the backprop chapter (``book/backprop.md``)."""

from __future__ import annotations

__all__: list[str] = []
