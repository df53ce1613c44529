"""Two-dimensional toy distributions: mixtures of Gaussians in the plane.

The standard test beds of mode coverage for generative adversarial networks
(Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled Generative Adversarial
Networks"):

- ``ring8``: 8 Gaussians of standard deviation 0.02 with their means evenly
  spaced on a circle of radius 2;
- ``grid25``: 25 Gaussians of standard deviation 0.05 with their means on the
  5 x 5 grid {-4, -2, 0, 2, 4}^2.

Each is a TFDS builder generated from a fixed seed, so it needs no network.
An example is a point (2,) float32, stored under the feature ``image`` (the
name the whole data pipeline uses for an example), and its ``label`` is the
index of the mode that drew it. Splits: 20,000 train, 2,000 validation and
2,000 test points, drawn with modes chosen uniformly.
"""

import dataclasses

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

SPLIT_SIZES = {"train": 20000, "validation": 2000, "test": 2000}

# Any constant will do; changing it changes every split, which would need a
# new VERSION of the builders.
_SEED = 2017


@dataclasses.dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians in the plane.

    Attributes:
        means: (K, 2) the modes' centres.
        stddev: the standard deviation of every mode, per coordinate.
    """

    means: np.ndarray
    stddev: float

    def sample(self, count, random_state):
        """Returns ``(points (count, 2) float32, modes (count,) int64)``."""
        modes = random_state.randint(len(self.means), size=count)
        points = (self.means[modes]
                  + self.stddev * random_state.standard_normal((count, 2)))
        return points.astype(np.float32), modes.astype(np.int64)

    def log_prob(self, points):
        """The mixture's log density at ``points`` (N, 2), float64 (N,)."""
        points = np.asarray(points, np.float64)
        squared = np.square(points[:, None, :] - self.means[None]).sum(-1)
        log_normal = (-squared / (2 * self.stddev**2)
                      - np.log(2 * np.pi * self.stddev**2))  # (N, K)
        return (np.logaddexp.reduce(log_normal, axis=1)
                - np.log(len(self.means)))


def ring(num_modes=8, radius=2.0, stddev=0.02):
    """The ring of Gaussians."""
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    return Mixture(radius * np.stack([np.cos(angles), np.sin(angles)], 1),
                   stddev)


def grid(size=5, spacing=2.0, stddev=0.05):
    """The square grid of Gaussians, centred at the origin."""
    axis = spacing * (np.arange(size) - (size - 1) / 2)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return Mixture(np.stack([xs.ravel(), ys.ravel()], 1), stddev)


MIXTURES = {"ring8": ring, "grid25": grid}


class _Toy2D(tfds.core.GeneratorBasedBuilder):
    """A mixture of Gaussians in the plane; subclasses name the mixture."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Train/validation/test 20000/2000/2000."}
    code_path = epath.Path(__file__)  # see tfgen.data.digits

    @classmethod
    def mixture(cls):
        return MIXTURES[cls.name]()

    def _info(self):
        mixture = self.mixture()
        return self.dataset_info_from_configs(
            description=(f"{len(mixture.means)} Gaussians of stddev "
                         f"{mixture.stddev} in the plane."),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(
                    shape=(2,), dtype=np.float32,
                    doc="a point in the plane"),
                "label": tfds.features.ClassLabel(
                    num_classes=len(mixture.means)),
            }),
            supervised_keys=("image", "label"),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated.
        random_state = np.random.RandomState(_SEED)
        mixture = self.mixture()
        return {split: self._generate_examples(
            *mixture.sample(count, random_state))
            for split, count in SPLIT_SIZES.items()}

    def _generate_examples(self, points, modes):
        for index, (point, mode) in enumerate(zip(points, modes)):
            yield index, {"image": point, "label": int(mode)}


class Ring8(_Toy2D):
    """8 Gaussians on a circle of radius 2 (Metz et al. 2017)."""


class Grid25(_Toy2D):
    """25 Gaussians on a 5 x 5 grid (Metz et al. 2017)."""
