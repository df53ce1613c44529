"""Side-by-side measurements and model-comparison experiments.

Not part of the installed distribution: run from the repository root, as
``python -m benchmarks.NAME`` or ``python benchmarks/NAME.py``. Each prints
JSON and markdown; they use the zoo and the core and nothing uses them.
"""
