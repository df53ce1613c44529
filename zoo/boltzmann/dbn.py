"""Deep belief net: greedily stacked RBMs, then up-down or discriminative tuning.

Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief
nets". A DBN with layers v = h_0, h_1, ..., h_L is a directed sigmoid belief
net from h_{L-1} down to v under an undirected top RBM over (h_{L-1}, y, h_L),
where y is the label as a group of softmax units joined to the top RBM's
visible units. It is learnt in stages, each one ``model.fit`` of the shared
training loop (see ``DBN.training_stages``):

1. ``pretrain_layer_0`` ... ``pretrain_layer_{L-1}``: greedy pretraining.
   Layer l is an RBM trained by contrastive divergence (CD-k, Hinton 2002) on
   the hidden probabilities that the frozen layers below give for the data;
   the top RBM also sees the one-hot label. While a layer is pretrained its
   weights serve both directions (recognition up, generation down).
2. ``finetune``, either
   - ``up_down``: the contrastive wake-sleep algorithm of the 2006 paper.
     Recognition and generative weights are untied: the wake phase drives
     the data up with the recognition weights and teaches the generative
     weights to predict each layer from the one above; the top RBM learns by
     CD-k from the wake state; the sleep phase generates top-down from the
     end of that Gibbs chain and teaches the recognition weights to invert
     the generative ones. Classification is generative: the label whose
     softmax unit gives the top RBM the lowest free energy.
   - ``discriminative``: Hinton & Salakhutdinov (2006), "Reducing the
     dimensionality of data with neural networks": the pretrained recognition
     stack is unrolled into an MLP, v -> h_1 -> ... -> h_L -> softmax, whose
     output layer starts from the top RBM's label weights, and
     backpropagation minimizes the cross-entropy of the labels.

``log_prob`` is the variational lower bound of Salakhutdinov & Murray
(2008), "On the quantitative analysis of deep belief networks":

    log p(v) >= E_q[log p(v, h_1, ..., h_{L-1}) - log q(h_1, ..., h_{L-1}|v)],

with q the recognition pass (factorial at each layer, sampled bottom-up),
p(h_{L-1}) = sum_y exp(-F(h_{L-1}, y)) / Z the top RBM's marginal, and log Z
estimated after training by annealed importance sampling
(``partition.ais_log_partition``), exactly when the top RBM is small.

This model builds on the Boltzmann family's RBM energies, free energies and
TFP conditionals (``zoo.boltzmann.energy``) and its partition functions
(``zoo.boltzmann.partition``), both of the same family.
"""

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import rng
from tfgen.model import GenerativeModel
from tfgen.model import layerwise_stages
from tfgen.model import pretrained_layer
from zoo.boltzmann import energy
from zoo.boltzmann import partition

FINETUNE_MODES = ("up_down", "discriminative")

# Bernoulli visible units model binary images; [0, 1] intensities are
# treated as probabilities, as Hinton et al. (2006) did with MNIST.
_PREPROCESSINGS = ("binarize_dynamic", "binarize_static", "unit")

# Salts of the stateless draws: sample's Gibbs chain (step-dependent, from
# _SAMPLE_SALT upwards) and the bound's recognition samples (one per layer).
_SAMPLE_SALT = 1 << 20
_BOUND_SALT = 7

# Gibbs steps of ``sample`` served by one per-row noise draw.
_NOISE_BLOCK = 25

# Keeps the log-odds of data means (initial pixel biases, the base RBM of
# AIS) finite where a unit is always off or always on.
_MIN_BASE_RATE = 1e-3


