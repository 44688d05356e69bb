r"""Layers with hand-written backward passes (lecture 6, chapter "Backpropagation").

Taught by the chapter "Backpropagation" (``book/backprop.md``). ``Eq. (6.k)`` tags are
its equation numbers: (6.6) ``bp-sigmoid-grad``, (6.10) ``bp-linear-torch``,
(6.11) ``bp-ce`` and (6.12) ``bp-ce-grad``.

Each layer is a pair of functions: ``*_forward(...) -> (out, cache)`` computes the
output and keeps what the backward pass needs; ``*_backward(dout, cache) -> grads``
turns the upstream gradient :math:`G = \partial L/\partial \text{out}` into the
gradients of the inputs, as a vector-Jacobian product: no Jacobian is ever formed. The
linear layer uses PyTorch's layout, ``weight`` (D_out, D_in), so
:math:`Y = X W^\top + b`.

The two-layer network :math:`s = W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2` is built from
these pieces; its backward pass is its forward pass read backwards. Its parameters are
named like the state dict of
``nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))``, so ``load_state_dict``
moves weights both ways.

Torch counterparts: ``F.linear``/``nn.Linear``, ``torch.relu``, ``torch.sigmoid``,
``F.cross_entropy``; :class:`LinearFunction` is a ``torch.autograd.Function`` over
:func:`linear_forward` and :func:`linear_backward`, and :class:`Linear` an ``nn.Linear``
that uses it. Reference: Rumelhart, Hinton and Williams (1986); the forward/backward API
follows the course's assignments and Karpathy's ``llm.c``.
"""

from __future__ import annotations

import torch
from torch import nn

from dlcv._checks import (
    check_float_tensor,
    check_labels,
    check_positive_int,
    check_shape,
    check_tensor,
)
from dlcv.linear import log_softmax
from dlcv.mlp import MLP

__all__ = [
    "PARAM_NAMES",
    "Linear",
    "LinearFunction",
    "TwoLayerNet",
    "linear_backward",
    "linear_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "two_layer_backward",
    "two_layer_forward",
    "two_layer_loss",
]

LinearCache = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
Params = dict[str, torch.Tensor]
PARAM_NAMES = ("0.weight", "0.bias", "2.weight", "2.bias")


