import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcv import understanding as U


def linear_model(C=2, H=5, W=6, K=3, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(C * H * W, K)).double()


def images(N=4, C=2, H=5, W=6, seed=1):
    return torch.rand(
        N, C, H, W, generator=torch.Generator().manual_seed(seed)
    ).double()


def test_saliency_of_a_linear_model_is_its_weights_magnitude():
    model, x = linear_model(), images()
    y = torch.tensor([0, 2, 1, 2])
    W = model[1].weight.reshape(3, 2, 5, 6)  # s_y = <W_y, x> + b_y
    expected = W[y].abs().amax(dim=1)  # (N, H, W): max over channels of |W_y|
    torch.testing.assert_close(U.saliency(model, x, y), expected)
    torch.testing.assert_close(
        U.saliency(model, x, 1), W[1].abs().amax(0).expand(4, 5, 6)
    )


def test_guided_backprop_by_hand_and_the_relus_come_back():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 3)
    ).double()
    x, y = images(N=5, C=1, H=3, W=4), torch.tensor([0, 1, 2, 0, 1])
    W1, b1, W2 = model[1].weight, model[1].bias, model[3].weight
    pre = x.flatten(1) @ W1.T + b1  # (N, 7)
    g_h = W2[y] * (pre > 0) * (W2[y] > 0)  # guided: positive input and gradient
    expected = (g_h @ W1).reshape(5, 1, 3, 4)
    torch.testing.assert_close(U.guided_backprop(model, x, y), expected)
    # afterwards the ReLU is an ordinary one again: plain gradients
    xr = x.clone().requires_grad_(True)
    model(xr).gather(1, y[:, None]).sum().backward()
    plain = ((W2[y] * (pre > 0)) @ W1).reshape(5, 1, 3, 4)
    torch.testing.assert_close(xr.grad, plain)
    assert "forward" not in vars(model[2])


def test_guided_backprop_needs_relu_modules():
    with pytest.raises(ValueError, match="nn.ReLU"):
        U.guided_backprop(linear_model(), images(), 0)


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        a = self.features(x)  # (N, 4, H, W)
        return self.fc(a.mean(dim=(2, 3)))  # global average pooling, then linear


def test_grad_cam_by_hand_is_the_class_activation_map():
    torch.manual_seed(0)
    model, x = TinyCNN().double(), images()
    y = torch.tensor([2, 0, 1, 1])
    A = model.features(x)  # (N, 4, 5, 6)
    # s_y = sum_k w_yk mean_ij A^k_ij, so alpha_k = w_yk / (H W)
    alpha = model.fc.weight[y] / 30  # (N, 4)
    expected = F.relu((alpha[:, :, None, None] * A).sum(1))
    torch.testing.assert_close(U.grad_cam(model, model.features, x, y), expected)
    with pytest.raises(ValueError, match="submodule"):
        U.grad_cam(model, nn.Conv2d(2, 4, 3), x, y)


def test_grad_cam_of_a_frozen_model_is_the_same():
    torch.manual_seed(0)
    model, x = TinyCNN().double(), images()
    y = torch.tensor([2, 0, 1, 1])
    expected = U.grad_cam(model, model.features, x, y)
    for p in model.parameters():
        p.requires_grad_(False)
    torch.testing.assert_close(U.grad_cam(model, model.features, x, y), expected)


def test_occlusion_of_a_linear_model_by_hand():
    model, x = linear_model(), images()
    y = torch.tensor([1, 0, 2, 1])
    W = model[1].weight.reshape(3, 2, 5, 6)
    drops = U.occlusion(model, x, y, size=3, stride=2, fill=0.5)
    assert drops.shape == (4, 2, 2)  # (5 - 3) // 2 + 1 and (6 - 3) // 2 + 1
    for p in range(2):
        for q in range(2):
            r, c = slice(2 * p, 2 * p + 3), slice(2 * q, 2 * q + 3)
            expected = (W[y][:, :, r, c] * (x[:, :, r, c] - 0.5)).sum((1, 2, 3))
            torch.testing.assert_close(drops[:, p, q], expected)


def test_fgsm_of_a_linear_model_by_hand():
    model, x = linear_model(), images()
    y = torch.tensor([1, 0, 2, 1])
    W = model[1].weight  # (K, D)
    p = F.softmax(model(x), dim=1)
    grad = (p - F.one_hot(y, 3)) @ W  # d CE / d x, (N, D)
    expected = (x + 0.1 * grad.sign().reshape(x.shape)).clamp(0, 1)
    x_adv = U.fgsm(model, x, y, 0.1)
    torch.testing.assert_close(x_adv, expected)
    assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)
    assert U.fgsm(model, x, y, 0.0).equal(x)


def small_mlp():
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(60, 16), nn.ReLU(), nn.Linear(16, 3)
    ).double()


def test_pgd_stays_in_the_ball_beats_fgsm_and_one_step_is_fgsm():
    model, x = small_mlp(), images(N=16)
    y = torch.randint(3, (16,), generator=torch.Generator().manual_seed(2))
    eps = 0.05
    one = U.pgd(model, x, y, eps, alpha=eps, steps=1, random_start=False)
    torch.testing.assert_close(one, U.fgsm(model, x, y, eps))
    g = torch.Generator().manual_seed(0)
    adv = U.pgd(model, x, y, eps, steps=20, generator=g)
    assert (adv - x).abs().max() <= eps + 1e-12
    assert adv.min() >= 0 and adv.max() <= 1
    ce = lambda z: F.cross_entropy(model(z), y).item()  # noqa: E731
    assert ce(adv) >= ce(U.fgsm(model, x, y, eps)) > ce(x)
    again = U.pgd(
        model, x, y, eps, steps=20, generator=torch.Generator().manual_seed(0)
    )
    assert again.equal(adv)


