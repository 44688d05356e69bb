"""Checkers for the coding exercises of the optimization chapter (``book/optimization.md``)."""

from __future__ import annotations

__all__: list[str] = []
