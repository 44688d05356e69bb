r"""Fully-connected neural networks (lecture 5, chapter "Neural networks").

Taught by the chapter "Neural networks" (``book/neural_networks.md``): the limits of
linear classifiers, a fixed feature transform that works around them, and the multilayer
perceptron (MLP) that learns its own features. ``Eq. (5.k)`` tags are the chapter's
equation numbers: (5.1) ``nn-linear``, (5.2) ``nn-polar``, (5.3) ``nn-two-layer``,
(5.4) ``nn-mlp``, (5.5) ``nn-collapse``, (5.6) ``nn-bump`` and (5.7) ``nn-l2-loss``.

The code stores examples as rows, so a batch :math:`X \in \mathbb{R}^{N \times D}` is
multiplied on the right by :math:`W^\top`, as in :class:`torch.nn.Linear`.

Torch counterparts: :class:`torch.nn.Sequential` of :class:`torch.nn.Linear` and
activation modules for :class:`MLP` (the parameter names match, so ``load_state_dict``
works both ways); :func:`torch.nn.functional.linear` for one layer;
``torchvision.ops.MLP`` (which adds a ``Dropout`` after every linear layer, so its
indices differ). scikit-learn: ``sklearn.neural_network.MLPClassifier``. Papers:
Rumelhart, Hinton and Williams (1986); Cybenko (1989), Hornik (1991) and Leshno et al.
(1993) for universal approximation; Nair and Hinton (2010) for the ReLU; Montufar et al.
(2014) and Telgarsky (2016) for the linear regions of deep ReLU networks.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
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
    "MLP",
    "bump_mlp",
    "compose_linear",
    "mlp_forward",
    "permute_hidden",
    "polar_features",
    "polar_to_cartesian",
    "sawtooth_mlp",
]

Activation = Callable[[torch.Tensor], torch.Tensor]


def _check_network(
    x: torch.Tensor | None,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    activation: Activation | Sequence[Activation] = torch.relu,
) -> list[Activation]:
    """Check that the layers chain and fit x; return one activation per hidden layer."""
    L = check_positive_int(len(weights), "the number of weight matrices")
    check_len(biases, "biases", L, what="entries (one per weight)")
    d_in: int | str = "D_in"
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        check_float_tensor(w, f"weights[{i}]")
        check_shape(w, f"weights[{i}]", ("D_out", d_in))
        if b is not None:
            check_shape(
                check_float_tensor(b, f"biases[{i}]"), f"biases[{i}]", (len(w),)
            )
        d_in = w.shape[0]
    if not isinstance(activation, Sequence):
        activation = [activation] * (L - 1)
    check_len(activation, "activation", L - 1, what="callables (one per hidden layer)")
    if x is not None:
        check_shape(check_float_tensor(x, "x"), "x", ("...", weights[0].shape[1]))
        check_tensors_match(x=x, **{"weights[0]": weights[0]})
    return list(activation)


def _check_activation(activation: Callable[[], nn.Module]) -> None:
    """``activation`` must be a module class such as ``nn.ReLU``, not an instance."""
    if isinstance(activation, nn.Module):
        raise TypeError(
            f"activation must be a module class such as nn.ReLU, got the instance "
            f"{activation!r}; pass the class so that each layer gets its own"
        )
    check_callable(activation, "activation", signature="activation(), e.g. nn.ReLU")


def _new_activation(activation: Callable[[], nn.Module]) -> nn.Module:
    """A fresh activation module from its class."""
    try:
        act = activation()
    except TypeError as err:
        raise TypeError(
            f"activation must be a module class such as nn.ReLU, callable with no "
            f"arguments; {activation!r}() failed: {err}"
        ) from err
    if not isinstance(act, nn.Module):
        raise TypeError(
            f"activation() must return an nn.Module, got {type(act).__name__}"
        )
    return act


def mlp_forward(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    *,
    activation: Activation | Sequence[Activation] = torch.relu,
) -> torch.Tensor:
    """Class scores of a fully-connected network, Eq. (5.4).

    With two layers and ``activation=torch.relu`` this is Eq. (5.3).

    Args:
        x: (N, D_0) inputs, or (..., D_0) like :class:`torch.nn.Linear`.
        weights: L matrices; ``weights[l]`` is (D_{l+1}, D_l), the torch
            layout.
        biases: L vectors of shape (D_{l+1},), or None for no bias.
        activation: the non-linearity sigma after every layer but the last:
            one callable for all hidden layers, or L - 1 callables.

    Returns:
        (N, D_L) scores, e.g. (N, C) for C classes.
    """
    activations = _check_network(x, weights, biases, activation)
    L = len(weights)
    h = x  # h_0 = x: (N, D_0)
    for l, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w.T  # (N, D_l) @ (D_l, D_{l+1}) -> (N, D_{l+1})
        if b is not None:
            h = h + b  # Eq. (5.4): W_l h_{l-1} + b_l; b broadcast over rows
        if l < L - 1:
            h = activations[l](h)  # Eq. (5.4): h_l = sigma(...)
    return h  # Eq. (5.4): f(x) = W_L h_{L-1} + b_L


class MLP(nn.Module):
    """A fully-connected network, Eq. (5.4): linear layers with activations between.

    ``MLP([784, 100, 10], activation=nn.ReLU)`` is Eq. (5.3) with D = 784, H = 100,
    C = 10, and holds the same parameters, under the same names (``0.weight``,
    ``0.bias``, ``2.weight``, ``2.bias``), as its torch twin
    ``nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))``, so
    ``load_state_dict`` works in both directions. ``MLP([D, C])`` is a linear
    classifier, Eq. (5.1).

    Args:
        sizes: layer widths ``[D_0, D_1, ..., D_L]``: input, hidden layers, output.
        activation: a module class (or any callable that returns a fresh module),
            called once per hidden layer, e.g. ``nn.ReLU``, ``nn.Tanh``,
            ``nn.Identity``.
        bias: whether the linear layers have biases.
        generator: if given, draws the initial weights and biases from
            U(-1/sqrt(D_in), 1/sqrt(D_in)), the distribution :class:`torch.nn.Linear`
            uses, with this generator instead of the global RNG.
        device: where the parameters live.
        dtype: the parameters' floating dtype.

    Shapes: (N, D_0) -> (N, D_L), or (..., D_0) -> (..., D_L).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: Callable[[], nn.Module] = nn.ReLU,
        bias: bool = True,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        sizes = [check_positive_int(d, f"sizes[{i}]") for i, d in enumerate(sizes)]
        check_positive_int(len(sizes), "len(sizes), the number of widths", minimum=2)
        _check_activation(activation)
        self.sizes = tuple(sizes)
        L = len(sizes) - 1
        for l in range(L):
            # Linear layers at even indices, activations at odd ones, as in
            # nn.Sequential.
            layer = nn.Linear(
                sizes[l], sizes[l + 1], bias=bias, device=device, dtype=dtype
            )
            self.add_module(str(2 * l), layer)
            if l < L - 1:
                # A parametric activation (nn.PReLU) follows the layers' device and
                # dtype.
                act = _new_activation(activation).to(device=device, dtype=dtype)
                self.add_module(str(2 * l + 1), act)
        if generator is not None:
            self.reset_parameters(generator=generator)

    @torch.no_grad()
    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Draw weights and biases from U(-1/sqrt(D_in), 1/sqrt(D_in)), like nn.Linear.

        The bound equals that of nn.Linear's ``kaiming_uniform_(a=sqrt(5))``.

        Args:
            generator: the RNG to draw with; ``None`` for the global RNG.
        """
        for layer in self.linears:
            bound = 1 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                if p is None:
                    continue
                if generator is None:
                    nn.init.uniform_(p, -bound, bound)
                else:
                    # Draw where the generator lives, then copy: a CPU generator
                    # gives the same initial network on every device.
                    u = torch.empty(p.shape, dtype=p.dtype, device=generator.device)
                    p.copy_(u.uniform_(-bound, bound, generator=generator))

    @property
    def linears(self) -> list[nn.Linear]:
        """The L linear layers, first to last."""
        return [m for m in self.children() if isinstance(m, nn.Linear)]

    @property
    def activations(self) -> list[nn.Module]:
        """The L - 1 activation modules, one after each hidden layer."""
        return list(self.children())[1::2]

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, idx: int) -> nn.Module:
        """The idx-th module, counted as in ``nn.Sequential`` (linear layers even)."""
        return list(self.children())[idx]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = self.linears
        weights = [layer.weight for layer in layers]
        biases = [layer.bias for layer in layers]
        return mlp_forward(x, weights, biases, activation=self.activations)  # Eq. (5.4)


def compose_linear(
    weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor | None]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The single linear map that a stack of linear layers with no activation computes.

    Applies Eq. (5.5) layer by layer: ``W = W_L ... W_2 W_1`` and
    ``b = W_L (... (W_2 b_1 + b_2) ...) + b_L``.

    Args:
        weights: L matrices, ``weights[l]`` of shape (D_{l+1}, D_l).
        biases: L vectors of shape (D_{l+1},), or None.

    Returns:
        ``(W, b)`` of shapes (D_L, D_0) and (D_L,), so that the stack equals
        ``x @ W.T + b``.
    """
    _check_network(None, weights, biases)
    W = weights[0]
    b = biases[0] if biases[0] is not None else W.new_zeros(W.shape[0])
    for w_l, b_l in zip(weights[1:], biases[1:], strict=True):
        W = w_l @ W  # Eq. (5.5): (D_{l+1}, D_l) @ (D_l, D_0) -> (D_{l+1}, D_0)
        b = w_l @ b  # Eq. (5.5): (D_{l+1}, D_l) @ (D_l,) -> (D_{l+1},)
        if b_l is not None:
            b = b + b_l
    return W, b


