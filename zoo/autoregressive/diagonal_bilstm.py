"""PixelRNN with Diagonal BiLSTM layers.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks", section 3.2 and table 1: a 7 x 7 convolution with mask A, then
Diagonal BiLSTM layers with residual connections, then two 1 x 1 mask-B
layers to a softmax over each value's ``num_levels``
(the network: ``pixel_rnn``; the layer: ``diagonal_bilstm_layer``). Each
layer skews its input map (row r shifted right by r), so that an LSTM with
a 1 x 1 masked input-to-state convolution and a 2 x 1 state-to-state
convolution scans the image's diagonals left to right; a second LSTM scans
the mirrored map, and its output, shifted down one row, is added to the
first's.

The likelihood is exact and computed in one pass (``base``). Unlike the
Row LSTM's triangle (``row_lstm``) and the PixelCNN's, the context of every
value is every value before it: no blind spot. The recurrence alone does
not give it: the mask-A convolution's feature at a pixel excludes the pixel,
so the last pixel of the row above would reach a pixel more than
``first_kernel_size // 2`` columns left of the row's end only through
features later in the row, beyond the left-to-right recurrence (the paper's
architecture has this gap). The first layer's right-to-left direction,
shifted down one row, therefore also reads the image itself: all of row
r - 1 precedes row r, so it needs no mask.

Sampling carries the LSTM states (``pixel_rnn.sampler_logits``): unskewed,
the left-to-right direction is a recurrence over pixels in raster order,
one step per pixel; the right-to-left direction of row r - 1, which row r
reads, runs once along that row when row r starts. A pixel thus costs
O(layers) LSTM steps (two, amortized) instead of a pass over the image;
``config.fast_sampling = False`` (a base field) keeps the base's full pass at every step, which
draws the same images. Sixteen digits of the default config take 0.09 s
instead of 2.8 s on 2 CPU cores.
"""

from tfgen import config as config_lib
from tfgen import registry
from zoo.autoregressive import base
from zoo.autoregressive import diagonal_bilstm_layer
from zoo.autoregressive import pixel_rnn


def get_config(variant=None):
    """Returns the Diagonal BiLSTM's locked config.

    ``python -m tfgen.train --model=diagonal_bilstm`` trains on ``digits``
    (1,257 training images, 17 gray levels) for 50 epochs of 64 images at a
    step size of 3e-3, evaluates and exports in about 250 s on 2 CPU cores
    shared with other jobs, end to end (215 s of training; 410 s, 365 s of
    it training, under a heavier load). Measured on the 360 test images
    (seed 0): NLL 81.1 nats, 1.83 bits/dim (independent pixels: 108.0
    nats; the Row LSTM's default: 82.8 nats); still falling slowly at 50
    epochs. 40 epochs of 32 images at 1e-3 reach 85.8 nats. A step costs
    about twice a Row LSTM step (its scan has W + H - 1 steps), hence the
    larger batches and step size: half the steps an epoch.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("diagonal_bilstm", variant)
    config = base.autoregressive_config(
        hidden_units=16,  # h, LSTM units per pixel; the layers carry 2h
        num_layers=2,
        first_kernel_size=7,  # the mask-A convolution's
        output_features=32,  # of the 1 x 1 layer before the softmax
    )
    # Twice the Row LSTM's batch and three times its step size: half the
    # steps an epoch (81.1 nats at 50 epochs; see the docstring).
    config.batch_size = 64
    config.optimizers.model.learning_rate = 3e-3
    config.epochs = 50
    config.sample_every_epochs = 0
    if variant == "tiny":
        config.optimizers.model.learning_rate = 1e-3
        config_lib.make_tiny(config, batch_size=32, hidden_units=4,
                             num_layers=1, first_kernel_size=3,
                             output_features=8)
    config.lock()
    return config


@registry.register("diagonal_bilstm", family="autoregressive",
                   get_config=get_config,
                   paper=("van den Oord, Kalchbrenner & Kavukcuoglu 2016 "
                          "(PixelRNN, Diagonal BiLSTM)"))
class DiagonalBiLSTMModel(pixel_rnn.PixelRNNModel):
    """PixelRNN with Diagonal BiLSTM layers; colour by channel masks. Built
    from ``get_config``'s config and an image dataset's ``DataInfo``, as
    ``pixel_rnn.PixelRNNModel`` (its arguments and errors)."""

    network_name = "diagonal_bilstm"
    # The first layer's right-to-left direction reads the image's row above.
    image_to_first_layer = True

    def recurrent_layer(self, hidden, name, **kwargs):
        """A Diagonal BiLSTM layer (``row_input_features`` in ``kwargs``
        for the first)."""
        return diagonal_bilstm_layer.DiagonalBiLSTM(
            hidden, channels=self.image_shape[-1], name=name, **kwargs)
