"""Hardware and software: what chapter 9 measures and reuses (lecture 9).

Lecture 9 of EECS 498 compares CPUs and GPUs and looks inside a deep-learning framework:
autograd as an engine, and dynamic against static graphs. The chapter
``book/hardware_software.md`` measures this machine with the functions below.

* :func:`matmul_flops`, :func:`arithmetic_intensity`, :func:`matmul_rate`,
  :func:`memory_bandwidth` and :func:`roofline` -- the roofline model: achieved FLOP/s
  of a matrix product against its FLOPs per byte, under the two measured ceilings
  (the best matmul rate, the copy bandwidth). Timing uses
  :func:`best_time` (``torch.utils.benchmark``, which synchronizes CUDA);
  ``autocast`` runs the product under ``torch.autocast``. Equations:
  (9.1) ``hw-intensity``, the arithmetic intensity, and (9.2) ``hw-roofline``.
* :class:`SiLUFunction` and :func:`silu` -- a custom ``torch.autograd.Function`` with a
  hand-written backward (torch's counterpart: ``F.silu``), checked with gradcheck.
* :func:`log_grad_norms` -- module forward hooks that put tensor hooks on each
  layer's output, recording its gradient norm on every backward pass
  (``nn.Module.register_forward_hook``, ``torch.Tensor.register_hook``).
* :func:`recording_backend` -- a ``torch.compile`` backend that keeps each captured
  FX graph (``torch.fx.GraphModule``) and runs it unchanged.
* :class:`FashionMNISTDataset`, :class:`ToFloat`, :class:`RandomHorizontalFlip` and
  :func:`loader_throughput` -- a map-style ``torch.utils.data.Dataset`` over
  :mod:`dlcv.data` with a per-item transform, and the items per second that a
  ``DataLoader`` delivers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from dlcv import data
from dlcv._checks import check_callable, check_in, check_positive_int, check_tensor

__all__ = [
    "FashionMNISTDataset",
    "RandomHorizontalFlip",
    "SiLUFunction",
    "ToFloat",
    "arithmetic_intensity",
    "autocast_matmul",
    "best_time",
    "loader_throughput",
    "log_grad_norms",
    "matmul_flops",
    "matmul_rate",
    "memory_bandwidth",
    "recording_backend",
    "roofline",
    "silu",
]

_FLOAT = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def best_time(fn: Callable[..., Any], *args: Any, min_run_time: float = 0.1) -> float:
    """The fastest time of one call of ``fn(*args)``, in seconds, CUDA synchronized.

    ``torch.utils.benchmark.Timer.blocked_autorange`` repeats the call in blocks for
    ``min_run_time`` seconds; the fastest block is the rate the hardware can reach,
    the one least disturbed by other processes (a roofline compares best rates).

    Args:
        fn: the function to time.
        *args: its arguments.
        min_run_time: seconds to spend measuring.
    """
    check_callable(fn, "fn", signature="fn(*args)")
    if not (isinstance(min_run_time, (int, float)) and min_run_time > 0):
        raise ValueError(
            f"min_run_time must be a positive number, got {min_run_time!r}"
        )
    from torch.utils import benchmark

    fn(*args)  # warm-up: caches, lazy initialisation, CUDA context
    timer = benchmark.Timer(
        stmt="fn(*args)",
        globals={"fn": fn, "args": args},
        num_threads=torch.get_num_threads(),
    )
    return min(timer.blocked_autorange(min_run_time=min_run_time).times)


def _shape(n: int | tuple[int, int, int]) -> tuple[int, int, int]:
    """``n`` -> (n, n, n); ``(m, k, n)`` is checked and returned."""
    if isinstance(n, tuple):
        if len(n) != 3:
            raise ValueError(f"n must be an int or (m, k, n), got {n!r}")
        return tuple(check_positive_int(v, "n[i]") for v in n)  # type: ignore[return-value]
    check_positive_int(n, "n")
    return (n, n, n)


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an (m, k) @ (k, n) product: one multiply and one add per term.

    Args:
        m: rows of the left factor.
        k: the shared dimension.
        n: columns of the right factor.
    """
    m, k, n = _shape((m, k, n))
    return 2 * m * k * n


