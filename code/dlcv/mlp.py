r"""Fully-connected neural networks (lecture 5, chapter "Neural networks").

The chapter ``book/neural_networks.md`` teaches this module: the limits of linear classifiers,
a fixed feature transform that works around them, and the multilayer perceptron (MLP) that
learns its own features.

The equations are numbered as in the chapter. A linear classifier scores an input
:math:`x \in \mathbb{R}^D` as

.. math::

    f(x) = W x + b \quad (1)

The feature transform to polar coordinates, for a point :math:`(x_1, x_2)`:

.. math::

    r = \sqrt{x_1^2 + x_2^2}, \qquad \theta = \operatorname{atan2}(x_2, x_1) \in (-\pi, \pi]
    \quad (2)

A two-layer network puts a hidden layer of :math:`H` units with a non-linearity between two
linear maps, :math:`W_1 \in \mathbb{R}^{H \times D}` and :math:`W_2 \in \mathbb{R}^{C \times H}`:

.. math::

    f(x) = W_2 \max(0, W_1 x + b_1) + b_2 \quad (3)

and a network of :math:`L` layers with activation :math:`\sigma` repeats the pattern:

.. math::

    h_0 = x, \qquad h_\ell = \sigma(W_\ell h_{\ell-1} + b_\ell) \ (\ell < L), \qquad
    f(x) = W_L h_{L-1} + b_L \quad (4)

Without the non-linearity the layers collapse into one linear map:

.. math::

    W_2 (W_1 x + b_1) + b_2 = (W_2 W_1)\, x + (W_2 b_1 + b_2) \quad (5)

A bump of height 1 on :math:`[a, b]` with ramps of width :math:`\delta`, built from four
ReLUs, the constructive step of universal approximation:

.. math::

    \operatorname{bump}(x) = \tfrac{1}{\delta}\big(\max(0, x - a) - \max(0, x - a - \delta)
    - \max(0, x - b + \delta) + \max(0, x - b)\big) \quad (6)

The full loss with an L2 penalty on the weight matrices (not the biases):

.. math::

    L = \frac1N \sum_{i=1}^N L_i\big(f(x_i), y_i\big)
    + \lambda \sum_\ell \sum_{k,l} (W_\ell)_{k,l}^2 \quad (7)

The code stores examples as rows, so a batch :math:`X \in \mathbb{R}^{N \times D}` is
multiplied on the right by :math:`W^\top`, as in :class:`torch.nn.Linear`.

Papers: Rumelhart, Hinton and Williams (1986) for multilayer networks trained by gradient
descent; Cybenko (1989), Hornik (1991) and Leshno et al. (1993) for universal approximation;
Nair and Hinton (2010) for the ReLU; Montufar et al. (2014) and Telgarsky (2016) for the
linear regions of deep ReLU networks.

Torch counterparts: :class:`torch.nn.Sequential` of :class:`torch.nn.Linear` and activation
modules for :class:`MLP` (the parameter names match, so ``load_state_dict`` works both ways);
:func:`torch.nn.functional.linear` for one layer; ``torchvision.ops.MLP`` (which also puts a
``Dropout`` after every linear layer, so its module indices differ). Scikit-learn:
``sklearn.neural_network.MLPClassifier``; ``sklearn.datasets.make_circles`` for rings.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = [
    "MLP",
    "bump_mlp",
    "compose_linear",
    "make_rings",
    "make_spirals",
    "mlp_forward",
    "param_groups_weight_decay",
    "permute_hidden",
    "polar_features",
    "polar_to_cartesian",
    "sawtooth_mlp",
]

Activation = Callable[[torch.Tensor], torch.Tensor]


def _check_layers(
    weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor | None]
) -> None:
    """Check that the layers chain: each weight is (D_out, D_in) and D_in is the last D_out."""
    if len(weights) == 0:
        raise ValueError(
            "weights must hold at least one (D_out, D_in) matrix, got none"
        )
    if len(biases) != len(weights):
        raise ValueError(
            f"biases must have one entry per weight ({len(weights)}), got {len(biases)}"
        )
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        if not isinstance(w, torch.Tensor) or w.dim() != 2:
            got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise ValueError(f"weights[{i}] must be a (D_out, D_in) matrix, got {got}")
        if i > 0 and w.shape[1] != weights[i - 1].shape[0]:
            raise ValueError(
                f"weights[{i}] must have D_in = {weights[i - 1].shape[0]} (the D_out of "
                f"weights[{i - 1}]), got shape {tuple(w.shape)}"
            )
        if b is not None and tuple(b.shape) != (w.shape[0],):
            raise ValueError(
                f"biases[{i}] must have shape ({w.shape[0]},), got {tuple(b.shape)}"
            )


def mlp_forward(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    *,
    activation: Activation | Sequence[Activation] = torch.relu,
) -> torch.Tensor:
    """Class scores of a fully-connected network, Eq. (4).

    With two layers and ``activation=torch.relu`` this is Eq. (3).

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
    _check_layers(weights, biases)
    L = len(weights)
    if isinstance(activation, Sequence):
        if len(activation) != L - 1:
            raise ValueError(
                f"activation needs one callable per hidden layer ({L - 1}), "
                f"got {len(activation)}"
            )
        activations = list(activation)
    else:
        activations = [activation] * (L - 1)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    D_0 = weights[0].shape[1]
    if x.dim() == 0 or x.shape[-1] != D_0:
        raise ValueError(f"x must have shape (N, {D_0}), got {tuple(x.shape)}")
    if x.dtype != weights[0].dtype:
        raise TypeError(
            f"x must have the weights' dtype {weights[0].dtype}, got {x.dtype}"
        )
    h = x  # h_0 = x: (N, D_0)
    for l, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w.T  # (N, D_l) @ (D_l, D_{l+1}) -> (N, D_{l+1})
        if b is not None:
            h = h + b  # Eq. (4): W_l h_{l-1} + b_l; b broadcast over rows
        if l < L - 1:
            h = activations[l](h)  # Eq. (4): h_l = sigma(...)
    return h  # Eq. (4): f(x) = W_L h_{L-1} + b_L


