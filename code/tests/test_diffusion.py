import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcv import diffusion as D


def gen(seed):
    return torch.Generator().manual_seed(seed)


def schedule(T=100):
    return D.DDPMSchedule(D.linear_beta_schedule(T))


def test_linear_schedule_and_its_constants():
    betas = D.linear_beta_schedule(1000)
    assert betas.dtype == torch.float64 and betas.shape == (1000,)
    assert float(betas[0]) == pytest.approx(1e-4) and float(betas[-1]) == 0.02
    s = D.DDPMSchedule(betas)
    torch.testing.assert_close(s.alphas, 1 - betas)
    torch.testing.assert_close(s.alpha_bars[3], (1 - betas[:4]).prod())
    # alpha_bar falls monotonically from about 1 to about 0: x_T is nearly pure noise
    assert (s.alpha_bars.diff() < 0).all()
    assert float(s.alpha_bars[0]) == pytest.approx(1 - 1e-4) and s.alpha_bars[-1] < 1e-4
    assert s.T == 1000


def test_cosine_schedule_follows_its_squared_cosine():
    T, s = 50, 0.008
    betas = D.cosine_beta_schedule(T, s=s)
    ab = D.DDPMSchedule(betas).alpha_bars
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    expected = torch.tensor([f(t) / f(0) for t in range(1, T + 1)], dtype=ab.dtype)
    # equal until the clipping at max_beta changes the last step
    torch.testing.assert_close(ab[:-1], expected[:-1])
    assert float(betas.max()) == 0.999 and (ab.diff() < 0).all()


def test_q_sample_is_the_closed_form():
    s = schedule()
    x0 = torch.randn(4, 1, 3, 3, generator=gen(0), dtype=torch.float64)
    eps = torch.randn(4, 1, 3, 3, generator=gen(1), dtype=torch.float64)
    t = torch.tensor([0, 10, 50, 99])
    ab = s.alpha_bars[t].reshape(4, 1, 1, 1)
    expected = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    torch.testing.assert_close(D.q_sample(x0, t, eps, s.alpha_bars), expected)


def test_forward_marginal_by_monte_carlo_jump_and_step_by_step():
    s, M = schedule(), 10_000
    x0 = torch.tensor([1.0, -0.5, 0.0, 2.0], dtype=torch.float64).expand(M, 4)
    g = gen(2)
    x = x0.clone()  # the one-step process, run alongside
    steps = {5, 30, 99}
    for t in range(s.T):
        eps = torch.randn(M, 4, generator=g, dtype=torch.float64)
        x = (1 - s.betas[t]).sqrt() * x + s.betas[t].sqrt() * eps
        if t not in steps:
            continue
        ab = s.alpha_bars[t]
        noise = torch.randn(M, 4, generator=g, dtype=torch.float64)
        jump = D.q_sample(x0, torch.full((M,), t), noise, s.alpha_bars)
        for xt in (jump, x):
            mean, var = xt.mean(0), xt.var(0)  # (4,) each
            se_mean = ((1 - ab) / M).sqrt()
            se_var = (1 - ab) * math.sqrt(2 / (M - 1))
            assert ((mean - ab.sqrt() * x0[0]).abs() < 4 * se_mean).all()
            assert ((var - (1 - ab)).abs() < 4 * se_var).all()


def test_forward_moments_step_by_step_equal_the_closed_form_exactly():
    s = schedule(200)
    mean, var = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0).double()
    for t in range(s.T):  # E and Var of sqrt(1 - b) x + sqrt(b) eps
        mean = (1 - s.betas[t]).sqrt() * mean
        var = (1 - s.betas[t]) * var + s.betas[t]
        torch.testing.assert_close(mean, s.alpha_bars[t].sqrt())
        torch.testing.assert_close(var, 1 - s.alpha_bars[t])


class Oracle(nn.Module):
    """A noise predictor that returns the noise it was given."""

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x_t, t):
        return self.eps


def test_reverse_mean_with_the_true_noise_is_the_posterior_mean():
    s = schedule()
    x0 = torch.randn(5, 2, 3, generator=gen(3), dtype=torch.float64)
    eps = torch.randn(5, 2, 3, generator=gen(4), dtype=torch.float64)
    t = torch.tensor([1, 7, 40, 80, 99])
    x_t = D.q_sample(x0, t, eps, s.alpha_bars)
    a, b, ab = s.alphas[t], s.betas[t], s.alpha_bars[t]
    ab_prev = s.alpha_bars[t - 1]
    c0, ct = ab_prev.sqrt() * b / (1 - ab), a.sqrt() * (1 - ab_prev) / (1 - ab)
    expected = c0[:, None, None] * x0 + ct[:, None, None] * x_t
    torch.testing.assert_close(D.reverse_mean(x_t, t, eps, s), expected)
    torch.testing.assert_close(s.posterior_mean(x0, x_t, t), expected)
    # one ddpm_step at index 0 with the oracle lands exactly on x0
    t0 = torch.zeros(5, dtype=torch.int64)
    x_1 = D.q_sample(x0, t0, eps, s.alpha_bars)
    torch.testing.assert_close(D.ddpm_step(Oracle(eps), x_1, 0, s), x0)


