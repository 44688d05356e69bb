import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from dlcv import vae as V

f64 = torch.float64


def _g(seed):
    return torch.Generator().manual_seed(seed)


def gaussian(shape=(3, 4, 5), seed=0):
    mu = torch.randn(shape, dtype=f64, generator=_g(seed))
    logvar = torch.randn(shape, dtype=f64, generator=_g(seed + 1))
    return mu, logvar


def test_gaussian_kl_is_torch_distributions_kl():
    mu, logvar = gaussian()
    q, p = Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)
    expected = kl_divergence(q, p).sum(-1)  # (3, 4)
    torch.testing.assert_close(V.gaussian_kl(mu, logvar), expected)
    assert V.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    mu, logvar = (
        torch.tensor([0.5, -1.0], dtype=f64),
        torch.tensor([-0.5, 0.3], dtype=f64),
    )
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = mu + q.scale * torch.randn(200_000, 2, dtype=f64, generator=_g(0))  # z ~ q
    log_ratio = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1)  # (M,)
    se = log_ratio.std() / math.sqrt(len(log_ratio))
    assert abs(log_ratio.mean() - V.gaussian_kl(mu, logvar)) < 4 * se


def test_reparameterize_draws_mu_plus_sigma_eps_with_the_right_gradients():
    mu, logvar = gaussian((5, 3))
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    z = V.reparameterize(mu, logvar, generator=_g(7))
    eps = torch.randn(5, 3, dtype=f64, generator=_g(7))
    sigma = torch.exp(0.5 * logvar)
    torch.testing.assert_close(z, mu + sigma * eps)
    d_mu, d_logvar = torch.autograd.grad(z.sum(), (mu, logvar))
    torch.testing.assert_close(d_mu, torch.ones_like(mu))  # dz/dmu = 1
    torch.testing.assert_close(d_logvar, 0.5 * sigma * eps)  # dz/dlogvar = sigma eps/2
    torch.autograd.gradcheck(
        lambda m, lv: V.reparameterize(m, lv, generator=_g(3)), (mu, logvar)
    )


def test_reparameterize_has_the_gaussian_s_moments():
    mu = torch.tensor([1.0, -2.0], dtype=f64).expand(100_000, 2)
    logvar = torch.tensor([0.0, math.log(4.0)], dtype=f64).expand(100_000, 2)
    z = V.reparameterize(mu, logvar, generator=_g(0))
    torch.testing.assert_close(z.mean(0), mu[0], atol=4 * 2 / math.sqrt(1e5), rtol=0)
    torch.testing.assert_close(
        z.std(0), torch.tensor([1.0, 2.0], dtype=f64), atol=0.03, rtol=0
    )


def test_autoencoder_is_its_mlp_and_keeps_the_input_shape():
    torch.manual_seed(0)
    model = V.Autoencoder((1, 6, 5), code_size=4, hidden_size=8).double()
    x = torch.rand(3, 1, 6, 5, dtype=f64, generator=_g(0))
    e1, e2 = model.encoder[1], model.encoder[3]
    d1, d2 = model.decoder[0], model.decoder[2]
    code = e2(F.relu(e1(x.flatten(1))))  # (3, 4)
    torch.testing.assert_close(model.encode(x), code)
    torch.testing.assert_close(model(x), d2(F.relu(d1(code))).reshape(3, 1, 6, 5))
    assert model(x.flatten(1)).shape == (3, 30)  # (N, D) works too


def tiny_vae(latent=2, seed=0):
    torch.manual_seed(seed)
    return V.VAE((6,), latent_size=latent, hidden_size=8).double()


def test_vae_forward_is_encode_reparameterize_decode():
    model = tiny_vae()
    x = (torch.rand(4, 6, generator=_g(0)) < 0.5).double()
    logits, mu, logvar = model(x, generator=_g(1))
    h = model.encoder(x)
    torch.testing.assert_close((mu, logvar), (h[:, :2], h[:, 2:]))
    z = V.reparameterize(mu, logvar, generator=_g(1))
    torch.testing.assert_close(logits, model.decode(z))


