"""Layers that more than one family builds on.

``AutoregressiveNetwork`` is MADE, the masked autoencoder for distribution
estimation of Germain, Gregor, Murray & Larochelle (2015), "MADE: Masked
Autoencoder for Distribution Estimation": a fully connected network whose
weight matrices are multiplied by 0/1 masks (``autoregressive_masks``) so
that output i depends on inputs 1 .. i-1 only. One pass then gives every
conditional of an autoregressive factorization at once. The autoencoding
family's ``iaf_vae`` uses it for the shift and log-scale of each inverse
autoregressive flow step (Kingma et al. 2016); the autoregressive family's
fully visible belief net uses it for the logits of p(x_i | x_<i).

It is written as a Keras 3 layer because TFP's ``tfb.AutoregressiveNetwork``
is a tf-keras layer, whose weights a Keras 3 model neither tracks, trains
nor saves.
"""

import keras
import numpy as np
import tensorflow as tf


def autoregressive_masks(event_size, hidden_units):
    """Returns MADE's 0/1 masks, one per weight matrix on the input path.

    Input i (1-based) has degree i; hidden units get degrees 0, 1, ...,
    event_size - 1 in turn; a hidden unit of degree d sees the inputs of
    degree <= d (degree 0: none of them, only a context), and output i sees
    the hidden units of degree < i. Output i therefore depends on
    x_1 .. x_{i-1} only, and output 1 on no input at all.

    Args:
        event_size: D, the number of inputs and of outputs.
        hidden_units: widths of the hidden layers.

    Returns:
        A list of float32 arrays: (D, H_1), (H_1, H_2), ..., (H_L, D).
    """
    input_degrees = np.arange(1, event_size + 1)
    degrees = [input_degrees]
    for units in hidden_units:
        degrees.append(np.arange(units) % event_size)
    masks = [(later[None, :] >= earlier[:, None]).astype(np.float32)
             for earlier, later in zip(degrees[:-1], degrees[1:])]
    masks.append((input_degrees[None, :] > degrees[-1][:, None]).astype(
        np.float32))
    return masks


class AutoregressiveNetwork(keras.layers.Layer):
    """MADE: ``num_params`` outputs per dimension, each autoregressive.

    Hidden layers are ReLU; an optional context (an IAF's h(x)) enters the
    first hidden layer unmasked, so every output may depend on it. Every
    weight is created in ``__init__``.

    Args:
        event_size: D, the number of inputs and of outputs per parameter.
        hidden_units: widths of the hidden layers (at least one).
        num_params: outputs per dimension (an IAF step's shift and
            log-scale: 2; a belief net's logit: 1).
        context_size: width of the context input; 0 for none.
        output_initializer: of the output kernel; ``"zeros"`` starts every
            output at its bias (an IAF step at the identity).
        **kwargs: passed to ``keras.layers.Layer``.

    Raises:
        ValueError: no hidden layer, or a size below 1.
    """

    def __init__(self, event_size, hidden_units, num_params=1,
                 context_size=0, output_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.event_size = int(event_size)
        self.hidden_units = tuple(int(units) for units in hidden_units)
        self.num_params = int(num_params)
        self.context_size = int(context_size)
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units={hidden_units} must be one or "
                             "more positive widths")
        if self.event_size < 1 or self.num_params < 1 or self.context_size < 0:
            raise ValueError(
                f"event_size={event_size} and num_params={num_params} must "
                f"be positive, context_size={context_size} non-negative")
        self.masks = [tf.constant(mask) for mask in autoregressive_masks(
            self.event_size, self.hidden_units)]
        widths = (self.event_size,) + self.hidden_units
        self.kernels, self.biases = [], []
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1],
                                                      widths[1:])):
            self.kernels.append(self.add_weight(
                shape=(fan_in, fan_out), initializer="glorot_uniform",
                name=f"kernel_{index}"))
            self.biases.append(self.add_weight(
                shape=(fan_out,), initializer="zeros", name=f"bias_{index}"))
        self.context_kernel = None
        if self.context_size:
            self.context_kernel = self.add_weight(
                shape=(self.context_size, self.hidden_units[0]),
                initializer="glorot_uniform", name="context_kernel")
        self.output_kernel = self.add_weight(
            shape=(self.num_params, self.hidden_units[-1], self.event_size),
            initializer=output_initializer, name="output_kernel")
        self.output_bias = self.add_weight(
            shape=(self.num_params, self.event_size), initializer="zeros",
            name="output_bias")
        self.built = True

    def call(self, inputs, context=None):
        """Returns the outputs, (..., D, num_params).

        Args:
            inputs: (..., D).
            context: (..., context_size), broadcast against the inputs'
                leading axes; required exactly when ``context_size`` > 0.

        Raises:
            ValueError: a context is missing or unexpected.
        """
        if (context is None) != (self.context_kernel is None):
            raise ValueError(f"{self.name} takes a context of width "
                             f"{self.context_size}, got "
                             f"{'none' if context is None else 'one'}")
        hidden = inputs
        for index, (kernel, bias) in enumerate(zip(self.kernels,
                                                   self.biases)):
            hidden = hidden @ (kernel * self.masks[index]) + bias
            if index == 0 and context is not None:
                hidden += context @ self.context_kernel  # (..., H_1)
            hidden = tf.nn.relu(hidden)  # (..., H_l)
        outputs = tf.einsum("...h,phd->...dp", hidden,
                            self.output_kernel * self.masks[-1])
        return outputs + tf.transpose(self.output_bias)  # (..., D, P)