class MLP(nn.Module):
    """A fully-connected network: linear layers with an activation between them, Eq. (4).

    ``MLP([784, 100, 10], activation=nn.ReLU)`` is Eq. (3) with D = 784, H = 100, C = 10, and
    holds the same parameters, under the same names (``0.weight``, ``0.bias``, ``2.weight``,
    ``2.bias``), as its torch twin ``nn.Sequential(nn.Linear(784, 100), nn.ReLU(),
    nn.Linear(100, 10))``, so ``load_state_dict`` works in both directions. ``MLP([D, C])``
    is a linear classifier, Eq. (1).

    Args:
        sizes: layer widths ``[D_0, D_1, ..., D_L]``: input, hidden layers, output.
        activation: a module class (or any callable that returns a fresh module), called
            once per hidden layer, e.g. ``nn.ReLU``, ``nn.Tanh``, ``nn.Identity``.
        bias: whether the linear layers have biases.
        generator: if given, draws the initial weights and biases from
            U(-1/sqrt(D_in), 1/sqrt(D_in)), the distribution :class:`torch.nn.Linear` uses,
            with this generator instead of the global RNG.
        device, dtype: where and in what precision the parameters live.

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
        sizes = list(sizes)
        if len(sizes) < 2 or any(
            not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes
        ):
            raise ValueError(
                f"sizes must list at least two positive ints [D_in, ..., D_out], "
                f"got {sizes!r}"
            )
        if isinstance(activation, nn.Module):
            raise TypeError(
                f"activation must be a module class such as nn.ReLU, got the instance "
                f"{activation!r}; pass the class so that each layer gets its own"
            )
        if not callable(activation):
            raise TypeError(
                f"activation must be a module class such as nn.ReLU, "
                f"got {type(activation).__name__}"
            )
        self.sizes = tuple(sizes)
        L = len(sizes) - 1
        for l in range(L):
            # Linear layers at even indices, activations at odd ones, as in nn.Sequential.
            layer = nn.Linear(
                sizes[l], sizes[l + 1], bias=bias, device=device, dtype=dtype
            )
            self.add_module(str(2 * l), layer)
            if l < L - 1:
                try:
                    act = activation()
                except TypeError as err:
                    raise TypeError(
                        f"activation must be a module class such as nn.ReLU, callable "
                        f"with no arguments; {activation!r}() failed: {err}"
                    ) from err
                if not isinstance(act, nn.Module):
                    raise TypeError(
                        f"activation() must return an nn.Module, got {type(act).__name__}"
                    )
                # a parametric activation (nn.PReLU) follows the layers' device and dtype
                self.add_module(str(2 * l + 1), act.to(device=device, dtype=dtype))
        if generator is not None:
            self.reset_parameters(generator=generator)

    @torch.no_grad()
    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Draw weights and biases from U(-1/sqrt(D_in), 1/sqrt(D_in)), as nn.Linear does.

        The bound equals that of nn.Linear's ``kaiming_uniform_(a=sqrt(5))``.
        """
        for layer in self.linears:
            bound = 1 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                if p is None:
                    continue
                if generator is None:
                    nn.init.uniform_(p, -bound, bound)
                else:
                    # Draw where the generator lives, then copy: a CPU generator gives the
                    # same initial network on every device.
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
        """The idx-th module, counting as ``nn.Sequential`` does (linear layers even)."""
        return list(self.children())[idx]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = self.linears
        return mlp_forward(  # Eq. (4)
            x,
            [layer.weight for layer in layers],
            [layer.bias for layer in layers],
            activation=self.activations,
        )


