import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcv import autoregressive as AR


def jacobian(model, H=5, W=6, C=1, seed=0):
    """d output(i, j) / d input(i', j'), pixels in raster order: (C H W, C H W)."""
    x = torch.randn(1, C, H, W, dtype=torch.float64, generator=_g(seed))
    J = torch.autograd.functional.jacobian(model, x).abs()  # (1, C', H, W, 1, C, H, W)
    return J.reshape(-1, H * W, C * H * W).sum(0).reshape(H * W, C, H * W).sum(1)


def _g(seed):
    return torch.Generator().manual_seed(seed)


def test_masks_of_a_5x5_kernel_written_out():
    A = AR.MaskedConv2d(2, 3, 5, mask_type="A").mask
    B = AR.MaskedConv2d(2, 3, 5, mask_type="B").mask
    expected_A = torch.tensor(
        [
            [1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1],
            [1, 1, 0, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
        ],
        dtype=torch.float32,
    )
    expected_B = expected_A.clone()
    expected_B[2, 2] = 1  # type B also sees the centre
    assert A.equal(expected_A) and B.equal(expected_B)
    assert "mask" in dict(AR.MaskedConv2d(1, 1, 3).named_buffers())


def test_masked_conv_is_nn_conv2d_with_the_masked_kernel():
    torch.manual_seed(0)
    m = AR.MaskedConv2d(2, 3, (3, 5), mask_type="B").double()
    conv = nn.Conv2d(2, 3, (3, 5), padding=(1, 2)).double()
    conv.load_state_dict({"weight": m.weight * m.mask, "bias": m.bias})
    x = torch.randn(4, 2, 6, 7, dtype=torch.float64, generator=_g(1))
    torch.testing.assert_close(m(x), conv(x))
    m(x).sum().backward()
    assert (
        m.weight.grad * (1 - m.mask)
    ).abs().max() == 0  # hidden weights learn nothing


def test_type_a_layer_sees_only_the_past_and_type_b_the_centre_too():
    torch.manual_seed(0)
    for C in (1, 2):
        J_A = jacobian(
            AR.MaskedConv2d(C, 3, 5, mask_type="A").double(), C=C
        )  # (30, 30)
        assert torch.triu(J_A).abs().max() == 0  # nothing at or after (i, j)
        J_B = jacobian(AR.MaskedConv2d(C, 3, 5, mask_type="B").double(), C=C)
        assert torch.triu(J_B, diagonal=1).abs().max() == 0  # nothing after (i, j)
        assert (J_B.diagonal() != 0).all()  # but the centre itself
        assert (J_A.diagonal(-1) != 0).sum() >= 25  # the left neighbour, mostly


def test_pixelcnn_is_causal_by_autograd():
    torch.manual_seed(0)
    model = AR.PixelCNN(channels=8, num_blocks=2).double()
    J = jacobian(model, H=6, W=6)  # (36, 36): d logit(i, j) / d x(i', j')
    assert torch.triu(J).abs().max() == 0  # never the pixel itself nor later ones
    assert (J.tril(-1) != 0).float().mean() > 0.3  # much of the past is seen
    assert (J.diagonal(-1) != 0).sum() >= 25  # the left neighbour (30 of them)


def test_pixelcnn_shapes_and_parameter_names():
    model = AR.PixelCNN(in_channels=1, channels=16, num_blocks=3)
    assert model(torch.zeros(2, 1, 9, 7)).shape == (2, 1, 9, 7)
    names = set(model.state_dict())
    assert {"input_conv.weight", "input_conv.mask", "blocks.2.conv2.mask"} <= names
    assert model.input_conv.weight.shape == (16, 1, 7, 7)
    assert model.input_conv.mask_type == "A" and model.blocks[0].conv2.mask_type == "B"


def test_bits_per_dim_is_binary_cross_entropy_over_ln2():
    logits = torch.randn(3, 1, 4, 5, dtype=torch.float64, generator=_g(0))
    x = (torch.rand(3, 1, 4, 5, generator=_g(1)) < 0.5).double()
    expected = F.binary_cross_entropy_with_logits(logits, x) / math.log(2)
    torch.testing.assert_close(AR.nll_bits_per_dim(logits, x), expected)
    p = torch.sigmoid(logits)
    by_hand = -(x * torch.log2(p) + (1 - x) * torch.log2(1 - p)).mean()
    torch.testing.assert_close(AR.nll_bits_per_dim(logits, x), by_hand)
    assert AR.nll_bits_per_dim(torch.zeros(2, 3), torch.ones(2, 3)).item() == 1.0


def test_binarize_by_threshold_and_by_draws():
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64, generator=_g(0))
    b = AR.binarize(x)
    assert b.equal((x > 0.5).double()) and b.dtype == x.dtype
    assert AR.binarize(x, 0.2).equal((x > 0.2).double())
    p = torch.full((20000,), 0.3)
    a = AR.binarize(p, None, generator=_g(1))
    assert a.equal(AR.binarize(p, None, generator=_g(1)))  # reproducible
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    se = math.sqrt(0.3 * 0.7 / 20000)
    assert abs(a.mean().item() - 0.3) < 4 * se


