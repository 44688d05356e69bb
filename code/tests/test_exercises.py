"""The checkers' shared machinery: verdicts, reports, and what counts as a failure."""

import pytest
import torch

from dlcv import exercises
from dlcv.exercises._core import Case, compare, describe, run_cases


def _double(x):
    return 2 * x


CASES = [
    Case("small", {"x": torch.arange(3.0)}, torch.arange(3.0) * 2),
    Case(
        "float64 matrix",
        {"x": torch.ones(2, 2, dtype=torch.float64)},
        torch.full((2, 2), 2.0, dtype=torch.float64),
    ),
]


def check(fn):
    return run_cases(fn, CASES, exercise="double", passed="doubles its input")


def test_a_correct_function_passes_and_the_message_says_so(capsys):
    result = check(_double)
    assert result and result.passed and result.attempted
    out = capsys.readouterr().out
    assert out.startswith("✓ double: passed all 2 cases")
    assert out.strip() == result.message


def test_a_stub_is_not_attempted_yet_and_is_false(capsys):
    def stub(x):
        raise NotImplementedError

    result = check(stub)
    assert not result and not result.attempted
    assert "not attempted yet" in capsys.readouterr().out
    assert not check(lambda x: NotImplemented).attempted


def test_not_implemented_after_the_first_case_is_a_failure():
    def partial(x):
        if x.dtype == torch.float64:
            raise NotImplementedError
        return 2 * x

    result = check(partial)
    assert result.attempted and not result.passed
    assert "case 2 of 2 failed (float64 matrix)" in result.message
    assert "raised NotImplementedError" in result.message


def test_wrong_values_name_the_case_inputs_and_first_element():
    result = check(lambda x: 2 * x + x**2 / 100)
    assert not result
    assert "case 1 of 2 failed (small)" in result.message
    assert "inputs: x = tensor of shape (3,), float32" in result.message
    assert "the result[1] should be 2, got 2.01" in result.message
    assert "2 of 3 elements differ" in result.message


def test_wrong_shape_dtype_and_type_are_reported():
    assert "should have shape (3,), got (1, 3)" in check(lambda x: 2 * x[None]).message
    result = check(lambda x: (2 * x).double())
    assert "should have dtype torch.float32, got torch.float64" in result.message
    assert (
        "should be a torch.Tensor, got list"
        in check(lambda x: (2 * x).tolist()).message
    )


def test_errors_none_and_in_place_changes_are_failures():
    def raises(x):
        raise IndexError("index 7 is out of bounds")

    assert "raised IndexError: index 7 is out of bounds" in check(raises).message
    assert "is a `return` missing?" in check(lambda x: None).message

    def in_place(x):
        return x.mul_(2)

    assert "modified its input x in place" in check(in_place).message


def test_the_report_never_holds_the_reference_code():
    result = exercises.check_l1_distances(lambda a, b: (a[:, None] - b[None]).sum(-1))
    assert not result
    assert "cdist(" not in result.message.split("passed")[0]
    assert "def " not in result.message and "return" not in result.message


def test_compare_numbers_containers_and_nan():
    case = Case("c", {}, None, rtol=1e-6, atol=0.0)
    assert compare(1.0, torch.tensor(1.0), case) is None
    assert compare(float("nan"), float("nan"), case) is None
    assert "should be 1, got 1.1" in compare(1.0, 1.1, case)
    assert "the result[1] should be a number" in compare((1, 2.0), (1, "2"), case)
    assert "keys ['a', 'b']" in compare({"a": 1, "b": 2}, {"a": 1}, case)
    nan = torch.tensor([float("nan"), 1.0])
    assert compare(nan, nan.clone(), case) is None
    assert "the result[0] should be nan, got 0" in compare(
        nan, torch.tensor([0.0, 1.0]), case
    )


def test_describe():
    assert (
        describe(torch.zeros(2, 3, dtype=torch.int64))
        == "tensor of shape (2, 3), int64"
    )
    assert describe(torch.tensor(1.5)) == "tensor(1.5, float32)"
    assert describe(3) == "3" and describe(0.25) == "0.25"
    assert describe((torch.zeros(1), 2)).startswith("tuple of 2: (tensor of shape (1,)")


def test_run_cases_rejects_what_is_not_a_function():
    with pytest.raises(TypeError, match="expected your function, got tensor"):
        run_cases(torch.zeros(2), CASES, exercise="double", passed="")


def test_a_result_shows_nothing_more_in_a_notebook():
    result = check(_double)
    assert result._ipython_display_() is None
    assert str(result) == result.message


def test_every_checker_is_exported_and_documented():
    checkers = [name for name in exercises.__all__ if name.startswith("check_")]
    assert len(checkers) >= 2
    for name in checkers:
        fn = getattr(exercises, name)
        assert fn.__doc__ and "Check" in fn.__doc__.split("\n")[0], name
