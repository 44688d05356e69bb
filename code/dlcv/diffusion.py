r"""Denoising diffusion (DDPM): add noise step by step, learn to take it away.

Beyond the lecture (which stops at GANs), following Ho, Jain and Abbeel (2020). A fixed
forward process adds Gaussian noise over T steps with variances
:math:`\beta_1, \dots, \beta_T` (:func:`linear_beta_schedule`, Ho et al.'s
:math:`10^{-4}` to 0.02, or :func:`cosine_beta_schedule`, Nichol and Dhariwal, 2021):

- one step: :math:`q(x_t | x_{t-1}) = \mathcal{N}(\sqrt{1 - \beta_t}\, x_{t-1},
  \beta_t I)`;
- in closed form, with :math:`\alpha_t = 1 - \beta_t` and
  :math:`\bar\alpha_t = \prod_{s \le t} \alpha_s` (:class:`DDPMSchedule`):
  :math:`x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon`,
  :math:`\epsilon \sim \mathcal{N}(0, I)` (:func:`q_sample`);
- the posterior of one step back, given :math:`x_0`, is Gaussian with mean
  :math:`\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
  + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t` and variance
  :math:`\tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t`
  (:meth:`DDPMSchedule.posterior_mean`, :meth:`DDPMSchedule.posterior_variance`).

A network :math:`\epsilon_\theta(x_t, t)` learns to predict the noise: the loss is
:math:`\mathbb{E}_{t, x_0, \epsilon} \|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}
x_0 + \sqrt{1 - \bar\alpha_t} \epsilon, t)\|^2` at a uniformly random step
(:func:`ddpm_loss`, Ho et al.'s simplified objective). Substituting
:math:`x_0 = (x_t - \sqrt{1 - \bar\alpha_t} \epsilon) / \sqrt{\bar\alpha_t}` into
:math:`\tilde\mu_t` gives the reverse step's mean
:math:`\mu_\theta = \frac{1}{\sqrt{\alpha_t}} (x_t - \frac{\beta_t}{\sqrt{1 -
\bar\alpha_t}} \epsilon_\theta)` (:func:`reverse_mean`); ancestral sampling draws
:math:`x_T \sim \mathcal{N}(0, I)` and then :math:`x_{t-1} = \mu_\theta + \sigma_t z`
with :math:`\sigma_t^2 = \beta_t` and no noise at the last step (:func:`ddpm_step`,
:func:`ddpm_sample`). Optionally, as in Ho et al.'s code, the clean data that the
prediction implies, :math:`\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t} \epsilon_\theta)
/ \sqrt{\bar\alpha_t}` (:func:`predict_x0`), is clipped to the data's range and the
step's mean is then :math:`\tilde\mu_t(x_t, \hat x_0)`; without the clipping this is
the same mean, with it a poorly trained model cannot drive the samples off the range.
:class:`TinyUNet` is a small time-conditioned U-Net for the noise, with the sinusoidal
time embedding of :func:`timestep_embedding`.

Indexing: the paper's steps :math:`t = 1, \dots, T` are the tensors' indices
``0, ..., T - 1``, so ``alpha_bars[t]`` is the paper's :math:`\bar\alpha_{t+1}`, and
index 0 is the step that produces the sample (:math:`\bar\alpha_0 = 1` before it). A
model is called as ``model(x_t, t)`` with ``t`` an ``(N,)`` int64 tensor of indices.

Torch has no diffusion models built in (the ``diffusers`` library has DDPM's scheduler
and U-Nets); the tests check the forward process against its one-step definition by
Monte Carlo and the reverse mean against the posterior in closed form.

The chapter's numbered equations that the code tags: (16.6) ``gen2-forward``,
(16.7) ``gen2-ddpm-loss`` and (16.8) ``gen2-reverse``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_float_tensor,
    check_positive_int,
    check_tensor,
)
from dlcv.training import eval_mode

__all__ = [
    "DDPMSchedule",
    "TimeBlock",
    "TinyUNet",
    "cosine_beta_schedule",
    "ddpm_loss",
    "ddpm_sample",
    "ddpm_step",
    "linear_beta_schedule",
    "predict_x0",
    "q_sample",
    "reverse_mean",
    "timestep_embedding",
]

Tensor = torch.Tensor


# ---- the noise schedule --------------------------------------------------------------
def linear_beta_schedule(
    T: int, beta_start: float = 1e-4, beta_end: float = 0.02
) -> Tensor:
    """Ho et al.'s schedule: :math:`\\beta_t` evenly spaced from start to end.

    Args:
        T: The number of diffusion steps.
        beta_start: :math:`\\beta_1`, in (0, 1).
        beta_end: :math:`\\beta_T`, in [beta_start, 1).

    Returns:
        (T,) float64 betas.
    """
    T = check_positive_int(T, "T")
    b0 = check_finite_number(beta_start, "beta_start", low=0, high=1, low_open=True,
                             high_open=True)  # fmt: skip
    b1 = check_finite_number(beta_end, "beta_end", low=b0, high=1, high_open=True)
    return torch.linspace(b0, b1, T, dtype=torch.float64)


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Nichol and Dhariwal's schedule: :math:`\\bar\\alpha_t \\propto \\cos^2`.

    :math:`\\bar\\alpha_t = f(t) / f(0)` with :math:`f(t) = \\cos^2(\\frac{t / T +
    s}{1 + s} \\frac{\\pi}{2})`, and :math:`\\beta_t = 1 - \\bar\\alpha_t /
    \\bar\\alpha_{t-1}` clipped at ``max_beta`` (the last steps would reach 1).

    Args:
        T: The number of diffusion steps.
        s: The small offset that keeps :math:`\\beta_1` from being tiny.
        max_beta: The largest beta allowed, in (0, 1).

    Returns:
        (T,) float64 betas.
    """
    T = check_positive_int(T, "T")
    s = check_finite_number(s, "s", low=0)
    top = check_finite_number(max_beta, "max_beta", low=0, high=1, low_open=True,
                              high_open=True)  # fmt: skip
    steps = torch.arange(T + 1, dtype=torch.float64) / T  # t / T, (T + 1,)
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bars = f / f[0]  # (T + 1,), alpha_bar_0 = 1
    return (1 - alpha_bars[1:] / alpha_bars[:-1]).clamp(max=top)


