r"""Attention, multi-head attention and the transformer layers (lecture 13).

Written for the chapter on attention (lecture 13), which follows the recurrent networks
of :mod:`dlcv.rnn` (lecture 12). An attention layer compares every query with every key
and mixes the values by the resulting weights:

.. math::

    E = \frac{Q K^\top}{\sqrt{D_Q}}, \qquad A = \mathrm{softmax}(E)\ \text{(row-wise)},
    \qquad Y = A V.

Self-attention takes :math:`Q = X W_Q`, :math:`K = X W_K`, :math:`V = X W_V` from one
input, so it is permutation *equivariant*: permuting the inputs permutes the outputs.
Masked (causal) self-attention sets :math:`E_{ij} = -\infty` for :math:`j > i`.
Multi-head attention runs :math:`H` such layers of width :math:`D/H` side by side and
mixes their concatenated outputs, :math:`\mathrm{Concat}(Y_1, \dots, Y_H) W_O`.
Because attention ignores order, positions are added to the inputs, either as fixed
sinusoids (Vaswani et al., 2017, "Attention is all you need") or as learned vectors.

Torch counterparts, with their argument names, order and defaults:
``F.scaled_dot_product_attention`` (:func:`scaled_dot_product_attention`),
``nn.MultiheadAttention`` (which :class:`MultiheadAttention` subclasses, so it keeps
the parameters ``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight`` and
``out_proj.bias``), ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer``
(same constructor arguments and submodule names, so ``load_state_dict`` works both
ways). Deliberate differences: :class:`MultiheadAttention` has no ``add_bias_kv`` and
no ``add_zero_attn``; a query row whose keys are all masked gets zero weights (as in
``F.scaled_dot_product_attention``) where ``nn.MultiheadAttention`` gives NaN; and
``is_causal=True`` without an ``attn_mask`` builds the causal mask instead of raising.

The equations are those of the chapter: (13.1) ``attn-seq2seq`` (the captioner's
attention), (13.2) ``attn-layer``, (13.4) ``attn-self``, (13.5) ``attn-positional``,
(13.6) ``attn-mask``, (13.7) ``attn-multihead``, (13.8) ``attn-cross`` (the decoder's
cross-attention) and (13.9) ``attn-vit`` (the vision transformer).
:class:`AttentionCaptioner` is a CNN-LSTM captioner with attention over the CNN's grid;
:class:`VisionTransformer` (with :class:`Encoder`, :class:`EncoderBlock` and
:class:`MLPBlock`) has torchvision's structure, parameter names and initialization.

Beware the two mask conventions, which torch also has: in
:func:`scaled_dot_product_attention` a boolean ``attn_mask`` is True where a query *may*
attend, while in :class:`MultiheadAttention` (``attn_mask`` and ``key_padding_mask``)
True means *may not*. Float masks are added to :math:`E` in both.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_float_tensor,
    check_in,
    check_positive_int,
    check_shape,
    check_tensor,
)

__all__ = [
    "AttentionCaptioner",
    "Encoder",
    "EncoderBlock",
    "LearnedPositionalEncoding",
    "MLPBlock",
    "MultiheadAttention",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "VisionTransformer",
    "attention_weights",
    "causal_mask",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
]


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _check_mask(mask: Any, name: str, ndim: tuple[int, ...]) -> torch.Tensor:
    check_tensor(mask, name)
    if not (mask.dtype == torch.bool or mask.is_floating_point()):
        raise TypeError(f"{name} must be a bool or floating tensor, got {mask.dtype}")
    if mask.dim() not in ndim:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, ndim))} dimensions, "
            f"got shape {tuple(mask.shape)}"
        )
    return mask


def _to_additive(mask: torch.Tensor, *, allowed: bool, like: torch.Tensor):
    """A mask as a float tensor to add to the scores: 0 or -inf (bool), else itself.

    ``allowed=True`` reads a bool mask as True = may attend (the SDPA convention),
    ``allowed=False`` as True = may not (the ``nn.MultiheadAttention`` convention).
    """
    if mask.dtype != torch.bool:
        return mask.to(like.dtype)
    blocked = ~mask if allowed else mask
    zeros = torch.zeros(mask.shape, dtype=like.dtype, device=like.device)
    return zeros.masked_fill(blocked, float("-inf"))


def causal_mask(
    L: int, S: int | None = None, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """The boolean (L, S) mask that lets query i attend to keys j <= i.

    Args:
        L: Number of queries.
        S: Number of keys; defaults to ``L``.
        device: Device of the mask.

    Returns:
        A bool tensor of shape (L, S), True on and below the diagonal (the SDPA
        convention: True = may attend); ``~causal_mask(L)`` is the mask in
        ``nn.MultiheadAttention``'s convention.
    """
    L = check_positive_int(L, "L")
    S = L if S is None else check_positive_int(S, "S")
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()


def attention_weights(
    query: torch.Tensor,
    key: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    r"""The attention weights :math:`A = \mathrm{softmax}(Q K^\top / \sqrt{D_Q} + M)`.

    Args:
        query: Queries :math:`Q`, shape (..., L, E).
        key: Keys :math:`K`, shape (..., S, E).
        attn_mask: Optional mask broadcastable to (..., L, S): bool (True = may attend)
            or float (added to the scores).
        is_causal: Let query i attend only to keys j <= i (the top-left causal mask).
        scale: Factor on the scores; defaults to :math:`1/\sqrt{E}`.

    Returns:
        The weights, shape (..., L, S); each row sums to 1, or is all zeros where
        every key of that row is masked.
    """
    check_float_tensor(query, "query", min_ndim=2)
    check_float_tensor(key, "key", min_ndim=2)
    check_shape(key, "key", ("...", "S", query.shape[-1]))
    _check_bool(is_causal, "is_causal")
    if attn_mask is not None and is_causal:
        raise ValueError("give attn_mask or is_causal=True, not both")
    L, E = query.shape[-2:]
    S = key.shape[-2]
    scale = 1 / math.sqrt(E) if scale is None else check_finite_number(scale, "scale")
    # Eq. (13.2): E = Q K^T / sqrt(D_Q): (..., L, E) @ (..., E, S) -> (..., L, S)
    scores = query @ key.transpose(-2, -1) * scale
    if is_causal:
        attn_mask = causal_mask(L, S, device=query.device)
    if attn_mask is not None:
        _check_mask(attn_mask, "attn_mask", tuple(range(2, scores.dim() + 1)))
        # masking, Eq. (13.6): E_ij = -inf where query i may not attend to key j
        scores = scores + _to_additive(attn_mask, allowed=True, like=scores)
    # a row with every key masked gets zero weights (not NaN), as in torch's SDPA
    dead = torch.isneginf(scores).all(dim=-1, keepdim=True)  # (..., L, 1)
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1)  # A, (..., L, S)
    return weights.masked_fill(dead, 0.0)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    r"""Scaled dot-product attention :math:`Y = \mathrm{softmax}(QK^\top/\sqrt{D_Q})V`.

    Same arguments and result as ``F.scaled_dot_product_attention`` (without
    ``enable_gqa``). Like it, dropout on the weights is applied whenever
    ``dropout_p > 0``: pass 0.0 at evaluation time.

    Args:
        query: Queries :math:`Q`, shape (..., L, E).
        key: Keys :math:`K`, shape (..., S, E).
        value: Values :math:`V`, shape (..., S, Ev).
        attn_mask: Optional mask broadcastable to (..., L, S): bool (True = may attend)
            or float (added to the scores).
        dropout_p: Probability of zeroing an attention weight, in [0, 1].
        is_causal: Let query i attend only to keys j <= i.
        scale: Factor on the scores; defaults to :math:`1/\sqrt{E}`.

    Returns:
        The output :math:`Y`, shape (..., L, Ev).
    """
    check_float_tensor(value, "value", min_ndim=2)
    check_shape(value, "value", ("...", key.shape[-2], "Ev"))
    p = check_finite_number(dropout_p, "dropout_p", low=0.0, high=1.0)
    A = attention_weights(query, key, attn_mask, is_causal, scale)  # (..., L, S)
    if p > 0:
        A = F.dropout(A, p=p)
    return A @ value  # Y = A V: (..., L, S) @ (..., S, Ev) -> (..., L, Ev)


class MultiheadAttention(nn.MultiheadAttention):
    r"""Multi-head attention, :math:`\mathrm{Concat}(Y_1, \dots, Y_H) W_O`.

    Head h attends with :math:`Q_h = Q W_Q^{(h)}`, :math:`K_h = K W_K^{(h)}`,
    :math:`V_h = V W_V^{(h)}` of width D/H. Subclasses ``nn.MultiheadAttention``
    (same constructor, parameters and state dict: the three projections are stacked
    in ``in_proj_weight`` in the order q, k, v, or held apart in ``q_proj_weight``,
    ``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim`` differ from
    ``embed_dim``) and replaces its forward pass with the equations.

    Args:
        embed_dim: Model width D.
        num_heads: Number of heads H; must divide D.
        dropout: Dropout probability on the attention weights in training mode.
        bias: Whether the projections have biases.
        add_bias_kv: Not supported; must be False.
        add_zero_attn: Not supported; must be False.
        kdim: Width of the keys; defaults to D.
        vdim: Width of the values; defaults to D.
        batch_first: Inputs are (N, L, D) if True, else (L, N, D).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_positive_int(embed_dim, "embed_dim")
        check_positive_int(num_heads, "num_heads")
        check_finite_number(dropout, "dropout", low=0.0, high=1.0)
        if add_bias_kv or add_zero_attn:
            raise ValueError("add_bias_kv and add_zero_attn are not supported")
        if embed_dim % num_heads:
            raise ValueError(
                f"num_heads must divide embed_dim, got {num_heads} and {embed_dim}"
            )
        super().__init__(
            embed_dim,
            num_heads,
            dropout,
            bias,
            kdim=kdim,
            vdim=vdim,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
        )

    def _projections(self) -> tuple[tuple[torch.Tensor, ...], tuple[Any, ...]]:
        """(W_Q, W_K, W_V) and their biases (or Nones)."""
        if self._qkv_same_embed_dim:
            weights = self.in_proj_weight.chunk(3)  # 3 x (D, D), order q, k, v
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        if self.in_proj_bias is None:
            return weights, (None, None, None)
        return weights, self.in_proj_bias.chunk(3)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` to ``key``/``value`` with H heads.

        Args:
            query: Shape (L, N, D), or (N, L, D) with ``batch_first``, or (L, D).
            key: Shape (S, N, kdim), or (N, S, kdim) with ``batch_first``, or (S, kdim).
            value: Shape (S, N, vdim), or (N, S, vdim) with ``batch_first``, or
                (S, vdim).
            key_padding_mask: Optional (N, S) or (S,) mask of keys to ignore: bool
                (True = ignore) or float (added to the scores).
            need_weights: Also return the attention weights.
            attn_mask: Optional (L, S) or (N H, L, S) mask: bool (True = may not
                attend) or float (added to the scores).
            average_attn_weights: Average the returned weights over the heads.
            is_causal: ``attn_mask`` is the causal mask; without an ``attn_mask``,
                use the causal mask.

        Returns:
            ``(output, weights)``: output like ``query`` but of width D; weights of
            shape (N, L, S) (averaged), (N, H, L, S), without N for unbatched input,
            or None if not ``need_weights``.
        """
        self._check_inputs(query, key, value, is_causal)
        unbatched = query.dim() == 2
        if unbatched:  # (L, D) -> (1, L, D)
            query, key, value = query[None], key[None], value[None]
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask[None]
        elif not self.batch_first:  # (L, N, D) -> (N, L, D)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        N, L, D = query.shape
        S, H = key.shape[1], self.num_heads
        mask = self._merged_mask(attn_mask, key_padding_mask, is_causal, N, L, S, query)

        (w_q, w_k, w_v), (b_q, b_k, b_v) = self._projections()
        # Q_h = Q W_Q^(h): (N, L, D) -> (N, L, H, D/H) -> (N, H, L, D/H)
        q = F.linear(query, w_q, b_q).view(N, L, H, D // H).transpose(1, 2)
        k = F.linear(key, w_k, b_k).view(N, S, H, D // H).transpose(1, 2)  # (N,H,S,.)
        v = F.linear(value, w_v, b_v).view(N, S, H, D // H).transpose(1, 2)  # (N,H,S,.)
        A = attention_weights(q, k, mask)  # (N, H, L, S)
        if self.training and self.dropout > 0:
            A = F.dropout(A, p=self.dropout)
        y = A @ v  # Y_h = A_h V_h: (N, H, L, S) @ (N, H, S, D/H) -> (N, H, L, D/H)
        y = y.transpose(1, 2).reshape(N, L, D)  # Concat(Y_1, ..., Y_H): (N, L, D)
        y = self.out_proj(y)  # Concat(...) W_O, Eq. (13.7): (N, L, D)

        weights = None
        if need_weights:  # A averaged over the heads, or per head
            weights = A.mean(dim=1) if average_attn_weights else A
        if unbatched:
            return y[0], None if weights is None else weights[0]
        return (y if self.batch_first else y.transpose(0, 1)), weights

    def _check_inputs(self, query, key, value, is_causal) -> None:
        """Float tensors of one rank, widths D, kdim, vdim, matching N and S."""
        check_float_tensor(query, "query", min_ndim=2)
        check_shape(query, "query", ("...", self.embed_dim))
        for name, t, d in (("key", key, self.kdim), ("value", value, self.vdim)):
            check_float_tensor(t, name, ndim=query.dim())
            check_shape(t, name, ("...", d))
        _check_bool(is_causal, "is_causal")
        n = 0 if self.batch_first else 1  # the batch dimension, if any
        same_n = query.dim() == 2 or key.shape[n] == query.shape[n]
        if key.shape[:-1] != value.shape[:-1] or not same_n:
            raise ValueError(
                "key and value must share their sequence and batch sizes with query, "
                f"got query {tuple(query.shape)}, key {tuple(key.shape)}, "
                f"value {tuple(value.shape)}"
            )

    def _merged_mask(
        self,
        attn_mask: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None,
        is_causal: bool,
        N: int,
        L: int,
        S: int,
        like: torch.Tensor,
    ) -> torch.Tensor | None:
        """Both masks as one float mask to add to the scores, (N, H or 1, L, S)."""
        H = self.num_heads
        if attn_mask is None and is_causal:
            attn_mask = ~causal_mask(L, S, device=like.device)
        mask = None
        if attn_mask is not None:
            _check_mask(attn_mask, "attn_mask", (2, 3))
            want = (L, S) if attn_mask.dim() == 2 else (N * H, L, S)
            check_shape(attn_mask, "attn_mask", want)
            mask = _to_additive(attn_mask, allowed=False, like=like)
            mask = mask.view(N, H, L, S) if mask.dim() == 3 else mask  # (N,H,L,S)
        if key_padding_mask is not None:
            _check_mask(key_padding_mask, "key_padding_mask", (2,))
            check_shape(key_padding_mask, "key_padding_mask", (N, S))
            pad = _to_additive(key_padding_mask, allowed=False, like=like)
            pad = pad.view(N, 1, 1, S)  # the same keys ignored for every query
            mask = pad if mask is None else mask + pad
        return mask


def sinusoidal_positional_encoding(
    length: int,
    d_model: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""The fixed positional encodings of Vaswani et al. (2017), Eq. (13.5).

    .. math::

        PE_{p, 2i} = \sin(p\,\omega_i), \qquad PE_{p, 2i+1} = \cos(p\,\omega_i),
        \qquad \omega_i = \mathrm{base}^{-2i/d}.

    Each pair of columns turns at its own frequency, so :math:`PE_{p+k}` is a fixed
    rotation of :math:`PE_p` in every pair: relative positions are linear maps.

    Args:
        length: Number of positions (rows).
        d_model: Width d (columns); an odd d drops the last cosine column.
        base: The base of the wavelengths, 10000 in the paper.
        dtype: Floating dtype of the result.
        device: Device of the result.

    Returns:
        A tensor of shape (length, d_model).
    """
    length = check_positive_int(length, "length")
    d_model = check_positive_int(d_model, "d_model")
    base = check_finite_number(base, "base", low=1.0, low_open=True)
    p = torch.arange(length, dtype=dtype, device=device)[:, None]  # (length, 1)
    two_i = torch.arange(0, d_model, 2, dtype=dtype, device=device)  # (ceil(d/2),)
    omega = base ** (-two_i / d_model)  # omega_i = base^(-2i/d)
    pe = torch.empty(length, d_model, dtype=dtype, device=device)
    pe[:, 0::2] = torch.sin(p * omega)  # PE_{p,2i}
    pe[:, 1::2] = torch.cos(p * omega)[:, : d_model // 2]  # PE_{p,2i+1}
    return pe


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned vector per position: ``x + weight[:L]``.

    ``weight`` (max_len, d_model) starts as N(0, ``std ** 2``) samples; position p of
    every sequence gets row p added.

    Args:
        max_len: Longest sequence the layer accepts.
        d_model: Width of the inputs.
        batch_first: Inputs are (N, L, d_model) if True, else (L, N, d_model), as in
            the transformer layers.
        std: Standard deviation of the initial weights.
        generator: Random generator for the initial weights.
        device: Device of the weight.
        dtype: Dtype of the weight.
    """

    def __init__(
        self,
        max_len: int,
        d_model: int,
        *,
        batch_first: bool = False,
        std: float = 0.02,
        generator: torch.Generator | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.max_len = check_positive_int(max_len, "max_len")
        self.d_model = check_positive_int(d_model, "d_model")
        self.batch_first = _check_bool(batch_first, "batch_first")
        std = check_finite_number(std, "std", low=0.0)
        weight = torch.empty(max_len, d_model, device=device, dtype=dtype)
        self.weight = nn.Parameter(weight.normal_(0.0, std, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the encoding of each position to ``x``.

        Args:
            x: Shape (L, N, d_model), (N, L, d_model) with ``batch_first``, or
                (L, d_model) unbatched, with L <= ``max_len``.

        Returns:
            ``x`` plus the encodings, same shape.
        """
        check_float_tensor(x, "x", min_ndim=2)
        check_shape(x, "x", ("...", self.d_model))
        L = x.shape[1] if self.batch_first and x.dim() == 3 else x.shape[0]
        if L > self.max_len:
            raise ValueError(f"sequence length must be <= {self.max_len}, got {L}")
        pe = self.weight[:L]  # (L, d_model)
        if x.dim() == 3 and not self.batch_first:
            pe = pe[:, None]  # (L, 1, d_model), broadcast over the batch
        return x + pe


def _activation(activation: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """``"relu"``, ``"gelu"`` or a callable, as the transformer layers take it."""
    named = {"relu": F.relu, "gelu": F.gelu}
    if isinstance(activation, str):
        return named[check_in(activation, "activation", tuple(named))]
    return check_callable(activation, "activation", signature="activation(x) -> y")


class TransformerEncoderLayer(nn.Module):
    r"""A transformer encoder block: self-attention, then an MLP, each with a residual.

    Post-norm (``norm_first=False``, the 2017 paper):
    :math:`x \leftarrow \mathrm{LN}_1(x + \mathrm{SA}(x))`,
    :math:`x \leftarrow \mathrm{LN}_2(x + \mathrm{FF}(x))`. Pre-norm
    (``norm_first=True``): :math:`x \leftarrow x + \mathrm{SA}(\mathrm{LN}_1(x))`,
    :math:`x \leftarrow x + \mathrm{FF}(\mathrm{LN}_2(x))`. The MLP is
    :math:`\mathrm{FF}(x) = W_2\,\mathrm{act}(W_1 x + b_1) + b_2`. Same arguments and
    submodule names as ``nn.TransformerEncoderLayer`` (``self_attn``, ``linear1``,
    ``linear2``, ``norm1``, ``norm2``), so ``load_state_dict`` works both ways.

    Args:
        d_model: Model width D.
        nhead: Number of attention heads.
        dim_feedforward: Hidden width of the MLP.
        dropout: Dropout probability (training mode only).
        activation: ``"relu"``, ``"gelu"`` or a callable.
        layer_norm_eps: The layer norms' epsilon.
        batch_first: Inputs are (N, L, D) if True, else (L, N, D).
        norm_first: Pre-norm if True, else post-norm.
        bias: Whether the linear layers and layer norms have biases.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[torch.Tensor], torch.Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        check_positive_int(dim_feedforward, "dim_feedforward")
        check_finite_number(layer_norm_eps, "layer_norm_eps", low=0.0)
        self.norm_first = _check_bool(norm_first, "norm_first")
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw
        )
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Encode ``src``.

        Args:
            src: Shape (L, N, D), (N, L, D) with ``batch_first``, or (L, D).
            src_mask: Optional (L, L) or (N H, L, L) attention mask, as in
                :class:`MultiheadAttention` (bool True = may not attend).
            src_key_padding_mask: Optional (N, L) mask of positions to ignore.
            is_causal: ``src_mask`` is (or, when None, stands for) the causal mask.

        Returns:
            The encoded sequence, shape of ``src``.
        """

        def sa(x: torch.Tensor) -> torch.Tensor:  # SA(x), with the masks
            return self._sa_block(x, src_mask, src_key_padding_mask, is_causal)

        x, ff = src, self._ff_block
        if self.norm_first:
            x = x + sa(self.norm1(x))  # x + SA(LN_1(x))
            x = x + ff(self.norm2(x))  # x + FF(LN_2(x))
        else:
            x = self.norm1(x + sa(x))  # LN_1(x + SA(x))
            x = self.norm2(x + ff(x))  # LN_2(x + FF(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> torch.Tensor:
        """SA(x): self-attention, Eq. (13.4): Q = K = V = x, then projected."""
        x = self.self_attn(
            x,
            x,
            x,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            attn_mask=attn_mask,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        """FF(x) = W_2 act(W_1 x + b_1) + b_2."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(nn.Module):
    r"""A transformer decoder block: self-attention, cross-attention, then an MLP.

    Post-norm: :math:`x \leftarrow \mathrm{LN}_1(x + \mathrm{SA}(x))`,
    :math:`x \leftarrow \mathrm{LN}_2(x + \mathrm{CA}(x, m))`,
    :math:`x \leftarrow \mathrm{LN}_3(x + \mathrm{FF}(x))`, where the cross-attention
    CA takes its queries from x and its keys and values from the encoder's output
    (the memory m). Pre-norm applies each LN to the branch input instead, as in
    :class:`TransformerEncoderLayer`. Same arguments and submodule names as
    ``nn.TransformerDecoderLayer`` (``self_attn``, ``multihead_attn``, ``linear1``,
    ``linear2``, ``norm1``, ``norm2``, ``norm3``).

    Args:
        d_model: Model width D.
        nhead: Number of attention heads.
        dim_feedforward: Hidden width of the MLP.
        dropout: Dropout probability (training mode only).
        activation: ``"relu"``, ``"gelu"`` or a callable.
        layer_norm_eps: The layer norms' epsilon.
        batch_first: Inputs are (N, L, D) if True, else (L, N, D).
        norm_first: Pre-norm if True, else post-norm.
        bias: Whether the linear layers and layer norms have biases.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[torch.Tensor], torch.Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        check_positive_int(dim_feedforward, "dim_feedforward")
        check_finite_number(layer_norm_eps, "layer_norm_eps", low=0.0)
        self.norm_first = _check_bool(norm_first, "norm_first")
        attn = {"dropout": dropout, "bias": bias, "batch_first": batch_first, **kw}
        self.self_attn = MultiheadAttention(d_model, nhead, **attn)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attn)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> torch.Tensor:
        """Decode ``tgt`` while attending to ``memory``.

        Args:
            tgt: Shape (T, N, D), (N, T, D) with ``batch_first``, or (T, D).
            memory: The encoder's output, shape (S, N, D), (N, S, D) or (S, D).
            tgt_mask: Optional (T, T) or (N H, T, T) self-attention mask (bool True =
                may not attend).
            memory_mask: Optional (T, S) or (N H, T, S) cross-attention mask.
            tgt_key_padding_mask: Optional (N, T) mask of target positions to ignore.
            memory_key_padding_mask: Optional (N, S) mask of memory positions to ignore.
            tgt_is_causal: ``tgt_mask`` is (or, when None, stands for) the causal mask.
            memory_is_causal: ``memory_mask`` is (or stands for) the causal mask.

        Returns:
            The decoded sequence, shape of ``tgt``.
        """

        def sa(x: torch.Tensor) -> torch.Tensor:  # SA(x), with the target masks
            return self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)

        def ca(x: torch.Tensor) -> torch.Tensor:  # CA(x, m), with the memory masks
            mask, pad, causal = memory_mask, memory_key_padding_mask, memory_is_causal
            return self._mha_block(x, memory, mask, pad, causal)

        x, ff = tgt, self._ff_block
        if self.norm_first:
            x = x + sa(self.norm1(x))  # x + SA(LN_1(x))
            x = x + ca(self.norm2(x))  # x + CA(LN_2(x), m)
            x = x + ff(self.norm3(x))  # x + FF(LN_3(x))
        else:
            x = self.norm1(x + sa(x))  # LN_1(x + SA(x))
            x = self.norm2(x + ca(x))  # LN_2(x + CA(x, m))
            x = self.norm3(x + ff(x))  # LN_3(x + FF(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> torch.Tensor:
        """SA(x): self-attention, Eq. (13.4): Q = K = V = x, then projected."""
        x = self.self_attn(
            x,
            x,
            x,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            attn_mask=attn_mask,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _mha_block(
        self, x, mem, attn_mask, key_padding_mask, is_causal
    ) -> torch.Tensor:
        """CA(x, m): cross-attention, Eq. (13.8): Q = x, K = V = m, then projected."""
        x = self.multihead_attn(
            x,
            mem,
            mem,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            attn_mask=attn_mask,
            is_causal=is_causal,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        """FF(x) = W_2 act(W_1 x + b_1) + b_2."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


# ---- seq2seq with attention: a captioner that looks at a grid of image features -----
class AttentionCaptioner(nn.Module):
    r"""A CNN encoder and an LSTM decoder that attends over the encoder's grid.

    Show, attend and tell (Xu et al., 2015) on a small scale. The CNN turns the
    image into a grid of :math:`S = h w` feature vectors :math:`h_i` of width D. Before
    each word t the decoder scores every cell against its previous state
    :math:`s_{t-1}` with a one-hidden-layer MLP (Bahdanau et al., 2015),
    Eq. (13.1):
    :math:`e_{t,i} = v^\top \tanh(W_s s_{t-1} + W_h h_i)`,
    :math:`a_t = \mathrm{softmax}(e_t)`, :math:`c_t = \sum_i a_{t,i} h_i`. The LSTM
    cell reads the embedding of the previous word with the context :math:`c_t`, and
    the word is scored from :math:`[s_t; c_t]`.

    Args:
        vocab_size: Number of tokens; the decoder's inputs and outputs are in
            ``[0, vocab_size)``.
        channels: Widths of the CNN's three 3x3 convolutions; the last is D.
        embed_dim: Width of the word embeddings.
        hidden_size: Width of the LSTM state.
        attn_dim: Width of the attention MLP's hidden layer.
        in_channels: Channels of the images.

    Shapes: images (N, C, H, W) -> a grid of h x w = floor(H/8) x floor(W/8) cells
    (three 2x2 max-pools, each rounding down).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        channels: tuple[int, int, int] = (16, 32, 64),
        embed_dim: int = 32,
        hidden_size: int = 128,
        attn_dim: int = 64,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        for name, v in (
            ("embed_dim", embed_dim),
            ("hidden_size", hidden_size),
            ("attn_dim", attn_dim),
            ("in_channels", in_channels),
        ):
            check_positive_int(v, name)
        if not (isinstance(channels, tuple) and len(channels) == 3):
            raise TypeError(f"channels must be a tuple of 3 ints, got {channels!r}")
        for c in channels:
            check_positive_int(c, "channels[i]")
        c1, c2, D = channels
        self.in_channels = in_channels
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, D, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.init_h = nn.Linear(D, hidden_size)  # s_0 from the mean feature
        self.init_c = nn.Linear(D, hidden_size)
        self.att_h = nn.Linear(D, attn_dim, bias=False)  # W_h
        self.att_s = nn.Linear(hidden_size, attn_dim)  # W_s (and the MLP's bias)
        self.att_v = nn.Linear(attn_dim, 1, bias=False)  # v
        self.cell = nn.LSTMCell(embed_dim + D, hidden_size)
        self.out = nn.Linear(hidden_size + D, vocab_size)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's grid of feature vectors: (N, C, H, W) -> (N, D, h, w).

        Each 3x3 convolution is followed by a ReLU and a 2x2 max-pool, so
        h = floor(floor(floor(H/2)/2)/2), and likewise w.

        Args:
            images: Float images of shape (N, C, H, W), H and W at least 8.
        """
        check_float_tensor(images, "images", ndim=4)
        check_shape(images, "images", ("N", self.in_channels, "H", "W"))
        H, W = images.shape[-2:]
        if H < 8 or W < 8:
            raise ValueError(f"images must be at least 8 x 8, got {H} x {W}")
        return self.encoder(images)  # (N, D, h, w)

    def attend(
        self, feats: torch.Tensor, keys: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Context and weights of one step, Eq. (13.1).

        Args:
            feats: The grid :math:`h_i`, (N, S, D).
            keys: Its projection :math:`W_h h_i`, (N, S, attn_dim).
            s: The previous state :math:`s_{t-1}`, (N, hidden_size).

        Returns:
            ``(c_t, a_t)`` of shapes (N, D) and (N, S).
        """
        # e_{t,i} = v^T tanh(W_s s_{t-1} + W_h h_i): (N, S, attn_dim) -> (N, S)
        e = self.att_v(torch.tanh(self.att_s(s)[:, None] + keys)).squeeze(-1)
        a = torch.softmax(e, dim=-1)  # a_t, (N, S)
        c = (a[:, :, None] * feats).sum(dim=1)  # c_t = sum_i a_{t,i} h_i, (N, D)
        return c, a

    def _start(self, images):
        feats = self.features(images).flatten(2).transpose(1, 2)  # (N, S, D)
        # a grid cell's vector says what is there but hardly where; add where
        S, D = feats.shape[1:]
        pe = sinusoidal_positional_encoding(
            S, D, dtype=feats.dtype, device=feats.device
        )
        feats = feats + pe  # h_i, (N, S, D)
        mean = feats.mean(dim=1)  # (N, D)
        state = (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))
        return feats, self.att_h(feats), state

    def _step(self, feats, keys, state, words):
        """One decoder step: attend, update the LSTM, score the next word."""
        c, a = self.attend(feats, keys, state[0])  # (N, D), (N, S)
        x = torch.cat([self.embed(words), c], dim=1)  # (N, embed_dim + D)
        state = self.cell(x, state)  # s_t, (N, hidden_size) twice
        logits = self.out(torch.cat([state[0], c], dim=1))  # (N, vocab_size)
        return logits, a, state

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Scores of every next word with teacher forcing.

        Args:
            images: Float images, (N, C, H, W).
            inputs: The previous words, int64 (N, T): START, then the caption's words.

        Returns:
            Logits of shape (N, T, vocab_size): row t scores word t of the caption.
        """
        self._check_words(inputs, images.shape[0])
        feats, keys, state = self._start(images)
        logits = []
        for t in range(inputs.shape[1]):
            step, _, state = self._step(feats, keys, state, inputs[:, t])
            logits.append(step)
        return torch.stack(logits, dim=1)  # (N, T, vocab_size)

    @torch.no_grad()
    def decode(
        self, images: torch.Tensor, start: int, max_len: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy captions and the attention map behind every word.

        Args:
            images: Float images, (N, C, H, W).
            start: The token fed before the first word.
            max_len: Number of words generated (the caller cuts at its end token).

        Returns:
            ``(tokens, weights)``: tokens int64 (N, max_len), the argmax word at each
            step fed back as the next input; weights (N, max_len, h, w), the
            :math:`a_t` the decoder looked with while choosing word t.
        """
        start = check_in(start, "start", tuple(range(self.vocab_size)))
        max_len = check_positive_int(max_len, "max_len")
        feats, keys, state = self._start(images)
        grid = [images.shape[-2], images.shape[-1]]
        for _ in range(3):  # three 2x2 max-pools
            grid = [g // 2 for g in grid]
        words = torch.full((images.shape[0],), start, device=images.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, a, state = self._step(feats, keys, state, words)
            words = logits.argmax(dim=1)  # greedy: the likeliest word, (N,)
            tokens.append(words)
            weights.append(a.view(-1, *grid))
        return torch.stack(tokens, dim=1), torch.stack(weights, dim=1)

    def _check_words(self, inputs: Any, n: int) -> None:
        check_tensor(inputs, "inputs", ndim=2)
        if inputs.dtype != torch.int64:
            raise TypeError(f"inputs must be int64 tokens, got {inputs.dtype}")
        check_shape(inputs, "inputs", (n, "T"))
        if inputs.numel() and not (
            0 <= int(inputs.min()) and int(inputs.max()) < self.vocab_size
        ):
            raise ValueError(
                f"inputs must hold tokens in [0, {self.vocab_size}), got values in "
                f"[{int(inputs.min())}, {int(inputs.max())}]"
            )


# ---- the vision transformer, with torchvision's structure and parameter names --------
class MLPBlock(nn.Sequential):
    """ViT's MLP: Linear, GELU, Dropout, Linear, Dropout (``mlp.0``, ``mlp.3``).

    Initialized as torchvision's: Xavier-uniform weights, biases N(0, 1e-6^2).

    Args:
        in_dim: Width of the input and output.
        mlp_dim: Hidden width.
        dropout: Dropout probability after each linear layer.
    """

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float) -> None:
        check_positive_int(in_dim, "in_dim")
        check_positive_int(mlp_dim, "mlp_dim")
        check_finite_number(dropout, "dropout", low=0.0, high=1.0)
        super().__init__(
            nn.Linear(in_dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, in_dim),
            nn.Dropout(dropout),
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    r"""A pre-norm transformer block of ViT, Eq. (13.9).

    :math:`z' = z + \mathrm{MSA}(\mathrm{LN}(z))`, then
    :math:`z \leftarrow z' + \mathrm{MLP}(\mathrm{LN}(z'))`.

    torchvision's ``EncoderBlock`` (``ln_1``, ``self_attention``, ``dropout``,
    ``ln_2``, ``mlp``); the same function as ``nn.TransformerEncoderLayer`` with
    ``norm_first=True``, ``activation="gelu"`` and ``batch_first=True``.

    Args:
        num_heads: Number of attention heads.
        hidden_dim: Model width D.
        mlp_dim: Hidden width of the MLP.
        dropout: Dropout after the attention and in the MLP.
        attention_dropout: Dropout on the attention weights.
        layer_norm_eps: The layer norms' epsilon (1e-6 in ViT).
    """

    def __init__(
        self,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
        layer_norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=layer_norm_eps)
        self.self_attention = MultiheadAttention(
            hidden_dim, num_heads, dropout=attention_dropout, batch_first=True
        )
        self.dropout = nn.Dropout(
            check_finite_number(dropout, "dropout", low=0.0, high=1.0)
        )
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=layer_norm_eps)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``input`` (N, L, D); returns (N, L, D).

        Args:
            input: The token sequence, float (N, L, D).
        """
        check_float_tensor(input, "input", ndim=3)
        x = self.ln_1(input)
        x = self.self_attention(x, x, x, need_weights=False)[0]  # MSA(LN(z))
        x = self.dropout(x) + input  # z' = z + MSA(LN(z))
        return x + self.mlp(self.ln_2(x))  # z' + MLP(LN(z'))

    def attention(self, input: torch.Tensor) -> torch.Tensor:
        """The per-head attention weights of this block on ``input`` (N, L, D).

        Args:
            input: The token sequence the block receives, float (N, L, D).

        Returns:
            Weights of shape (N, H, L, L); row i of head h is where token i looks.
        """
        x = self.ln_1(input)
        return self.self_attention(x, x, x, average_attn_weights=False)[1]