def compose_linear(
    weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor | None]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The single linear map that a stack of linear layers with no activation computes.

    Applies Eq. (5) layer by layer: ``W = W_L ... W_2 W_1`` and
    ``b = W_L (... (W_2 b_1 + b_2) ...) + b_L``.

    Args:
        weights: L matrices, ``weights[l]`` of shape (D_{l+1}, D_l).
        biases: L vectors of shape (D_{l+1},), or None.

    Returns:
        ``(W, b)`` of shapes (D_L, D_0) and (D_L,), so that the stack equals
        ``x @ W.T + b``.
    """
    _check_layers(weights, biases)
    W = weights[0]
    b = biases[0] if biases[0] is not None else W.new_zeros(W.shape[0])
    for w_l, b_l in zip(weights[1:], biases[1:], strict=True):
        W = w_l @ W  # Eq. (5): (D_{l+1}, D_l) @ (D_l, D_0) -> (D_{l+1}, D_0)
        b = w_l @ b  # Eq. (5): (D_{l+1}, D_l) @ (D_l,) -> (D_{l+1},)
        if b_l is not None:
            b = b + b_l
    return W, b


def permute_hidden(model: MLP, perm: torch.Tensor, *, layer: int = 0) -> MLP:
    """A copy of ``model`` whose hidden units after linear layer ``layer`` are reordered.

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
    L = len(model.linears)
    if not isinstance(layer, int) or not 0 <= layer < L - 1:
        raise ValueError(f"layer must be a hidden layer in [0, {L - 2}], got {layer!r}")
    H = model.sizes[layer + 1]
    if not isinstance(perm, torch.Tensor) or not torch.equal(
        perm.sort().values.cpu(), torch.arange(H)
    ):
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


