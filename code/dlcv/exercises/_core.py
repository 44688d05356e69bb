"""The machinery behind every checker: run the reader's function on cases, report.

A checker (``check_l1_distances`` and the others) builds a list of :class:`Case`
objects, each holding seeded inputs and the reference result computed by PyTorch,
scikit-learn or ``dlcv``, and hands them to :func:`run_cases`. :func:`run_cases` calls
the reader's function on fresh copies of the inputs, case by case, and stops at the
first case that fails:

* the function raises ``NotImplementedError`` or returns ``NotImplemented`` -> "not
  attempted yet" (a stub must never break the built book or a notebook's "Run all");
* it raises anything else -> the case, its inputs and the error;
* it modifies an input in place -> the case and the input's name;
* its result has the wrong type, shape, dtype, device or values -> the case, its inputs
  and the expected vs the actual value at the first element that differs.

The report never shows the reference code, only values. Nothing here downloads anything,
so the checkers work offline: in Colab, in Binder and locally.
"""

from __future__ import annotations

import copy
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "Case",
    "CheckResult",
    "compare",
    "compare_gradients",
    "describe",
    "run_cases",
]


@dataclass(frozen=True)
class CheckResult:
    """What a checker found. True when the exercise passed; the message says why not."""

    exercise: str  # the exercise's name, e.g. "l1_distances"
    passed: bool
    attempted: bool  # False while the stub still raises NotImplementedError
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Show nothing: the checker has printed the message already."""


@dataclass(frozen=True)
class Case:
    """One call of the reader's function and the result it must give.

    Args:
        description: what the case tests, e.g. ``"identical rows (distance 0)"``.
        args: the positional arguments by name, in order; the names appear in reports.
        expected: the reference result (a tensor, a number, or a tuple/list/dict of
            them).
        kwargs: keyword arguments, reported like ``args``.
        rtol: relative tolerance for floating-point values (``torch.isclose``).
        atol: absolute tolerance for floating-point values (``torch.isclose``).
        check_dtype: whether a tensor's dtype must equal the expected one.
    """

    description: str
    args: Mapping[str, Any]
    expected: Any
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    rtol: float = 1e-5
    atol: float = 1e-6
    check_dtype: bool = True


def describe(value: Any) -> str:
    """A short description of a value for a report: tensors by shape and dtype.

    Args:
        value: what to describe: a tensor, number, string, sequence or module.
    """
    if isinstance(value, torch.Tensor):
        where = "" if value.device.type == "cpu" else f" on {value.device}"
        dtype = str(value.dtype).removeprefix("torch.")
        if value.dim() == 0:
            return f"tensor({value.item():.6g}, {dtype}){where}"
        return f"tensor of shape {tuple(value.shape)}, {dtype}{where}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (bool, int, str)) or value is None:
        return repr(value)
    if isinstance(value, (tuple, list)):
        inner = ", ".join(describe(v) for v in value[:4])
        more = ", ..." if len(value) > 4 else ""
        return f"{type(value).__name__} of {len(value)}: ({inner}{more})"
    if isinstance(value, torch.nn.Module):
        return f"{type(value).__name__} module"
    return type(value).__name__


def _fmt(x: float | int | bool) -> str:
    return f"{x:.6g}" if isinstance(x, float) else repr(x)


def compare(
    expected: Any, actual: Any, case: Case, where: str = "the result"
) -> str | None:
    """None if ``actual`` matches ``expected`` within the case's tolerances, else why.

    Tuples, lists and dicts are compared element by element, recursively.

    Args:
        expected: the reference value (a tensor, a number, or a tuple/list/dict of
            them).
        actual: what the reader's function returned.
        case: the case, whose ``rtol``, ``atol`` and ``check_dtype`` apply.
        where: how the value is named in the message, e.g. ``"the result[0]"``.

    Returns:
        ``None`` on a match, else a one-line message naming the first difference.
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return f"{where} should be a torch.Tensor, got {describe(actual)}"
        if actual.shape != expected.shape:
            return (
                f"{where} should have shape {tuple(expected.shape)}, "
                f"got {tuple(actual.shape)}"
            )
        if case.check_dtype and actual.dtype != expected.dtype:
            return f"{where} should have dtype {expected.dtype}, got {actual.dtype}"
        if actual.device != expected.device:
            return f"{where} should be on {expected.device}, got {actual.device}"
        a, e = actual.detach(), expected.detach()
        if e.is_floating_point() or a.is_floating_point():
            a, e = a.double(), e.double()
            close = torch.isclose(a, e, rtol=case.rtol, atol=case.atol, equal_nan=True)
        else:
            close = a == e
        if bool(close.all()):
            return None
        index = tuple(int(i) for i in (~close).nonzero()[0])
        at = f"{where}[{', '.join(map(str, index))}]" if index else where
        n_bad = int((~close).sum())
        message = (
            f"{at} should be {_fmt(e[index].item())}, got {_fmt(a[index].item())} "
            f"({n_bad} of {close.numel()} elements differ"
        )
        if e.is_floating_point():
            diff = (a - e).abs().nan_to_num(nan=math.inf).max().item()
            message += f"; largest difference {diff:.3g}"
        return message + ")"
    if isinstance(expected, (bool, int, float)) and not isinstance(
        expected, torch.Tensor
    ):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if not isinstance(actual, (bool, int, float)):
            return f"{where} should be a number, got {describe(actual)}"
        if math.isclose(actual, expected, rel_tol=case.rtol, abs_tol=case.atol) or (
            math.isnan(expected) and math.isnan(actual)
        ):
            return None
        return f"{where} should be {_fmt(expected)}, got {_fmt(actual)}"
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return f"{where} should be a {describe(expected)}, got {describe(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            problem = compare(e, a, case, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(actual) != set(expected):
            keys = sorted(map(str, expected))
            return f"{where} should be a dict with keys {keys}, got {describe(actual)}"
        for key in expected:
            problem = compare(expected[key], actual[key], case, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    return (
        None
        if actual == expected
        else f"{where} should be {expected!r}, got {actual!r}"
    )


def compare_gradients(names: Any, expected: Any, actual: Any, case: Case) -> str | None:
    """None if each autograd gradient of the reader's result matches, else why.

    Args:
        names: the inputs' names, in the order of the gradients.
        expected: the reference gradients.
        actual: ``torch.autograd.grad(..., allow_unused=True)`` of the reader's result:
            None where the result does not depend on that input.
        case: the case, whose tolerances apply.

    Returns:
        ``None`` when every gradient matches, else a one-line message.
    """
    for name, e, a in zip(names, expected, actual, strict=True):
        if a is None:
            return (
                f"your result does not depend on {name} through autograd: was it "
                "detached, or computed outside torch?"
            )
        problem = compare(e, a, case, f"the gradient with respect to {name}")
        if problem:
            return problem
    return None


def _copy(value: Any) -> Any:
    """A deep copy that keeps tensors on their device (the reader gets fresh inputs).

    Args:
        value: the input to copy.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    return copy.deepcopy(value)


def _unchanged(before: Any, after: Any) -> bool:
    """Whether the reader's copy ``after`` still equals the original input ``before``.

    Args:
        before: the original input.
        after: the copy the reader's function received.
    """
    if isinstance(before, torch.Tensor):
        if not isinstance(after, torch.Tensor) or after.shape != before.shape:
            return False
        if after.dtype != before.dtype:
            return False
        b, a = before.detach(), after.detach()
        same = a == b
        if b.is_floating_point():
            same |= a.isnan() & b.isnan()
        return bool(same.all())
    if isinstance(before, (tuple, list)):
        return len(before) == len(after) and all(
            _unchanged(b, a) for b, a in zip(before, after, strict=True)
        )
    return True


def run_cases(
    fn: Callable[..., Any],
    cases: Sequence[Case] | Iterable[Case],
    *,
    exercise: str,
    passed: str,
    check: Callable[[Any, Case], str | None] | None = None,
    verbose: bool = True,
) -> CheckResult:
    """Call ``fn`` on each case until one fails; print and return the verdict.

    Args:
        fn: the reader's function.
        cases: the cases, inputs and reference results.
        exercise: the exercise's name, used in the messages.
        passed: what a pass means, e.g. ``"matches torch.cdist(p=1)"``.
        check: an optional extra test of a result, returning a problem or None; it runs
            after the comparison with ``case.expected``.
        verbose: print the message (the notebook's output); the result carries it
            anyway.

    Returns:
        A :class:`CheckResult`, true when every case passed.
    """
    if not callable(fn):
        raise TypeError(f"expected your function, got {describe(fn)}")
    cases = list(cases)
    for number, case in enumerate(cases, start=1):
        args = {k: _copy(v) for k, v in case.args.items()}
        kwargs = {k: _copy(v) for k, v in case.kwargs.items()}
        shown = "; ".join(
            f"{k} = {describe(v)}" for k, v in {**case.args, **case.kwargs}.items()
        )
        head = (
            f"✗ {exercise}: case {number} of {len(cases)} failed ({case.description})"
        )
        head += f"\n  inputs: {shown}" if shown else ""
        try:
            result = fn(*args.values(), **kwargs)
        except NotImplementedError:
            result = NotImplemented
            if number > 1:  # a partial solution: report it like any other error
                problem = "your function raised NotImplementedError"
                return _finish(exercise, f"{head}\n  {problem}", verbose)
        except Exception as err:  # the reader's bug, reported with the case
            return _finish(
                exercise,
                f"{head}\n  your function raised {type(err).__name__}: {err}",
                verbose,
            )
        if result is NotImplemented:
            message = (
                f"○ {exercise}: not attempted yet. Replace `raise NotImplementedError` "
                "with your code and run this cell again."
            )
            return _finish(exercise, message, verbose, attempted=False)
        for name, value in {**case.args, **case.kwargs}.items():
            if not _unchanged(value, {**args, **kwargs}[name]):
                problem = f"your function modified its input {name} in place"
                return _finish(exercise, f"{head}\n  {problem}", verbose)
        if result is None and case.expected is not None:
            problem = "your function returned None: is a `return` missing?"
            return _finish(exercise, f"{head}\n  {problem}", verbose)
        problem = compare(case.expected, result, case)
        if problem is None and check is not None:
            problem = check(result, case)
        if problem:
            expected = f"\n  expected: {describe(case.expected)}"
            return _finish(exercise, f"{head}{expected}\n  {problem}", verbose)
    message = f"✓ {exercise}: passed all {len(cases)} cases; it {passed}."
    return _finish(exercise, message, verbose, passed=True)


def _wrap(message: str, width: int = 78) -> str:
    """Wrap each line of a report to ``width`` columns, indenting continuations."""
    lines = []
    for line in message.splitlines():
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        lines += textwrap.wrap(
            line, width, subsequent_indent=indent, break_long_words=False
        )
    return "\n".join(lines)


def _finish(
    exercise: str,
    message: str,
    verbose: bool,
    *,
    passed: bool = False,
    attempted: bool = True,
) -> CheckResult:
    message = _wrap(message)
    if verbose:
        print(message)
    return CheckResult(exercise, passed=passed, attempted=attempted, message=message)