def test_sampling_is_reproducible_binary_and_draws_a_constant_model_s_bernoulli():
    torch.manual_seed(0)
    model = AR.PixelCNN(channels=8, num_blocks=1)
    nn.init.zeros_(model.head[-1].weight)  # logits = the last bias, everywhere
    nn.init.constant_(model.head[-1].bias, math.log(0.2 / 0.8))  # sigmoid = 0.2
    s = AR.sample(model, 50, (1, 6, 6), generator=_g(0))
    assert s.shape == (50, 1, 6, 6)
    assert s.equal(AR.sample(model, 50, (1, 6, 6), generator=_g(0)))
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    se = math.sqrt(0.2 * 0.8 / s.numel())
    assert abs(s.mean().item() - 0.2) < 4 * se


class LeftNeighbour(nn.Module):
    """A causal model: logit a + b x(i, j-1), so rows are Markov chains."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor(a)), nn.Parameter(torch.tensor(b))

    def forward(self, x):
        left = F.pad(x, (1, 0))[..., :-1]  # x(i, j-1), zero at j = 0
        return self.a + self.b * left


def test_each_sampled_pixel_follows_the_model_s_conditional():
    model = LeftNeighbour(-1.0, 3.0)
    s = AR.sample(model, 400, (1, 2, 8), generator=_g(0))  # pixels drawn in order
    prev, cur = s[..., :-1].flatten(), s[..., 1:].flatten()
    for left, logit in ((0.0, -1.0), (1.0, 2.0)):
        p = torch.sigmoid(torch.tensor(logit)).item()
        chosen = cur[prev == left]
        se = math.sqrt(p * (1 - p) / chosen.numel())
        assert abs(chosen.mean().item() - p) < 4 * se
    assert model.training  # the mode is restored


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: AR.MaskedConv2d(1, 1, 4), ValueError, "odd"),
        (lambda: AR.MaskedConv2d(1, 1, 3, mask_type="C"), ValueError, "mask_type"),
        (lambda: AR.MaskedConv2d(1, 1, 3.0), ValueError, "int or a pair"),
        (lambda: AR.PixelCNN()(torch.zeros(1, 2, 4, 4)), ValueError, "x must have"),
        (lambda: AR.PixelCNN()(torch.zeros(1, 1, 4, 4).long()), TypeError, "floating"),
        (lambda: AR.binarize(torch.ones(3) * math.nan), ValueError, "finite"),
        (lambda: AR.binarize(torch.ones(3), math.nan), ValueError, "threshold"),
        (lambda: AR.binarize(torch.ones(3) * 2, None), ValueError, "[0, 1]"),
        (lambda: AR.binarize(torch.ones(3), 0.5, generator=_g(0)), ValueError, "None"),
        (
            lambda: AR.nll_bits_per_dim(torch.zeros(2, 3), torch.zeros(3, 2)),
            ValueError,
            "shape",
        ),
        (lambda: AR.sample("net", 2, (1, 3, 3)), TypeError, "nn.Module"),
        (lambda: AR.sample(AR.PixelCNN(), 0, (1, 3, 3)), ValueError, "n must"),
        (lambda: AR.sample(AR.PixelCNN(), 2, (3, 3)), ValueError, "(C, H, W)"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_pixelcnn_and_sampling_follow_the_device():
    model = AR.PixelCNN(channels=8, num_blocks=1).cuda()
    x = AR.binarize(torch.rand(2, 1, 5, 5, device="cuda"))
    assert AR.nll_bits_per_dim(model(x), x).device.type == "cuda"
    s = AR.sample(model, 3, (1, 4, 4), generator=_g(0))
    assert s.device.type == "cuda"
    assert s.equal(AR.sample(model, 3, (1, 4, 4), generator=_g(0)))
    g = torch.Generator(device="cuda").manual_seed(0)
    assert AR.binarize(x, None, generator=g).device.type == "cuda"