def permute_hidden(model: MLP, perm: torch.Tensor, *, layer: int = 0) -> MLP:
    """A copy of ``model`` with the hidden units after linear layer ``layer`` reordered.

    Hidden unit j of the copy is unit ``perm[j]`` of the original: the rows of
    ``W_{layer}`` and ``b_{layer}`` and the columns of ``W_{layer + 1}`` are permuted
    together, so the copy computes exactly the same function with different parameters.
    That symmetry is why the loss of a network cannot be convex in its parameters.
    The activation must act on each unit separately (ReLU, tanh; not a PReLU with one
    slope per channel).

    Args:
        model: the network.
        perm: (D_{layer+1},) a permutation of the hidden units.
        layer: which hidden layer, 0 for the first.

    Returns:
        A new :class:`MLP`; ``model`` is unchanged.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an MLP, got {type(model).__name__}")
    check_in(layer, "layer", range(len(model.linears) - 1))  # a hidden layer
    H = model.sizes[layer + 1]
    if not torch.equal(check_tensor(perm, "perm").sort().values.cpu(), torch.arange(H)):
        raise ValueError(f"perm must be a permutation of range({H}), got {perm!r}")
    out = copy.deepcopy(model)
    first, second = out.linears[layer], out.linears[layer + 1]
    perm = perm.to(first.weight.device)
    with torch.no_grad():
        first.weight.copy_(first.weight[perm])  # (H, D_in): rows reordered
        if first.bias is not None:
            first.bias.copy_(first.bias[perm])  # (H,)
        second.weight.copy_(second.weight[:, perm])  # (D_out, H): columns reordered
    return out


def polar_features(x: torch.Tensor) -> torch.Tensor:
    """Map 2-D points to polar coordinates (r, theta), Eq. (5.2).

    A fixed, non-linear feature transform: two classes on concentric rings,
    which no line separates in (x_1, x_2), are separated by the line
    r = const in (r, theta).

    Args:
        x: (N, 2) points (x_1, x_2), or (..., 2).

    Returns:
        (N, 2) features: the radius r >= 0 and the angle theta in (-pi, pi].
    """
    check_shape(check_float_tensor(x, "x"), "x", ("...", 2))
    x1, x2 = x.unbind(-1)  # (N,), (N,)
    r = torch.hypot(x1, x2)  # Eq. (5.2), with no overflow for large x
    theta = torch.atan2(x2, x1)  # Eq. (5.2): the angle of (x1, x2)
    return torch.stack([r, theta], dim=-1)  # (N, 2)


def polar_to_cartesian(features: torch.Tensor) -> torch.Tensor:
    """Invert :func:`polar_features`: (r, theta) -> (r cos theta, r sin theta).

    Args:
        features: (N, 2) polar coordinates, or (..., 2).

    Returns:
        (N, 2) points (x_1, x_2).
    """
    check_shape(check_float_tensor(features, "features"), "features", ("...", 2))
    r, theta = features.unbind(-1)  # (N,), (N,)
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)  # (N, 2)


def bump_mlp(edges: torch.Tensor, heights: torch.Tensor, *, ramp: float) -> MLP:
    """A two-layer ReLU network that sums K bumps, four hidden units each, Eq. (5.6).

    Bump k has height ``heights[k]`` on the interval ``[edges[k], edges[k + 1]]``. Its
    ramps of width ``ramp`` are centred on the edges, so where bump k falls, bump k + 1
    rises, and the network interpolates linearly between neighbouring heights. With
    ``ramp`` equal to the interval width the output is the piecewise-linear
    interpolation of the heights at the interval centres; with a small ``ramp`` it is a
    staircase.
    Outside ``[edges[0] - ramp / 2, edges[-1] + ramp / 2]`` the output is 0.

    Args:
        edges: (K + 1,) increasing interval edges.
        heights: (K,) bump heights.
        ramp: ramp width delta, 0 < delta <= the narrowest interval.

    Returns:
        ``MLP([1, 4 K, 1])`` (ReLU) in the dtype and on the device of ``edges``; it maps
        (N, 1) inputs to (N, 1) outputs.
    """
    K = len(check_float_tensor(edges, "edges", ndim=1, finite=True)) - 1
    check_positive_int(K, "K, the number of intervals (len(edges) - 1)")
    check_shape(check_tensor(heights, "heights"), "heights", (K,))
    widths = edges[1:] - edges[:-1]  # (K,)
    if not (widths > 0).all():
        raise ValueError(f"edges must increase, got {edges.tolist()}")
    # 1e-6: the rounding of the edges; the range check rejects NaN
    check_finite_number(
        ramp, "ramp", low=0, low_open=True, high=widths.min().item() * (1 + 1e-6)
    )
    a = edges[:-1] - ramp / 2  # (K,) where each bump starts to rise
    b = edges[1:] + ramp / 2  # (K,) where it is back to 0
    # Eq. (5.6): hidden unit j computes max(0, x - t_j) for the 4 thresholds of each
    # bump.
    thresholds = torch.stack([a, a + ramp, b - ramp, b], dim=1)  # (K, 4)
    signs = edges.new_tensor([1.0, -1.0, -1.0, 1.0])  # (4,)
    out_w = heights.to(edges)[:, None] * signs / ramp  # (K, 4)
    model = MLP(
        [1, 4 * K, 1], activation=nn.ReLU, device=edges.device, dtype=edges.dtype
    )
    first, second = model.linears
    with torch.no_grad():
        first.weight.fill_(1.0)  # (4K, 1): every hidden unit sees x with slope 1
        first.bias.copy_(-thresholds.reshape(-1))  # (4K,): x - t_j
        second.weight.copy_(out_w.reshape(1, -1))  # (1, 4K): +-h_k / delta
        second.bias.zero_()
    return model


def sawtooth_mlp(
    depth: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> MLP:
    r"""A deep, narrow ReLU network that folds [0, 1] onto itself ``depth`` times.

    Each hidden layer of two ReLUs computes the tent map on [0, 1],

    .. math::

        t(x) = 2 \max(0, x) - 4 \max(0, x - \tfrac12)
        = \begin{cases} 2x & x \le \tfrac12 \\ 2 - 2x & x > \tfrac12 \end{cases}

    which folds the interval in half and stretches it back to [0, 1]. The network
    computes :math:`t^{(k)} = t \circ \dots \circ t` (k = ``depth``), a sawtooth with
    :math:`2^{k-1}` teeth and :math:`2^k` linear pieces from only :math:`2k` hidden
    units; a network with one hidden layer of n ReLUs has at most n + 1 pieces on a
    line (Telgarsky, 2016; Montufar et al., 2014).

    Returns:
        ``MLP([1, 2, ..., 2, 1])`` with ``depth`` hidden layers; (N, 1) -> (N, 1).
    """
    check_positive_int(depth, "depth")
    model = MLP([1, *[2] * depth, 1], device=device, dtype=dtype)
    layers = model.linears
    with torch.no_grad():
        # First layer: the two units see x and x - 1/2.
        layers[0].weight.copy_(layers[0].weight.new_tensor([[1.0], [1.0]]))  # (2, 1)
        fold = layers[0].weight.new_tensor([[2.0, -4.0]])  # (1, 2): t = 2 h_1 - 4 h_2
        shift = layers[0].weight.new_tensor([0.0, -0.5])  # (2,)
        layers[0].bias.copy_(shift)
        # Hidden to hidden: the next pre-activations are t and t - 1/2, from h.
        for layer in layers[1:-1]:
            layer.weight.copy_(torch.cat([fold, fold]))  # (2, 2)
            layer.bias.copy_(shift)
        layers[-1].weight.copy_(fold)  # (1, 2)
        layers[-1].bias.zero_()
    return model
