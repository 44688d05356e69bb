import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

from dlcv import gan


def logits(n=7, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, generator=g, dtype=torch.float64)


def test_discriminator_loss_is_binary_cross_entropy_real_one_fake_zero():
    real, fake = logits(seed=0), logits(n=5, seed=1)
    expected = F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    torch.testing.assert_close(gan.discriminator_loss(real, fake), expected)
    # the closed form -log D(x) - log(1 - D(G(z))) with D = sigmoid
    closed = -torch.sigmoid(real).log().mean() - (1 - torch.sigmoid(fake)).log().mean()
    torch.testing.assert_close(gan.discriminator_loss(real, fake), closed)


def test_generator_losses_match_bce_and_closed_forms():
    fake = logits(seed=2)
    ones = torch.ones_like(fake)
    # non-saturating: -log D(G(z)) = BCE with target 1
    torch.testing.assert_close(
        gan.generator_loss(fake), F.binary_cross_entropy_with_logits(fake, ones)
    )
    # saturating: log(1 - D(G(z))) = minus BCE with target 0
    torch.testing.assert_close(
        gan.generator_loss(fake, saturating=True),
        torch.log1p(-torch.sigmoid(fake)).mean(),
    )


def test_losses_stay_finite_where_probabilities_round_to_zero_or_one():
    extreme = torch.tensor([-200.0, 200.0], dtype=torch.float64)
    assert torch.isfinite(gan.discriminator_loss(extreme, extreme))
    assert torch.isfinite(gan.generator_loss(extreme))
    assert torch.isfinite(gan.generator_loss(extreme, saturating=True))
    # -log sigmoid(-200) = 200 exactly in the limit
    torch.testing.assert_close(
        gan.generator_loss(extreme[:1]), torch.tensor(200.0, dtype=torch.float64)
    )


def grad_wrt_logits(l, saturating):
    l = l.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(gan.generator_loss(l, saturating=saturating), l)
    return g * l.numel()  # undo the mean: the gradient of one example's loss


def test_saturating_gradient_vanishes_non_saturating_does_not():
    l = torch.tensor([-15.0, -8.0, -3.0, 0.0, 2.0], dtype=torch.float64)
    sat = grad_wrt_logits(l, saturating=True)
    non = grad_wrt_logits(l, saturating=False)
    torch.testing.assert_close(sat, -torch.sigmoid(l))  # d/dl log(1 - sigma(l))
    torch.testing.assert_close(non, torch.sigmoid(l) - 1)  # d/dl -log sigma(l)
    # where D confidently rejects the fakes (l << 0): vanishing vs about -1
    assert sat[0].abs() < 1e-6 and sat[1].abs() < 1e-3
    assert (non[:2] + 1).abs().max() < 1e-3
    # both point the same way (increase the logit) and agree at l = 0 up to sign
    assert (sat < 0).all() and (non < 0).all()
    torch.testing.assert_close(sat[3], non[3])


def test_gradcheck_of_both_losses():
    real, fake = logits(n=4, seed=3), logits(n=3, seed=4)
    real.requires_grad_(True)
    fake.requires_grad_(True)
    assert torch.autograd.gradcheck(gan.discriminator_loss, (real, fake))
    assert torch.autograd.gradcheck(
        lambda f: gan.generator_loss(f, saturating=True), (fake,)
    )


def test_optimal_discriminator_for_two_gaussians_is_the_density_ratio():
    x = torch.linspace(-12, 16, 28001, dtype=torch.float64)  # tails < 1e-12
    data, model = Normal(0.0, 1.0), Normal(1.5, 2.0)
    p_data, p_g = data.log_prob(x).exp(), model.log_prob(x).exp()
    D = gan.optimal_discriminator(p_data, p_g)
    # D/(1 - D) = p_data/p_g: the log-odds are the log density ratio
    torch.testing.assert_close(
        torch.logit(D), data.log_prob(x) - model.log_prob(x), rtol=1e-7, atol=1e-7
    )

    # it maximizes V(D) = E_data log D + E_g log(1 - D) (Riemann sum on the grid)
    def value(d):
        dx = float(x[1] - x[0])
        return float(((p_data * d.log() + p_g * torch.log1p(-d)) * dx).sum())

    best = value(D)
    for bump in (0.02, -0.02):
        assert value((D + bump * torch.sin(x)).clamp(1e-9, 1 - 1e-9)) < best
    # and its value is -log 4 + 2 JSD(p_data || p_g); 0 <= JSD <= log 2
    m = (p_data + p_g) / 2
    dx = float(x[1] - x[0])
    kl = lambda p: float((p * (p / m).log()).nan_to_num().sum() * dx)  # noqa: E731
    jsd = (kl(p_data) + kl(p_g)) / 2
    assert 0 < jsd < math.log(2)
    assert best == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)


