"""Benchmark dlcv's lecture 12-13 sequence models against their PyTorch built-ins.

One run times, side by side on the same machine, the same inputs and the same weights
(each torch module's ``state_dict`` loaded into ours):

* sdpa          -- ``dlcv.attention.scaled_dot_product_attention`` against
                   ``F.scaled_dot_product_attention``, without a mask and causal;
* multihead     -- ``dlcv.attention.MultiheadAttention`` against
                   ``nn.MultiheadAttention`` (self-attention, ``need_weights=False``);
* encoder layer -- ``dlcv.attention.TransformerEncoderLayer`` against
                   ``nn.TransformerEncoderLayer`` (post-norm, ReLU, FF width 4 D);
* LSTM, GRU     -- ``dlcv.rnn.LSTM`` and ``dlcv.rnn.GRU`` (a Python loop over the
                   time steps of ``lstm_cell`` / ``gru_cell``) against ``nn.LSTM`` and
                   ``nn.GRU`` (one fused C++ kernel over the sequence).

"forward" is inference: eval mode (dropout 0) under ``torch.no_grad()``, where torch
may take its fused fast paths. "fwd+bwd" is a training step's work: the forward pass
with autograd, then the gradients of ``sum(out * dout)`` with respect to the inputs
and every weight. It prints the times, the ratios dlcv / torch, the largest difference
between our outputs (forward) or gradients (fwd+bwd) and torch's, and the machine's
matmul rate (a 1024 x 1024 ``torch.mm``). The default sizes -- a batch of 64 sequences
of 64 tokens of width 128 with 4 heads for attention, and of 28 steps (an image's
rows) of 28 features with 128 hidden units for the recurrent networks -- best of 10,
take about 5 s on 2 cores. Each timing is a few milliseconds: on a busy machine, run
it with ``--threads 1`` or more ``--repeats``.

    python benchmarks/bench_sequence.py              # the default sizes
    python benchmarks/bench_sequence.py --threads 1  # one core
    python benchmarks/bench_sequence.py --smoke      # tiny sizes, for the test suite
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dlcv import attention, rnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, matmul_gflops, parse, parser, timed, write_json

FULL = {
    "attn": (64, 64, 128, 4),  # (N, L, D, H): batch, tokens, model width, heads
    "rnn": (64, 28, 28, 128),  # (N, L, D, H): batch, steps, features, hidden units
}
SMOKE = {
    "attn": (2, 5, 8, 2),
    "rnn": (2, 4, 3, 5),
}


def maxdiff(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """Largest absolute difference over pairs of tensors of the same shapes."""
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


def forward(fn: Callable, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``fn(*inputs)`` for inference: no autograd graph."""
    with torch.no_grad():
        return fn(*inputs)


def forward_backward(
    fn: Callable,
    inputs: Sequence[torch.Tensor],
    params: Sequence[torch.Tensor],
    dout: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """Gradients of ``sum(fn(*inputs) * dout)`` w.r.t. the inputs, then ``params``."""
    xs = [x.detach().requires_grad_() for x in inputs]
    out = fn(*xs)
    return torch.autograd.grad(out, [*xs, *params], dout)


def row(name, label, t_torch, t_dlcv, diff) -> dict:
    return {
        "name": name,
        "pass": label,
        "torch": t_torch,
        "dlcv": t_dlcv,
        "ratio": t_dlcv / t_torch,
        "max_abs_diff": diff,
    }


def compare(
    name: str,
    ours: Callable,
    theirs: Callable,
    inputs: Sequence[torch.Tensor],
    repeats: int,
    params: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]] = ((), ()),
) -> list[dict]:
    """Forward and fwd+bwd rows of ``ours(*inputs)`` against ``theirs(*inputs)``.

    ``params`` are (our weights, torch's weights), in the same order.
    """
    out = forward(theirs, inputs)
    dout = torch.randn(out.shape, generator=torch.Generator().manual_seed(9))
    p_ours, p_theirs = params

    def fb_ours():
        return forward_backward(ours, inputs, p_ours, dout)

    def fb_theirs():
        return forward_backward(theirs, inputs, p_theirs, dout)

    return [
        row(
            name,
            "forward",
            timed(lambda: forward(theirs, inputs), repeats),
            timed(lambda: forward(ours, inputs), repeats),
            maxdiff([forward(ours, inputs)], [out]),
        ),
        row(
            name,
            "fwd+bwd",
            timed(fb_theirs, repeats),
            timed(fb_ours, repeats),
            maxdiff(fb_ours(), fb_theirs()),
        ),
    ]


