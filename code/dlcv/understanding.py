r"""Visualizing and understanding CNNs: saliency, CAMs, adversaries, Gram matrices.

Written for the chapter on visualizing and understanding (lecture 14). Every method
asks the same question of a trained classifier ``model`` (images ``(N, C, H, W)`` to
class scores ``(N, K)``): which pixels, or which features, make the score :math:`s_y`
of a class ``y`` what it is?

- Saliency (Simonyan, Vedaldi and Zisserman, 2014): the magnitude of the gradient,
  :math:`M_{ij} = \max_c |\partial s_y / \partial x_{cij}|` (:func:`saliency`).
- Guided backpropagation (Springenberg et al., 2015): the same gradient, but every ReLU
  passes back only positive gradients where its input was positive
  (:func:`guided_backprop`).
- Grad-CAM (Selvaraju et al., 2017): the feature maps :math:`A^k` of a layer weighted
  by their mean gradients, :math:`\alpha_k = \frac{1}{HW} \sum_{ij} \partial s_y /
  \partial A^k_{ij}`, then :math:`\mathrm{ReLU}(\sum_k \alpha_k A^k)`
  (:func:`grad_cam`).
- Occlusion (Zeiler and Fergus, 2014): the drop of :math:`s_y` when a square of the
  image is blanked, for every position of the square (:func:`occlusion`).
- Adversarial examples: the fast gradient sign method (Goodfellow, Shlens and Szegedy,
  2015), :math:`x' = \mathrm{clip}(x + \epsilon\, \mathrm{sign}(\nabla_x L))`
  (:func:`fgsm`), and projected gradient descent (Madry et al., 2018), its iterated
  form kept in the :math:`L_\infty` ball of radius :math:`\epsilon` (:func:`pgd`).
- Gram matrices (Gatys, Ecker and Bethge, 2015): the channel correlations
  :math:`G_{kl} = \frac{1}{HW} \sum_{ij} F_{kij} F_{lij}` that describe a texture
  (:func:`gram_matrix`), and the total variation that smooths a synthesized image
  (:func:`total_variation`).
- Class visualization and feature inversion by gradient ascent on the image
  (:func:`class_visualization`, :func:`invert_features`).

Torch has none of these built in (Captum, a separate library, has saliency, guided
backprop, Grad-CAM and occlusion); the tests check each against a hand computation on a
tiny network. The model is put in eval mode for the duration of a call and restored.

The chapter's equations, tagged in the code below: (14.1) ``und-occlusion``,
(14.2) ``und-saliency``, (14.3) ``und-guided``, (14.4) ``und-gradcam-weights``,
(14.5) ``und-gradcam``, (14.6) ``und-class-vis``, (14.7) ``und-tv``,
(14.8) ``und-inversion``, (14.9) ``und-fgsm``, (14.10) ``und-pgd`` and
(14.11) ``und-gram``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_float_tensor,
    check_labels,
    check_positive_int,
    check_tensor,
)
from dlcv.training import eval_mode

__all__ = [
    "class_visualization",
    "fgsm",
    "grad_cam",
    "gram_matrix",
    "guided_backprop",
    "invert_features",
    "occlusion",
    "pgd",
    "saliency",
    "total_variation",
]

Tensor = torch.Tensor


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_images(x: Any, name: str = "x") -> Tensor:
    return check_float_tensor(x, name, ndim=4, finite=True)


def _check_target(target: Any, n: int) -> Tensor:
    if isinstance(target, int) and not isinstance(target, bool):
        return torch.full((n,), check_positive_int(target, "target", minimum=0))
    return check_labels(target, "target", n=n)


def _class_scores(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    scores = model(x)  # (N, K)
    check_tensor(scores, "model(x)", ndim=2)
    if int(target.max()) >= scores.shape[1]:
        raise ValueError(
            f"target must be a class in [0, {scores.shape[1]}), got {int(target.max())}"
        )
    return scores.gather(1, target.to(scores.device)[:, None])[:, 0]  # s_y, (N,)


def saliency(model: nn.Module, x: Tensor, target: Tensor | int) -> Tensor:
    """The saliency map: how much each pixel's change would change the class score.

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``.
        x: the images, float ``(N, C, H, W)``.
        target: the class y of each image, int ``(N,)``, or one class for all.

    Returns:
        ``(N, H, W)``: :math:`\\max_c |\\partial s_y / \\partial x_{cij}|`.
    """
    _check_model(model)
    x = _check_images(x).detach().requires_grad_(True)
    target = _check_target(target, x.shape[0])
    with eval_mode(model):
        s = _class_scores(model, x, target)  # (N,)
        (grad,) = torch.autograd.grad(s.sum(), x)  # (N, C, H, W): images independent
    return grad.abs().amax(dim=1)  # Eq. (14.2): max_c |ds_y / dx_cij|, (N, H, W)


class _GuidedReLU(torch.autograd.Function):
    """ReLU whose backward passes only positive gradients where its input was > 0."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x > 0) * (grad > 0)  # Eq. (14.3)