def test_predict_x0_inverts_q_sample_and_clipping_keeps_samples_in_range():
    s = schedule(20)
    x0 = torch.rand(4, 1, 5, 5, generator=gen(11), dtype=torch.float64)
    eps = torch.randn(4, 1, 5, 5, generator=gen(12), dtype=torch.float64)
    t = torch.tensor([0, 3, 10, 19])
    x_t = D.q_sample(x0, t, eps, s.alpha_bars)
    torch.testing.assert_close(D.predict_x0(x_t, t, eps, s), x0)
    # with the true noise, clipping to the data's range changes nothing
    x = x_t[2:3]
    a = D.ddpm_step(Oracle(eps[2:3]), x, 10, s, generator=gen(0))
    b = D.ddpm_step(Oracle(eps[2:3]), x, 10, s, clip=(0.0, 1.0), generator=gen(0))
    torch.testing.assert_close(a, b)

    # a wild noise predictor: unclipped samples leave [0, 1], clipped ones do not
    def wild(x_t, t):
        return -5 * torch.ones_like(x_t)

    free = D.ddpm_sample(wild, 4, (3,), s, generator=gen(1), dtype=torch.float64)
    held = D.ddpm_sample(
        wild, 4, (3,), s, generator=gen(1), dtype=torch.float64, clip=(0.0, 1.0)
    )
    assert free.max() > 2
    assert ((held >= -1e-12) & (held <= 1 + 1e-12)).all()  # up to rounding


def test_posterior_is_the_product_of_the_two_gaussians():
    # q(x_{t-1} | x_t, x0) oc N(x_t; sqrt(a_t) x_{t-1}, b_t) N(x_{t-1}; sqrt(ab') x0,
    # 1 - ab'): precisions add, means are precision-weighted (Bayes in one dimension)
    s = schedule()
    t = torch.arange(1, 100)
    x0 = torch.randn(99, generator=gen(5), dtype=torch.float64)
    x_t = torch.randn(99, generator=gen(6), dtype=torch.float64)
    a, b, ab_prev = s.alphas[t], s.betas[t], s.alpha_bars[t - 1]
    precision = a / b + 1 / (1 - ab_prev)
    mean = (a.sqrt() * x_t / b + ab_prev.sqrt() * x0 / (1 - ab_prev)) / precision
    torch.testing.assert_close(s.posterior_mean(x0, x_t, t), mean)
    torch.testing.assert_close(s.posterior_variance()[1:], 1 / precision)
    assert s.posterior_variance()[0] == 0


def test_ddpm_loss_is_the_noise_mse_at_the_drawn_steps():
    s = schedule(50)
    x0 = torch.rand(6, 1, 4, 4, dtype=torch.float64)

    class Record(nn.Module):
        def forward(self, x_t, t):
            self.seen = (x_t, t)
            return 0.5 * x_t + t[:, None, None, None] / 100

    model = Record()
    loss = D.ddpm_loss(model, x0, s, generator=gen(7))
    g = gen(7)  # the same draws, in the same order: t, then the noise
    t = torch.randint(0, 50, (6,), generator=g)
    noise = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64)
    x_t = D.q_sample(x0, t, noise, s.alpha_bars)
    torch.testing.assert_close(model.seen[1], t)
    torch.testing.assert_close(model.seen[0], x_t)
    expected = F.mse_loss(0.5 * x_t + t[:, None, None, None] / 100, noise)
    torch.testing.assert_close(loss, expected)


def test_sampling_with_the_exact_noise_predictor_recovers_gaussian_data():
    # data N(m, v): x_t ~ N(sqrt(ab) m, ab v + 1 - ab), and the best noise predictor
    # is E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab v + 1 - ab)
    m, v, n = 1.5, 0.25, 4000
    s = D.DDPMSchedule(D.linear_beta_schedule(100, 1e-4, 0.2))  # alpha_bar_T ~ 2e-5

    def exact(x_t, t):
        ab = s.alpha_bars[t].to(x_t.dtype)[:, None]
        return (1 - ab).sqrt() * (x_t - ab.sqrt() * m) / (ab * v + 1 - ab)

    x = D.ddpm_sample(exact, n, (1,), s, generator=gen(8), dtype=torch.float64)
    assert x.shape == (n, 1)
    assert abs(float(x.mean()) - m) < 4 * math.sqrt(v / n)
    bias = 0.02  # the discretization's, about 0.01 at T = 100
    assert abs(float(x.var()) - v) < 4 * v * math.sqrt(2 / n) + bias


