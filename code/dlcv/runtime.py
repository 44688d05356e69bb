"""Where and how hard a chapter runs: device, compute budget, seeds and progress bars.

Every chapter of the book opens with a hidden cell::

    from dlcv.runtime import setup
    rt = setup()
    print(rt.report())

so that the page says which device, budget and library versions produced its outputs.

* **device** -- CUDA when available, else CPU. Override with ``DLCV_DEVICE``
  (``cpu``, ``cuda``, ``cuda:1``, ...).
* **budget** -- ``"quick"`` on the CPU, where each chapter must execute in at most 60 s
  on a 2-core machine, and ``"full"`` on CUDA, where chapters train at course scale.
  Override with ``DLCV_BUDGET`` (``quick`` or ``full``).
* **seed** -- 0 by default; override with ``DLCV_SEED``. The same seed gives the same
  outputs on the same machine.
* **progress bars** -- shown when a person runs a notebook, hidden in the built book:
  the book's Sphinx extension (:mod:`dlcv._book.sphinxext`) sets ``DLCV_PROGRESS=0``
  for the kernels it starts.
* **glued numbers** -- :func:`glue` hands a value to myst-nb in the book's build (which
  sets ``DLCV_BOOK_BUILD=1``), so the page's prose shows it; anywhere else (Colab,
  Binder, a local Jupyter) it prints the value with its name, since the notebook's prose
  cannot show it.

Torch counterparts: :func:`torch.manual_seed`, :func:`torch.cuda.is_available`.
"""

from __future__ import annotations

import math
import os
import platform
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "BUDGETS",
    "Runtime",
    "get_runtime",
    "glue",
    "median_time",
    "progress",
    "progress_enabled",
    "seed_everything",
    "setup",
    "versions",
]

BUDGETS = ("quick", "full")
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1  # what torch.manual_seed accepts
_FALSE = {"0", "false", "no", "off"}
T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    """The resolved settings a chapter runs under."""

    device: torch.device  # where tensors and models live
    budget: str  # "quick" (CPU, <= 60 s a chapter) or "full" (CUDA, course scale)
    seed: int  # seed for Python, NumPy and torch RNGs

    @property
    def quick(self) -> bool:
        """True on the quick budget."""
        return self.budget == "quick"

    def pick(self, *, quick: T, full: T) -> T:
        """Return ``quick`` on the quick budget and ``full`` on the full one.

        Chapters size their experiments with it, e.g.
        ``n_train = rt.pick(quick=5_000, full=60_000)``.

        Args:
            quick: the value for the quick budget.
            full: the value for the full budget.
        """
        return quick if self.quick else full

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh CPU ``torch.Generator`` seeded with ``seed + offset``.

        Args:
            offset: added to the seed, so that independent draws get their own streams.
        """
        return torch.Generator().manual_seed(self.seed + offset)

    def report(self) -> str:
        """One paragraph naming the device, budget and versions behind the outputs."""
        device = str(self.device)
        if self.device.type == "cuda":
            device += f" ({torch.cuda.get_device_name(self.device)})"
        else:
            device += f" ({platform.processor() or platform.machine()}, "
            device += f"{torch.get_num_threads()} threads)"
        lines = [
            f"device:   {device}",
            f"budget:   {self.budget}",
            f"seed:     {self.seed}",
            "versions: "
            + ", ".join(f"{k} {v}" for k, v in list(versions().items())[:3]),
            "          "
            + ", ".join(f"{k} {v}" for k, v in list(versions().items())[3:]),
        ]
        return "\n".join(lines)


def _parse_device(value: str) -> torch.device:
    try:
        device = torch.device(value)
    except RuntimeError as err:
        raise ValueError(
            "DLCV_DEVICE must name a torch device such as 'cpu' or 'cuda', "
            f"got {value!r}"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"DLCV_DEVICE={value!r} asks for CUDA, but no CUDA device is available"
        )
    if device.type == "meta":
        raise ValueError(
            f"DLCV_DEVICE={value!r}: meta tensors hold no data to compute on"
        )
    try:  # fail now, in one line, rather than deep inside a chapter
        torch.ones(1, device=device).add_(1)
    except (RuntimeError, AssertionError) as err:
        why = " ".join(str(err).split())[:120] or type(err).__name__
        raise ValueError(
            f"DLCV_DEVICE={value!r}: cannot compute on this device here ({why})"
        ) from err
    return device


def get_runtime(env: Mapping[str, str] | None = None) -> Runtime:
    """Resolve device, budget and seed from the hardware and the environment.

    Args:
        env: the environment to read ``DLCV_DEVICE``, ``DLCV_BUDGET`` and
            ``DLCV_SEED`` from; ``os.environ`` by default.

    Returns:
        The resolved :class:`Runtime`. Nothing is seeded; see :func:`setup`.

    Raises:
        ValueError: if a variable holds an unknown device, budget or a non-integer seed.
    """
    env = os.environ if env is None else env
    if env.get("DLCV_DEVICE"):
        device = _parse_device(env["DLCV_DEVICE"])
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    budget = env.get("DLCV_BUDGET") or ("full" if device.type == "cuda" else "quick")
    if budget not in BUDGETS:
        raise ValueError(f"DLCV_BUDGET must be one of {BUDGETS}, got {budget!r}")

    raw_seed = env.get("DLCV_SEED") or "0"
    try:
        seed = int(raw_seed)
    except ValueError as err:
        raise ValueError(f"DLCV_SEED must be an integer, got {raw_seed!r}") from err
    if not SEED_MIN <= seed <= SEED_MAX:
        raise ValueError(
            f"DLCV_SEED must be in [{SEED_MIN}, {SEED_MAX}] "
            f"(torch.manual_seed's range), got {raw_seed!r}"
        )
    return Runtime(device=device, budget=budget, seed=seed)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global RNGs (all CUDA devices included).

    Args:
        seed: an int in torch's range ``[-2**63, 2**64 - 1]``; NumPy gets it modulo
            ``2**32``.

    Raises:
        TypeError: if ``seed`` is not an int.
        ValueError: if ``seed`` is outside torch's range.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not SEED_MIN <= seed <= SEED_MAX:
        raise ValueError(f"seed must be in [{SEED_MIN}, {SEED_MAX}], got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 -- the legacy global RNG that libraries use
    torch.manual_seed(seed)  # also seeds every CUDA device


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries whose behaviour shows in the outputs."""
    out = {"python": platform.python_version()}
    for name in ("dlcv", "torch", "numpy", "matplotlib", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def setup(env: Mapping[str, str] | None = None) -> Runtime:
    """Resolve the runtime, seed every RNG and set the book's figure style.

    This is the first call of every chapter.

    Args:
        env: the environment to read ``DLCV_DEVICE``, ``DLCV_BUDGET`` and
            ``DLCV_SEED`` from; ``os.environ`` by default.

    Returns:
        The resolved :class:`Runtime`, as :func:`get_runtime` gives it.
    """
    rt = get_runtime(env)
    seed_everything(rt.seed)
    torch.backends.cudnn.benchmark = False  # reproducible kernel choice on CUDA
    _set_figure_style()
    return rt


def _set_figure_style() -> None:
    import matplotlib as mpl

    try:  # In a notebook, show figures inline, also a bare `Figure` returned by dlcv.
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")

    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (6.4, 4.0),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "image.cmap": "gray",
        }
    )