def param_groups_weight_decay(
    model: nn.Module, *, weight_decay: float
) -> list[dict[str, object]]:
    r"""Parameter groups that decay the weight matrices but not the biases.

    The L2 penalty of Eq. (7), :math:`\lambda \sum W^2`, adds
    :math:`2 \lambda W` to the gradient of each weight matrix; a torch
    optimizer's ``weight_decay`` adds ``weight_decay * W``, so pass
    ``weight_decay = 2 * lambda``. Parameters with one dimension or fewer
    (biases, the scales of normalization layers) are not decayed.

    Counterpart: ``timm.optim.param_groups_weight_decay``.

    Returns:
        Two groups for any ``torch.optim`` optimizer: the matrices with
        ``weight_decay``, the rest with 0.
    """
    if not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": float(weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _check_points(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.dim() < 1 or x.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {tuple(x.shape)}")


def polar_features(x: torch.Tensor) -> torch.Tensor:
    """Map 2-D points to polar coordinates (r, theta), Eq. (2).

    A fixed, non-linear feature transform: two classes on concentric rings,
    which no line separates in (x_1, x_2), are separated by the line
    r = const in (r, theta).

    Args:
        x: (N, 2) points (x_1, x_2), or (..., 2).

    Returns:
        (N, 2) features: the radius r >= 0 and the angle theta in (-pi, pi].
    """
    _check_points(x, "x")
    x1, x2 = x.unbind(-1)  # (N,), (N,)
    r = torch.hypot(x1, x2)  # Eq. (2), with no overflow for large x
    theta = torch.atan2(x2, x1)  # Eq. (2): the angle of (x1, x2)
    return torch.stack([r, theta], dim=-1)  # (N, 2)


def polar_to_cartesian(features: torch.Tensor) -> torch.Tensor:
    """Invert :func:`polar_features`: (r, theta) -> (r cos theta, r sin theta).

    Args:
        features: (N, 2) polar coordinates, or (..., 2).

    Returns:
        (N, 2) points (x_1, x_2).
    """
    _check_points(features, "features")
    r, theta = features.unbind(-1)  # (N,), (N,)
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)  # (N, 2)