class DDPMSchedule:
    """The forward process's constants, from its betas.

    Attributes ``betas``, ``alphas`` :math:`= 1 - \\beta_t` and ``alpha_bars``
    :math:`= \\prod_{s \\le t} \\alpha_s`, each (T,), in the betas' dtype and device
    (index ``t`` is the paper's step ``t + 1``; see the module docstring).

    Args:
        betas: (T,) float variances, each in (0, 1).
    """

    def __init__(self, betas: Tensor) -> None:
        check_float_tensor(betas, "betas", ndim=1, finite=True)
        if betas.numel() == 0 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(
                "betas must be a non-empty (T,) tensor in (0, 1), got "
                + (f"values in [{float(betas.min())}, {float(betas.max())}]"
                   if betas.numel() else "shape (0,)")
            )  # fmt: skip
        self.betas = betas
        self.alphas = 1 - betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)

    @property
    def T(self) -> int:
        """The number of diffusion steps."""
        return self.betas.numel()

    def to(self, *args: Any, **kwargs: Any) -> DDPMSchedule:
        """The schedule moved or cast as ``Tensor.to`` would (``device``, ``dtype``).

        Args:
            *args: As for ``Tensor.to``.
            **kwargs: As for ``Tensor.to``.
        """
        return DDPMSchedule(self.betas.to(*args, **kwargs))

    def _alpha_bars_prev(self) -> Tensor:
        one = torch.ones_like(self.alpha_bars[:1])
        return torch.cat([one, self.alpha_bars[:-1]])  # (T,), alpha_bar_0 = 1

    def posterior_mean(self, x0: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """The mean :math:`\\tilde\\mu_t(x_t, x_0)` of :math:`q(x_{t-1} | x_t, x_0)`.

        Args:
            x0: (N, ...) clean data.
            x_t: (N, ...) the same data noised to step t.
            t: (N,) int64 step indices in [0, T).

        Returns:
            (N, ...): :math:`\\frac{\\sqrt{\\bar\\alpha_{t-1}} \\beta_t}{1 -
            \\bar\\alpha_t} x_0 + \\frac{\\sqrt{\\alpha_t} (1 - \\bar\\alpha_{t-1})}{1
            - \\bar\\alpha_t} x_t`.
        """
        t = _check_steps(t, x_t, self.T).to(self.betas.device)
        ab, ab_prev = self.alpha_bars[t], self._alpha_bars_prev()[t]  # (N,)
        c0 = ab_prev.sqrt() * self.betas[t] / (1 - ab)
        ct = self.alphas[t].sqrt() * (1 - ab_prev) / (1 - ab)
        return _bcast(c0, x0) * x0 + _bcast(ct, x_t) * x_t

    def posterior_variance(self) -> Tensor:
        """The variances :math:`\\tilde\\beta_t` of :math:`q(x_{t-1} | x_t, x_0)`.

        Returns:
            (T,): :math:`\\frac{1 - \\bar\\alpha_{t-1}}{1 - \\bar\\alpha_t} \\beta_t`
            (0 at index 0, where the sample is produced).
        """
        return (1 - self._alpha_bars_prev()) / (1 - self.alpha_bars) * self.betas


def _bcast(coef: Tensor, x: Tensor) -> Tensor:
    """(N,) coefficients shaped (N, 1, ..., 1) to multiply (N, ...) data."""
    return coef.to(x.device, x.dtype).reshape(-1, *[1] * (x.dim() - 1))


def _check_steps(t: Any, x: Tensor, T: int) -> Tensor:
    check_tensor(t, "t", ndim=1)
    if t.dtype != torch.int64:
        raise TypeError(f"t must have dtype torch.int64, got {t.dtype}")
    if t.numel() != x.shape[0]:
        raise ValueError(f"t must have shape ({x.shape[0]},), got {tuple(t.shape)}")
    if t.numel() and not 0 <= int(t.min()) <= int(t.max()) < T:
        raise ValueError(
            f"t must hold steps in [0, {T}), got values in "
            f"[{int(t.min())}, {int(t.max())}]"
        )
    return t


def _check_schedule(schedule: Any) -> DDPMSchedule:
    if not isinstance(schedule, DDPMSchedule):
        raise TypeError(
            f"schedule must be a DDPMSchedule, got {type(schedule).__name__}"
        )
    return schedule


# ---- the forward process and the loss ------------------------------------------------
def q_sample(x0: Tensor, t: Tensor, noise: Tensor, alpha_bars: Tensor) -> Tensor:
    """The forward process in one jump: :math:`x_t` from :math:`x_0` and the noise.

    Args:
        x0: (N, ...) clean data.
        t: (N,) int64 step indices in [0, T).
        noise: (N, ...) standard normal :math:`\\epsilon`, the shape of ``x0``.
        alpha_bars: (T,) :math:`\\bar\\alpha` (``DDPMSchedule.alpha_bars``).

    Returns:
        (N, ...): :math:`\\sqrt{\\bar\\alpha_t}\\, x_0 + \\sqrt{1 - \\bar\\alpha_t}\\,
        \\epsilon`, in ``x0``'s dtype and device.
    """
    check_float_tensor(x0, "x0", min_ndim=1)
    check_float_tensor(noise, "noise")
    if noise.shape != x0.shape:
        raise ValueError(
            f"noise must have x0's shape {tuple(x0.shape)}, got {tuple(noise.shape)}"
        )
    check_float_tensor(alpha_bars, "alpha_bars", ndim=1)
    ab = alpha_bars[_check_steps(t, x0, alpha_bars.numel()).to(alpha_bars.device)]
    # Eq. (16.6)
    return _bcast(ab.sqrt(), x0) * x0 + _bcast((1 - ab).sqrt(), x0) * noise


def _randn(shape: tuple[int, ...], like: Tensor, generator: Any) -> Tensor:
    """Standard normal noise drawn on the CPU generator, moved to ``like``."""
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


def ddpm_loss(
    model: nn.Module,
    x0: Tensor,
    schedule: DDPMSchedule,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Ho et al.'s simplified loss: the noise prediction's mean squared error.

    Draws :math:`t` uniformly from the steps and :math:`\\epsilon \\sim
    \\mathcal{N}(0, I)` for each example, noises ``x0`` with :func:`q_sample` and
    returns :math:`\\mathrm{mean}\\, (\\epsilon - \\epsilon_\\theta(x_t, t))^2`.

    Args:
        model: :math:`\\epsilon_\\theta`, called as ``model(x_t, t)`` with ``t`` an
            (N,) int64 tensor of step indices; returns a tensor shaped like ``x_t``.
        x0: (N, ...) clean data, for Fashion-MNIST (N, 1, 28, 28) in [0, 1].
        schedule: The forward process.
        generator: A CPU generator for t and the noise (None: torch's global one).

    Returns:
        A scalar loss.
    """
    check_callable(model, "model", signature="model(x_t, t) -> eps")
    check_float_tensor(x0, "x0", min_ndim=1)
    schedule = _check_schedule(schedule)
    n = x0.shape[0]
    t = torch.randint(0, schedule.T, (n,), generator=generator).to(x0.device)  # (N,)
    noise = _randn(tuple(x0.shape), x0, generator)  # (N, ...)
    x_t = q_sample(x0, t, noise, schedule.alpha_bars.to(x0.device))
    return F.mse_loss(model(x_t, t), noise)  # Eq. (16.7)


# ---- the reverse process -------------------------------------------------------------
def reverse_mean(x_t: Tensor, t: Tensor, eps: Tensor, schedule: DDPMSchedule) -> Tensor:
    """The reverse step's mean from a noise prediction.

    Args:
        x_t: (N, ...) data at step t.
        t: (N,) int64 step indices in [0, T).
        eps: (N, ...) the predicted noise :math:`\\epsilon_\\theta(x_t, t)`.
        schedule: The forward process.

    Returns:
        (N, ...): :math:`\\frac{1}{\\sqrt{\\alpha_t}} \\bigl(x_t -
        \\frac{\\beta_t}{\\sqrt{1 - \\bar\\alpha_t}} \\epsilon\\bigr)`, which is
        :meth:`DDPMSchedule.posterior_mean` when ``eps`` is the true noise.
    """
    check_float_tensor(x_t, "x_t", min_ndim=1)
    check_float_tensor(eps, "eps")
    if eps.shape != x_t.shape:
        raise ValueError(
            f"eps must have x_t's shape {tuple(x_t.shape)}, got {tuple(eps.shape)}"
        )
    schedule = _check_schedule(schedule)
    t = _check_steps(t, x_t, schedule.T).to(schedule.betas.device)
    a, b, ab = schedule.alphas[t], schedule.betas[t], schedule.alpha_bars[t]  # (N,)
    # Eq. (16.8)
    return (x_t - _bcast(b / (1 - ab).sqrt(), x_t) * eps) / _bcast(a.sqrt(), x_t)


def predict_x0(x_t: Tensor, t: Tensor, eps: Tensor, schedule: DDPMSchedule) -> Tensor:
    """The clean data that a noise prediction implies, by inverting :func:`q_sample`.

    Args:
        x_t: (N, ...) data at step t.
        t: (N,) int64 step indices in [0, T).
        eps: (N, ...) the predicted noise.
        schedule: The forward process.

    Returns:
        (N, ...): :math:`\\hat x_0 = (x_t - \\sqrt{1 - \\bar\\alpha_t}\\, \\epsilon)
        / \\sqrt{\\bar\\alpha_t}`.
    """
    check_float_tensor(x_t, "x_t", min_ndim=1)
    check_float_tensor(eps, "eps")
    schedule = _check_schedule(schedule)
    t = _check_steps(t, x_t, schedule.T).to(schedule.betas.device)
    ab = schedule.alpha_bars[t]  # (N,)
    return (x_t - _bcast((1 - ab).sqrt(), x_t) * eps) / _bcast(ab.sqrt(), x_t)


def _check_clip(clip: Any) -> tuple[float, float] | None:
    if clip is None:
        return None
    if not isinstance(clip, tuple | list) or len(clip) != 2:
        raise TypeError(f"clip must be None or a pair (low, high), got {clip!r}")
    low = check_finite_number(clip[0], "clip[0]")
    high = check_finite_number(clip[1], "clip[1]", low=low, low_open=True)
    return low, high


@torch.no_grad()
def ddpm_step(
    model: nn.Module,
    x_t: Tensor,
    t: int,
    schedule: DDPMSchedule,
    *,
    clip: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One ancestral sampling step, :math:`x_t \\to x_{t-1}`.

    Args:
        model: :math:`\\epsilon_\\theta`, called as ``model(x_t, t)``.
        x_t: (N, ...) the current samples.
        t: The step index in [0, T); at 0 the mean is returned without noise.
        schedule: The forward process.
        clip: None: the mean is :func:`reverse_mean`. A range ``(low, high)``: the
            implied clean data :func:`predict_x0` is clipped to it first and the mean
            is the posterior mean given it, as Ho et al.'s code does (``(-1, 1)``
            there, ``(0, 1)`` for images in [0, 1]); without clipping the two agree.
        generator: A CPU generator for the noise z.

    Returns:
        (N, ...): :math:`\\mu_\\theta(x_t, t) + \\sqrt{\\beta_t}\\, z` (:math:`z = 0`
        at index 0).
    """
    check_callable(model, "model", signature="model(x_t, t) -> eps")
    check_float_tensor(x_t, "x_t", min_ndim=1)
    schedule = _check_schedule(schedule)
    t = check_positive_int(t, "t", minimum=0, maximum=schedule.T - 1)
    clip = _check_clip(clip)
    steps = torch.full((x_t.shape[0],), t, dtype=torch.int64, device=x_t.device)
    eps = model(x_t, steps)  # (N, ...)
    if clip is None:
        mean = reverse_mean(x_t, steps, eps, schedule)
    else:
        x0 = predict_x0(x_t, steps, eps, schedule).clamp(*clip)
        mean = schedule.posterior_mean(x0, x_t, steps)
    if t == 0:
        return mean  # the last step: the sample itself, no noise
    z = _randn(tuple(x_t.shape), x_t, generator)
    return mean + float(schedule.betas[t].sqrt()) * z  # sigma_t^2 = beta_t


@torch.no_grad()
def ddpm_sample(
    model: nn.Module,
    n: int,
    shape: tuple[int, ...],
    schedule: DDPMSchedule,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    clip: tuple[float, float] | None = None,
) -> Tensor:
    """Ancestral sampling: :math:`x_T \\sim \\mathcal{N}(0, I)`, then T reverse steps.

    The model is in eval mode for the duration of the call (then restored).

    Args:
        model: :math:`\\epsilon_\\theta`, called as ``model(x_t, t)``.
        n: The number of samples.
        shape: The shape of one sample, e.g. ``(1, 28, 28)``.
        schedule: The forward process.
        generator: A CPU generator for all the noise (the same seed, the same samples).
        device: Where to sample; None: the model's parameters' device (or the CPU).
        dtype: The samples' dtype; None: the model's parameters' (or float32).
        clip: A range for the predicted clean data at each step, see
            :func:`ddpm_step`; None: no clipping.

    Returns:
        ``(n, *shape)`` samples :math:`x_0`.
    """
    check_callable(model, "model", signature="model(x_t, t) -> eps")
    n = check_positive_int(n, "n")
    shape = tuple(check_positive_int(s, "shape entry") for s in shape)
    schedule = _check_schedule(schedule)
    clip = _check_clip(clip)
    params = list(model.parameters()) if isinstance(model, nn.Module) else []
    if device is None:
        device = params[0].device if params else torch.device("cpu")
    if dtype is None:
        dtype = params[0].dtype if params else torch.float32
    like = torch.empty(0, device=device, dtype=dtype)
    schedule = schedule.to(device)
    with eval_mode(model):
        x = _randn((n, *shape), like, generator)  # x_T, (n, *shape)
        for t in reversed(range(schedule.T)):
            x = ddpm_step(model, x, t, schedule, clip=clip, generator=generator)
    return x


# ---- the noise predictor -------------------------------------------------------------
def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """The sinusoidal embedding of step indices (Vaswani et al., 2017; Ho et al.).

    Args:
        t: (N,) step indices (int or float).
        dim: The embedding's size, even.
        max_period: The longest wavelength.

    Returns:
        (N, dim) floats: :math:`[\\sin(t \\omega_k), \\cos(t \\omega_k)]` with
        :math:`\\omega_k = \\text{max\\_period}^{-k / (\\text{dim}/2)}`,
        :math:`k = 0, \\dots, \\text{dim}/2 - 1`.
    """
    check_tensor(t, "t", ndim=1)
    dim = check_positive_int(dim, "dim", minimum=2)
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    period = check_finite_number(max_period, "max_period", low=1)
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32, device=t.device)
    omega = period ** (-k / half)  # (dim / 2,)
    angles = t.float()[:, None] * omega  # (N, dim / 2)
    return torch.cat([angles.sin(), angles.cos()], dim=1)  # (N, dim)


class TimeBlock(nn.Module):
    """Two 3x3 convolutions, each with GroupNorm and SiLU, told the time in between.

    The time embedding is projected to the block's channels (``self.time``) and added
    to the first convolution's output at every pixel.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        time_dim: Size of the time embedding it receives.
    """

    def __init__(self, in_channels: int, out_channels: int, time_dim: int) -> None:
        super().__init__()
        c_in = check_positive_int(in_channels, "in_channels")
        c = check_positive_int(out_channels, "out_channels")
        check_positive_int(time_dim, "time_dim")
        self.conv1 = nn.Conv2d(c_in, c, 3, padding=1)
        self.time = nn.Linear(time_dim, c)
        self.norm1 = nn.GroupNorm(math.gcd(4, c), c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.norm2 = nn.GroupNorm(math.gcd(4, c), c)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """The block's output.

        Args:
            x: (N, in_channels, H, W) features.
            emb: (N, time_dim) time embedding.

        Returns:
            (N, out_channels, H, W) features.
        """
        h = self.conv1(x) + self.time(emb)[:, :, None, None]  # (N, C, H, W)
        h = F.silu(self.norm1(h))
        return F.silu(self.norm2(self.conv2(h)))  # (N, C, H, W)


class TinyUNet(nn.Module):
    """A small time-conditioned U-Net that predicts the noise, two resolutions.

    The step's sinusoidal embedding goes through a two-layer MLP (``self.time_mlp``)
    to every :class:`TimeBlock`. ``self.down`` works at full resolution (28x28), its
    output is kept as the skip connection and average-pooled to half (14x14) for
    ``self.mid``; ``self.upsample`` (a 2x2 transposed convolution) brings it back, the
    skip is concatenated, ``self.up`` mixes both and a 1x1 convolution
    (``self.out``) gives the noise. About 30 thousand parameters at the defaults.

    Args:
        in_channels: Channels of the images (1 for Fashion-MNIST).
        channels: Channels at full resolution (twice as many at half).
        time_dim: Size of the time embedding, even.
    """

    def __init__(
        self, in_channels: int = 1, channels: int = 16, time_dim: int = 32
    ) -> None:
        super().__init__()
        c_in = check_positive_int(in_channels, "in_channels")
        c = check_positive_int(channels, "channels")
        self.time_dim = check_positive_int(time_dim, "time_dim", minimum=2)
        if time_dim % 2:
            raise ValueError(f"time_dim must be even, got {time_dim}")
        self.time_mlp = nn.Sequential(
            nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)
        )
        self.down = TimeBlock(c_in, c, time_dim)
        self.mid = TimeBlock(c, 2 * c, time_dim)
        self.upsample = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.up = TimeBlock(2 * c, c, time_dim)
        self.out = nn.Conv2d(c, c_in, 1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """The predicted noise :math:`\\epsilon_\\theta(x_t, t)`.

        Args:
            x: (N, in_channels, H, W) noisy images, H and W even.
            t: (N,) int64 step indices.

        Returns:
            (N, in_channels, H, W).
        """
        check_float_tensor(x, "x", ndim=4)
        if x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"x must have even height and width, got {tuple(x.shape)}")
        emb = timestep_embedding(t, self.time_dim).to(x.dtype)  # (N, time_dim)
        emb = self.time_mlp(emb)
        skip = self.down(x, emb)  # (N, c, H, W)
        h = self.mid(F.avg_pool2d(skip, 2), emb)  # (N, 2c, H/2, W/2)
        h = torch.cat([self.upsample(h), skip], dim=1)  # (N, 2c, H, W)
        return self.out(self.up(h, emb))  # (N, in_channels, H, W)
