"""Autoregressive models: p(x) as a product of conditionals in raster order.

Importing this package registers its models, one per module: ``fvbn`` (the
fully visible belief net) and ``pixelcnn``. ``base`` holds what they share
(the exact likelihood, the metrics and the one sampler), ``layers`` the
masked convolution.
"""
from zoo.autoregressive import fvbn  # noqa: F401
from zoo.autoregressive import pixelcnn  # noqa: F401