def _check_n(n: int, classes: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < classes:
        raise ValueError(f"n must be an int >= {classes} (one per class), got {n!r}")


def _check_noise(noise: float) -> None:
    if not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")


def make_rings(
    n: int,
    *,
    radii: Sequence[float] = (1.0, 2.0),
    noise: float = 0.15,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concentric rings, one class per ring: no line separates them.

    Example i belongs to class ``i % C`` for C = ``len(radii)``; its angle is uniform on
    [0, 2 pi) and its radius is the class's radius plus Gaussian noise of std ``noise``.
    Counterpart: ``sklearn.datasets.make_circles`` (two rings, noise added to x and y).

    Args:
        n: number of points, at least one per ring.
        radii: the C ring radii.
        noise: standard deviation of the radial noise.
        generator: the RNG (a CPU generator); the same seed gives the same data.
        device, dtype: of the returned tensors (drawn on the CPU, then moved).

    Returns:
        ``(x, y)``: (n, 2) points and (n,) int64 labels in 0..C-1.
    """
    radii = [float(r) for r in radii]
    if len(radii) < 2 or min(radii) <= 0:
        raise ValueError(f"radii must hold at least two positive radii, got {radii!r}")
    _check_n(n, len(radii))
    _check_noise(noise)
    y = torch.arange(n) % len(radii)  # (n,) classes in turn
    theta = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    r = torch.tensor(radii, dtype=torch.float64)[y]  # (n,) radius of each point's ring
    r = r + noise * torch.randn(n, generator=generator, dtype=torch.float64)
    x = polar_to_cartesian(torch.stack([r, theta], dim=1))  # (n, 2)
    return x.to(device=device, dtype=dtype), y.to(device)


def make_spirals(
    n: int,
    *,
    classes: int = 3,
    turns: float = 0.75,
    noise: float = 0.2,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved spiral arms, one class per arm (the CS231n toy data set).

    Example i belongs to class k = ``i % classes``. Along its arm the radius t runs from 0 to
    1 in equal steps, and the angle is ``2 pi (turns t + k / classes)`` plus Gaussian noise
    of std ``noise`` (radians) times t, so the arms blur towards the rim.

    Args:
        n: number of points, at least one per class.
        classes: number of arms, C.
        turns: how many full turns each arm makes.
        noise: standard deviation of the angular noise at the rim.
        generator: the RNG (a CPU generator); the same seed gives the same data.
        device, dtype: of the returned tensors (drawn on the CPU, then moved).

    Returns:
        ``(x, y)``: (n, 2) points in the unit disc and (n,) int64 labels in 0..C-1.
    """
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    _check_n(n, classes)
    _check_noise(noise)
    y = torch.arange(n) % classes  # (n,)
    t = (torch.arange(n) // classes).double() / max(
        1, (n - 1) // classes
    )  # (n,) in [0, 1]
    theta = 2 * math.pi * (turns * t + y.double() / classes)
    theta = theta + noise * t * torch.randn(n, generator=generator, dtype=torch.float64)
    x = polar_to_cartesian(torch.stack([t, theta], dim=1))  # (n, 2)
    return x.to(device=device, dtype=dtype), y.to(device)


def bump_mlp(edges: torch.Tensor, heights: torch.Tensor, *, ramp: float) -> MLP:
    """A two-layer ReLU network that sums K bumps, four hidden units each, Eq. (6).

    Bump k has height ``heights[k]`` on the interval ``[edges[k], edges[k + 1]]``. Its
    ramps of width ``ramp`` are centred on the edges, so where bump k falls, bump k + 1
    rises, and the network interpolates linearly between neighbouring heights. With
    ``ramp`` equal to the interval width the output is the piecewise-linear interpolation
    of the heights at the interval centres; with a small ``ramp`` it is a staircase.
    Outside ``[edges[0] - ramp / 2, edges[-1] + ramp / 2]`` the output is 0.

    Args:
        edges: (K + 1,) increasing interval edges.
        heights: (K,) bump heights.
        ramp: ramp width delta, 0 < delta <= the narrowest interval.

    Returns:
        ``MLP([1, 4 K, 1])`` (ReLU) in the dtype and on the device of ``edges``; it maps
        (N, 1) inputs to (N, 1) outputs.
    """
    if not isinstance(edges, torch.Tensor) or edges.dim() != 1 or len(edges) < 2:
        got = tuple(edges.shape) if isinstance(edges, torch.Tensor) else type(edges)
        raise ValueError(f"edges must have shape (K + 1,) with K >= 1, got {got}")
    K = len(edges) - 1
    if not isinstance(heights, torch.Tensor) or tuple(heights.shape) != (K,):
        got = tuple(heights.shape) if isinstance(heights, torch.Tensor) else heights
        raise ValueError(f"heights must have shape ({K},), got {got}")
    widths = edges[1:] - edges[:-1]  # (K,)
    if not (widths > 0).all():
        raise ValueError(f"edges must increase, got {edges.tolist()}")
    if not 0 < ramp <= widths.min().item() * (1 + 1e-6):  # rounding of the edges
        raise ValueError(
            f"ramp must be in (0, {widths.min().item():g}] (the narrowest interval), "
            f"got {ramp!r}"
        )
    a = edges[:-1] - ramp / 2  # (K,) where each bump starts to rise
    b = edges[1:] + ramp / 2  # (K,) where it is back to 0
    # Eq. (6): hidden unit j computes max(0, x - t_j) for the 4 thresholds of each bump.
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

    which folds the interval in half and stretches it back to [0, 1]. The network computes
    :math:`t^{(k)} = t \circ \dots \circ t` (k = ``depth``), a sawtooth with
    :math:`2^{k-1}` teeth and :math:`2^k` linear pieces from only :math:`2k` hidden units;
    a network with one hidden layer of n ReLUs has at most n + 1 pieces on a line
    (Telgarsky, 2016; Montufar et al., 2014).

    Returns:
        ``MLP([1, 2, ..., 2, 1])`` with ``depth`` hidden layers; (N, 1) -> (N, 1).
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
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
