r"""Transfer learning: class subsets, few-shot data, frozen features, linear probes.

Taught by lecture 11, "Training neural networks II", in the chapter of that name
(``book/training_ii.md``), which pretrains a network on some Fashion-MNIST classes and
reuses it on the others with few labels. The recipe of the lecture:

1. train on a large data set (here: :func:`split_classes` keeps some classes and
   relabels them :math:`0, \dots, k-1`);
2. with little data for the new task (:func:`few_shot`: exactly ``per_class`` examples
   of each class), :func:`freeze` the network and train only a linear classifier on
   its penultimate activations, :math:`\hat y = W \phi(x) + b`
   (:func:`features`, :func:`linear_probe`);
3. with more data, replace the last layer (:func:`replace_head`) and fine-tune all or
   the last layers, with a lower learning rate.

Torch counterparts: ``requires_grad_(False)`` and a forward hook
(``torchvision.models.feature_extraction.create_feature_extractor`` does the general
case), ``torch.utils.data.Subset``; scikit-learn's ``LogisticRegression`` is the usual
linear probe. Papers: Donahue et al. (2014), Razavian et al. (2014), Yosinski et al.
(2014), Kornblith, Shlens and Le (2019).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_labels,
    check_positive_int,
    check_tensor,
)
from dlcv.training import fit

__all__ = [
    "features",
    "few_shot",
    "freeze",
    "linear_probe",
    "replace_head",
    "split_classes",
]


def split_classes(
    x: torch.Tensor, y: torch.Tensor, classes: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples of some classes, relabelled 0, ..., k-1 in the order of ``classes``.

    Args:
        x: (N, ...) inputs.
        y: (N,) integer labels.
        classes: k >= 1 distinct labels to keep; ``classes[j]`` becomes label j.

    Returns:
        ``(x_sub, y_sub)``: the rows of the kept classes, in their original order, and
        their new labels, (M,) int64.
    """
    y = check_labels(y, "y", n=len(check_tensor(x, "x")))
    classes = _check_classes(classes)
    missing = [c for c in classes if not bool((y == c).any())]
    if missing:
        raise ValueError(f"classes must occur in y, got {missing} with no examples")
    # new label of each old one: table[c] = j for c = classes[j], else -1
    table = torch.full((max(int(y.max()), *classes) + 1,), -1, device=y.device)
    table[torch.tensor(classes, device=y.device)] = torch.arange(
        len(classes), device=y.device
    )
    new = table[y]  # (N,)
    keep = new >= 0  # (N,)
    return x[keep], new[keep]


def few_shot(
    x: torch.Tensor, y: torch.Tensor, per_class: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exactly ``per_class`` random examples of each class present in ``y``.

    Args:
        x: (N, ...) inputs.
        y: (N,) integer labels.
        per_class: examples kept per class, >= 1.
        generator: chooses the examples (CPU), without replacement.

    Returns:
        ``(x_sub, y_sub)``: C * per_class rows, in their original order, C the
        number of classes in ``y``.

    Raises:
        ValueError: if a class has fewer than ``per_class`` examples.
    """
    y = check_labels(y, "y", n=len(check_tensor(x, "x")))
    check_positive_int(len(y), "the number of examples N")
    per_class = check_positive_int(per_class, "per_class")
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}"
        )
    labels = y.cpu()
    counts = torch.bincount(labels)
    short = {c: int(n) for c, n in enumerate(counts) if 0 < n < per_class}
    if short:
        raise ValueError(
            f"every class needs per_class = {per_class} examples, got classes with "
            f"fewer (class: count): {short}"
        )
    chosen = []
    for c in labels.unique().tolist():
        rows = (labels == c).nonzero().squeeze(1)  # (n_c,) rows of class c
        pick = torch.randperm(len(rows), generator=generator)[:per_class]
        chosen.append(rows[pick])
    idx = torch.cat(chosen).sort().values.to(y.device)  # (C * per_class,)
    return x[idx], y[idx]


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``: every parameter gets ``requires_grad = False``.

    Gradients still flow *through* a frozen module to the layers before it. Batch-norm
    statistics still move in train mode: call ``module.eval()`` as well to fix them.

    Args:
        module: the network or part of it; changed in place.

    Returns:
        ``module`` itself, so that ``freeze(model.features)`` composes.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _last_child(model: nn.Module) -> tuple[str, nn.Module]:
    children = list(model.named_children())
    if not children:
        raise ValueError(
            f"model must have child modules, its last one the classifier; got "
            f"{type(model).__name__} with none"
        )
    return children[-1]


@torch.no_grad()
def features(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    r"""The penultimate activations :math:`\phi(x)`: the input of the last layer.

    The last layer is ``model``'s last child module (``model[-1]`` of an
    ``nn.Sequential``, ``fc`` of a ResNet); a forward pre-hook records its input.
    The model runs in eval mode (restored afterwards) without gradients.

    Args:
        model: the trained network.
        x: (N, ...) inputs, on the model's device.
        batch_size: rows run at once, >= 1.

    Returns:
        (N, D) features, flattened after the batch dimension.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_tensor(x, "x")
    check_positive_int(len(x) if x.dim() else 0, "the number of examples N")
    batch_size = check_positive_int(batch_size, "batch_size")
    _, last = _last_child(model)
    seen: list[torch.Tensor] = []
    hook = last.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
    finally:
        hook.remove()
        model.train(was_training)
    return torch.cat([f.flatten(1) for f in seen])  # (N, D)


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace ``model``'s last ``nn.Linear`` child by a new one with ``num_classes``.

    The new layer has the old one's inputs, device and dtype, and PyTorch's default
    initialization; it trains (``requires_grad``) even if the rest is frozen.

    Args:
        model: the network, its last child module an ``nn.Linear``; changed in place.
        num_classes: outputs of the new layer, >= 1.

    Returns:
        ``model`` itself.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    num_classes = check_positive_int(num_classes, "num_classes")
    name, last = _last_child(model)
    if not isinstance(last, nn.Linear):
        raise TypeError(
            f"model's last child must be an nn.Linear, got {type(last).__name__}"
        )
    head = nn.Linear(
        last.in_features,
        num_classes,
        bias=last.bias is not None,
        device=last.weight.device,
        dtype=last.weight.dtype,
    )
    setattr(model, name, head)
    return model