# ---- linear (affine) layer -----------------------------------------------------------
def linear_forward(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> tuple[torch.Tensor, LinearCache]:
    """Affine layer ``x @ weight.T + bias``, like ``F.linear``.

    Args:
        x: ``(*, D_in)`` inputs; usually (N, D_in).
        weight: (D_out, D_in), PyTorch's layout.
        bias: (D_out,) or None.

    Returns:
        ``(out, cache)``: out is ``(*, D_out)``; cache holds ``(x, weight, bias)``.
    """
    D_out, D_in = check_float_tensor(weight, "weight", ndim=2).shape
    check_shape(check_float_tensor(x, "x"), "x", ("...", D_in))
    if bias is not None:
        check_shape(check_float_tensor(bias, "bias"), "bias", (D_out,))
    out = x @ weight.T  # Y = X W^T: (*, D_in) @ (D_in, D_out) -> (*, D_out)
    if bias is not None:
        out = out + bias  # + b: (*, D_out) + (D_out,), broadcast
    return out, (x, weight, bias)


def linear_backward(
    dout: torch.Tensor, cache: LinearCache
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Backward pass of :func:`linear_forward`.

    Args:
        dout: ``(*, D_out)`` upstream gradient, dL/dout.
        cache: what :func:`linear_forward` returned.

    Returns:
        ``(dx, dweight, dbias)``: ``(*, D_in)``, (D_out, D_in) and (D_out,);
        dbias is None if the layer has no bias.
    """
    x, weight, bias = cache
    D_out, D_in = weight.shape
    check_shape(check_float_tensor(dout, "dout"), "dout", (*x.shape[:-1], D_out))
    dx = dout @ weight  # Eq. (6.10): (*, D_out) @ (D_out, D_in) -> (*, D_in)
    dout_2d = dout.reshape(-1, D_out)  # (M, D_out), M = all leading dims
    x_2d = x.reshape(-1, D_in)  # (M, D_in)
    # Eq. (6.10): (D_out, M) @ (M, D_in) -> (D_out, D_in)
    dweight = dout_2d.T @ x_2d
    dbias = None if bias is None else dout_2d.sum(dim=0)  # Eq. (6.10): (D_out,)
    return dx, dweight, dbias


# ---- ReLU ----------------------------------------------------------------------------
def relu_forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``max(0, x)`` elementwise, like ``torch.relu``.

    Returns:
        ``(out, cache)``: out has x's shape; cache is x.
    """
    check_float_tensor(x, "x")
    out = x.clamp(min=0)  # same shape as x
    return out, x


def relu_backward(dout: torch.Tensor, cache: torch.Tensor) -> torch.Tensor:
    """Backward pass of :func:`relu_forward`: the gradient passes where x > 0.

    Returns:
        dx, with x's shape. At x = 0 the gradient is 0, as in ``torch.relu``.
    """
    x = cache
    check_shape(check_float_tensor(dout, "dout"), "dout", tuple(x.shape))
    dx = dout * (x > 0)  # the Jacobian is diagonal: a mask
    return dx


# ---- sigmoid -------------------------------------------------------------------------
def sigmoid_forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The logistic sigmoid elementwise, like ``torch.sigmoid``.

    Returns:
        ``(out, cache)``: out has x's shape; cache is out, all the backward pass needs.
    """
    check_float_tensor(x, "x")
    z = torch.exp(-x.abs())  # in (0, 1]: exp never overflows
    out = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))  # both forms equal sigma(x)
    return out, out


def sigmoid_backward(dout: torch.Tensor, cache: torch.Tensor) -> torch.Tensor:
    """Backward pass of :func:`sigmoid_forward`: local gradient y (1 - y).

    Returns:
        dx, with x's shape.
    """
    out = cache
    check_shape(check_float_tensor(dout, "dout"), "dout", tuple(out.shape))
    dx = dout * out * (1 - out)  # Eq. (6.6)
    return dx


# ---- softmax cross-entropy -----------------------------------------------------------
def softmax_cross_entropy_forward(
    scores: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Mean softmax cross-entropy, like ``F.cross_entropy(scores, target)``.

    Args:
        scores: (N, C) unnormalized class scores (logits).
        target: (N,) integer labels in [0, C).

    Returns:
        ``(loss, cache)``: loss is a 0-dim tensor; cache is ``(log_probs, target)``.
    """
    N, C = check_float_tensor(scores, "scores", ndim=2).shape
    target = check_labels(target, "target", n=N, num_classes=C)  # int64, not a mask
    log_probs = log_softmax(scores, dim=1)  # Eq. (6.11): (N, C), log P, stable
    rows = torch.arange(N, device=scores.device)
    loss = -log_probs[rows, target].mean()  # Eq. (6.11): mean of (N,) -> ()
    return loss, (log_probs, target)


def softmax_cross_entropy_backward(
    dloss: torch.Tensor | float, cache: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Backward pass of :func:`softmax_cross_entropy_forward`.

    Args:
        dloss: upstream gradient of the scalar loss; 1 when the loss is the
            final output.
        cache: what the forward pass returned.

    Returns:
        dscores, (N, C).
    """
    log_probs, target = cache
    N, _C = log_probs.shape
    dscores = log_probs.exp()  # (N, C), P
    rows = torch.arange(N, device=dscores.device)
    dscores[rows, target] -= 1  # Eq. (6.12): P - onehot
    return dscores * (dloss / N)  # Eq. (6.12): the mean's 1/N, times upstream


def softmax_cross_entropy(
    scores: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and its gradient in one call, Eqs. (6.11) and (6.12).

    Returns:
        ``(loss, dL/dscores)``.
    """
    loss, cache = softmax_cross_entropy_forward(scores, target)
    return loss, softmax_cross_entropy_backward(1.0, cache)


# ---- the two-layer network -----------------------------------------------------------
def _check_params(params: Params) -> None:
    if not isinstance(params, dict) or sorted(params) != sorted(PARAM_NAMES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must have the keys {list(PARAM_NAMES)}, got {got}")
    for name, value in params.items():
        check_tensor(value, f"params[{name!r}]")


def two_layer_forward(params: Params, x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """Scores of the two-layer ReLU network for a batch.

    Args:
        params: ``0.weight`` (H, D), ``0.bias`` (H,), ``2.weight`` (C, H),
            ``2.bias`` (C,).
        x: (N, D) inputs.

    Returns:
        ``(scores, cache)``: scores is (N, C).
    """
    _check_params(params)
    w1, b1, w2, b2 = (params[name] for name in PARAM_NAMES)
    z, linear1 = linear_forward(x, w1, b1)  # (N, D) -> (N, H)
    h, relu = relu_forward(z)  # (N, H)
    scores, linear2 = linear_forward(h, w2, b2)  # (N, H) -> (N, C)
    return scores, (linear1, relu, linear2)


def two_layer_backward(dscores: torch.Tensor, cache: tuple) -> Params:
    """Backward pass of :func:`two_layer_forward`: its lines in reverse.

    Args:
        dscores: (N, C) upstream gradient.
        cache: what :func:`two_layer_forward` returned.

    Returns:
        The gradient of every parameter, under the parameter's name.
    """
    linear1, relu, linear2 = cache
    dh, dw2, db2 = linear_backward(dscores, linear2)  # (N, H), (C, H), (C,)
    dz = relu_backward(dh, relu)  # (N, H)
    _dx, dw1, db1 = linear_backward(dz, linear1)  # (N, D), (H, D), (H,)
    return {"0.weight": dw1, "0.bias": db1, "2.weight": dw2, "2.bias": db2}


def two_layer_loss(
    params: Params, x: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, Params]:
    """Mean cross-entropy of the two-layer network and the gradients of its parameters.

    Args:
        params: as in :func:`two_layer_forward`.
        x: (N, D) inputs.
        target: (N,) integer labels.

    Returns:
        ``(loss, grads)``: a 0-dim loss and a dict with the keys of ``params``.
    """
    scores, cache = two_layer_forward(params, x)  # (N, C)
    loss, dscores = softmax_cross_entropy(scores, target)  # (), (N, C)
    grads = two_layer_backward(dscores, cache)
    return loss, grads


class TwoLayerNet:
    """A thin holder of the two-layer network's parameters (no autograd involved).

    The initialization is :class:`~dlcv.mlp.MLP`'s, that is ``nn.Linear``'s: every
    weight and bias of a layer with D_in inputs is uniform in
    :math:`[-1/\\sqrt{D_{in}}, 1/\\sqrt{D_{in}}]`.

    Args:
        in_features: D, the input dimension.
        hidden_features: H, the width of the hidden layer.
        out_features: C, the number of classes.
        generator: the RNG that draws the initial weights.
        device: where the parameters live.
        dtype: their floating dtype (float32 by default).
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        *,
        generator: torch.Generator,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        sizes = {"in": in_features, "hidden": hidden_features, "out": out_features}
        D, H, C = (check_positive_int(n, f"{k}_features") for k, n in sizes.items())
        # nn.Linear's initialization, drawn by the MLP twin (its keys are PARAM_NAMES)
        twin = MLP([D, H, C], generator=generator, device=device, dtype=dtype)
        self.params: Params = {k: v.detach() for k, v in twin.state_dict().items()}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C) scores for (N, D) inputs."""
        return two_layer_forward(self.params, x)[0]

    def loss(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, Params]:
        """``(loss, grads)``, see :func:`two_layer_loss`."""
        return two_layer_loss(self.params, x, target)

    def state_dict(self) -> Params:
        """The parameters under ``nn.Sequential``'s names (the tensors themselves)."""
        return dict(self.params)

    def load_state_dict(self, state_dict: Params) -> None:
        """Copy parameters in, e.g. from the ``nn.Sequential`` twin's state dict."""
        _check_params(dict(state_dict))
        for name, value in state_dict.items():
            if value.shape != self.params[name].shape:
                raise ValueError(
                    f"{name} must have shape {tuple(self.params[name].shape)}, "
                    f"got {tuple(value.shape)}"
                )
        for name, value in state_dict.items():
            self.params[name] = value.detach().to(self.params[name]).clone()


# ---- a manual layer inside PyTorch's autograd ----------------------------------------
class LinearFunction(torch.autograd.Function):
    """``F.linear`` as a ``torch.autograd.Function`` over our two functions.

    ``LinearFunction.apply(x, weight, bias)`` records one node in PyTorch's
    graph; when autograd reaches it, it calls :func:`linear_backward` with the
    upstream gradient.
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out, cache = linear_forward(x, weight, bias)
        ctx.save_for_backward(*cache)  # x, weight, bias (bias may be None)
        return out

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, dout: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight, bias = ctx.saved_tensors
        dx, dweight, dbias = linear_backward(dout, (x, weight, bias))
        needs = ctx.needs_input_grad  # skip what autograd does not ask for
        return (
            dx if needs[0] else None,
            dweight if needs[1] else None,
            dbias if bias is not None and needs[2] else None,
        )


class Linear(nn.Linear):
    """``nn.Linear`` with our forward and backward, through :class:`LinearFunction`.

    Same parameters, initialization and state dict as ``nn.Linear``: it drops into any
    PyTorch model, and ``load_state_dict`` works both ways.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LinearFunction.apply(x, self.weight, self.bias)
