"""What a model needs to know of its dataset, read from the dataset's metadata."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """Metadata of an image dataset, independent of preprocessing.

    Models take every size from here, so the same ``--model`` runs on 8x8
    ``digits`` and 28x28 ``mnist`` without a code change.

    Attributes:
        name: the dataset's name as given to ``--dataset``.
        image_shape: ``(height, width, channels)``.
        num_levels: number of gray levels per channel in the raw data (17 for
            ``digits``, 256 for MNIST and CIFAR-10).
        num_classes: number of label classes.
        split_sizes: number of examples per split, e.g.
            ``{"train": 1257, "validation": 180, "test": 360}``.
    """

    name: str
    image_shape: tuple
    num_levels: int
    num_classes: int
    split_sizes: dict = dataclasses.field(default_factory=dict)

    @property
    def num_pixels(self):
        """Number of scalar values per image (height x width x channels)."""
        height, width, channels = self.image_shape
        return height * width * channels