def arithmetic_intensity(m: int, k: int, n: int, bytes_per_element: int = 4) -> float:
    """FLOPs per byte of an (m, k) @ (k, n) product that reads A, B and writes C once.

    Eq. (9.1) ``hw-intensity``: 2mkn / ((mk + kn + mn) b); for a square product
    2n^3 / (3 n^2 b) = 2n / (3b).

    Args:
        m: rows of the left factor.
        k: the shared dimension.
        n: columns of the right factor.
        bytes_per_element: 4 for float32, 2 for bfloat16.
    """
    m, k, n = _shape((m, k, n))
    check_positive_int(bytes_per_element, "bytes_per_element")
    return 2 * m * k * n / ((m * k + k * n + m * n) * bytes_per_element)  # Eq. (9.1)


def autocast_matmul(
    a: torch.Tensor, b: torch.Tensor, autocast: torch.dtype | None = None
) -> torch.Tensor:
    """``a @ b``, under ``torch.autocast(a.device.type, dtype=autocast)`` if given.

    Args:
        a: the left factor.
        b: the right factor.
        autocast: the lower-precision dtype autocast runs the product in, or None.
    """
    check_tensor(a, "a")
    check_tensor(b, "b")
    if autocast is None:
        return a @ b
    check_in(autocast, "autocast", (torch.float16, torch.bfloat16))
    with torch.autocast(a.device.type, dtype=autocast):
        return a @ b


def matmul_rate(
    n: int | tuple[int, int, int],
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    autocast: torch.dtype | None = None,
    min_run_time: float = 0.1,
) -> float:
    """Achieved FLOP/s of an n x n (or (m, k) @ (k, n)) matrix product.

    Args:
        n: the size, or ``(m, k, n)``.
        device: where the factors live.
        dtype: their dtype.
        autocast: run the product under ``torch.autocast`` in this dtype
            (``torch.bfloat16`` on a CPU), or None.
        min_run_time: seconds to measure (fastest block, CUDA synchronized).

    Returns:
        ``matmul_flops(m, k, n)`` divided by the fastest time of one product.
    """
    m, k, n = _shape(n)
    check_in(dtype, "dtype", _FLOAT)
    if autocast is not None:
        check_in(autocast, "autocast", (torch.float16, torch.bfloat16))
    g = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=g, dtype=dtype).to(device)
    b = torch.randn(k, n, generator=g, dtype=dtype).to(device)
    seconds = best_time(autocast_matmul, a, b, autocast, min_run_time=min_run_time)
    return matmul_flops(m, k, n) / seconds


def memory_bandwidth(
    numel: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    min_run_time: float = 0.1,
) -> float:
    """Bytes per second of a large copy: each element is read once and written once.

    Args:
        numel: elements copied (make the array larger than the caches).
        device: where the arrays live.
        dtype: their dtype.
        min_run_time: seconds to measure.

    Returns:
        ``2 * numel * itemsize`` divided by the fastest time of ``dst.copy_(src)``.
    """
    check_positive_int(numel, "numel")
    check_in(dtype, "dtype", _FLOAT)
    src = torch.ones(numel, dtype=dtype, device=device)
    dst = torch.empty_like(src)
    seconds = best_time(dst.copy_, src, min_run_time=min_run_time)
    return 2 * numel * src.element_size() / seconds


def roofline(intensity: Any, peak_flops: float, bandwidth: float) -> Any:
    """The roofline, Eq. (9.2): attainable FLOP/s = min(peak, intensity * bandwidth).

    Args:
        intensity: FLOPs per byte (a number or an array).
        peak_flops: the compute ceiling, FLOP/s.
        bandwidth: the memory ceiling, bytes/s.
    """
    if not (peak_flops > 0 and bandwidth > 0):
        raise ValueError(
            f"peak_flops and bandwidth must be positive, got {peak_flops}, {bandwidth}"
        )
    if hasattr(intensity, "clip"):  # a NumPy array or a tensor
        return (intensity * bandwidth).clip(max=peak_flops)
    return min(peak_flops, intensity * bandwidth)


# ---- a custom autograd Function ------------------------------------------------------
class SiLUFunction(torch.autograd.Function):
    """SiLU, x * sigmoid(x), with a hand-written backward (torch's ``F.silu``).

    d/dx [x s(x)] = s(x) (1 + x (1 - s(x))) with s the sigmoid.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)  # keep the input for the backward pass
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return dout * s * (1 + x * (1 - s))


def silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU through :class:`SiLUFunction`: one node in autograd's graph.

    Args:
        x: a floating-point tensor.
    """
    check_tensor(x, "x")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    return SiLUFunction.apply(x)


