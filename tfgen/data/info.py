"""What a model needs to know of its dataset, read from the dataset's metadata."""

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """Metadata of a dataset, independent of preprocessing.

    Models take every size from here, so the same ``--model`` runs on 8x8
    ``digits``, 28x28 ``mnist`` and, where its maths allows, a dataset of
    2-D points, without a code change.

    Attributes:
        name: the dataset's name as given to ``--dataset``.
        event_shape: the shape of one example: ``(height, width, channels)``
            for images, ``(2,)`` for points in the plane.
        num_levels: number of gray levels per channel in the raw data (17 for
            ``digits``, 256 for MNIST and CIFAR-10); ``None`` for
            continuous data such as points.
        num_classes: number of label classes (0: unlabelled).
        split_sizes: number of examples per split, e.g.
            ``{"train": 1257, "validation": 180, "test": 360}``.
    """

    name: str
    event_shape: tuple
    num_levels: int = None
    num_classes: int = 0
    split_sizes: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "event_shape",
                           tuple(int(size) for size in self.event_shape))

    @property
    def is_image(self):
        """Whether an example is an image, ``(height, width, channels)``."""
        return len(self.event_shape) == 3

    @property
    def event_size(self):
        """Number of scalar values per example (pixels times channels)."""
        return math.prod(self.event_shape)

    @property
    def image_shape(self):
        """``(height, width, channels)`` of an image dataset.

        Raises:
            ValueError: the examples are not images.
        """
        if not self.is_image:
            raise ValueError(f"dataset {self.name!r} holds events of shape "
                             f"{self.event_shape}, not images")
        return self.event_shape

    @property
    def num_pixels(self):
        """Number of scalar values per image (height x width x channels).

        Raises:
            ValueError: the examples are not images.
        """
        return math.prod(self.image_shape)