def test_tiny_unet_sampling_is_reproducible_shaped_and_finite():
    torch.manual_seed(0)
    model, s = D.TinyUNet(channels=4, time_dim=8), schedule(8)
    model.train()
    a = D.ddpm_sample(model, 3, (1, 28, 28), s, generator=gen(9))
    b = D.ddpm_sample(model, 3, (1, 28, 28), s, generator=gen(9))
    c = D.ddpm_sample(model, 3, (1, 28, 28), s, generator=gen(10))
    assert a.shape == (3, 1, 28, 28) and a.dtype == torch.float32
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert model.training  # the mode is restored
    assert D.ddpm_sample(model.double(), 1, (1, 4, 4), s).dtype == torch.float64


def test_timestep_embedding_and_the_unet_hear_the_time():
    t = torch.tensor([0, 3, 999])
    emb = D.timestep_embedding(t, 6)
    omega = torch.tensor([1.0, 10000 ** (-1 / 3), 10000 ** (-2 / 3)])
    angles = t[:, None].float() * omega
    torch.testing.assert_close(emb, torch.cat([angles.sin(), angles.cos()], 1))
    torch.manual_seed(0)
    model = D.TinyUNet(channels=4, time_dim=8).double()
    x = torch.randn(2, 1, 28, 28, dtype=torch.float64)
    out0, out1 = model(x, torch.tensor([0, 0])), model(x, torch.tensor([50, 50]))
    assert out0.shape == x.shape and out0.dtype == torch.float64
    assert not torch.allclose(out0, out1)
    D.ddpm_loss(model, x, schedule(), generator=gen(0)).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert sum(p.numel() for p in D.TinyUNet().parameters()) < 50_000


def test_bad_input():
    s = schedule(10)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"beta_end must be a finite number"):
        D.linear_beta_schedule(10, 0.02, 0.01)
    with pytest.raises(ValueError, match="beta_start"):
        D.linear_beta_schedule(10, float("nan"))
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        D.DDPMSchedule(torch.tensor([0.1, 1.0]))
    with pytest.raises(TypeError, match="int64"):
        D.q_sample(x, torch.tensor([0.0, 1.0]), x, s.alpha_bars)
    with pytest.raises(ValueError, match=r"steps in \[0, 10\)"):
        D.q_sample(x, torch.tensor([0, 10]), x, s.alpha_bars)
    with pytest.raises(ValueError, match="noise must have x0's shape"):
        D.q_sample(x, torch.tensor([0, 1]), torch.zeros(2, 4), s.alpha_bars)
    with pytest.raises(TypeError, match="DDPMSchedule"):
        D.ddpm_loss(Oracle(x), x, s.betas)
    with pytest.raises(TypeError, match="callable"):
        D.ddpm_sample("model", 2, (3,), s)
    with pytest.raises(ValueError, match=r"t must be an int in \[0, 9\]"):
        D.ddpm_step(Oracle(x), x, 10, s)
    with pytest.raises(TypeError, match="clip must be None or a pair"):
        D.ddpm_sample(Oracle(x), 2, (3,), s, clip=1.0)
    with pytest.raises(ValueError, match="clip"):
        D.ddpm_sample(Oracle(x), 2, (3,), s, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match="dim must be even"):
        D.timestep_embedding(torch.tensor([1]), 5)
    with pytest.raises(ValueError, match="even height"):
        D.TinyUNet()(torch.zeros(1, 1, 27, 28), torch.tensor([0]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_diffusion_follows_the_device():
    model, s = D.TinyUNet(channels=4, time_dim=8).cuda(), schedule(5)
    x0 = torch.rand(2, 1, 28, 28, device="cuda")
    assert D.ddpm_loss(model, x0, s, generator=gen(0)).device.type == "cuda"
    assert D.ddpm_sample(model, 2, (1, 28, 28), s, generator=gen(0)).is_cuda
    t = torch.tensor([1, 2], device="cuda")
    assert D.q_sample(x0, t, x0, s.alpha_bars).is_cuda
    assert s.to("cuda").posterior_mean(x0, x0, t).is_cuda
