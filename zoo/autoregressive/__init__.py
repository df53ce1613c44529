"""Autoregressive models: p(x) as a product of conditionals in raster order.

Importing this package registers its models, one per module: ``fvbn`` (the
fully visible belief net), ``pixelcnn``, and the PixelRNNs ``row_lstm`` and
``diagonal_bilstm``, and the models documented in their modules. ``base``
holds what they share (the exact likelihood, the metrics and the one
sampler), ``layers`` the masked convolution, and the PixelRNN's
``masked_lstm`` (masks, LSTM cell, residual layer), ``row_lstm_layer``,
``diagonal_bilstm_layer`` and ``pixel_rnn`` (``PixelRNNModel``, the network
and fast sampler both PixelRNNs share).
"""
from zoo.autoregressive import diagonal_bilstm  # noqa: F401
from zoo.autoregressive import fvbn  # noqa: F401
from zoo.autoregressive import gated_pixelcnn  # noqa: F401
from zoo.autoregressive import pixelcnn  # noqa: F401
from zoo.autoregressive import pixelcnn_pp  # noqa: F401
from zoo.autoregressive import row_lstm  # noqa: F401