# ---- hooks ---------------------------------------------------------------------------
def log_grad_norms(
    model: nn.Module, types: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d)
) -> tuple[dict[str, list[float]], list[Any]]:
    """Record, on every backward pass, the gradient norm at each layer's output.

    A module forward hook puts a tensor hook on each output it sees; autograd calls
    the tensor hook with the output's gradient during the backward pass.

    Args:
        model: the network.
        types: the module classes to watch.

    Returns:
        ``(log, handles)``: ``log[name]`` grows by one norm per backward pass;
        ``handle.remove()`` for each handle detaches the hooks.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    log: dict[str, list[float]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, types):
            log[name] = []

            def hook(mod: nn.Module, inputs: Any, output: Any, name: str = name):
                if output.requires_grad:  # a tensor hook sees dL/d(output)
                    output.register_hook(lambda g: log[name].append(g.norm().item()))

            handles.append(module.register_forward_hook(hook))
    return log, handles


# ---- torch.compile -------------------------------------------------------------------
def recording_backend() -> tuple[Callable[..., Any], list[torch.fx.GraphModule]]:
    """A ``torch.compile`` backend that keeps every graph Dynamo captures.

    Returns:
        ``(backend, graphs)``: pass ``backend=backend`` to ``torch.compile``; each
        captured ``torch.fx.GraphModule`` is appended to ``graphs`` and run as is.
    """
    graphs: list[torch.fx.GraphModule] = []

    def backend(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]):
        graphs.append(gm)
        return gm.forward  # run the captured graph unchanged

    return backend, graphs


# ---- data loading --------------------------------------------------------------------
class ToFloat:
    """uint8 (28, 28) image -> float32 (1, 28, 28), standardized: (x/255 - mean) / std.

    Args:
        mean: subtracted after scaling to [0, 1].
        std: divides after subtracting the mean.
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        if not std > 0:
            raise ValueError(f"std must be positive, got {std!r}")
        self.mean, self.std = float(mean), float(std)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return ((image.float() / 255 - self.mean) / self.std).unsqueeze(0)


class RandomHorizontalFlip:
    """Flip a (..., H, W) image left-right with probability ``p`` (torch's RNG).

    Args:
        p: the flip probability.
    """

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return image.flip(-1) if torch.rand(()).item() < self.p else image


class FashionMNISTDataset(Dataset):
    """Fashion-MNIST as a map-style Dataset: ``ds[i] -> (transform(image), label)``.

    Images are kept as uint8 (N, 28, 28); the transform runs per item, in the
    DataLoader's worker processes. Every attribute is picklable, as a spawned worker
    needs.

    Args:
        split: ``"train"`` or ``"test"``.
        transform: called on each uint8 (28, 28) image; :class:`ToFloat` by default.
        limit: keep only the first ``limit`` images.
        env: where to find the data (see :func:`dlcv.data.load_fashion_mnist`).
    """

    def __init__(
        self,
        split: str = "train",
        *,
        transform: Callable[[torch.Tensor], Any] | None = None,
        limit: int | None = None,
        env: Any = None,
    ) -> None:
        if transform is not None:
            check_callable(transform, "transform", signature="transform(image)")
        if limit is not None:
            check_positive_int(limit, "limit")
        images, labels = data.load_fashion_mnist(split, env=env)
        self.images, self.labels = images[:limit], labels[:limit]
        self.transform = ToFloat() if transform is None else transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        return self.transform(self.images[index]), int(self.labels[index])


def loader_throughput(loader: Iterable[Any], batches: int | None = None) -> float:
    """Items per second that ``loader`` delivers, worker start-up included.

    Args:
        loader: a DataLoader yielding ``(x, y)`` batches.
        batches: stop after this many batches (all by default).
    """
    if batches is not None:
        check_positive_int(batches, "batches")
    start = time.perf_counter()
    items = 0
    for i, (x, _) in enumerate(loader):
        items += len(x)
        if batches is not None and i + 1 >= batches:
            break
    return items / (time.perf_counter() - start)