@contextlib.contextmanager
def _guided_relus(model: nn.Module) -> Iterator[None]:
    """Make every ``nn.ReLU`` of ``model`` guided for the duration."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(
            "guided backpropagation needs nn.ReLU modules in the model, got none "
            "(functional F.relu calls cannot be guided)"
        )
    for m in relus:
        m.forward = _GuidedReLU.apply  # an instance attribute shadows the method
    try:
        yield
    finally:
        for m in relus:
            del m.forward


def guided_backprop(model: nn.Module, x: Tensor, target: Tensor | int) -> Tensor:
    """Guided backpropagation: the gradient of the class score through guided ReLUs.

    Every ``nn.ReLU`` module of ``model`` passes back a gradient only where both its
    input and the incoming gradient are positive; functional ``F.relu`` calls are not
    seen, so write the model with ``nn.ReLU`` modules.

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``, whose ReLUs
            are ``nn.ReLU`` modules.
        x: the images, float ``(N, C, H, W)``.
        target: the class y of each image, int ``(N,)``, or one class for all.

    Returns:
        ``(N, C, H, W)``: the guided gradient of :math:`s_y` with respect to ``x``.

    Raises:
        ValueError: if the model has no ``nn.ReLU`` module.
    """
    _check_model(model)
    x = _check_images(x).detach().requires_grad_(True)
    target = _check_target(target, x.shape[0])
    with eval_mode(model), _guided_relus(model):
        s = _class_scores(model, x, target)
        (grad,) = torch.autograd.grad(s.sum(), x)
    return grad


def grad_cam(
    model: nn.Module, layer: nn.Module, x: Tensor, target: Tensor | int
) -> Tensor:
    """Grad-CAM: a layer's feature maps weighted by the class score's mean gradients.

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``.
        layer: a submodule of ``model`` whose output is feature maps
            ``(N, C', H', W')``, usually the last convolutional block.
        x: the images, float ``(N, C, H, W)``.
        target: the class y of each image, int ``(N,)``, or one class for all.

    Returns:
        ``(N, H', W')``: :math:`\\mathrm{ReLU}(\\sum_k \\alpha_k A^k)` with
        :math:`\\alpha_k` the mean of :math:`\\partial s_y / \\partial A^k` over
        positions, at the layer's resolution (upsample it to draw it on the image).

    Raises:
        ValueError: if ``layer`` is not a submodule of ``model`` or its output is not
            4-D.
    """
    _check_model(model)
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        raise ValueError("layer must be a submodule of model")
    x = _check_images(x)
    target = _check_target(target, x.shape[0])
    saved: list[Tensor] = []

    def keep(module: nn.Module, inputs: Any, out: Tensor) -> Tensor:
        if not out.requires_grad:  # frozen parameters: make A a leaf to differentiate
            out = out.detach().requires_grad_(True)
        saved.append(out)
        return out  # the rest of the network computes from this A

    handle = layer.register_forward_hook(keep)
    try:
        with eval_mode(model):
            s = _class_scores(model, x, target)
    finally:
        handle.remove()
    A = saved[-1]  # (N, C', H', W')
    check_tensor(A, "the layer's output", ndim=4)
    (dA,) = torch.autograd.grad(s.sum(), A)
    alpha = dA.mean(dim=(2, 3), keepdim=True)  # Eq. (14.4): alpha_k, (N, C', 1, 1)
    return F.relu((alpha * A).sum(dim=1)).detach()  # Eq. (14.5), (N, H', W')


@torch.no_grad()
def occlusion(
    model: nn.Module,
    x: Tensor,
    target: Tensor | int,
    *,
    size: int = 8,
    stride: int = 4,
    fill: float = 0.0,
) -> Tensor:
    """Occlusion sensitivity: the class score's drop when a square is blanked.

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``.
        x: the images, float ``(N, C, H, W)``.
        target: the class y of each image, int ``(N,)``, or one class for all.
        size: the side of the square, in pixels.
        stride: the step between the squares' positions.
        fill: the value the square is filled with.

    Returns:
        ``(N, P, Q)`` with ``P = (H - size) // stride + 1`` (and Q alike across):
        entry ``(n, p, q)`` is :math:`s_y(x) - s_y(x')` where :math:`x'` is ``x`` with
        the square at rows ``p * stride`` and columns ``q * stride`` set to ``fill``.
    """
    _check_model(model)
    x = _check_images(x)
    N, _, H, W = x.shape
    target = _check_target(target, N)
    size = check_positive_int(size, "size", maximum=min(H, W))
    stride = check_positive_int(stride, "stride")
    fill = check_finite_number(fill, "fill")
    P, Q = (H - size) // stride + 1, (W - size) // stride + 1
    with eval_mode(model):
        base = _class_scores(model, x, target)  # (N,)
        drops = x.new_empty(N, P, Q)
        for p in range(P):
            for q in range(Q):
                x_occ = x.clone()
                rows = slice(p * stride, p * stride + size)
                cols = slice(q * stride, q * stride + size)
                x_occ[:, :, rows, cols] = fill
                # Eq. (14.1): the drop of the class score
                drops[:, p, q] = base - _class_scores(model, x_occ, target)
    return drops


def _check_attack(
    model: Any, x: Any, y: Any, eps: Any, low: Any, high: Any
) -> tuple[Tensor, Tensor, float, float, float]:
    _check_model(model)
    x = _check_images(x)
    y = check_labels(y, "y", n=x.shape[0])
    eps = check_finite_number(eps, "eps", low=0)
    low = check_finite_number(low, "low")
    high = check_finite_number(high, "high", low=low, low_open=True)
    return x, y, eps, low, high


def _loss_grad(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """The gradient of the summed cross-entropy with respect to the images."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y.to(x.device), reduction="sum")
    return torch.autograd.grad(loss, x)[0]


def fgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    low: float = 0.0,
    high: float = 1.0,
) -> Tensor:
    """The fast gradient sign method: one step of size eps up the loss, per pixel.

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``.
        x: the images, float ``(N, C, H, W)``, with pixels in ``[low, high]``.
        y: their true classes, int ``(N,)``.
        eps: the largest change of any pixel, :math:`\\epsilon \\ge 0`.
        low: the smallest valid pixel value.
        high: the largest valid pixel value.

    Returns:
        ``(N, C, H, W)``: :math:`\\mathrm{clip}_{[low, high]}(x + \\epsilon\\,
        \\mathrm{sign}(\\nabla_x L(x, y)))`, detached.
    """
    x, y, eps, low, high = _check_attack(model, x, y, eps, low, high)
    with eval_mode(model):
        grad = _loss_grad(model, x, y)
    return (x + eps * grad.sign()).clamp(low, high).detach()  # Eq. (14.9)


