r"""Checkers for the coding exercises of the attention and transformers chapter.

The chapter is ``book/attention.md``.

* :func:`check_masked_attention` -- scaled dot-product attention
  :math:`\mathrm{softmax}(QK^\top/\sqrt{D_Q} + M)V` with an optional causal mask; the
  reference is ``torch.nn.functional.scaled_dot_product_attention``.
* :func:`check_patchify` -- cut images into non-overlapping P x P patches, one
  flattened patch per row, in the order a ViT's patch embedding reads them; the
  reference is ``torch.nn.functional.unfold`` with kernel and stride P.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_masked_attention", "check_patchify"]


def check_masked_attention(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(q, k, v, causal=False)`` against torch's scaled dot-product attention.

    ``q`` is (..., L, E), ``k`` (..., S, E), ``v`` (..., S, Ev); the result is
    (..., L, Ev). With ``causal=True``, query i attends only to keys j <= i. Cases: one
    sequence, a batch of several heads, more keys than queries, a causal mask, scores
    large enough to overflow an unshifted exponential, and float64 inputs.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(13)

    def case(description, batch, L, S, E, Ev, causal=False, scale=1.0, dtype=None):
        dtype = dtype or torch.float32
        q = (torch.randn(*batch, L, E, generator=g) * scale).to(dtype)
        k = (torch.randn(*batch, S, E, generator=g) * scale).to(dtype)
        v = torch.randn(*batch, S, Ev, generator=g).to(dtype)
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return Case(
            description,
            {"q": q, "k": k, "v": v},
            expected,
            kwargs={"causal": causal},
            rtol=1e-4,
            atol=1e-5,
        )

    cases = [
        case("one sequence, L = S = 5, E = 4", (), 5, 5, 4, 3),
        case("a batch of 2 x 3 heads", (2, 3), 4, 4, 8, 8),
        case("more keys than queries (cross-attention)", (2,), 3, 7, 4, 5),
        case("causal mask, L = S = 6", (2,), 6, 6, 4, 4, causal=True),
        case("large scores (subtract the row maximum)", (1,), 4, 4, 16, 2, scale=30.0),
        case("float64, causal", (3,), 5, 5, 2, 3, causal=True, dtype=torch.float64),
    ]
    return run_cases(
        fn,
        cases,
        exercise="masked_attention",
        passed="matches F.scaled_dot_product_attention, with and without the causal "
        "mask",
    )


def torch_patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The reference: ``F.unfold`` with kernel and stride P, one patch per row.

    Args:
        images: (N, C, H, W), H and W divisible by P.
        patch_size: P.

    Returns:
        (N, (H/P) (W/P), C P P): patch r (W/P) + c is the patch in row r, column c,
        flattened in (C, P, P) order, as ``conv_proj.weight.flatten(1)`` reads it.
    """
    return F.unfold(images, patch_size, stride=patch_size).transpose(1, 2)


def check_patchify(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(images, patch_size)`` against ``F.unfold`` (see ``torch_patchify``).

    Cases: one grey 28 x 28 image in 7 x 7 patches, a batch of colour images, patches
    of size 1 and of the whole image, and a non-square image.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(17)
    cases = []
    for description, shape, p in [
        ("one 1 x 28 x 28 image, P = 7 (16 patches)", (1, 1, 28, 28), 7),
        ("two 3 x 8 x 8 images, P = 4", (2, 3, 8, 8), 4),
        ("P = 1: every pixel a patch", (2, 2, 3, 3), 1),
        ("P = image size: one patch", (3, 1, 6, 6), 6),
        ("a non-square 1 x 4 x 8 image, P = 2", (1, 1, 4, 8), 2),
    ]:
        x = torch.randn(*shape, generator=g)
        cases.append(
            Case(
                description,
                {"images": x, "patch_size": p},
                torch_patchify(x, p),
                rtol=0.0,
                atol=0.0,
            )
        )
    return run_cases(
        fn,
        cases,
        exercise="patchify",
        passed="cuts the same patches, in the same order, as F.unfold(x, P, stride=P)",
    )