def linear_probe(
    feats: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    *,
    epochs: int = 100,
    lr: float = 0.1,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    generator: torch.Generator,
) -> nn.Linear:
    r"""A linear classifier :math:`W \phi + b` trained on fixed features.

    Minimizes the cross-entropy by SGD with momentum 0.9 through
    :func:`dlcv.training.fit`, on the features standardized by their mean and standard
    deviation; the returned layer folds that standardization into :math:`W` and
    :math:`b`, so it takes raw features.

    Args:
        feats: (N, D) features, e.g. from :func:`features`.
        y: (N,) labels in [0, num_classes).
        num_classes: C >= 2.
        epochs: passes over the data, >= 1.
        lr: the SGD learning rate, > 0.
        weight_decay: L2 weight decay, >= 0.
        batch_size: examples per step, >= 1.
        generator: shuffles the data and initializes the layer (CPU).

    Returns:
        An ``nn.Linear(D, C)`` on the features' device and dtype, in eval mode.
    """
    check_float_tensor(feats, "feats", ndim=2, finite=True)
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    y = check_labels(y, "y", n=len(feats), num_classes=num_classes)
    lr = check_finite_number(lr, "lr", low=0, low_open=True)
    weight_decay = check_finite_number(weight_decay, "weight_decay", low=0)
    mean, std = feats.mean(dim=0), feats.std(dim=0).clamp(min=1e-8)  # (D,), (D,)
    z = (feats - mean) / std  # (N, D), standardized
    D = feats.shape[1]
    probe = nn.Linear(D, num_classes, device=feats.device, dtype=feats.dtype)
    with torch.no_grad():
        bound = 1 / D**0.5  # nn.Linear's initialization, from our generator
        for p in probe.parameters():
            p.copy_(torch.rand(p.shape, generator=generator, dtype=p.dtype) * 2 - 1)
            p.mul_(bound)
    opt = torch.optim.SGD(
        probe.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
    )
    fit(
        probe,
        F.cross_entropy,
        opt,
        z,
        y,
        epochs=check_positive_int(epochs, "epochs"),
        batch_size=batch_size,
        generator=generator,
        desc="linear probe",
    )
    with torch.no_grad():
        # W (x - mean) / std + b = (W / std) x + (b - W (mean / std))
        probe.bias.sub_(probe.weight @ (mean / std))  # (C,)
        probe.weight.div_(std)  # (C, D), column d divided by std_d
    return probe.eval()


def _check_classes(classes: object) -> list[int]:
    if isinstance(classes, (str, torch.Tensor)) or not isinstance(classes, Sequence):
        raise TypeError(
            f"classes must be a list of int labels, got {type(classes).__name__}"
        )
    out = [
        check_positive_int(c, f"classes[{i}]", minimum=0) for i, c in enumerate(classes)
    ]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"classes must be k >= 1 distinct labels, got {out}")
    return out
