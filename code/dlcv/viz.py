"""Figure helpers shared by the chapters: image grids.

Used by the kNN chapter (Fashion-MNIST grids, nearest neighbours) and later chapters that show
images. Torch counterpart: ``torchvision.utils.make_grid`` (which returns one tensor; here each
image gets its own axes so it can carry a title and a coloured frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

__all__ = ["show_images"]


def show_images(
    images: torch.Tensor,
    *,
    ncols: int,
    titles: Sequence[str] | None = None,
    frame_colors: Sequence[str | None] | None = None,
    size: float = 1.1,
    cmap: str = "gray_r",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Draw a batch of grey-level images in a grid, one axes per image.

    Args:
        images: (N, H, W) images, any real dtype; each is shown on its own value range
            unless it is uint8, which is shown on 0..255.
        ncols: images per row; the number of rows follows.
        titles: N titles, or None.
        frame_colors: N frame colours (None for no frame), or None.
        size: inches per image.
        cmap: a matplotlib colour map; ``gray_r`` shows dark garments on white.
        vmin, vmax: one value range for every image (e.g. 0 and 1), so that brightness
            compares across images; by default uint8 images use 0..255 and others their own
            range.

    Returns:
        The matplotlib figure (not shown; the notebook displays it).
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 3:
        raise ValueError(f"images must have shape (N, H, W), got {tuple(images.shape)}")
    n = images.shape[0]
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    for name, seq in (("titles", titles), ("frame_colors", frame_colors)):
        if seq is not None and len(seq) != n:
            raise ValueError(
                f"{name} must have one entry per image ({n}), got {len(seq)}"
            )
    nrows = -(-n // ncols)
    fig = Figure(
        figsize=(size * ncols, size * nrows * (1.25 if titles else 1.0)),
        layout="constrained",
    )
    axes = fig.subplots(nrows, ncols, squeeze=False)
    if vmin is not None or vmax is not None:
        vrange = {"vmin": vmin, "vmax": vmax}
    else:
        vrange = {"vmin": 0, "vmax": 255} if images.dtype == torch.uint8 else {}
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if i >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[i].detach().cpu().float().numpy(), cmap=cmap, **vrange)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        color = frame_colors[i] if frame_colors is not None else None
        for spine in ax.spines.values():
            spine.set_visible(color is not None)
            if color is not None:
                spine.set_color(color)
                spine.set_linewidth(3)
    return fig