def test_elbo_is_reconstruction_minus_kl_by_hand():
    model = tiny_vae()
    x = (torch.rand(5, 6, generator=_g(0)) < 0.5).double()
    out = V.elbo(model, x, generator=_g(2))
    logits, mu, logvar = model(x, generator=_g(2))
    p = torch.sigmoid(logits)
    recon = (x * p.log() + (1 - x) * (1 - p).log()).sum(1)  # log p(x | z)
    torch.testing.assert_close(out.reconstruction, recon)
    torch.testing.assert_close(out.kl, V.gaussian_kl(mu, logvar))
    assert out.elbo.equal(out.reconstruction - out.kl)  # exactly
    assert out.elbo.shape == (5,) and (out.kl >= 0).all()


def test_elbo_is_an_unbiased_estimate_of_a_lower_bound_on_log_likelihood():
    """With a 1-D latent, log p(x) and the exact ELBO are integrals over a grid."""
    model = tiny_vae(latent=1, seed=3)
    z = torch.linspace(-12, 12, 8001, dtype=f64)[:, None]  # (Z, 1)
    dz = (z[1] - z[0]).item()
    with torch.no_grad():
        dec = model.decode(z)  # (Z, 6) logits of p(x | z)
        log_prior = Normal(0.0, 1.0).log_prob(z[:, 0])  # (Z,)
        xs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)), dtype=f64)
        log_lik = -F.binary_cross_entropy_with_logits(
            dec[None].expand(64, -1, -1),
            xs[:, None].expand(-1, len(z), -1),
            reduction="none",
        ).sum(-1)  # (64, Z): log p(x | z)
        log_px = torch.logsumexp(log_lik + log_prior, dim=1) + math.log(dz)  # (64,)
        torch.testing.assert_close(log_px.exp().sum(), torch.tensor(1.0, dtype=f64))
        mu, logvar = model.encode(xs)  # (64, 1) each
        q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z[:, 0]).exp()  # (64, Z)
        exact_elbo = (q * log_lik).sum(1) * dz - V.gaussian_kl(mu, logvar)  # (64,)
        assert (exact_elbo < log_px).all()  # the bound, with a gap KL(q || p(z | x))
        x = xs[[5, 42]].repeat_interleave(20_000, 0)  # two images, 20000 draws each
        draws = V.elbo(model, x, generator=_g(0)).elbo.reshape(2, -1)
    se = draws.std(1) / math.sqrt(draws.shape[1])
    assert ((draws.mean(1) - exact_elbo[[5, 42]]).abs() < 4 * se).all()


def test_straight_through_is_z_q_forward_and_identity_backward():
    z_e = torch.randn(2, 3, 4, dtype=f64, generator=_g(0), requires_grad=True)
    z_q = torch.randn(2, 3, 4, dtype=f64, generator=_g(1), requires_grad=True)
    w = torch.randn(2, 3, 4, dtype=f64, generator=_g(2))
    out = V.straight_through(z_e, z_q)
    torch.testing.assert_close(out, z_q)
    (out * w).sum().backward()
    torch.testing.assert_close(z_e.grad, w)  # the identity's gradient
    assert z_q.grad is None


def quantizer(K=5, D=3, seed=0):
    torch.manual_seed(seed)
    return V.VectorQuantizer(K, D).double()


