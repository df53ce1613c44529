"""Runs the test file named on the command line under pytest.

Every Bazel ``py_test`` in BUILD uses this file as its ``main``: the test
modules hold pytest tests, not a ``__main__`` of their own.
"""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-q", *sys.argv[1:]]))