def test_optimal_discriminator_is_one_half_when_the_generator_is_perfect():
    p = torch.rand(10, dtype=torch.float64) + 0.1
    torch.testing.assert_close(gan.optimal_discriminator(p, p), torch.full_like(p, 0.5))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_dcgan_shapes_and_parameter_counts():
    torch.manual_seed(0)
    G, D = gan.DCGANGenerator(latent_dim=8, channels=4), gan.DCGANDiscriminator(4)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 1, 28, 28) and ((x >= 0) & (x <= 1)).all()
    assert D(x).shape == (3,)
    c, z = 4, 8
    # ConvT(z, 2c, 7) no bias, BN(2c), ConvT(2c, c, 4) no bias, BN(c), ConvT(c, 1, 4)
    g = z * 2 * c * 49 + 4 * c + 2 * c * c * 16 + 2 * c + c * 16 + 1
    # Conv(1, c, 4), Conv(c, 2c, 4) no bias, BN(2c), Conv(2c, 1, 7)
    d = 16 * c + c + c * 2 * c * 16 + 4 * c + 2 * c * 49 + 1
    assert (n_params(G), n_params(D)) == (g, d)
    layers = [type(m) for m in G.net]
    assert layers.count(nn.ConvTranspose2d) == 3 and layers.count(nn.BatchNorm2d) == 2
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in D.net)


def test_dcgan_defaults_and_a_training_step_moves_both():
    torch.manual_seed(0)
    G, D = gan.DCGANGenerator(), gan.DCGANDiscriminator()
    assert n_params(G) < 100_000 and n_params(D) < 100_000
    real = torch.rand(8, 1, 28, 28)
    fake = G(torch.randn(8, G.latent_dim))
    loss_d = gan.discriminator_loss(D(real), D(fake.detach()))
    loss_d.backward()
    assert all(p.grad is not None for p in D.parameters())
    assert all(p.grad is None for p in G.parameters())
    gan.generator_loss(D(fake)).backward()
    assert all(p.grad is not None for p in G.parameters())


def test_bad_input():
    with pytest.raises(TypeError, match="floating"):
        gan.discriminator_loss(torch.tensor([1, 2]), logits())
    with pytest.raises(ValueError, match="finite"):
        gan.generator_loss(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="at least one"):
        gan.generator_loss(torch.zeros(0))
    with pytest.raises(TypeError, match="saturating must be a bool"):
        gan.generator_loss(logits(), saturating=1)
    with pytest.raises(ValueError, match=">= 0"):
        gan.optimal_discriminator(torch.tensor([-0.1]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="> 0 at every point"):
        gan.optimal_discriminator(torch.tensor([0.0]), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="finite"):
        gan.optimal_discriminator(torch.tensor([float("nan")]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        gan.DCGANGenerator(latent_dim=8)(torch.randn(2, 9))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        gan.DCGANDiscriminator()(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="channels"):
        gan.DCGANDiscriminator(channels=0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gan_follows_the_device():
    G, D = gan.DCGANGenerator().cuda(), gan.DCGANDiscriminator().cuda()
    fake = G(torch.randn(4, G.latent_dim, device="cuda"))
    real = torch.rand(4, 1, 28, 28, device="cuda")
    assert gan.discriminator_loss(D(real), D(fake)).device.type == "cuda"
    assert gan.generator_loss(D(fake)).device.type == "cuda"
    p = torch.rand(5, device="cuda") + 0.1
    assert gan.optimal_discriminator(p, p).device.type == "cuda"