def get_config(variant=None):
    """Returns the DBN's locked config.

    ``python -m tfgen.train --model=dbn`` pretrains a 64-128-128-512 DBN on
    ``digits`` (dynamically binarized; 20 epochs per layer), fine-tunes it
    up-down for 60 epochs and classifies generatively, in about 95 s on 2
    CPU cores end to end (70 s of training). Measured on the 360 test
    images, binarized once: 8.9% error, and a log-likelihood bound of
    -26.7 nats (independent pixels: -27.2). scikit-learn's
    LogisticRegression (defaults, same split) errs 1.9% on the raw gray
    levels and 15.3% on the same binarized images.

    ``--config.finetune=discriminative``: 8.9% on the binarized test images
    in about 100 s; its bound is meaningless (about -53 nats), as
    backpropagation does not keep the top RBM a generative model. With
    ``--config.preprocessing=unit`` (the gray levels as probabilities, as
    Hinton et al. did with MNIST; no likelihood then) the test error is
    1.9% in about 80 s (LogisticRegression on the same [0, 1] images:
    2.5%); ``tests/zoo/boltzmann/test_dbn.py`` trains 100 epochs on dynamic
    binarizations and tests on the gray levels: 0.8%.

    ``config.epochs`` (``--epochs``) is the number of fine-tuning epochs;
    ``pretrain_epochs`` are per layer, so a run has
    ``len(hidden_units) * pretrain_epochs + epochs`` epochs in all.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small version with
            one epoch per stage that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("dbn", variant)
    config = config_lib.base_config(
        # Hidden layer sizes, bottom to top; the last is the top RBM's hidden
        # layer. Hinton et al. (2006) used 500-500-2000 on MNIST.
        hidden_units=(128, 128, 512),
        pretrain_epochs=20,  # per layer
        finetune="up_down",  # or "discriminative"
        cd_steps=1,  # k of CD-k in pretraining
        pretrain_learning_rate=0.1,
        updown_learning_rate=0.01,
        momentum=0.9,  # of pretraining and up-down (SGD with momentum)
        weight_decay=2e-4,  # L2 on weights, pretraining and up-down
        top_gibbs_steps=10,  # the top RBM's CD-k in up-down fine-tuning
        sample_gibbs_steps=200,  # Gibbs steps in the top RBM per sample
        log_prob_samples=100,  # recognition samples of the bound
        ais_chains=100,
        ais_betas=1000,
    )
    config.preprocessing = "binarize_dynamic"
    config.batch_size = 64
    config.epochs = 60  # fine-tuning epochs
    # optimizer and learning_rate drive discriminative fine-tuning.
    config.optimizer = "adam"
    config.learning_rate = 1e-3
    if variant == "tiny":
        config.hidden_units = (16, 32)
        config.pretrain_epochs = 1
        config.epochs = 1
        config.top_gibbs_steps = 2
        config.sample_gibbs_steps = 5
        config.log_prob_samples = 10
        config.ais_chains = 16
        config.ais_betas = 50
        config.num_grid_samples = 16
    config.lock()
    return config


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad DBN config."""
    config_lib.validate(config)
    if config.preprocessing not in _PREPROCESSINGS:
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r}: the DBN's "
            f"Bernoulli visible units need one of {', '.join(_PREPROCESSINGS)}")
    if config.finetune not in FINETUNE_MODES:
        raise errors.UsageError(
            f"config.finetune={config.finetune!r} is not one of "
            f"{', '.join(FINETUNE_MODES)}")
    if not config.hidden_units or any(u < 1 for u in config.hidden_units):
        raise errors.UsageError(
            f"config.hidden_units={config.hidden_units} must be one or more "
            "positive sizes")
    for name in ("cd_steps", "top_gibbs_steps", "sample_gibbs_steps",
                 "log_prob_samples"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    for name in ("ais_chains", "ais_betas"):
        if config[name] < 2:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be at least 2")
    config_lib.validate_greedy_pretraining(
        config, ("pretrain_learning_rate", "updown_learning_rate"))


@registry.register("dbn", family="boltzmann", get_config=get_config)
class DBN(GenerativeModel):
    """Deep belief net (Hinton, Osindero & Teh 2006) with a labelled top RBM.

    Layer sizes are ``[num_pixels] + hidden_units``; the directed layers
    l = 0..L-2 join h_l (below) to h_{l+1} (above) with recognition weights
    ``recognition_weights[l]`` and biases ``recognition_biases[l]`` (of
    h_{l+1}) going up, generative weights ``generative_weights[l]`` (stored
    (size_l, size_{l+1}) like the recognition ones) and biases
    ``generative_biases[l]`` (of h_l) going down. The top RBM joins
    (h_{L-1}, y) to h_L.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; image shape and number of classes
            are read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct", "classify")

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        self.image_shape = tuple(data_info.image_shape)
        self.num_classes = int(data_info.num_classes)
        self.sizes = [int(data_info.num_pixels)] + [
            int(units) for units in config.hidden_units]
        self.num_layers = len(self.sizes) - 1  # RBMs in the stack
        self.top = self.num_layers - 1  # index of the top RBM's stage

        # Velocities of SGD with momentum, one per parameter and phase, so
        # that fine-tuning does not inherit pretraining's last steps.
        self._velocities = {}
        small = keras.initializers.RandomNormal(stddev=0.01)
        self.recognition_weights, self.recognition_biases = [], []
        self.generative_weights, self.generative_biases = [], []
        for layer in range(self.top):
            below, above = self.sizes[layer], self.sizes[layer + 1]
            self.recognition_weights.append(self._parameter(
                f"recognition_weights_{layer}", (below, above), small))
            self.recognition_biases.append(self._parameter(
                f"recognition_biases_{layer}", (above,), "zeros"))
            self.generative_weights.append(self._parameter(
                f"generative_weights_{layer}", (below, above), "zeros"))
            self.generative_biases.append(self._parameter(
                f"generative_biases_{layer}", (below,), "zeros"))
        pen, top = self.sizes[-2], self.sizes[-1]
        self.top_weights = self._parameter("top_weights", (pen, top), small)
        self.label_weights = self._parameter(
            "label_weights", (self.num_classes, top), small)
        self.top_visible_bias = self._parameter(
            "top_visible_bias", (pen,), "zeros")
        self.label_bias = self._parameter(
            "label_bias", (self.num_classes,), "zeros")
        self.top_hidden_bias = self._parameter(
            "top_hidden_bias", (top,), "zeros")
        # log Z of the top RBM, filled by after_training; log_prob's bound
        # is unnormalized until then.
        self.log_partition = self.add_weight(
            shape=(), initializer="zeros", trainable=False,
            name="log_partition")
        self.log_partition_stderr = self.add_weight(
            shape=(), initializer="zeros", trainable=False,
            name="log_partition_stderr")
        self.built = True

        self.noise_seed = keras.random.SeedGenerator(int(config.seed))
        self.current_stage = self.training_stages()[0][0]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in (
            "reconstruction_error", "free_energy_gap", "wake_nll",
            "sleep_nll", "cross_entropy", "classification_error",
            "reconstruction_nll")}

    def _parameter(self, name, shape, initializer):
        variable = self.add_weight(shape=shape, initializer=initializer,
                                   name=name)
        for phase in ("pretrain", "up_down"):
            self._velocities[f"{phase}/{name}"] = self.add_weight(
                shape=shape, initializer="zeros", trainable=False,
                name=f"{name}_{phase}_velocity")
        return variable

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- The stack's pieces. --------------------------------------------

    def _flatten(self, images):
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.sizes[0]])

    def _recognize(self, visible, layer):
        """q(h_{layer+1} = 1 | h_layer): recognition probabilities (B, above)."""
        return tf.sigmoid(energy.hidden_logits(
            visible, self.recognition_weights[layer],
            self.recognition_biases[layer]))

    def _generate(self, hidden, layer):
        """p(h_layer | h_{layer+1}) of the directed generative layer."""
        return energy.visible_distribution(
            hidden, self.generative_weights[layer],
            self.generative_biases[layer])

    def penultimate(self, images):
        """Recognition probabilities of h_{L-1}, the top RBM's input, (B, D)."""
        visible = self._flatten(images)  # (B, V)
        for layer in range(self.top):
            visible = self._recognize(visible, layer)
        return visible

    def layer_input(self, images, labels, layer):
        """The data RBM ``layer`` is pretrained on (greedy stacking).

        The hidden probabilities of the frozen layers below for the images,
        joined, for the top RBM, with the one-hot labels.

        Returns:
            (B, sizes[layer]), plus num_classes columns for the top RBM.
        """
        visible = self._flatten(images)
        for below in range(layer):
            visible = self._recognize(visible, below)
        if layer == self.top:
            visible = tf.concat(
                [visible, tf.one_hot(labels, self.num_classes)], axis=-1)
        return visible

    def rbm(self, layer):
        """(weights, visible_bias, hidden_bias) of the RBM ``layer``.

        During pretraining a lower RBM's parameters are the recognition
        weights and biases and the generative (visible) biases. The top
        RBM's visible units are (h_{L-1}, y): its weights and visible biases
        are the pen and label parts stacked.
        """
        if layer < self.top:
            return (self.recognition_weights[layer],
                    self.generative_biases[layer],
                    self.recognition_biases[layer])
        return (tf.concat([self.top_weights, self.label_weights], axis=0),
                tf.concat([self.top_visible_bias, self.label_bias], axis=0),
                self.top_hidden_bias)

    def _rbm_variables(self, layer):
        if layer < self.top:
            return [self.recognition_weights[layer],
                    self.generative_biases[layer],
                    self.recognition_biases[layer]]
        return [self.top_weights, self.label_weights, self.top_visible_bias,
                self.label_bias, self.top_hidden_bias]

    def _top_visible_means(self, hidden):
        """E[h_{L-1} | h_L] (B, D) and p(y | h_L) (B, K) in the top RBM."""
        pen = energy.visible_distribution(
            hidden, self.top_weights, self.top_visible_bias).mean()
        labels = tf.nn.softmax(tf.matmul(
            hidden, self.label_weights, transpose_b=True) + self.label_bias)
        return pen, labels

    def _top_hidden_probabilities(self, pen, labels):
        weights, _, hidden_bias = self.rbm(self.top)
        return tf.sigmoid(energy.hidden_logits(
            tf.concat([pen, labels], axis=-1), weights, hidden_bias))

    def _visible_means(self, hidden, layer):
        """Mean-field reconstruction of RBM ``layer``'s visible units."""
        if layer == self.top:
            return tf.concat(self._top_visible_means(hidden), axis=-1)
        weights, visible_bias, _ = self.rbm(layer)
        return energy.visible_distribution(
            hidden, weights, visible_bias).mean()

    def _generate_down(self, pen):
        """Top-down pass of means from h_{L-1}; returns the pixel logits."""
        hidden = pen
        for layer in reversed(range(self.top)):
            logits = self._generate(hidden, layer).distribution.logits
            hidden = tf.sigmoid(logits)
        if self.top == 0:  # The top RBM's visible units are the pixels.
            hidden = tf.clip_by_value(hidden, 1e-6, 1 - 1e-6)
            return tf.math.log(hidden) - tf.math.log1p(-hidden)
        return logits  # (B, V)

    def _bernoulli(self, probabilities):
        """Binary states drawn from the training noise stream."""
        noise = keras.random.uniform(tf.shape(probabilities),
                                     seed=self.noise_seed)
        return tf.cast(noise < probabilities, tf.float32)

    # --- Classification. ------------------------------------------------

    def generative_label_logits(self, pen):
        """-F(h_{L-1}, y) of the top RBM for every label y, (B, K).

        Hinton et al. (2006) classify by the free energy of each label's
        softmax unit switched on with h_{L-1} clamped: p(y | h_{L-1}) is the
        softmax of these logits. The label only shifts the hidden units'
        input by its row of weights, so h_{L-1}'s input is computed once.
        """
        hidden = (energy.hidden_logits(pen, self.top_weights,
                                       self.top_hidden_bias)[:, None, :]
                  + self.label_weights)  # (B, K, H)
        return (tf.linalg.matvec(pen, self.top_visible_bias)[:, None]
                + self.label_bias
                + tf.reduce_sum(tf.nn.softplus(hidden), axis=-1))  # (B, K)

    def discriminative_logits(self, images):
        """The unrolled MLP's label logits (Hinton & Salakhutdinov 2006).

        The label-free recognition pass up to h_L, then the top RBM's label
        weights as a softmax output layer.
        """
        top = tf.sigmoid(energy.hidden_logits(
            self.penultimate(images), self.top_weights, self.top_hidden_bias))
        return tf.matmul(top, self.label_weights,
                         transpose_b=True) + self.label_bias  # (B, K)

    def label_logits(self, images):
        """Logits of p(y|v) of the classifier that ``config.finetune`` tunes."""
        if self.config.finetune == "discriminative":
            return self.discriminative_logits(images)
        return self.generative_label_logits(self.penultimate(images))

    # --- Training. ------------------------------------------------------

    def training_stages(self):
        """Greedy pretraining, one stage per layer, then fine-tuning."""
        return layerwise_stages(self.num_layers, self.config.pretrain_epochs,
                                self.config.epochs)

    def train_step(self, batch):
        layer = pretrained_layer(self.current_stage)
        if layer is not None:
            return self._pretrain_step(batch, layer)
        if self.config.finetune == "discriminative":
            return self._discriminative_step(batch)
        return self._up_down_step(batch)

    def _momentum_update(self, phase, variables, gradients, learning_rate):
        """SGD with momentum and weight decay on the weights (not biases)."""
        momentum = self.config.momentum
        for variable, gradient in zip(variables, gradients):
            if len(variable.shape) == 2:
                gradient += self.config.weight_decay * variable
            velocity = self._velocities[f"{phase}/{variable.name}"]
            velocity.assign(momentum * velocity - learning_rate * gradient)
            variable.assign_add(velocity)

    def _report(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    def _pretrain_step(self, batch, layer):
        """One CD-k update of RBM ``layer`` on the frozen layers' output."""
        visible = tf.stop_gradient(self.layer_input(
            batch["image"], batch["label"], layer))  # (B, V_layer)
        weights, _, hidden_bias = self.rbm(layer)
        hidden_probabilities = tf.sigmoid(
            energy.hidden_logits(visible, weights, hidden_bias))
        for _ in range(self.config.cd_steps):
            # Sampled hiddens carry the information bottleneck; mean-field
            # visibles reduce the noise of the negative statistics.
            negative = self._visible_means(
                self._bernoulli(hidden_probabilities), layer)
            hidden_probabilities = tf.sigmoid(
                energy.hidden_logits(negative, weights, hidden_bias))
        variables = self._rbm_variables(layer)
        with tf.GradientTape() as tape:
            gap = energy.contrastive_divergence_objective(
                visible, negative, *self.rbm(layer))
        gradients = tape.gradient(gap, variables)
        self._momentum_update("pretrain", variables, gradients,
                              self.config.pretrain_learning_rate)
        if layer < self.top:
            # Tied until fine-tuning: the generative copy follows.
            self.generative_weights[layer].assign(
                self.recognition_weights[layer])
        return self._report({
            "reconstruction_error": tf.reduce_mean(tf.reduce_sum(
                tf.square(visible - negative), axis=-1)),
            "free_energy_gap": gap})

    def _up_down_step(self, batch):
        """Contrastive wake-sleep (Hinton et al. 2006, appendix B)."""
        data = self._flatten(batch["image"])  # (B, V)
        labels = tf.one_hot(batch["label"], self.num_classes)  # (B, K)
        # Wake: binary states up the recognition weights.
        wake = [data]
        for layer in range(self.top):
            wake.append(self._bernoulli(self._recognize(wake[-1], layer)))
        # The top RBM: CD-k from the wake state, labels clamped only in the
        # positive phase.
        positive = tf.concat([wake[-1], labels], axis=-1)
        top_hidden = self._bernoulli(
            self._top_hidden_probabilities(wake[-1], labels))
        for _ in range(self.config.top_gibbs_steps):
            pen_means, label_probabilities = self._top_visible_means(top_hidden)
            pen = self._bernoulli(pen_means)
            top_hidden = self._bernoulli(
                self._top_hidden_probabilities(pen, label_probabilities))
        negative = tf.concat([pen, label_probabilities], axis=-1)
        # Sleep: generate down from where the Gibbs chain ended; the pixels
        # stay probabilities.
        sleep = [pen]
        for layer in reversed(range(self.top)):
            means = self._generate(sleep[-1], layer).mean()
            sleep.append(means if layer == 0 else self._bernoulli(means))
        sleep.reverse()  # sleep[l] is h_l

        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            batch_size = tf.shape(data)[0]
            wake_nll = tf.zeros([batch_size])  # -log p(wake h_l | h_{l+1})
            sleep_nll = tf.zeros([batch_size])  # -log q(sleep h_{l+1} | h_l)
            for layer in range(self.top):
                wake_nll -= self._generate(wake[layer + 1], layer).log_prob(
                    wake[layer])
                sleep_nll -= energy.hidden_distribution(
                    sleep[layer], self.recognition_weights[layer],
                    self.recognition_biases[layer]).log_prob(sleep[layer + 1])
            gap = energy.contrastive_divergence_objective(
                positive, negative, *self.rbm(self.top))
            # The three terms touch disjoint parameters: one tape serves all.
            objective = (tf.reduce_mean(wake_nll) + tf.reduce_mean(sleep_nll)
                         + gap)
        gradients = tape.gradient(
            objective, variables,
            unconnected_gradients=tf.UnconnectedGradients.ZERO)
        self._momentum_update("up_down", variables, gradients,
                              self.config.updown_learning_rate)
        return self._report({"wake_nll": wake_nll, "sleep_nll": sleep_nll,
                             "free_energy_gap": gap})

    def _discriminative_step(self, batch):
        """Backpropagation through the unrolled recognition stack."""
        variables = (self.recognition_weights + self.recognition_biases
                     + [self.top_weights, self.top_hidden_bias,
                        self.label_weights, self.label_bias])
        with tf.GradientTape() as tape:
            logits = self.discriminative_logits(batch["image"])
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=batch["label"], logits=logits)  # (B,)
            # Keras sums the replicas' gradients: each replica's loss is its
            # share of the global mean.
            loss = (tf.reduce_mean(cross_entropy)
                    / tf.distribute.get_strategy().num_replicas_in_sync)
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        error = tf.cast(tf.argmax(logits, -1) != batch["label"], tf.float32)
        return self._report({"cross_entropy": cross_entropy,
                             "classification_error": error})

    def test_step(self, batch):
        images, labels = batch["image"], batch["label"]
        logits = self.label_logits(images)
        error = tf.cast(tf.argmax(logits, -1) != labels, tf.float32)
        pixel_logits = self._reconstruction_logits(images)
        reconstruction_nll = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(
                labels=self._flatten(images), logits=pixel_logits), axis=-1)
        return self._report({
            "classification_error": error,
            "cross_entropy": tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits),
            "reconstruction_nll": reconstruction_nll})

    def adapt(self, train_batches):
        """Starts the pixels' biases at the data's log-odds (Hinton 2010)."""
        log_odds = energy.mean_log_odds(
            train_batches, lambda batch: self._flatten(batch["image"]),
            floor=_MIN_BASE_RATE)
        (self.generative_biases[0] if self.top else
         self.top_visible_bias).assign(log_odds)

    def after_training(self, train_batches):
        """Fills ``log_partition``, the top RBM's log Z, for ``log_prob``.

        Summing out the one-hot label, Z = sum_y exp(c_y) Z_y, where Z_y is
        the partition function of the binary RBM over (h_{L-1}, h_L) whose
        hidden biases are shifted by the label's weights. Each Z_y is
        enumerated when that RBM is small, else estimated by AIS whose base
        RBM has the training data's mean h_{L-1} (Salakhutdinov & Murray
        2008).
        """
        base_visible_bias = energy.mean_log_odds(
            train_batches, lambda batch: self.penultimate(batch["image"]),
            floor=_MIN_BASE_RATE)
        enumerable = (min(self.sizes[-2], self.sizes[-1])
                      <= partition.MAX_ENUMERATED_UNITS)
        log_terms, variances = [], []
        for label in range(self.num_classes):
            hidden_bias = self.top_hidden_bias + self.label_weights[label]
            if enumerable:
                log_z = tf.cast(partition.exact_log_partition(
                    self.top_weights, self.top_visible_bias, hidden_bias),
                    tf.float32)
                stderr = tf.constant(0.0)
            else:
                log_z, stderr = partition.ais_log_partition(
                    self.top_weights, self.top_visible_bias, hidden_bias,
                    num_chains=self.config.ais_chains,
                    num_betas=self.config.ais_betas,
                    seed=self.instance_seed + label,
                    base_visible_bias=base_visible_bias)
            log_terms.append(self.label_bias[label] + log_z)
            variances.append(stderr)
        log_terms = tf.stack(log_terms)  # (K,)
        self.log_partition.assign(tf.reduce_logsumexp(log_terms))
        # Relative errors of the Z_y combine with weights Z_y / Z.
        shares = tf.nn.softmax(log_terms)
        self.log_partition_stderr.assign(tf.sqrt(tf.reduce_sum(
            tf.square(shares * tf.stack(variances)))))

    def call(self, images, training=False):
        """Returns the up-down reconstruction (B, H, W, C)."""
        return self.reconstruct(images)["images"]

    # --- Capabilities. --------------------------------------------------

    def classify(self, images):
        """Returns ``{"labels": int64 (B,), "probabilities": (B, K)}``.

        Up-down (and during pretraining): p(y|v) = softmax(-F(h_{L-1}, y))
        of the top RBM with h_{L-1} the recognition probabilities.
        Discriminative: the unrolled MLP's softmax.
        """
        probabilities = tf.nn.softmax(self.label_logits(images))
        return {"labels": tf.argmax(probabilities, axis=-1, output_type=tf.int64),
                "probabilities": probabilities}

    def encode(self, images):
        """Returns ``{"codes": (B, sizes[-1])}``, the top hidden probabilities.

        The recognition pass up to h_{L-1}, then p(h_L = 1 | h_{L-1}, y) with
        the label units at the classifier's p(y|v) (mean field).
        """
        probabilities = tf.nn.softmax(self.label_logits(images))
        return {"codes": self._top_hidden_probabilities(
            self.penultimate(images), probabilities)}

    def _reconstruction_logits(self, images):
        codes = self.encode(images)["codes"]
        pen, _ = self._top_visible_means(codes)
        return self._generate_down(pen)  # (B, V)

    def reconstruct(self, images):
        """Up to the top, one step down in the top RBM, then generated down.

        Returns:
            ``{"images": (B, H, W, C)}``, pixel probabilities.
        """
        logits = self._reconstruction_logits(images)
        return {"images": tf.reshape(tf.sigmoid(logits),
                                     (-1,) + self.image_shape)}

    def _gibbs_block(self, pen, labels, noise):
        """Gibbs steps h_L ~ p(.|h_{L-1}, y), h_{L-1} ~ p(.|h_L), y clamped.

        Args:
            pen: (B, D) binary h_{L-1} to start from.
            labels: (B, K) one-hot, clamped.
            noise: (B, steps, H + D) uniform draws, one slice per step.

        Returns:
            ``(pen, pen_means)``: the last binary h_{L-1} and its
            probabilities, each (B, D).
        """
        top_size = self.sizes[-1]

        def step_fn(step, pen, pen_means):
            top_noise, pen_noise = tf.split(
                noise[:, step], [top_size, self.sizes[-2]], axis=-1)
            top = tf.cast(top_noise < self._top_hidden_probabilities(
                pen, labels), tf.float32)  # (B, H)
            pen_means, _ = self._top_visible_means(top)  # (B, D)
            return (step + 1, tf.cast(pen_noise < pen_means, tf.float32),
                    pen_means)

        _, pen, pen_means = tf.while_loop(
            lambda step, pen, pen_means: step < tf.shape(noise)[1], step_fn,
            (tf.constant(0), pen, pen))
        return pen, pen_means

    def sample(self, seed):
        """Gibbs sampling in the top RBM, then one pass down (Hinton 2006).

        The label of row i is clamped to ``seed[i] mod num_classes``, so a
        grid of consecutive seeds shows every class in turn. h_{L-1} starts
        from the top RBM's visible biases and alternates with h_L for
        ``config.sample_gibbs_steps`` steps, every draw from ``seed[i]``
        alone (``tfgen.rng``, the step in the salt); the last step's
        probabilities of h_{L-1} are then passed down the generative weights
        as probabilities (no further sampling), as in the paper's figures.

        Returns:
            ``{"images": (B, H, W, C)}``, pixel probabilities.
        """
        seed = tf.cast(tf.reshape(seed, [-1]), tf.int64)
        labels = tf.one_hot(seed % self.num_classes, self.num_classes)
        pen_size, top_size = self.sizes[-2], self.sizes[-1]
        start = rng.uniform(seed, [pen_size], instance_seed=self.instance_seed,
                            salt=_SAMPLE_SALT - 1)
        pen = tf.cast(start < tf.sigmoid(self.top_visible_bias), tf.float32)
        pen_means = pen
        steps = int(self.config.sample_gibbs_steps)
        for first in range(0, steps, _NOISE_BLOCK):
            # One per-row draw serves a block of steps: a draw per step would
            # cost a pass over the rows per step.
            noise = rng.uniform(
                seed, [min(_NOISE_BLOCK, steps - first), top_size + pen_size],
                instance_seed=self.instance_seed,
                salt=_SAMPLE_SALT + first)  # (B, block, H + D)
            pen, pen_means = self._gibbs_block(pen, labels, noise)
        logits = self._generate_down(pen_means)
        return {"images": tf.reshape(tf.sigmoid(logits),
                                     (-1,) + self.image_shape)}

    def log_prob(self, images):
        """Returns ``{"log_prob": (B,)}``: a lower bound on log p(v) in nats.

        ``variational_bound`` with ``config.log_prob_samples`` samples. Meant
        for binary images; with [0, 1] intensities it is not a probability.
        """
        return {"log_prob": self.variational_bound(
            images, self.config.log_prob_samples)}

    def variational_bound(self, images, num_samples):
        """Salakhutdinov & Murray (2008)'s bound on log p(v), by sampling q.

        The mean over ``num_samples`` recognition paths h_1..h_{L-1} ~ q(.|v)
        of log p(v|h_1) + sum_l log p(h_l|h_{l+1}) + log p*(h_{L-1}) - log Z
        - log q(path|v), where log p*(h_{L-1}) = logsumexp_y -F(h_{L-1}, y).
        Its expectation is below log p(v) by KL(q || p(path|v)); the noise is
        the same for every row, so a row's bound does not depend on its
        batch. With one RBM (no directed layers) it is exact. It uses
        ``log_partition`` as filled by ``after_training``.

        Returns:
            (B,) float32 bounds in nats.
        """
        data = self._flatten(images)  # (B, V)
        batch_size = tf.shape(data)[0]
        lower = tf.tile(data, [num_samples, 1])  # (S*B, V), row s*B + b
        log_weights = tf.zeros([num_samples * batch_size])
        for layer in range(self.top):
            size = self.sizes[layer + 1]
            noise = tf.random.stateless_uniform(
                [num_samples, 1, size],
                seed=[self.instance_seed, _BOUND_SALT + layer])
            noise = tf.reshape(tf.broadcast_to(
                noise, [num_samples, batch_size, size]), [-1, size])
            recognition = energy.hidden_distribution(
                lower, self.recognition_weights[layer],
                self.recognition_biases[layer])
            upper = tf.cast(noise < recognition.mean(), tf.float32)
            log_weights += (self._generate(upper, layer).log_prob(lower)
                            - recognition.log_prob(upper))
            lower = upper
        log_weights += (tf.reduce_logsumexp(
            self.generative_label_logits(lower), axis=-1) - self.log_partition)
        return tf.reduce_mean(
            tf.reshape(log_weights, [num_samples, batch_size]), axis=0)
