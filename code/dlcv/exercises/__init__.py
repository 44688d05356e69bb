"""Self-checking coding exercises for every chapter of the book.

A chapter's coding exercise gives a stub that raises ``NotImplementedError``; the reader
replaces its body and calls the exercise's checker, for example::

    from dlcv import exercises

    def l1_distances(x_test, x_train):
        raise NotImplementedError  # your code here

    exercises.check_l1_distances(l1_distances)

A checker runs the function on seeded random cases and edge cases, compares each result
with a reference computed by PyTorch, scikit-learn or ``dlcv``, and prints either a pass
or the first failing case: its inputs, and the expected vs the actual value or error. It
prints "not attempted yet" for an untouched stub, so neither the built book nor a
notebook's "Run all" stops at an exercise. It never shows the reference code and needs
no network.

One submodule per chapter holds that chapter's checkers; they are all importable from
here. The machinery they share (:class:`Case`, :func:`run_cases`) is in
``dlcv.exercises._core``.
"""

from dlcv.exercises import (
    architectures,
    attention,
    backprop,
    cnn,
    generative_i,
    generative_ii,
    hardware_software,
    knn,
    linear,
    neural_networks,
    optimization,
    rnn,
    tensors,
    training_i,
    training_ii,
    understanding,
)
from dlcv.exercises._core import Case, CheckResult, run_cases

# Every chapter module's checkers, importable from here: exercises.check_l1_distances.
_CHAPTERS = (
    knn,
    tensors,
    linear,
    optimization,
    neural_networks,
    backprop,
    cnn,
    architectures,
    hardware_software,
    training_i,
    training_ii,
    rnn,
    attention,
    understanding,
    generative_i,
    generative_ii,
)
for _module in _CHAPTERS:
    for _name in _module.__all__:
        globals()[_name] = getattr(_module, _name)

_CHECKERS = sorted(name for module in _CHAPTERS for name in module.__all__)
__all__ = ["Case", "CheckResult", "run_cases", *_CHECKERS]