def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    alpha: float | None = None,
    steps: int = 10,
    random_start: bool = True,
    low: float = 0.0,
    high: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient descent in the L-infinity ball: iterated FGSM, kept close.

    Each step moves every pixel by ``alpha`` in the direction of the loss gradient's
    sign, then projects back into the box :math:`|x' - x| \\le \\epsilon` and into
    ``[low, high]``.

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``.
        x: the images, float ``(N, C, H, W)``, with pixels in ``[low, high]``.
        y: their true classes, int ``(N,)``.
        eps: the radius of the ball, :math:`\\epsilon \\ge 0`.
        alpha: the step size; ``2.5 * eps / steps`` by default (Madry et al.).
        steps: the number of steps.
        random_start: start from a uniform random point of the ball.
        low: the smallest valid pixel value.
        high: the largest valid pixel value.
        generator: the RNG of the random start (on the images' device).

    Returns:
        ``(N, C, H, W)``: the adversarial images, detached.
    """
    x, y, eps, low, high = _check_attack(model, x, y, eps, low, high)
    steps = check_positive_int(steps, "steps")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    alpha = check_finite_number(alpha, "alpha", low=0)
    if not isinstance(random_start, bool):
        raise TypeError(
            f"random_start must be a bool, got {type(random_start).__name__}"
        )
    x = x.detach()
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = (x + eps * (2 * noise - 1)).clamp(low, high)
    with eval_mode(model):
        for _ in range(steps):
            grad = _loss_grad(model, x_adv, y)
            x_adv = x_adv + alpha * grad.sign()  # Eq. (14.10): a step up the loss,
            x_adv = torch.minimum(torch.maximum(x_adv, x - eps), x + eps)  # projected
            x_adv = x_adv.clamp(low, high).detach()
    return x_adv


def gram_matrix(features: Tensor) -> Tensor:
    """Gram matrices of feature maps, the texture statistics of Gatys et al.

    Args:
        features: float ``(N, C, H, W)``.

    Returns:
        ``(N, C, C)``: :math:`G_{kl} = \\frac{1}{HW} \\sum_{ij} F_{kij} F_{lij}`.
    """
    check_float_tensor(features, "features", ndim=4)
    N, C, H, W = features.shape
    f = features.reshape(N, C, H * W)  # (N, C, HW)
    return f @ f.transpose(1, 2) / (H * W)  # Eq. (14.11), (N, C, C)


def total_variation(x: Tensor) -> Tensor:
    """The (squared) total variation of images: how far neighbours differ.

    Args:
        x: float ``(N, C, H, W)``.

    Returns:
        A scalar: the sum over images, channels and pixels of the squared differences
        between vertical and between horizontal neighbours.
    """
    check_float_tensor(x, "x", ndim=4)
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]  # (N, C, H - 1, W)
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]  # (N, C, H, W - 1)
    return dh.pow(2).sum() + dw.pow(2).sum()  # Eq. (14.7)


def _ascend(
    objective: Callable[[Tensor], Tensor],
    x0: Tensor,
    steps: int,
    lr: float,
    low: float,
    high: float,
) -> Tensor:
    """Maximize ``objective(x)`` over images by Adam from ``x0``, kept in the box."""
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (-objective(x)).backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(low, high)
    return x.detach()


def class_visualization(
    model: nn.Module,
    target: int | Tensor,
    shape: tuple[int, int, int],
    *,
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    tv: float = 1e-2,
    low: float = 0.0,
    high: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """An image that the model scores highly as ``target``: gradient ascent on pixels.

    Maximizes :math:`s_y(I) - \\lambda_2 \\|I\\|^2 - \\lambda_{TV} TV(I)` over images I
    in ``[low, high]`` by Adam, from a small random image (Simonyan et al., 2014, with
    the total-variation prior of Mahendran and Vedaldi, 2015).

    Args:
        model: a classifier, images ``(N, C, H, W)`` to scores ``(N, K)``.
        target: the class y to visualize, or int ``(N,)`` classes: one image each,
            optimized together (Adam acts on each pixel alone, so each image is the
            one a run for its class alone would give from the same start).
        shape: ``(C, H, W)`` of the image.
        steps: the number of Adam steps.
        lr: Adam's learning rate.
        l2: the weight :math:`\\lambda_2` of the L2 penalty.
        tv: the weight :math:`\\lambda_{TV}` of the total-variation penalty.
        low: the smallest pixel value.
        high: the largest pixel value.
        generator: the RNG of the starting image.
        device: where the image lives; the model's parameters' device by default.
            The image has the dtype of the model's parameters.

    Returns:
        ``(C, H, W)``: the image; ``(N, C, H, W)`` for a tensor of N classes.
    """
    _check_model(model)
    if isinstance(target, torch.Tensor):
        if target.dim() != 1 or len(target) == 0:
            raise ValueError(
                "target must be an int or a non-empty 1-D tensor of classes, got "
                f"shape {tuple(target.shape)}"
            )
        targets = check_labels(target, "target", n=len(target))
    else:
        targets = torch.tensor([check_positive_int(target, "target", minimum=0)])
    if len(shape) != 3:
        raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
    shape = tuple(check_positive_int(s, "shape entry") for s in shape)
    steps = check_positive_int(steps, "steps")
    lr = check_finite_number(lr, "lr", low=0, low_open=True)
    l2 = check_finite_number(l2, "l2", low=0)
    tv = check_finite_number(tv, "tv", low=0)
    low = check_finite_number(low, "low")
    high = check_finite_number(high, "high", low=low, low_open=True)
    like = next(iter(model.parameters()), torch.empty(0))  # its device and dtype
    device = like.device if device is None else device
    mid, spread = (low + high) / 2, (high - low) / 20
    n = len(targets)
    noise = torch.stack([torch.randn(shape, generator=generator) for _ in range(n)])
    noise = noise.to(device, like.dtype)  # (N, C, H, W): one draw per image, in turn
    t = targets.to(device)

    def objective(img: Tensor) -> Tensor:
        s = _class_scores(model, img, t).sum()  # the images' terms are independent
        return s - l2 * img.pow(2).sum() - tv * total_variation(img)  # Eq. (14.6)

    with eval_mode(model):
        images = _ascend(objective, mid + spread * noise, steps, lr, low, high)
    return images if isinstance(target, torch.Tensor) else images[0]


def invert_features(
    features: Callable[[Tensor], Tensor],
    target: Tensor,
    shape: tuple[int, ...],
    *,
    steps: int = 200,
    lr: float = 0.05,
    tv: float = 1e-2,
    low: float = 0.0,
    high: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Feature inversion: an image whose features match ``target`` (Mahendran, 2015).

    Minimizes :math:`\\|\\phi(I) - \\phi_0\\|^2 + \\lambda_{TV} TV(I)` over images I in
    ``[low, high]`` by Adam, from a small random image.

    Args:
        features: :math:`\\phi`, images ``(N, C, H, W)`` to features (any shape),
            each image's features computed from that image alone (as in eval mode).
        target: :math:`\\phi_0`, the features to match, of ``features``' output shape.
        shape: ``(C, H, W)`` of the image, or ``(N, C, H, W)`` to invert the features
            of N images at once (the sum of their objectives, each image's own).
        steps: the number of Adam steps.
        lr: Adam's learning rate.
        tv: the weight :math:`\\lambda_{TV}` of the total-variation penalty.
        low: the smallest pixel value.
        high: the largest pixel value.
        generator: the RNG of the starting image.

    Returns:
        ``(C, H, W)``: the image, on ``target``'s device; ``(N, C, H, W)`` for N.
    """
    check_callable(features, "features", signature="features(images) -> tensor")
    check_float_tensor(target, "target", finite=True)
    if len(shape) not in (3, 4):
        raise ValueError(f"shape must be (C, H, W) or (N, C, H, W), got {tuple(shape)}")
    shape = tuple(check_positive_int(s, "shape entry") for s in shape)
    steps = check_positive_int(steps, "steps")
    lr = check_finite_number(lr, "lr", low=0, low_open=True)
    tv = check_finite_number(tv, "tv", low=0)
    low = check_finite_number(low, "low")
    high = check_finite_number(high, "high", low=low, low_open=True)
    target = target.detach()
    mid, spread = (low + high) / 2, (high - low) / 20
    n, one = (1, shape) if len(shape) == 3 else (shape[0], shape[1:])
    noise = torch.stack([torch.randn(one, generator=generator) for _ in range(n)])
    noise = noise.to(target.device, target.dtype)  # (N, C, H, W), one draw per image

    def objective(img: Tensor) -> Tensor:
        phi = features(img)
        if phi.shape != target.shape:
            raise ValueError(
                f"target must have the features' shape {tuple(phi.shape)}, "
                f"got {tuple(target.shape)}"
            )
        return -(phi - target).pow(2).sum() - tv * total_variation(img)  # Eq. (14.8)

    images = _ascend(objective, mid + spread * noise, steps, lr, low, high)
    return images[0] if len(shape) == 3 else images
