"""Deep autoencoder pretrained as a stack of RBMs, unrolled and fine-tuned.

Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with
neural networks" (Science 313). The encoder has logistic hidden layers of
``hidden_units`` and a linear code layer of ``code_dim`` units (784-1000-
500-250-30 on MNIST in the paper); the decoder mirrors it, with logistic
outputs under the cross-entropy, the paper's MNIST choice. It is trained in
stages of the shared training loop, chosen by ``config.pretraining``:

- ``rbm`` (the paper): ``pretrain_layer_0`` ... ``pretrain_layer_{L-1}``
  train each layer as a restricted Boltzmann machine by one-step
  contrastive divergence (CD-1, Hinton 2002) on the hidden probabilities of
  the frozen RBMs below (the images for the first). The hidden units are
  binary, except in the top RBM, whose hidden units are the code: linear,
  with unit-variance Gaussian noise,

      E(v, h) = -c'v - v'Wh + |h - b|^2 / 2,
      p(h|v) = N(b + W'v, I),  p(v_i = 1 | h) = s(c_i + (Wh)_i),

  trained with a smaller learning rate (the optimizer ``pretrain_code``
  rather than ``pretrain``), as in the paper. The stack is then unrolled:
  the encoder's weights and biases are the RBMs' recognition weights and
  hidden biases, the decoder's weights their transposes and its biases the
  RBMs' visible biases, so that the unrolled network's reconstruction is
  the mean-field up-down pass through the stack. (The decoder's kernels are
  set to the transposes after every pretraining step, not updated by an
  optimizer.) Under ``loss="squared_error"`` the bottom RBM
  has unit-variance Gaussian visible units instead, the paper's choice for
  real-valued data, and the outputs are linear.
- ``autoencoders``: the greedy shallow autoencoders of ``stacked_ae``
  (Bengio et al. 2007) instead of RBMs.
- ``none``: random initial weights; fine-tuning only.

``finetune`` then trains every weight end to end by backpropagation (the
paper used conjugate gradients; here ``config.optimizers.finetune``, Adam).

This module builds on the Boltzmann family's RBM maths (``zoo.boltzmann.
energy``: its conditionals, free energies and the closed-form CD gradient),
as DESIGN.md allows where the lecture builds one family on the other, and
adds the free energy of the Gaussian-hidden top RBM.
"""

import math

import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoencoders import stacked_ae
from zoo.boltzmann import energy

PRETRAININGS = ("rbm", "autoencoders", "none")


