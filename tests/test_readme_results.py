"""The README's numbers are those of the results files they are rendered from.

Every table of measured numbers in README.md sits between
``<!-- results: results/FILE.json#TABLE -->`` and ``<!-- /results -->``
(``tfgen.results``). This test fails when a number in such a block was
edited by hand, or when a results file was regenerated and the README not
re-rendered (``python -m tfgen.results --write`` fixes the latter).
"""

import pathlib

from tfgen import results

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
README = REPOSITORY / "README.md"


def test_readme_blocks_match_their_results_files():
    # Runs whether or not the README has blocks yet: with none, check()
    # still parses the whole README (a stray or unclosed marker fails).
    mismatches = results.check(README, REPOSITORY)
    assert mismatches == [], "\n".join(
        [str(mismatch) for mismatch in mismatches]
        + ["re-render with: python -m tfgen.results --write"])


def test_every_results_file_is_valid():
    for path in sorted((REPOSITORY / "results").glob("*.json")):
        results.read(path)  # Raises, naming the file and the fault.