def bench_sdpa(size: tuple, repeats: int) -> list[dict]:
    N, L, D, H = size
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(N, H, L, D // H, generator=g) for _ in range(3))
    rows = []
    for name, causal in [("sdpa", False), ("sdpa causal", True)]:

        def ours(q, k, v, causal=causal):  # (N, H, L, D/H) each -> (N, H, L, D/H)
            return attention.scaled_dot_product_attention(q, k, v, is_causal=causal)

        def theirs(q, k, v, causal=causal):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        rows += compare(name, ours, theirs, (q, k, v), repeats)
    return rows


def paired(ours: nn.Module, theirs: nn.Module) -> tuple[list, list]:
    """Give ``ours`` torch's weights; both in eval mode; their parameter lists."""
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    return list(ours.parameters()), list(theirs.parameters())


def output(m: nn.Module) -> Callable:
    """``x -> m(x)[0]``: a recurrent network's outputs, without its final states."""
    return lambda x: m(x)[0]


def bench_multihead(size: tuple, repeats: int) -> list[dict]:
    N, L, D, H = size
    torch.manual_seed(1)
    theirs = nn.MultiheadAttention(D, H, batch_first=True)
    ours = attention.MultiheadAttention(D, H, batch_first=True)
    params = paired(ours, theirs)
    x = torch.randn(N, L, D)  # (N, L, D)

    def call(m):  # self-attention, Q = K = V = x: (N, L, D) -> (N, L, D)
        return lambda x: m(x, x, x, need_weights=False)[0]

    return compare("multihead attn", call(ours), call(theirs), (x,), repeats, params)


def bench_encoder_layer(size: tuple, repeats: int) -> list[dict]:
    N, L, D, H = size
    torch.manual_seed(2)
    kw = {"dim_feedforward": 4 * D, "dropout": 0.0, "batch_first": True}
    theirs = nn.TransformerEncoderLayer(D, H, **kw)
    ours = attention.TransformerEncoderLayer(D, H, **kw)
    params = paired(ours, theirs)
    x = torch.randn(N, L, D)  # (N, L, D) -> (N, L, D)
    return compare("encoder layer", ours, theirs, (x,), repeats, params)


def bench_recurrent(size: tuple, repeats: int) -> list[dict]:
    N, L, D, H = size
    rows = []
    for name, ours_cls, theirs_cls in [
        ("LSTM", rnn.LSTM, nn.LSTM),
        ("GRU", rnn.GRU, nn.GRU),
    ]:
        torch.manual_seed(3)
        theirs = theirs_cls(D, H, batch_first=True)
        ours = ours_cls(D, H, batch_first=True)
        params = paired(ours, theirs)
        x = torch.randn(N, L, D)  # (N, L, D) -> output (N, L, H)
        rows += compare(name, output(ours), output(theirs), (x,), repeats, params)
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse(parser(__doc__, repeats=10, smoke="tiny sizes only"), argv)
    print(f"{machine()}; float32, best of {args.repeats}")
    sizes = SMOKE if args.smoke else FULL
    n = 1024
    mm_gflops = matmul_gflops(args.repeats, n)

    rows = [
        *bench_sdpa(sizes["attn"], args.repeats),
        *bench_multihead(sizes["attn"], args.repeats),
        *bench_encoder_layer(sizes["attn"], args.repeats),
        *bench_recurrent(sizes["rnn"], args.repeats),
    ]
    print(
        f"\n{'what':16s} {'pass':12s} {'torch s':>9s} {'dlcv s':>9s} "
        f"{'dlcv/torch':>10s} {'max|diff|':>10s}"
    )
    for r in rows:
        print(
            f"{r['name']:16s} {r['pass']:12s} {r['torch']:9.4f} {r['dlcv']:9.4f} "
            f"{r['ratio']:10.2f} {r['max_abs_diff']:10.2e}"
        )
    print(f"\nmatmul rate: {mm_gflops:.1f} GFLOP/s ({n} x {n} torch.mm)")
    print(f"sizes (N, L, D, H): attention {sizes['attn']}, recurrent {sizes['rnn']}")
    result = {
        "threads": torch.get_num_threads(),
        "mm_gflops": mm_gflops,
        "sizes": sizes,
        "rows": rows,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
