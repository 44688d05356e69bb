"""Build tooling for the book itself, not course content.

:mod:`dlcv._book.sphinxext` is the Sphinx extension that keeps the execution cache
honest; :mod:`dlcv._book.twins` writes the chapters' ``.ipynb`` twins for Colab and
Binder; :mod:`dlcv._book.colab_env` builds the simulated Colab environment in which the
tests run those twins. No chapter imports them, and the ``dlcv`` package does not import
them either.
"""