def progress_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether progress bars are shown (``DLCV_PROGRESS`` is not 0/false/no/off).

    Args:
        env: the environment to read ``DLCV_PROGRESS`` from; ``os.environ`` by default.
    """
    env = os.environ if env is None else env
    return env.get("DLCV_PROGRESS", "1").strip().lower() not in _FALSE


def progress(iterable: Iterable[T], **kwargs: Any) -> Iterable[T]:
    """Wrap a long loop in a ``tqdm.auto`` bar, unless progress bars are off.

    Args:
        iterable: what the loop runs over.
        **kwargs: passed to :class:`tqdm.auto.tqdm` (``desc``, ``total``, ...).
    """
    if not progress_enabled():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def median_time(
    fn: Callable[..., Any], *args: Any, min_run_time: float = 0.2, **kwargs: Any
) -> float:
    """Median wall time of ``fn(*args, **kwargs)`` in seconds, robust to a busy machine.

    Uses :class:`torch.utils.benchmark.Timer`: one warm-up call, then
    ``blocked_autorange``, which repeats the call in blocks for at least
    ``min_run_time`` seconds and synchronizes CUDA; the median of the blocks ignores the
    slow outliers that other processes cause. Chapters glue ratios of these medians into
    their prose.

    Args:
        fn: the function to time.
        *args: its positional arguments.
        min_run_time: seconds to spend measuring (at least one call is made).
        **kwargs: its keyword arguments.

    Returns:
        The median time of one call, in seconds.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not (isinstance(min_run_time, (int, float)) and math.isfinite(min_run_time)):
        raise TypeError(f"min_run_time must be a finite number, got {min_run_time!r}")
    if min_run_time <= 0:
        raise ValueError(f"min_run_time must be positive, got {min_run_time!r}")
    from torch.utils import benchmark

    fn(*args, **kwargs)  # warm-up: caches, lazy initialisation, CUDA context
    timer = benchmark.Timer(
        stmt="fn(*args, **kwargs)",
        globals={"fn": fn, "args": args, "kwargs": kwargs},
        num_threads=torch.get_num_threads(),
    )
    return timer.blocked_autorange(min_run_time=min_run_time).median


def glue(
    name: str, value: Any, *, display: bool = True, env: Mapping[str, str] | None = None
) -> None:
    """Make ``value`` available to the page's prose as ``{glue:text}`name```.

    In the book's build (``DLCV_BOOK_BUILD=1``) this is ``myst_nb.glue``. Elsewhere,
    where no page shows glued values, it prints ``name: value`` in the cell's output,
    so that the reader of a notebook sees every number the page's prose quotes.

    Args:
        name: the key that the prose refers to.
        value: the value; its ``str`` is what a reader sees.
        display: also show the value in the page's output (myst-nb's ``display``).
        env: where to read ``DLCV_BOOK_BUILD``; ``os.environ`` by default.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    env = os.environ if env is None else env
    if env.get("DLCV_BOOK_BUILD") == "1":
        from myst_nb import glue as myst_glue  # only the build has myst-nb

        myst_glue(name, value, display=display)
    else:
        print(f"{name}: {value}")
