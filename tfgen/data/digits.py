"""``digits``: scikit-learn's 1,797 handwritten digits as a TFDS dataset.

The images are the UCI "Optical Recognition of Handwritten Digits" test set
(Alpaydin and Kaynak, 1998), bundled with scikit-learn: 8x8 pixels, each the
count of inked pixels in a 4x4 block of the original 32x32 bitmap, so every
pixel is an integer level 0..16 (17 levels). They ship inside scikit-learn, so
preparing this dataset needs no network: it is the embedded default that
lets every command and test run on a fresh machine.

The levels are stored unchanged (uint8 0..16, not rescaled to 0..255); the
number of levels is in the dataset's metadata (``info.metadata["num_levels"]``)
and in ``Digits.NUM_LEVELS``.

The splits are fixed: 1,257 train, 180 validation and 360 test images, drawn
from a permutation with a constant seed and stratified by label, so the small
validation and test sets hold each digit in proportion.
"""

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

NUM_LEVELS = 17
SPLIT_SIZES = {"train": 1257, "validation": 180, "test": 360}

# Any constant will do; changing it changes every split, which would need a
# new VERSION of the builder.
_SPLIT_SEED = 1998

_CITATION = """\
@misc{alpaydin1998optical,
  author = {Alpaydin, E. and Kaynak, C.},
  title = {Optical Recognition of Handwritten Digits},
  year = {1998},
  howpublished = {UCI Machine Learning Repository},
  doi = {10.24432/C50P49}
}"""


def load_sklearn_digits():
    """Returns scikit-learn's digits as uint8 levels and int64 labels.

    Returns:
        ``(images, labels)``: ``images`` of shape ``(1797, 8, 8)`` with values
        0..16 and ``labels`` of shape ``(1797,)`` with values 0..9.

    Raises:
        ValueError: the installed scikit-learn ships values that are not
            integer levels 0..16.
    """
    # Imported here so that importing tfgen.data does not pay for sklearn.
    from sklearn import datasets as sklearn_datasets

    bunch = sklearn_datasets.load_digits()
    levels = bunch.images  # (1797, 8, 8) float64
    if (levels.min() < 0 or levels.max() > NUM_LEVELS - 1
            or not np.all(levels == np.round(levels))):
        raise ValueError(
            "sklearn's load_digits() returned values that are not integer "
            f"levels 0..{NUM_LEVELS - 1}")
    return levels.astype(np.uint8), bunch.target.astype(np.int64)


def split_indices(labels, sizes=None, seed=_SPLIT_SEED):
    """Splits example indices into fixed, label-stratified, disjoint subsets.

    Each split takes evenly spaced positions of one random ordering in which
    the examples are grouped by label; every split therefore holds each
    label in proportion to its frequency (to within one example), and the
    sizes are exact.

    Args:
        labels: integer array ``(N,)``.
        sizes: ``{split: count}`` summing to ``N``; the splits are drawn in
            reverse order of this mapping (the last split first), so the
            first split takes what is left. Defaults to ``SPLIT_SIZES``.
        seed: seed of the permutation.

    Returns:
        ``{split: sorted int64 array of indices}``.

    Raises:
        ValueError: the sizes do not sum to the number of labels.
    """
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    labels = np.asarray(labels)
    if sum(sizes.values()) != len(labels):
        raise ValueError(
            f"split sizes {sizes} do not sum to {len(labels)} examples")
    # RandomState, unlike Generator, promises the same stream on every numpy
    # version, so the splits do not move when numpy is upgraded.
    order = np.random.RandomState(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    names = list(sizes)
    result = {}
    for name in reversed(names[1:]):
        count = sizes[name]
        # count evenly spaced positions out of len(order); distinct because
        # the spacing len(order) / count is at least one.
        positions = ((np.arange(count) + 0.5) * len(order) / count).astype(
            np.int64)
        result[name] = np.sort(order[positions])
        order = np.delete(order, positions)
    result[names[0]] = np.sort(order)
    return {name: result[name].astype(np.int64) for name in names}


class Digits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits with 17 gray levels."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Fixed stratified train/validation/test split 1257/180/360.",
    }
    NUM_LEVELS = NUM_LEVELS
    # TFDS 4.9 finds a builder's source through the importlib_resources
    # backport, which it does not install on Python >= 3.9; naming the file
    # here skips that lookup.
    code_path = epath.Path(__file__)

    def _info(self):
        return self.dataset_info_from_configs(
            description=(
                "1,797 8x8 handwritten digits from scikit-learn "
                "(load_digits), pixels are integer levels 0..16."),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(
                    shape=(8, 8, 1), dtype=np.uint8,
                    doc="gray levels 0..16, not rescaled"),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
            homepage=(
                "https://archive.ics.uci.edu/dataset/80/"
                "optical+recognition+of+handwritten+digits"),
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(num_levels=NUM_LEVELS),
            # Examples keep their scikit-learn order within each split.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Everything ships with scikit-learn.
        images, labels = load_sklearn_digits()
        return {
            name: self._generate_examples(images, labels, indices)
            for name, indices in split_indices(labels).items()
        }

    def _generate_examples(self, images, labels, indices):
        for index in indices:
            # The scikit-learn index is the key, which also fixes the order.
            yield int(index), {
                "image": images[index][:, :, np.newaxis],  # (8, 8, 1)
                "label": int(labels[index]),
            }
