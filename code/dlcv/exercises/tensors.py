"""Checkers for the coding exercises of the tensors chapter (``book/tensors.md``)."""

from __future__ import annotations

__all__: list[str] = []
