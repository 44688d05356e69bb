import pytest
import torch

from dlcv.viz import show_images


def test_grid_layout_titles_and_frames():
    images = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    fig = show_images(
        images,
        ncols=3,
        titles=[str(i) for i in range(7)],
        frame_colors=["green", None, "red", None, None, None, None],
    )
    axes = fig.axes
    assert len(axes) == 9  # 3 rows of 3; the last two are blank
    assert [ax.get_title() for ax in axes[:7]] == [str(i) for i in range(7)]
    assert not axes[7].axison and not axes[8].axison
    shown = axes[0].images[0]
    assert shown.get_clim() == (0, 255)
    assert torch.equal(
        torch.from_numpy(shown.get_array().data).to(torch.uint8), images[0]
    )
    assert (
        axes[0].spines["left"].get_visible()
        and not axes[1].spines["left"].get_visible()
    )


def test_one_value_range_for_every_image():
    images = torch.stack(
        [torch.full((4, 4), 0.5), torch.linspace(0, 0.8, 16).view(4, 4)]
    )
    own = show_images(images, ncols=2)
    assert own.axes[1].images[0].get_clim() == pytest.approx((0.0, 0.8))
    shared = show_images(images, ncols=2, cmap="gray", vmin=0, vmax=1)
    assert [ax.images[0].get_clim() for ax in shared.axes] == [(0, 1), (0, 1)]
    assert shared.axes[0].images[0].get_cmap().name == "gray"


def test_bad_input():
    with pytest.raises(ValueError, match="shape \\(N, H, W\\), got \\(28, 28\\)"):
        show_images(torch.zeros(28, 28), ncols=2)
    with pytest.raises(ValueError, match="one entry per image \\(2\\), got 1"):
        show_images(torch.zeros(2, 4, 4), ncols=2, titles=["a"])
    with pytest.raises(TypeError, match="torch.Tensor, got list"):
        show_images([[0]], ncols=1)
    with pytest.raises(ValueError, match="ncols must be a positive int, got 0"):
        show_images(torch.zeros(2, 4, 4), ncols=0)