def test_gram_matrix_and_total_variation_against_their_sums():
    f = images(N=2, C=3, H=4, W=5)
    G = U.gram_matrix(f)
    torch.testing.assert_close(G, torch.einsum("nkij,nlij->nkl", f, f) / 20)
    assert torch.allclose(G, G.transpose(1, 2))
    tv = sum(
        (f[n, c, i + di, j + dj] - f[n, c, i, j]) ** 2
        for n in range(2)
        for c in range(3)
        for i in range(4)
        for j in range(5)
        for di, dj in ((1, 0), (0, 1))
        if i + di < 4 and j + dj < 5
    )
    torch.testing.assert_close(U.total_variation(f), tv)
    assert U.total_variation(torch.ones(1, 1, 3, 3)).item() == 0


def test_class_visualization_raises_the_class_score_and_stays_in_range():
    model = small_mlp()
    g = torch.Generator().manual_seed(0)
    img = U.class_visualization(
        model, 2, (2, 5, 6), steps=50, lr=0.05, generator=g, device="cpu"
    ).double()
    assert img.shape == (2, 5, 6) and img.min() >= 0 and img.max() <= 1
    start = torch.full((1, 2, 5, 6), 0.5, dtype=torch.float64)
    assert model(img[None])[0, 2] > model(start)[0, 2] + 0.25


def test_class_visualization_of_several_classes_at_once():
    model = small_mlp()
    both = U.class_visualization(
        model,
        torch.tensor([2, 0]),
        (2, 5, 6),
        steps=20,
        generator=torch.Generator().manual_seed(0),
        device="cpu",
    )
    alone = U.class_visualization(
        model, 2, (2, 5, 6), steps=20, generator=torch.Generator().manual_seed(0)
    )
    assert both.shape == (2, 2, 5, 6)
    # Adam acts on each pixel alone: the first image is the run for class 2 alone
    torch.testing.assert_close(both[0], alone)
    with pytest.raises(ValueError, match="1-D tensor"):
        U.class_visualization(model, torch.tensor(1), (2, 5, 6))


def test_invert_features_recovers_an_image_from_identity_features():
    target = images(N=1)
    img = U.invert_features(
        lambda z: z,
        target,
        (2, 5, 6),
        steps=300,
        lr=0.05,
        tv=0.0,
        generator=torch.Generator().manual_seed(0),
    )
    torch.testing.assert_close(img, target[0], atol=2e-2, rtol=0)
    two = images(N=2)
    both = U.invert_features(
        lambda z: z,
        two,
        (2, 2, 5, 6),
        steps=300,
        tv=0.0,
        generator=torch.Generator().manual_seed(0),
    )
    torch.testing.assert_close(both, two, atol=2e-2, rtol=0)
    with pytest.raises(ValueError, match="features' shape"):
        U.invert_features(lambda z: z, target[:, :1], (2, 5, 6), steps=1)


def test_the_model_is_evaluated_in_eval_mode_and_its_mode_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(60, 3)).double()
    model.train()
    x = images()
    a, b = U.saliency(model, x, 0), U.saliency(model, x, 0)
    assert a.equal(b)  # no dropout noise
    assert model.training and model[1].training


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, x: U.saliency("net", x, 0), TypeError, "torch.nn.Module"),
        (lambda m, x: U.saliency(m, x[0], 0), ValueError, "4 dimensions"),
        (lambda m, x: U.saliency(m, x.long(), 0), TypeError, "floating"),
        (lambda m, x: U.saliency(m, x * math.nan, 0), ValueError, "finite"),
        (lambda m, x: U.saliency(m, x, 3), ValueError, "class in [0, 3)"),
        (lambda m, x: U.saliency(m, x, torch.zeros(3).long()), ValueError, "(4,)"),
        (lambda m, x: U.fgsm(m, x, torch.zeros(4).long(), math.nan), ValueError, "eps"),
        (lambda m, x: U.fgsm(m, x, torch.zeros(4).long(), -0.1), ValueError, "eps"),
        (
            lambda m, x: U.pgd(m, x, torch.zeros(4).long(), 0.1, steps=0),
            ValueError,
            "steps",
        ),
        (lambda m, x: U.occlusion(m, x, 0, size=9), ValueError, "size"),
        (lambda m, x: U.gram_matrix(x[0]), ValueError, "4 dimensions"),
        (lambda m, x: U.class_visualization(m, 0, (5, 6)), ValueError, "(C, H, W)"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(
        error, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        call(linear_model(), images())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_maps_follow_the_device():
    model, x = TinyCNN().double().cuda(), images().cuda()
    y = torch.tensor([0, 1, 2, 0], device="cuda")
    assert U.saliency(model, x, y).device.type == "cuda"
    assert U.grad_cam(model, model.features, x, y).device.type == "cuda"
    assert U.pgd(model, x, y, 0.1, steps=2).device.type == "cuda"
    assert U.class_visualization(model, 1, (2, 5, 6), steps=2).device.type == "cuda"
    classes = torch.tensor([0, 2], device="cuda")
    batch = U.class_visualization(model, classes, (2, 5, 6), steps=2)
    assert batch.shape == (2, 2, 5, 6) and batch.device.type == "cuda"
