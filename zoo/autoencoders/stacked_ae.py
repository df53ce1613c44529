"""Stacked autoencoders: greedy layer-wise pretraining, then fine-tuning.

Bengio, Lamblin, Popovici & Larochelle (2007), "Greedy layer-wise training
of deep networks". A deep autoencoder with layer sizes
``[num_pixels] + hidden_units + [code_dim]`` is trained in stages, each one
``model.fit`` of the shared training loop (see ``training_stages``):

1. ``pretrain_layer_0`` ... ``pretrain_layer_{L-1}``: layer l is the
   encoder of a shallow autoencoder

       h_{l+1} = s(W_l' h_l + b_l),    h_l_hat = s(V_l h_{l+1} + c_l),

   trained to reconstruct h_l, the code that the frozen layers below give
   for the data (h_0 is the image). s is the logistic function, except that
   the code layer h_L is linear, and so is the image's reconstruction under
   the ``squared_error`` loss. The loss of layer 0 is ``config.loss``; the
   hidden codes above are probabilities in [0, 1], reconstructed under the
   cross-entropy, as in the paper. Pretraining is stochastic gradient
   descent with momentum and weight decay on the stage's own weights: the
   optimizer ``config.optimizers.pretrain`` below the code layer and
   ``pretrain_code``, with a smaller step, at the unbounded linear code.
2. ``finetune``: the shallow autoencoders are unrolled into one deep
   autoencoder (encoders bottom-up, then their decoders top-down), and all
   its weights are trained end to end by backpropagation of
   ``config.loss`` with ``config.optimizers.finetune``.

``StackedAutoencoder`` also holds the machinery of the layer stack (its
Dense layers, stages and their optimizers), which ``deep_ae`` extends with
the restricted Boltzmann machines of Hinton & Salakhutdinov (2006).
"""

import keras
import ml_collections
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import optimizers
from tfgen import registry
from tfgen import statistics
from tfgen.model import layerwise_stages
from tfgen.model import pretrained_layer
from zoo.autoencoders import autoencoder

# Keeps the log-odds of the mean pixel, the initial output bias, finite for
# pixels that are always off (the corners of the digits) or always on.
_MIN_PIXEL_MEAN = 1e-3

# The names of the stack's optimizers (``stack_optimizers``).
PRETRAIN, PRETRAIN_CODE, FINETUNE = "pretrain", "pretrain_code", "finetune"


def get_config(variant=None):
    """Returns the stacked autoencoder's locked config.

    ``python -m tfgen.train --model=stacked_ae`` pretrains a 64-256-128-10
    autoencoder on ``digits`` ([0, 1] gray levels; 30 epochs per layer),
    fine-tunes it for 150 epochs under the cross-entropy, and evaluates and
    exports it in about 100 s on 2 CPU cores shared with other jobs (85 s
    of training). Measured on the 360 test images: squared error per image
    0.55 (PCA with 10 components: 1.22; ``deep_ae``, pretrained as RBMs:
    0.51). It is ``deep_ae`` with ``--config.pretraining=autoencoders``,
    which gives the same number.

    ``config.epochs`` (``--epochs``) counts fine-tuning epochs;
    ``pretrain_epochs`` are per layer, so a run has
    ``(len(hidden_units) + 1) * pretrain_epochs + epochs`` epochs in all.
    Its three optimizers are those of ``stack_optimizers``
    (``--config.optimizers.finetune.learning_rate=...``).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small version with
            one epoch per stage that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("stacked_ae", variant)
    config = config_lib.base_config(**stack_fields())
    config.optimizers = stack_optimizers()
    config.preprocessing = "unit"
    config.batch_size = 64
    config.epochs = 150  # fine-tuning epochs
    if variant == "tiny":
        shrink_to_tiny(config)
    config.lock()
    return config


def stack_fields():
    """The config fields of a layer stack, with their defaults."""
    return {
        # Logistic hidden layers, bottom to top; the code layer above them is
        # linear. Hinton & Salakhutdinov (2006): 1000-500-250 on MNIST.
        "hidden_units": (256, 128),
        "code_dim": 10,
        "loss": "cross_entropy",  # of the image: or "squared_error"
        "pretrain_epochs": 30,  # per layer
        "weight_decay": 2e-4,  # L2 on pretraining's weights (not biases)
    }


def stack_optimizers():
    """The named optimizers of a layer stack, for ``config.optimizers``.

    ``pretrain`` trains the layers below the code, ``pretrain_code`` the
    code layer, whose linear units are unbounded and need smaller steps
    (Hinton & Salakhutdinov 2006: 0.001 for their top RBM, against 0.1
    below), both by SGD with momentum; ``finetune`` trains every weight.
    """
    return ml_collections.ConfigDict({
        PRETRAIN: optimizers.optimizer_config("sgd", 0.1, momentum=0.9),
        PRETRAIN_CODE: optimizers.optimizer_config("sgd", 0.01, momentum=0.9),
        FINETUNE: optimizers.optimizer_config("adam", 1e-3),
    })


def shrink_to_tiny(config):
    """Turns a stack's config into its one-epoch-per-stage test version."""
    config.hidden_units = (16, 8)
    config.code_dim = 2
    config.pretrain_epochs = 1
    config.epochs = 1
    config.num_grid_samples = 16