def get_config(variant=None):
    """Returns the deep autoencoder's locked config.

    ``python -m tfgen.train --model=deep_ae`` pretrains a 64-256-128-10
    stack of RBMs on ``digits`` ([0, 1] gray levels; 30 epochs per layer),
    unrolls it, fine-tunes it for 150 epochs and evaluates and exports it,
    in about 80 s on 2 CPU cores end to end (70 s of training). Expected
    on the 360 test images: squared error per image 0.51.

    What pretraining buys (same data, seed and fine-tuning; squared error
    per test image; training time on 2 CPU cores shared with other jobs):

        --config.pretraining=rbm                          0.51    70 s
        --config.pretraining=autoencoders                 0.55    85 s
        --config.pretraining=none                         1.12    50 s
        --config.pretraining=none --epochs=240            0.92    90 s
        --model=pca --config.code_dim=10                  1.22

    The last deep run has as many epochs as the pretrained ones (three
    pretraining stages of 30 epochs, then 150) and more arithmetic. Without
    pretraining, fine-tuning also fits the training images worse (0.69
    against 0.39 in the last epoch): at this scale pretraining helps the
    optimization, not only the generalization.

    ``config.epochs`` (``--epochs``) counts fine-tuning epochs;
    ``pretrain_epochs`` are per layer, so a pretrained run has
    ``(len(hidden_units) + 1) * pretrain_epochs + epochs`` epochs in all.

    The Science paper's MNIST setting is ``--dataset=mnist --manual_dir=DIR
    --config.hidden_units=1000,500,250 --config.code_dim=30``: with the
    first 20,000 images of MNIST's training file (18,000 for training),
    an epoch takes about 7, 6, 3 and 3 s in the four RBM stages and 9 s in
    fine-tuning (batches of 64). With ``--config.pretrain_epochs=5
    --epochs=20`` (6 minutes) the squared error per test image is 5.8;
    30-component PCA on the same images: 13.9. The paper reports 3.00 and
    13.87, from 60,000 training images and a longer, conjugate-gradient
    fine-tuning.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small version with
            one epoch per stage that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("deep_ae", variant)
    config = config_lib.base_config(
        **stacked_ae.stack_fields(),
        pretraining="rbm",  # or "autoencoders", "none"
    )
    config.optimizers = stacked_ae.stack_optimizers()
    config.preprocessing = "unit"
    config.batch_size = 64
    config.epochs = 150  # fine-tuning epochs
    if variant == "tiny":
        stacked_ae.shrink_to_tiny(config)
    config.lock()
    return config


def gaussian_hidden_free_energy(visible, weights, visible_bias, hidden_bias,
                                *, gaussian_visible=False):
    """F(v) = -log int exp(-E(v, h)) dh of an RBM with Gaussian hidden units.

    With E(v, h) = V(v) - v'Wh + |h - b|^2 / 2, where V(v) = -c'v for binary
    visibles and |v - c|^2 / 2 for unit-variance Gaussian ones, the Gaussian
    integral over h gives

        F(v) = V(v) - |b + W'v|^2 / 2 + |b|^2 / 2 - (H / 2) log(2 pi).

    Its gradient in W is -v (b + W'v)' = -v E[h|v]' and in b is -W'v =
    -E[h|v] + b, where the b cancels between the two phases of contrastive
    divergence: the CD gradient keeps its binary-hidden form
    (``energy.contrastive_divergence_gradients``) with the hidden means
    E[h|v] in place of the probabilities.

    Args:
        visible: (B, V).
        weights: (V, H).
        visible_bias: (V,).
        hidden_bias: (H,).
        gaussian_visible: unit-variance Gaussian visible units.

    Returns:
        (B,) free energies.
    """
    means = energy.hidden_logits(visible, weights, hidden_bias)  # (B, H)
    if gaussian_visible:
        visible_term = 0.5 * tf.reduce_sum(
            tf.square(visible - visible_bias), axis=-1)
    else:
        visible_term = -tf.linalg.matvec(visible, visible_bias)
    num_hidden = tf.cast(tf.shape(hidden_bias)[0], visible.dtype)
    return (visible_term - 0.5 * tf.reduce_sum(tf.square(means), axis=-1)
            + 0.5 * tf.reduce_sum(tf.square(hidden_bias))
            - 0.5 * num_hidden * math.log(2 * math.pi))


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad deep_ae config."""
    stacked_ae.validate_stack(config, "deep_ae")
    if config.pretraining not in PRETRAININGS:
        raise errors.UsageError(
            f"config.pretraining={config.pretraining!r} is not one of "
            f"{', '.join(PRETRAININGS)}")


@registry.register("deep_ae", family="autoencoders",
                   get_config=get_config,
                   paper="Hinton & Salakhutdinov 2006")
class DeepAutoencoder(stacked_ae.StackedAutoencoder):
    """Hinton & Salakhutdinov's (2006) deep autoencoder.

    The layer stack of ``stacked_ae.StackedAutoencoder``; under
    ``pretraining="rbm"`` layer l is the RBM with weights
    ``encoder_layers[l].kernel`` (V, H), hidden biases
    ``encoder_layers[l].bias`` and visible biases ``decoder_layers[l].bias``
    (see ``rbm``).

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the image shape is read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    @classmethod
    def validate_config(cls, config):
        _validate(config)

    def training_stages(self):
        """As ``stacked_ae``'s, without pretraining under ``"none"``."""
        stages = super().training_stages()
        if self.config.pretraining == "none":
            return stages[-1:]
        return stages

    # --- The RBMs. ------------------------------------------------------

    def rbm(self, layer):
        """(weights (V, H), visible_bias (V,), hidden_bias (H,)) of RBM l."""
        return (self.encoder_layers[layer].kernel,
                self.decoder_layers[layer].bias,
                self.encoder_layers[layer].bias)

    def is_code_layer(self, layer):
        """Whether RBM ``layer`` is the top one, with Gaussian hidden units."""
        return layer == self.num_layers - 1

    def is_gaussian_visible(self, layer):
        """Whether RBM ``layer`` has Gaussian visible units (real pixels)."""
        return layer == 0 and self.loss_name == "squared_error"

    def pretrained_variables(self, layer):
        """The weights that stage ``layer``'s optimizer updates.

        Under ``"rbm"`` the RBM's weights and biases: the decoder's kernel
        is set to the transposed weights, not updated (it has no momentum
        of its own). Otherwise the four of ``stacked_ae``.
        """
        if self.config.pretraining == "rbm":
            weights, visible_bias, hidden_bias = self.rbm(layer)
            return [weights, hidden_bias, visible_bias]
        return super().pretrained_variables(layer)

    def rbm_free_energy(self, visible, layer):
        """F(v) of RBM ``layer`` with its hidden units summed out, (B,)."""
        gaussian_visible = self.is_gaussian_visible(layer)
        if self.is_code_layer(layer):
            return gaussian_hidden_free_energy(
                visible, *self.rbm(layer), gaussian_visible=gaussian_visible)
        return energy.free_energy(visible, *self.rbm(layer),
                                  gaussian=gaussian_visible)

    def hidden_means(self, visible, layer):
        """E[h|v] of RBM ``layer``, (B, H).

        s(b + W'v) for binary units; b + W'v for the Gaussian code units.
        """
        weights, _, hidden_bias = self.rbm(layer)
        inputs = energy.hidden_logits(visible, weights, hidden_bias)
        if self.is_code_layer(layer):
            return inputs
        return tf.sigmoid(inputs)

    def hidden_sample(self, visible, layer):
        """One draw of h ~ p(h|v) from the training noise stream, (B, H).

        Binary units are Bernoulli(s(b + W'v)); the code layer's are
        N(b + W'v, I).
        """
        weights, _, hidden_bias = self.rbm(layer)
        inputs = energy.hidden_logits(visible, weights, hidden_bias)
        if self.is_code_layer(layer):
            return inputs + self.training_noise(tf.shape(inputs),
                                                distribution="normal")
        noise = self.training_noise(tf.shape(inputs))
        return tf.cast(noise < tf.sigmoid(inputs), tf.float32)

    def visible_means(self, hidden, layer):
        """E[v|h] of RBM ``layer``, (B, V): probabilities or Gaussian means."""
        weights, visible_bias, _ = self.rbm(layer)
        return energy.visible_distribution(
            hidden, weights, visible_bias,
            gaussian=self.is_gaussian_visible(layer)).mean()

    def pretrain_step(self, images, layer):
        """CD-1 on RBM ``layer`` if ``pretraining="rbm"``, else as stacked_ae.

        The positive phase samples h from the data's v; the negative v is
        the mean of p(v|h), as in the authors' published code. The step
        descends the contrastive-divergence objective F(v_data) -
        F(v_negative) by its closed-form gradient, the CD-1 rule
        dW = <v E[h|v]'>_data - <v E[h|v]'>_negative, with the stage's
        optimizer and weight decay. The decoder's kernel then follows the
        RBM's transposed weights, so that the stack is unrolled whenever
        pretraining stops.

        Returns:
            (B,) squared error of the one-step reconstruction of h_layer.
        """
        if self.config.pretraining != "rbm":
            return super().pretrain_step(images, layer)
        visible = self.layer_input(images, layer)  # (B, V)
        hidden = self.hidden_sample(visible, layer)  # (B, H)
        negative = self.visible_means(hidden, layer)  # (B, V)
        weights, visible_bias, hidden_bias = (
            energy.contrastive_divergence_gradients(
                visible, self.hidden_means(visible, layer),
                negative, self.hidden_means(negative, layer)))
        self.apply_gradients(
            [weights, hidden_bias, visible_bias],
            self.pretrained_variables(layer),
            optimizer=self.pretraining_optimizer(layer),
            weight_decay=self.config.weight_decay)
        self.decoder_layers[layer].kernel.assign(
            tf.transpose(self.encoder_layers[layer].kernel))
        return tf.reduce_sum(tf.square(visible - negative), axis=-1)
