r"""Recurrent networks from scratch: RNN, LSTM, GRU and highway layers (lecture 12).

A recurrent network keeps an internal state that it updates as it reads a sequence,
:math:`h_t = f_W(h_{t-1}, x_t)`, with the same weights at every step. The three cells
below are the lecture's equations, one line each, in torch's weight layout (``W_ih``
of shape (G H, D), ``W_hh`` of shape (G H, H), with G = 1, 4 or 3 stacked blocks):

- Vanilla (Elman) RNN:
  :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})` (:func:`rnn_cell`;
  ``nonlinearity="relu"`` swaps tanh for ReLU).
- LSTM (Hochreiter and Schmidhuber, 1997): four gates i (input: whether to write to the
  cell), f (forget: whether to erase it), o (output: whether to reveal it) and g (gate
  gate: how much to write), :math:`(i, f, o, g) = (\sigma, \sigma, \sigma, \tanh)
  (W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, then
  :math:`c_t = f \odot c_{t-1} + i \odot g` and :math:`h_t = o \odot \tanh c_t`
  (:func:`lstm_cell`). Torch stacks the four blocks of rows in the order i, f, g, o.
- GRU (Cho et al., 2014), torch's convention, rows stacked r, z, n:
  :math:`r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})`,
  :math:`z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})`,
  :math:`n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))`,
  :math:`h_t = (1 - z) \odot n + z \odot h_{t-1}`: z multiplies the old state, so
  z = 1 keeps it (:func:`gru_cell`). Some texts write z on n instead.
- Highway layer (Srivastava, Greff and Schmidhuber, 2015), the LSTM's gating applied to
  depth: :math:`y = T(x) \odot H(x) + (1 - T(x)) \odot x` with
  :math:`T(x) = \sigma(W_T x + b_T)` (:func:`highway`, :class:`Highway`).

Training and using them (chapter ``book/rnn.md``): :func:`truncated_bptt` (chunks of
the sequence, the state carried forward and detached, the gradient norm clipped),
:func:`hidden_gradient_norms` (the gradient of a loss with respect to every hidden
state, to watch it vanish or explode), :func:`sample` (drawing with a temperature),
:class:`CharLSTM` (a character-level language model) and :class:`CaptionLSTM` (a CNN
encoder and an LSTM decoder that captions images), with :func:`caption_inputs`.

Equations of the chapter computed here: (12.2) ``rnn-elman``, (12.3) ``rnn-bptt``,
(12.4) ``rnn-clip``, (12.5) ``rnn-lstm-gates``, (12.6) ``rnn-lstm-cell``,
(12.7) ``rnn-highway``, (12.8) ``rnn-gru`` and (12.10) ``rnn-temperature``.

Torch counterparts: ``nn.RNNCell``/``nn.LSTMCell``/``nn.GRUCell`` for the cells, and
``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``, which :class:`RNN`, :class:`LSTM` and
:class:`GRU` subclass: same constructor arguments, parameters (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ...) and state dict, so
``load_state_dict`` works both ways; only ``forward`` is replaced by a loop over layers
and time steps. Deliberate differences: no ``bidirectional``, no ``proj_size`` and no
packed sequences. Torch has no highway layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_float_tensor,
    check_in,
    check_len,
    check_positive_int,
    check_shape,
    check_tensor,
    check_tensors_match,
)

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CaptionLSTM",
    "CharLSTM",
    "Highway",
    "TBPTTResult",
    "caption_inputs",
    "detach_state",
    "gru_cell",
    "hidden_gradient_norms",
    "highway",
    "lstm_cell",
    "lstm_gates",
    "rnn_cell",
    "sample",
    "truncated_bptt",
]

Tensor = torch.Tensor
_ACTS = {"tanh": torch.tanh, "relu": F.relu}  # an RNN's nonlinearity, by torch's name


# ---- validation (one line in each public function) -----------------------------------
def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _check_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    gates: int,
) -> None:
    """x (N, D) or (D,), h (N, H) or (H,), weights (G H, D) and (G H, H)."""
    D = check_float_tensor(x, "x", min_ndim=1).shape[-1]
    H = check_float_tensor(h, "h", ndim=x.dim()).shape[-1]
    if x.dim() > 2 or x.shape[:-1] != h.shape[:-1]:
        raise ValueError(
            f"x and h must have shapes (N, D) and (N, H) or (D,) and (H,), "
            f"got {tuple(x.shape)} and {tuple(h.shape)}"
        )
    tensors = {"x": x, "h": h, "weight_ih": weight_ih, "weight_hh": weight_hh}
    check_shape(check_float_tensor(weight_ih, "weight_ih"), "weight_ih", (gates * H, D))
    check_shape(check_float_tensor(weight_hh, "weight_hh"), "weight_hh", (gates * H, H))
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is not None:
            tensors[name] = check_shape(check_float_tensor(b, name), name, (gates * H,))
    check_tensors_match(**tensors)


def _linear2(
    x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, b_ih: Any, b_hh: Any
) -> Tensor:
    """W_ih x + b_ih + W_hh h + b_hh, for a batch of rows: (N, G H)."""
    return F.linear(x, weight_ih, b_ih) + F.linear(h, weight_hh, b_hh)


# ---- cells: one time step ------------------------------------------------------------
def rnn_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    r"""One step of a vanilla RNN: :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh}
    h_{t-1} + b_{hh})`, like ``nn.RNNCell``.

    Args:
        x: Input :math:`x_t`, (N, D) or unbatched (D,).
        h: Previous hidden state :math:`h_{t-1}`, (N, H) or (H,).
        weight_ih: :math:`W_{ih}`, (H, D).
        weight_hh: :math:`W_{hh}`, (H, H).
        bias_ih: :math:`b_{ih}`, (H,), or None.
        bias_hh: :math:`b_{hh}`, (H,), or None.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Returns:
        The new hidden state :math:`h_t`, shaped like ``h``.
    """
    _check_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, gates=1)
    act = _ACTS[check_in(nonlinearity, "nonlinearity", _ACTS)]
    # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), Eq. (12.2)
    return act(_linear2(x, h, weight_ih, weight_hh, bias_ih, bias_hh))  # (N, H)


def lstm_cell(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""One step of an LSTM, like ``nn.LSTMCell``.

    :math:`c_t = f \odot c_{t-1} + i \odot g` and :math:`h_t = o \odot \tanh c_t`,
    with the gates computed from one product of the stacked weights. Torch stacks the
    gates' rows in the order i, f, g, o (not the lecture's i, f, o, g).

    Args:
        x: Input :math:`x_t`, (N, D) or unbatched (D,).
        state: :math:`(h_{t-1}, c_{t-1})`, each (N, H) or (H,).
        weight_ih: :math:`W_{ih}`, (4 H, D), blocks of rows i, f, g, o.
        weight_hh: :math:`W_{hh}`, (4 H, H), same blocks.
        bias_ih: :math:`b_{ih}`, (4 H,), or None.
        bias_hh: :math:`b_{hh}`, (4 H,), or None.

    Returns:
        :math:`(h_t, c_t)`, each shaped like :math:`h_{t-1}`.
    """
    h, c = check_len(state, "state", 2, what="tensors (h, c)")
    _check_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, gates=4)
    check_shape(check_float_tensor(c, "c"), "c", tuple(h.shape))
    i, f, g, o = _lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c = f * c + i * g  # c_t = f ⊙ c_{t-1} + i ⊙ g, Eq. (12.6)
    h = o * torch.tanh(c)  # h_t = o ⊙ tanh(c_t)
    return h, c


def _lstm_gates(
    x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, b_ih: Any, b_hh: Any
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The activated gates (i, f, g, o), each (N, H), Eq. (12.5)."""
    # (i, f, g, o) = blocks of W_ih x + b_ih + W_hh h + b_hh, each (N, H)
    i, f, g, o = _linear2(x, h, weight_ih, weight_hh, b_ih, b_hh).chunk(4, -1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def lstm_gates(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""The four gates of an LSTM step, as :func:`lstm_cell` computes them.

    :math:`i, f, o = \sigma(\cdot)` and :math:`g = \tanh(\cdot)` of the blocks of
    :math:`W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}`, returned in torch's row
    order, to look inside a trained network.

    Args:
        x: Input :math:`x_t`, (N, D) or unbatched (D,).
        h: Previous hidden state :math:`h_{t-1}`, (N, H) or (H,).
        weight_ih: :math:`W_{ih}`, (4 H, D), blocks of rows i, f, g, o.
        weight_hh: :math:`W_{hh}`, (4 H, H), same blocks.
        bias_ih: :math:`b_{ih}`, (4 H,), or None.
        bias_hh: :math:`b_{hh}`, (4 H,), or None.

    Returns:
        ``(i, f, g, o)``, each shaped like ``h``: i, f and o in (0, 1), g in (-1, 1).
    """
    _check_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, gates=4)
    return _lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)


def gru_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> Tensor:
    r"""One step of a GRU in torch's convention, like ``nn.GRUCell``.

    :math:`h_t = (1 - z) \odot n + z \odot h_{t-1}`, so the update gate z = 1 keeps
    the old state; the reset gate r scales :math:`W_{hn} h + b_{hn}` inside n.

    Args:
        x: Input :math:`x_t`, (N, D) or unbatched (D,).
        h: Previous hidden state :math:`h_{t-1}`, (N, H) or (H,).
        weight_ih: :math:`W_{ih}`, (3 H, D), blocks of rows r, z, n.
        weight_hh: :math:`W_{hh}`, (3 H, H), same blocks.
        bias_ih: :math:`b_{ih}`, (3 H,), or None.
        bias_hh: :math:`b_{hh}`, (3 H,), or None.

    Returns:
        The new hidden state :math:`h_t`, shaped like ``h``.
    """
    _check_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, gates=3)
    x_r, x_z, x_n = F.linear(x, weight_ih, bias_ih).chunk(3, -1)  # each (N, H)
    h_r, h_z, h_n = F.linear(h, weight_hh, bias_hh).chunk(3, -1)  # each (N, H)
    r = torch.sigmoid(x_r + h_r)  # reset gate
    z = torch.sigmoid(x_z + h_z)  # update gate
    n = torch.tanh(x_n + r * h_n)  # candidate state
    return (1 - z) * n + z * h  # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}, Eq. (12.8)


# ---- multi-layer networks over a sequence -------------------------------------------
class _Recurrent:
    """The loop shared by :class:`RNN`, :class:`LSTM` and :class:`GRU` (a mixin).

    ``_step(x_t, state, k)`` advances layer k's state, a tuple ((h,) or (h, c)), by
    one time step; ``_n_states`` is 1 or 2.
    """

    _n_states = 1
    num_layers: int
    hidden_size: int
    input_size: int
    batch_first: bool
    bias: bool
    dropout: float
    training: bool

    def _weights(self, k: int) -> tuple[Any, Any, Any, Any]:
        """Layer k's (weight_ih, weight_hh, bias_ih, bias_hh); biases None if off."""
        names = ("weight_ih", "weight_hh") + (
            ("bias_ih", "bias_hh") if self.bias else ()
        )
        weights = [getattr(self, f"{name}_l{k}") for name in names]
        return tuple(weights + [None] * (4 - len(weights)))  # type: ignore[return-value]

    def _step(self, x: Tensor, state: tuple[Tensor, ...], k: int) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def _check_input(
        self, input: Tensor, hx: Any
    ) -> tuple[Tensor, tuple[Tensor, ...], bool]:
        """Return x as (L, N, D), the initial states as (num_layers, N, H) each, and
        whether the input was unbatched."""
        x = check_float_tensor(input, "input", min_ndim=2)
        if x.dim() > 3:
            raise ValueError(
                f"input must have shape (L, N, D), (N, L, D) or (L, D), "
                f"got {tuple(x.shape)}"
            )
        check_shape(x, "input", ("...", self.input_size))
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)  # (L, D) -> (L, 1, D)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (N, L, D) -> (L, N, D)
        L, N, _ = x.shape  # (L, N, D)
        if L == 0:
            raise ValueError(
                f"input must have at least one time step, got {tuple(input.shape)}"
            )
        shape = (self.num_layers, self.hidden_size)
        shape = shape if unbatched else (self.num_layers, N, self.hidden_size)
        if hx is None:
            zeros = x.new_zeros(self.num_layers, N, self.hidden_size)
            return x, (zeros,) * self._n_states, unbatched
        states = (
            (hx,)
            if self._n_states == 1
            else check_len(hx, "hx", 2, what="tensors (h_0, c_0)")
        )
        for name, s in zip(("h_0", "c_0"), states, strict=False):
            check_shape(check_float_tensor(s, name), name, shape)
            check_tensors_match(input=input, **{name: s})
        states = tuple(s.unsqueeze(1) if unbatched else s for s in states)
        return x, states, unbatched  # (L, N, D) and (num_layers, N, H) each

    def _run(self, input: Tensor, hx: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
        """output (as input's layout) and the final states, each (num_layers, N, H)."""
        x, h0, unbatched = self._check_input(input, hx)  # (L, N, D)
        finals = []
        for k in range(self.num_layers):
            state = tuple(s[k] for s in h0)  # layer k's (h,) or (h, c), each (N, H)
            outputs = []
            for x_t in x:  # x_t (N, D) at time t
                state = self._step(x_t, state, k)
                outputs.append(state[0])  # h_t (N, H)
            x = torch.stack(outputs)  # (L, N, H): the next layer's input
            if self.dropout and k < self.num_layers - 1:
                x = F.dropout(x, self.dropout, self.training)
            finals.append(state)
        # h_n (and c_n): every layer's last state, (num_layers, N, H) each
        states = tuple(torch.stack(s) for s in zip(*finals, strict=True))
        if unbatched:
            return x.squeeze(1), tuple(s.squeeze(1) for s in states)  # (L, H)
        return (x.transpose(0, 1) if self.batch_first else x), states


def _check_args(
    input_size: Any,
    hidden_size: Any,
    num_layers: Any,
    bias: Any,
    batch_first: Any,
    dropout: Any,
) -> None:
    check_positive_int(input_size, "input_size")
    check_positive_int(hidden_size, "hidden_size")
    check_positive_int(num_layers, "num_layers")
    _check_bool(bias, "bias")
    _check_bool(batch_first, "batch_first")
    check_finite_number(dropout, "dropout", low=0.0, high=1.0)


class RNN(_Recurrent, nn.RNN):
    r"""A multi-layer Elman RNN, ``nn.RNN`` with a forward written as a loop.

    Each layer k runs :func:`rnn_cell` over the sequence; its outputs
    :math:`h^{(k)}_1, \dots, h^{(k)}_L` are layer k + 1's inputs.

    Args:
        input_size: Features D of each input :math:`x_t`.
        hidden_size: Features H of the hidden state.
        num_layers: Stacked layers.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: Whether to use :math:`b_{ih}` and :math:`b_{hh}`.
        batch_first: Inputs and outputs are (N, L, D) instead of (L, N, D).
        dropout: Dropout probability on each layer's output except the last.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_args(input_size, hidden_size, num_layers, bias, batch_first, dropout)
        check_in(nonlinearity, "nonlinearity", _ACTS)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            nonlinearity=nonlinearity,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            device=device,
            dtype=dtype,
        )

    def _step(self, x: Tensor, state: tuple[Tensor, ...], k: int) -> tuple[Tensor]:
        return (rnn_cell(x, state[0], *self._weights(k), self.nonlinearity),)

    def forward(  # type: ignore[override]
        self, input: Tensor, hx: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Run the network over a sequence.

        Args:
            input: (L, N, D), (N, L, D) if ``batch_first``, or unbatched (L, D).
            hx: Initial hidden states (num_layers, N, H) (or (num_layers, H)); zeros
                if None.

        Returns:
            ``(output, h_n)``: every time step's top-layer state, (L, N, H) (laid out
            like ``input``), and every layer's last state, (num_layers, N, H).
        """
        output, (h_n,) = self._run(input, hx)
        return output, h_n


class LSTM(_Recurrent, nn.LSTM):
    r"""A multi-layer LSTM, ``nn.LSTM`` with a forward written as a loop.

    Each layer runs :func:`lstm_cell` over the sequence, carrying a hidden state h and
    a cell state c.

    Args:
        input_size: Features D of each input :math:`x_t`.
        hidden_size: Features H of the hidden and cell states.
        num_layers: Stacked layers.
        bias: Whether to use :math:`b_{ih}` and :math:`b_{hh}`.
        batch_first: Inputs and outputs are (N, L, D) instead of (L, N, D).
        dropout: Dropout probability on each layer's output except the last.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    _n_states = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_args(input_size, hidden_size, num_layers, bias, batch_first, dropout)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            device=device,
            dtype=dtype,
        )

    def _step(
        self, x: Tensor, state: tuple[Tensor, ...], k: int
    ) -> tuple[Tensor, Tensor]:
        return lstm_cell(x, (state[0], state[1]), *self._weights(k))

    def forward(  # type: ignore[override]
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run the network over a sequence.

        Args:
            input: (L, N, D), (N, L, D) if ``batch_first``, or unbatched (L, D).
            hx: Initial ``(h_0, c_0)``, each (num_layers, N, H) (or (num_layers, H));
                zeros if None.

        Returns:
            ``(output, (h_n, c_n))``: every time step's top-layer h, (L, N, H) (laid
            out like ``input``), and every layer's last h and c, (num_layers, N, H).
        """
        output, (h_n, c_n) = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(_Recurrent, nn.GRU):
    r"""A multi-layer GRU, ``nn.GRU`` with a forward written as a loop.

    Each layer runs :func:`gru_cell` over the sequence.

    Args:
        input_size: Features D of each input :math:`x_t`.
        hidden_size: Features H of the hidden state.
        num_layers: Stacked layers.
        bias: Whether to use :math:`b_{ih}` and :math:`b_{hh}`.
        batch_first: Inputs and outputs are (N, L, D) instead of (L, N, D).
        dropout: Dropout probability on each layer's output except the last.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_args(input_size, hidden_size, num_layers, bias, batch_first, dropout)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            device=device,
            dtype=dtype,
        )

    def _step(self, x: Tensor, state: tuple[Tensor, ...], k: int) -> tuple[Tensor]:
        return (gru_cell(x, state[0], *self._weights(k)),)

    def forward(  # type: ignore[override]
        self, input: Tensor, hx: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Run the network over a sequence.

        Args:
            input: (L, N, D), (N, L, D) if ``batch_first``, or unbatched (L, D).
            hx: Initial hidden states (num_layers, N, H) (or (num_layers, H)); zeros
                if None.

        Returns:
            ``(output, h_n)``: every time step's top-layer state, (L, N, H) (laid out
            like ``input``), and every layer's last state, (num_layers, N, H).
        """
        output, (h_n,) = self._run(input, hx)
        return output, h_n


# ---- highway layer -------------------------------------------------------------------
def highway(
    x: Tensor,
    weight_h: Tensor,
    bias_h: Tensor | None,
    weight_t: Tensor,
    bias_t: Tensor | None,
    activation: Callable[[Tensor], Tensor] = F.relu,
) -> Tensor:
    r"""A highway layer: :math:`y = T(x) \odot H(x) + (1 - T(x)) \odot x`.

    :math:`H(x) = \mathrm{activation}(W_H x + b_H)` is the transform and
    :math:`T(x) = \sigma(W_T x + b_T)` the transform gate; where T = 0 the layer
    carries x through unchanged, as an LSTM's forget gate carries its cell.

    Args:
        x: Input, (..., D).
        weight_h: :math:`W_H`, (D, D).
        bias_h: :math:`b_H`, (D,), or None.
        weight_t: :math:`W_T`, (D, D).
        bias_t: :math:`b_T`, (D,), or None.
        activation: The nonlinearity of H.

    Returns:
        y, shaped like x.
    """
    D = check_float_tensor(x, "x", min_ndim=1).shape[-1]
    for name, w in (("weight_h", weight_h), ("weight_t", weight_t)):
        check_shape(check_float_tensor(w, name), name, (D, D))
    check_callable(activation, "activation", signature="activation(tensor) -> tensor")
    H = activation(F.linear(x, weight_h, bias_h))  # H(x), (..., D)
    T = torch.sigmoid(F.linear(x, weight_t, bias_t))  # T(x), (..., D)
    return T * H + (1 - T) * x  # y = T(x) ⊙ H(x) + (1 - T(x)) ⊙ x, Eq. (12.7)


class Highway(nn.Module):
    """A highway layer (Srivastava et al., 2015) over :func:`highway`.

    The transform is ``self.transform`` (an ``nn.Linear``, :math:`W_H, b_H`) followed
    by ``activation``; the gate is ``self.gate`` (:math:`W_T, b_T`), whose bias starts
    at ``gate_bias`` (negative, as the paper advises, so that a new layer mostly carries
    its input).

    Args:
        size: Features D of the input and the output.
        activation: The nonlinearity of H.
        gate_bias: Initial value of every entry of :math:`b_T`.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        size: int,
        activation: Callable[[Tensor], Tensor] = F.relu,
        *,
        gate_bias: float = -1.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        size = check_positive_int(size, "size")
        check_callable(
            activation, "activation", signature="activation(tensor) -> tensor"
        )
        gate_bias = check_finite_number(gate_bias, "gate_bias")
        self.transform = nn.Linear(size, size, device=device, dtype=dtype)
        self.gate = nn.Linear(size, size, device=device, dtype=dtype)
        nn.init.constant_(self.gate.bias, gate_bias)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """y = T(x) * H(x) + (1 - T(x)) * x, for x of shape (..., size)."""
        return highway(
            x,
            self.transform.weight,
            self.transform.bias,
            self.gate.weight,
            self.gate.bias,
            self.activation,
        )


# ---- backpropagation through time ----------------------------------------------------
State = Tensor | tuple[Tensor, ...]


def detach_state(state: State | None) -> State | None:
    """Cut a recurrent state from the graph that made it (truncated BPTT).

    Args:
        state: A hidden state ``h`` or a tuple ``(h, c)``, or None.

    Returns:
        The same values, detached: gradients stop here.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and all(isinstance(s, Tensor) for s in state):
        return tuple(s.detach() for s in state)
    raise TypeError(f"state must be a tensor or a tuple of tensors, got {state!r:.80}")


class TBPTTResult(NamedTuple):
    """What :func:`truncated_bptt` returns."""

    losses: list[float]  # each chunk's mean loss, before its update
    grad_norms: list[float]  # each chunk's gradient norm, before clipping
    state: Any  # the state after the last chunk, detached


def truncated_bptt(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    chunk: int,
    optimizer: torch.optim.Optimizer,
    *,
    state: State | None = None,
    max_norm: float | None = None,
) -> TBPTTResult:
    """One pass of truncated backpropagation through time over long sequences.

    The sequences are cut into chunks of ``chunk`` steps. For each chunk the model
    runs forward from the state the previous chunk ended in, so the forward pass
    sees the whole sequence, but that state is detached first, so gradients flow back
    at most ``chunk`` steps. Then one optimizer step, after clipping the gradient's
    norm to ``max_norm`` (Eq. (12.4)) with ``torch.nn.utils.clip_grad_norm_``.

    Args:
        model: Maps ``(inputs[:, a:b], state)`` to ``(logits, state)`` with logits of
            shape (N, b - a, V), e.g. :class:`CharLSTM`.
        inputs: (N, L) int64 tokens (or (N, L, D) features).
        targets: (N, L) int64 classes in [0, V), the token each step must predict.
        chunk: Steps per chunk k; the last chunk may be shorter.
        optimizer: Updates the model's parameters after each chunk.
        state: The state to start from (None: the model's zeros).
        max_norm: Clip the gradient norm to this; None: no clipping.

    Returns:
        A :class:`TBPTTResult`: the chunks' losses and gradient norms, and the final
        state.
    """
    if check_tensor(inputs, "inputs").dim() not in (2, 3):
        raise ValueError(
            f"inputs must have shape (N, L) or (N, L, D), got {tuple(inputs.shape)}"
        )
    check_shape(check_tensor(targets, "targets"), "targets", tuple(inputs.shape[:2]))
    chunk = check_positive_int(chunk, "chunk")
    if max_norm is not None:
        max_norm = check_finite_number(max_norm, "max_norm", low=0.0, low_open=True)
    params = [p for p in model.parameters() if p.requires_grad]
    losses, norms = [], []
    for a in range(0, inputs.shape[1], chunk):
        state = detach_state(state)  # gradients stop at the chunk's start
        logits, state = model(inputs[:, a : a + chunk], state)  # (N, k, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), targets[:, a : a + chunk].flatten()
        )
        optimizer.zero_grad()
        loss.backward()  # backpropagation through the chunk's k steps
        limit = math.inf if max_norm is None else max_norm
        norms.append(float(nn.utils.clip_grad_norm_(params, limit)))  # Eq. (12.4)
        optimizer.step()
        losses.append(loss.item())
    return TBPTTResult(losses, norms, detach_state(state))


def hidden_gradient_norms(
    model: nn.Module,
    input: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    hx: State | None = None,
) -> Tensor:
    r"""How large the gradient of a loss at the last step is at every earlier step.

    Runs a recurrent network (:class:`RNN`, :class:`LSTM`, :class:`GRU` or torch's)
    one step at a time, keeps each hidden state :math:`h_t` of the top layer, applies
    ``loss_fn`` to the last one and backpropagates through time, Eq. (12.3).

    Args:
        model: A recurrent network called as ``model(input, hx) -> (output, state)``.
        input: (N, L, D) if the model is ``batch_first``, else (L, N, D).
        loss_fn: Maps the last hidden state :math:`h_L`, (N, H), to a scalar loss.
        hx: The initial state :math:`h_0` (or :math:`(h_0, c_0)`); zeros if None.

    Returns:
        (L + 1,) float tensor: :math:`\|\partial L / \partial h_t\|` for
        t = 0, ..., L, over the whole batch, on ``input``'s device.
    """
    check_float_tensor(input, "input", ndim=3)
    check_callable(loss_fn, "loss_fn", signature="loss_fn(h_L) -> scalar tensor")
    x = input.transpose(0, 1) if model.batch_first else input  # (L, N, D)
    L, N, _ = x.shape
    shape = (model.num_layers, N, model.hidden_size)
    if hx is None:
        zeros = x.new_zeros(shape)
        hx = (zeros, zeros.clone()) if isinstance(model, nn.LSTM) else zeros
    state = detach_state(hx)
    h0 = state[0] if isinstance(state, tuple) else state  # (layers, N, H)
    h0.requires_grad_(True)
    hs = [h0]  # h_0, h_1, ..., h_L, each (layers, N, H)
    for t in range(L):
        step = x[t : t + 1].transpose(0, 1) if model.batch_first else x[t : t + 1]
        _, state = model(step, state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    loss = loss_fn(hs[-1][-1])  # the top layer's h_L, (N, H)
    loss.backward()
    return torch.stack([h.grad[-1].norm() for h in hs]).detach()  # (L + 1,)


# ---- sampling ------------------------------------------------------------------------
def sample(
    logits: Tensor,
    temperature: float = 1.0,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Draw one class per row from :math:`\mathrm{softmax}(z / T)`, Eq. (12.10).

    A temperature T below 1 sharpens the distribution towards the most likely
    class, above 1 flattens it towards uniform; T = 0 takes the argmax (greedy).

    Args:
        logits: Scores z, (..., V).
        temperature: T >= 0.
        generator: The random number generator (None: torch's global one).

    Returns:
        int64 classes of shape ``logits.shape[:-1]``, on ``logits``' device.
    """
    check_float_tensor(logits, "logits", min_ndim=1)
    if torch.isnan(logits).any():
        raise ValueError("logits must not hold NaN")
    T = check_finite_number(temperature, "temperature", low=0.0)
    if T == 0:
        return logits.argmax(-1)  # the limit T -> 0: the most likely class
    probs = F.softmax(logits.double() / T, dim=-1)  # p_k = exp(z_k/T) / sum_j ...
    flat = probs.reshape(-1, probs.shape[-1])  # (M, V)
    draws = torch.multinomial(flat.cpu(), 1, generator=generator)  # (M, 1)
    return draws.reshape(logits.shape[:-1]).to(logits.device)


# ---- models --------------------------------------------------------------------------
class CharLSTM(nn.Module):
    """A character-level language model: embedding, :class:`LSTM`, linear readout.

    At each step it reads one character and predicts the next; ``generate`` feeds
    its own samples back in. The recurrent part is ``self.lstm``, a :class:`LSTM`
    (so ``nn.LSTM``'s state dict), the readout ``self.head`` an ``nn.Linear``.

    Args:
        vocab_size: The number V of distinct characters (token ids 0..V-1).
        hidden_size: Features H of the LSTM's state.
        embed_dim: Features of each character's embedding.
        num_layers: Stacked LSTM layers.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        embed_dim: int = 32,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        check_positive_int(hidden_size, "hidden_size")
        check_positive_int(embed_dim, "embed_dim")
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, tokens: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Scores for the next character after each position.

        Args:
            tokens: (N, L) int64 character ids in [0, V).
            state: ``(h, c)`` to continue from, each (num_layers, N, H); None: zeros.

        Returns:
            ``(logits, (h, c))``: logits (N, L, V) and the state after the last step.
        """
        _check_tokens(tokens, "tokens", self.vocab_size)
        out, state = self.lstm(self.embed(tokens), state)  # (N, L, H)
        return self.head(out), state  # (N, L, V)

    @torch.no_grad()
    def generate(
        self,
        prompt: Tensor,
        length: int,
        temperature: float = 1.0,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue ``prompt`` by ``length`` characters sampled at ``temperature``.

        Args:
            prompt: (L,) int64 character ids, at least one.
            length: The number of characters to sample.
            temperature: The sampling temperature (0: greedy), see :func:`sample`.
            generator: The random number generator for the draws.

        Returns:
            (length,) int64: the sampled characters, without the prompt.
        """
        _check_tokens(prompt, "prompt", self.vocab_size, ndim=1)
        length = check_positive_int(length, "length")
        logits, state = self(prompt[None])  # (1, L, V)
        out = []
        for _ in range(length):
            token = sample(logits[:, -1], temperature, generator=generator)  # (1,)
            out.append(token)
            logits, state = self(token[:, None], state)  # (1, 1, V)
        return torch.cat(out)


def _check_tokens(tokens: Any, name: str, vocab: int, ndim: int = 2) -> Tensor:
    check_tensor(tokens, name, ndim=ndim)
    if tokens.dtype != torch.int64:
        raise TypeError(f"{name} must have dtype torch.int64, got {tokens.dtype}")
    if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < vocab:
        raise ValueError(
            f"{name} must hold ids in [0, {vocab}), got values in "
            f"[{int(tokens.min())}, {int(tokens.max())}]"
        )
    return tokens


def caption_inputs(tokens: Tensor, start: int = 11, end: int = 10) -> Tensor:
    """The decoder's inputs for teacher forcing: START, then the caption shifted.

    Step t reads token t - 1 and must predict token t; padding (negative ids, such as
    ``dlcv.data.PAD``) becomes ``end`` so that it is a valid input.

    Args:
        tokens: (N, T) int64 targets: words, END, then PAD.
        start: The START token id (``dlcv.data.START``).
        end: The END token id (``dlcv.data.END``).

    Returns:
        (N, T) int64: ``[start, tokens[:, 0], ..., tokens[:, T - 2]]``.
    """
    check_tensor(tokens, "tokens", ndim=2)
    if tokens.dtype != torch.int64:
        raise TypeError(f"tokens must have dtype torch.int64, got {tokens.dtype}")
    shifted = torch.where(tokens[:, :-1] < 0, end, tokens[:, :-1])  # (N, T - 1)
    first = torch.full_like(tokens[:, :1], start)
    return torch.cat([first, shifted], dim=1)


class CaptionLSTM(nn.Module):
    """An image captioner: a small CNN encoder and an :class:`LSTM` decoder.

    The encoder (``self.encoder``: two 3x3 convolutions with ReLU and 2x2 max-pooling,
    then ``self.init``, a linear layer) maps the image to the decoder's initial state
    :math:`(h_0, c_0)`. The decoder embeds the previous word (``self.embed``), runs
    ``self.lstm`` one step and scores the next word with ``self.head``. The encoder
    keeps the image's layout (no global pooling), so the state knows what is where.

    Args:
        vocab_size: Words in the vocabulary, START and END included.
        image_size: (height, width) of the input images, both multiples of 4.
        hidden_size: Features H of the LSTM's state.
        embed_dim: Features of each word's embedding.
        channels: Channels of the first convolution (the second has twice as many).
        start: The START token id, fed at the first step.
        end: The END token id, after which ``greedy`` stops.
    """

    def __init__(
        self,
        vocab_size: int,
        image_size: tuple[int, int],
        hidden_size: int = 64,
        embed_dim: int = 16,
        channels: int = 8,
        *,
        start: int = 11,
        end: int = 10,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        height, width = check_len(image_size, "image_size", 2, what="sizes (H, W)")
        for name, v in (("image height", height), ("image width", width)):
            if check_positive_int(v, name) % 4:
                raise ValueError(f"{name} must be a multiple of 4, got {v}")
        self.image_size = (height, width)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        check_positive_int(embed_dim, "embed_dim")
        c = check_positive_int(channels, "channels")
        self.start = check_positive_int(
            start, "start", minimum=0, maximum=vocab_size - 1
        )
        self.end = check_positive_int(end, "end", minimum=0, maximum=vocab_size - 1)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )  # fmt: skip
        self.init = nn.Linear(2 * c * (height // 4) * (width // 4), 2 * hidden_size)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def initial_state(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's :math:`(h_0, c_0)` for a batch of images.

        Args:
            images: (N, 1, height, width) floats.

        Returns:
            ``(h_0, c_0)``, each (1, N, H).
        """
        check_shape(check_float_tensor(images, "images"), "images",
                    ("N", 1, *self.image_size))  # fmt: skip
        h0, c0 = torch.tanh(self.init(self.encoder(images))).chunk(2, -1)  # (N, H)
        return h0[None].contiguous(), c0[None].contiguous()

    def forward(self, images: Tensor, inputs: Tensor) -> Tensor:
        """Teacher forcing: the next word's scores after each given word.

        Args:
            images: (N, 1, height, width) floats.
            inputs: (N, T) int64 words, START first (see :func:`caption_inputs`).

        Returns:
            Logits (N, T, V): step t scores word t of the caption.
        """
        state = self.initial_state(images)  # (1, N, H) each
        _check_tokens(inputs, "inputs", self.vocab_size)
        out, _ = self.lstm(self.embed(inputs), state)  # (N, T, H)
        return self.head(out)  # (N, T, V)

    @torch.no_grad()
    def greedy(self, images: Tensor, max_len: int) -> Tensor:
        """Caption images word by word, each step taking the most likely word.

        Args:
            images: (N, 1, height, width) floats.
            max_len: The number of words to produce, END included.

        Returns:
            (N, max_len) int64 words; after a caption's END, END again.
        """
        state = self.initial_state(images)  # (1, N, H) each
        max_len = check_positive_int(max_len, "max_len")
        word = torch.full((images.shape[0], 1), self.start, device=images.device)
        done = torch.zeros(images.shape[0], dtype=torch.bool, device=images.device)
        words = []
        for _ in range(max_len):
            out, state = self.lstm(self.embed(word), state)  # (N, 1, H)
            word = self.head(out).argmax(-1)  # (N, 1): the most likely next word
            word = torch.where(done[:, None], self.end, word)
            done |= word[:, 0] == self.end
            words.append(word)
        return torch.cat(words, dim=1)  # (N, max_len)