def validate_stack(config, model_name):
    """Checks the fields of ``stack_fields`` and the autoencoders' own.

    Raises:
        UsageError: naming the field that is out of range.
    """
    autoencoder.validate(config, model_name)
    config_lib.validate_greedy_pretraining(config)


@registry.register("stacked_ae", family="autoencoders",
                   get_config=get_config,
                   paper="Bengio et al. 2007")
class StackedAutoencoder(autoencoder.Autoencoder):
    """Deep autoencoder pretrained greedily by shallow autoencoders.

    Layer l of the stack (l = 0..L-1) joins ``sizes[l]`` units below to
    ``sizes[l+1]`` above: ``encoder_layers[l]`` goes up (kernel
    (sizes[l], sizes[l+1])) and ``decoder_layers[l]`` comes back down
    (kernel (sizes[l+1], sizes[l])). The encoder applies
    ``encoder_layers[0..L-1]``, the decoder ``decoder_layers[L-1..0]``.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the image shape is read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    # The pretraining stages report the loss of their layer alone.
    metric_names = autoencoder.Autoencoder.metric_names + ("layer_loss",)

    def __init__(self, config, data_info, **kwargs):
        self.validate_config(config)
        super().__init__(config, data_info, **kwargs)
        self.sizes = ([int(data_info.num_pixels)]
                      + [int(units) for units in config.hidden_units]
                      + [self.code_size])
        self.num_layers = len(self.sizes) - 1
        top = self.num_layers - 1
        self.encoder_layers = [
            keras.layers.Dense(self.sizes[layer + 1],
                               activation=None if layer == top else "sigmoid",
                               name=f"encode_{layer}")
            for layer in range(self.num_layers)]
        # Pre-activations at the image: logits or linear pixels, as the
        # base class's outputs_to_images expects.
        self.decoder_layers = [
            keras.layers.Dense(self.sizes[layer],
                               activation=None if layer == 0 else "sigmoid",
                               name=f"decode_{layer}")
            for layer in range(self.num_layers)]
        self.encoder = keras.Sequential(
            [keras.Input(self.image_shape), keras.layers.Flatten()]
            + self.encoder_layers, name="encoder")
        self.decoder = keras.Sequential(
            [keras.Input((self.code_size,))] + self.decoder_layers[::-1]
            + [keras.layers.Reshape(self.image_shape)], name="decoder")
        self.built = True
        self.current_stage = self.training_stages()[0][0]

    @classmethod
    def validate_config(cls, config):
        """Raises ``UsageError`` naming the field of a bad config."""
        validate_stack(config, "stacked_ae")

    def layer_variables(self, layer):
        """The weights of layer ``layer``: what its stage changes.

        Returns:
            ``[encoder kernel, encoder bias, decoder kernel, decoder bias]``
            of layer ``layer``.
        """
        up, down = self.encoder_layers[layer], self.decoder_layers[layer]
        return [up.kernel, up.bias, down.kernel, down.bias]

    def pretrained_variables(self, layer):
        """The weights stage ``layer``'s optimizer updates: all four here."""
        return self.layer_variables(layer)

    def pretraining_optimizer(self, layer):
        """The name of the optimizer of stage ``layer``."""
        return PRETRAIN_CODE if layer == self.num_layers - 1 else PRETRAIN

    def optimizer_variables(self):
        """Each stage's optimizer with the weights it updates.

        ``pretrain``: the layers below the code; ``pretrain_code``: the
        code layer; ``finetune``: every weight.
        """
        groups = {PRETRAIN: [], PRETRAIN_CODE: [],
                  FINETUNE: list(self.trainable_variables)}
        for layer in range(self.num_layers):
            groups[self.pretraining_optimizer(layer)].extend(
                self.pretrained_variables(layer))
        return groups

    def layer_input(self, images, layer):
        """h_layer, the data as the layers below encode it, (B, sizes[l])."""
        hidden = tf.reshape(tf.cast(images, tf.float32), [-1, self.sizes[0]])
        for below in range(layer):
            hidden = self.encoder_layers[below](hidden)
        return hidden

    def layer_loss_name(self, layer):
        """The loss under which layer ``layer`` reconstructs its input."""
        return self.loss_name if layer == 0 else "cross_entropy"

    # --- Training. ------------------------------------------------------

    def training_stages(self):
        """Greedy pretraining, one stage per layer, then fine-tuning."""
        return layerwise_stages(self.num_layers, self.config.pretrain_epochs,
                                self.config.epochs)

    def train_step(self, batch):
        layer = pretrained_layer(self.current_stage)
        if layer is None:
            return self.gradient_step(batch, FINETUNE)
        images = tf.cast(batch["image"], tf.float32)  # (B, H, W, C)
        return self.update_metrics(
            {"layer_loss": self.pretrain_step(images, layer)})

    def pretrain_step(self, images, layer):
        """One update of layer ``layer`` alone; returns its loss, (B,).

        Here: a step of the stage's optimizer down the shallow
        autoencoder's loss (``layer_loss``), with weight decay on the
        kernels. ``deep_ae`` overrides it with its RBMs.
        """
        with tf.GradientTape() as tape:
            losses = self.layer_loss(images, layer)
            loss = tf.reduce_mean(losses)
        self.minimize(tape, loss, self.pretrained_variables(layer),
                      optimizer=self.pretraining_optimizer(layer),
                      weight_decay=self.config.weight_decay)
        return losses

    def layer_loss(self, images, layer):
        """The shallow autoencoder's loss at layer ``layer`` (Bengio 2007).

        Layer ``layer`` encodes h_layer, the frozen layers' code of the
        images, and its decoder reconstructs it from that code.

        Returns:
            (B,) the reconstruction loss of h_layer, summed over its units.
        """
        inputs = tf.stop_gradient(self.layer_input(images, layer))
        codes = self.encoder_layers[layer](inputs)  # (B, sizes[layer + 1])
        down = self.decoder_layers[layer]
        outputs = tf.matmul(codes, down.kernel) + down.bias  # pre-activation
        return autoencoder.reconstruction_loss(
            self.layer_loss_name(layer), inputs, outputs)

    def adapt(self, train_batches):
        """Starts the image's output biases at the data's mean (Hinton 2010).

        The log-odds of each pixel's mean under the cross-entropy (logistic
        outputs), the mean itself under the squared error (linear outputs):
        with small weights the network starts at the best constant output.
        """
        def pixels(batch):
            return tf.reshape(tf.cast(batch["image"], tf.float32),
                              [-1, self.sizes[0]])  # (B, V)

        if self.loss_name == "cross_entropy":
            bias = statistics.mean_log_odds(train_batches, pixels,
                                            floor=_MIN_PIXEL_MEAN)
        else:
            total, count = 0.0, 0
            for batch in train_batches:
                values = pixels(batch)
                total += tf.reduce_sum(values, axis=0)
                count += int(values.shape[0])
            bias = total / count
        self.decoder_layers[0].bias.assign(bias)