class Encoder(nn.Module):
    """torchvision's ViT encoder: add ``pos_embedding``, dropout, the blocks, ``ln``.

    Args:
        seq_length: Number of tokens (patches plus the class token).
        num_layers: Number of blocks, ``layers.encoder_layer_0`` and up.
        num_heads: Heads per block.
        hidden_dim: Model width D.
        mlp_dim: Hidden width of the MLPs.
        dropout: Dropout probability.
        attention_dropout: Dropout on the attention weights.
    """

    def __init__(
        self,
        seq_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        check_positive_int(seq_length, "seq_length")
        check_positive_int(num_layers, "num_layers")
        # E_pos: one learned vector per position, N(0, 0.02^2) as in torchvision
        self.pos_embedding = nn.Parameter(
            torch.empty(1, seq_length, hidden_dim).normal_(std=0.02)
        )
        self.dropout = nn.Dropout(dropout)
        # torchvision's names: layers.encoder_layer_0, layers.encoder_layer_1, ...
        self.layers = nn.Sequential(
            OrderedDict(
                (
                    f"encoder_layer_{i}",
                    EncoderBlock(
                        num_heads, hidden_dim, mlp_dim, dropout, attention_dropout
                    ),
                )
                for i in range(num_layers)
            )
        )
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Encode the tokens (N, L, D) -> (N, L, D).

        Args:
            input: The embedded patches with the class token first, (N, L, D).
        """
        check_float_tensor(input, "input", ndim=3)
        check_shape(input, "input", ("N", *self.pos_embedding.shape[1:]))
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    r"""The vision transformer of Dosovitskiy et al. (2021), torchvision's layout.

    Cut the image into P x P patches, embed each linearly (``conv_proj``, a
    convolution with kernel and stride P), put the learned ``class_token`` first, add
    the position embeddings and run the pre-norm blocks, Eq. (13.9); classify the
    class token's final vector with ``heads.head``. Parameter names and initial
    values follow ``torchvision.models.VisionTransformer``, so its state dicts load;
    differences: ``in_channels`` (torchvision has 3), and no ``norm_layer`` or
    ``conv_stem_configs`` arguments.

    Args:
        image_size: Side of the (square) input image.
        patch_size: Side P of a patch; must divide ``image_size``.
        num_layers: Number of encoder blocks.
        num_heads: Heads per block.
        hidden_dim: Model width D.
        mlp_dim: Hidden width of the MLPs.
        dropout: Dropout probability.
        attention_dropout: Dropout on the attention weights.
        num_classes: Number of classes.
        representation_size: If given, a tanh layer of this width before the head
            (``heads.pre_logits``).
        in_channels: Channels of the images.

    Shapes: (N, in_channels, image_size, image_size) -> (N, num_classes).
    """

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
        representation_size: int | None = None,
        *,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        for name, v in (
            ("image_size", image_size),
            ("patch_size", patch_size),
            ("hidden_dim", hidden_dim),
            ("mlp_dim", mlp_dim),
            ("num_classes", num_classes),
            ("in_channels", in_channels),
        ):
            check_positive_int(v, name)
        if image_size % patch_size:
            raise ValueError(
                f"patch_size must divide image_size, got {patch_size} and {image_size}"
            )
        self.image_size, self.patch_size = image_size, patch_size
        self.hidden_dim, self.mlp_dim = hidden_dim, mlp_dim
        self.num_classes, self.in_channels = num_classes, in_channels
        self.representation_size = representation_size
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, patch_size, patch_size)
        seq_length = (image_size // patch_size) ** 2 + 1  # patches + class token
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(
            seq_length,
            num_layers,
            num_heads,
            hidden_dim,
            mlp_dim,
            dropout,
            attention_dropout,
        )
        self.seq_length = seq_length
        heads: dict[str, nn.Module] = {}
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            check_positive_int(representation_size, "representation_size")
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(OrderedDict(heads))
        # torchvision's initialization
        fan_in = in_channels * patch_size**2
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        if representation_size is not None:
            pre = self.heads.pre_logits
            nn.init.trunc_normal_(pre.weight, std=math.sqrt(1 / pre.in_features))
            nn.init.zeros_(pre.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x: torch.Tensor) -> torch.Tensor:
        """Patches as tokens: (N, C, H, W) -> (N, (H/P)(W/P), D)."""
        check_float_tensor(x, "x", ndim=4)
        size = self.image_size
        check_shape(x, "x", ("N", self.in_channels, size, size))
        x = self.conv_proj(x)  # x_p^j E for every patch j: (N, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (N, L - 1, D)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's input before the position embeddings: (N, L, D).

        Args:
            x: Images, (N, in_channels, image_size, image_size).
        """
        x = self._process_input(x)  # (N, L - 1, D)
        cls = self.class_token.expand(x.shape[0], -1, -1)  # (N, 1, D)
        return torch.cat([cls, x], dim=1)  # [x_class; x_p^1 E; ...]: (N, L, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of the images.

        Args:
            x: Images, (N, in_channels, image_size, image_size).

        Returns:
            Logits, (N, num_classes).
        """
        z = self.encoder(self.tokens(x))  # (N, L, D)
        return self.heads(z[:, 0])  # the class token's vector -> (N, num_classes)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The per-head attention weights of every block on the images ``x``.

        Args:
            x: Images, (N, in_channels, image_size, image_size).

        Returns:
            One tensor (N, H, L, L) per block; token 0 is the class token, token
            1 + r (W/P) + c the patch in row r, column c.
        """
        enc = self.encoder
        z = enc.dropout(self.tokens(x) + enc.pos_embedding)  # (N, L, D)
        maps = []
        for block in enc.layers:
            maps.append(block.attention(z))
            z = block(z)
        return maps