def test_quantizer_picks_the_nearest_code_and_its_losses_by_hand():
    vq = quantizer()
    z_e = torch.randn(2, 3, 4, 5, dtype=f64, generator=_g(0)).mul(0.3)
    z_e.requires_grad_(True)
    out = vq(z_e)
    E = vq.embedding.weight  # (K, D)
    flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, 3)  # (40, D)
    nearest = torch.cdist(flat, E.detach()).argmin(1)  # (40,)
    assert out.indices.equal(nearest.reshape(2, 4, 5))
    z_q = E.detach()[out.indices].permute(0, 3, 1, 2)  # (N, D, H, W)
    torch.testing.assert_close(out.quantized, z_q)
    sq = (z_e.detach() - z_q).pow(2).mean()
    torch.testing.assert_close(out.codebook_loss, sq)
    torch.testing.assert_close(out.commitment_loss, 0.25 * sq)
    counts = torch.bincount(nearest, minlength=5).double() / 40
    used = counts[counts > 0]
    torch.testing.assert_close(out.perplexity, torch.exp(-(used * used.log()).sum()))
    # the codebook loss moves only the codes, the commitment loss only the encoder
    (g_e,) = torch.autograd.grad(out.codebook_loss, E, retain_graph=True)
    assert g_e.abs().sum() > 0
    assert torch.autograd.grad(out.codebook_loss, z_e, allow_unused=True)[0] is None
    assert torch.autograd.grad(out.commitment_loss, E, allow_unused=True)[0] is None
    # the quantized output passes gradients straight to z_e, not to the codes
    w = torch.randn(2, 3, 4, 5, dtype=f64, generator=_g(1))
    (g_z,) = torch.autograd.grad((out.quantized * w).sum(), z_e, retain_graph=True)
    torch.testing.assert_close(g_z, w)
    assert (
        torch.autograd.grad((out.quantized * w).sum(), E, allow_unused=True)[0] is None
    )


def test_perplexity_is_k_for_uniform_use_and_one_for_a_single_code():
    vq = quantizer(K=4, D=3)
    E = vq.embedding.weight.detach()  # (4, 3)
    uniform = E[torch.arange(8) % 4].T.reshape(1, 3, 2, 4)  # each code twice
    one = E[[2] * 8].T.reshape(1, 3, 2, 4)
    torch.testing.assert_close(vq(uniform).perplexity.item(), 4.0)
    torch.testing.assert_close(vq(one).perplexity.item(), 1.0)
    assert vq(one).indices.eq(2).all()


def test_vqvae_shapes_and_the_encoder_learns_through_the_quantizer():
    torch.manual_seed(0)
    model = V.VQVAE(hidden_channels=8, num_embeddings=16, embedding_dim=4)
    x = torch.rand(3, 1, 28, 28, generator=_g(0))
    logits, vq = model(x)
    assert logits.shape == x.shape and vq.indices.shape == (3, 7, 7)
    assert model.quantizer.embedding.weight.shape == (16, 4)
    F.binary_cross_entropy_with_logits(logits, x).backward()  # reconstruction only
    assert model.encoder[0].weight.grad.abs().sum() > 0  # straight through


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: V.gaussian_kl(torch.zeros(3), torch.zeros(4)), ValueError, "logvar"),
        (lambda: V.gaussian_kl(torch.zeros(3).long(), torch.zeros(3)), TypeError, "mu"),
        (
            lambda: V.reparameterize(torch.zeros(2, 3), torch.zeros(3)),
            ValueError,
            "shape",
        ),
        (lambda: V.Autoencoder((28, 28))(torch.zeros(2, 27, 28)), ValueError, "784"),
        (lambda: V.Autoencoder(28), TypeError, "in_shape"),
        (lambda: V.VAE(latent_size=0), ValueError, "latent_size"),
        (lambda: V.VAE((4,), 2).decode(torch.zeros(3, 5)), ValueError, "z must"),
        (lambda: V.elbo("vae", torch.zeros(2, 4)), TypeError, "nn.Module"),
        (lambda: V.straight_through(torch.zeros(2), torch.zeros(3)), ValueError, "z_q"),
        (lambda: V.VectorQuantizer(4, 3)(torch.zeros(1, 2, 2, 2)), ValueError, "z_e"),
        (lambda: V.VectorQuantizer(4, 3, math.nan), ValueError, "commitment_cost"),
        (lambda: V.VQVAE()(torch.zeros(1, 1, 30, 28)), ValueError, "multiples of 4"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_models_follow_the_device():
    x = torch.rand(2, 1, 28, 28, device="cuda")
    out = V.elbo(V.VAE().cuda(), x, generator=_g(0))
    assert out.elbo.device.type == "cuda"
    assert V.Autoencoder().cuda()(x).device.type == "cuda"
    logits, vq = V.VQVAE().cuda()(x)
    assert logits.device.type == vq.perplexity.device.type == "cuda"
    g = torch.Generator(device="cuda").manual_seed(0)
    mu = torch.zeros(3, 2, device="cuda")
    assert V.reparameterize(mu, mu, generator=g).device.type == "cuda"
