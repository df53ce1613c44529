"""Deep belief net: greedily stacked RBMs, then up-down or discriminative tuning.

Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief
nets". A DBN with layers v = h_0, h_1, ..., h_L is a directed sigmoid belief
net from h_{L-1} down to v (``belief_net``) under an undirected top RBM over
(h_{L-1}, y, h_L), where y is the label as a group of softmax units joined
to the top RBM's visible units (``labelled_rbm``). It is learnt in stages,
each one ``model.fit`` of the shared training loop (``training_stages``),
each stage's ``train_step`` one of three algorithms:

1. ``pretrain_layer_0`` ... ``pretrain_layer_{L-1}``: greedy pretraining.
   Layer l is an RBM trained by contrastive divergence (CD-k, Hinton 2002) on
   the hidden probabilities that the frozen layers below give for the data;
   the top RBM also sees the one-hot label. While a layer is pretrained its
   weights serve both directions (recognition up, generation down).
2. ``finetune``, either
   - ``up_down``: the contrastive wake-sleep algorithm of the 2006 paper
     (module ``up_down``), which unties recognition and generative weights.
     Classification is generative: the label whose softmax unit gives the
     top RBM the lowest free energy.
   - ``discriminative``: Hinton & Salakhutdinov (2006), "Reducing the
     dimensionality of data with neural networks": the recognition stack is
     unrolled into an MLP, v -> h_1 -> ... -> h_L -> softmax, whose output
     layer starts from the top RBM's label weights, and backpropagation
     minimizes the cross-entropy of the labels.

Every CD gradient is the family's closed form
(``energy.contrastive_divergence_gradients``); each algorithm has its named
optimizer (``pretrain``, ``up_down``: SGD with momentum; ``discriminative``:
Adam).

``log_prob`` is the variational lower bound of Salakhutdinov & Murray
(2008) (``belief_net.variational_bound``), with the top RBM's log Z
estimated after training by annealed importance sampling, or enumerated
when the top RBM is small. ``sample`` clamps the label a client asks for
(``labels``) in the top RBM's Gibbs chain, then passes down. The config is
in ``dbn_config``.
"""

import keras
import tensorflow as tf

from tfgen import registry
from tfgen import statistics
from tfgen.model import GenerativeModel
from tfgen.model import layerwise_stages
from tfgen.model import pretrained_layer
from zoo.boltzmann import belief_net
from zoo.boltzmann import energy
from zoo.boltzmann import labelled_rbm
from zoo.boltzmann import sampling
from zoo.boltzmann import up_down
from zoo.boltzmann.dbn_config import get_config
from zoo.boltzmann.dbn_config import validate

# Gibbs steps of ``sample`` served by one per-row noise draw.
_NOISE_BLOCK = 25

# Keeps the log-odds of data means (initial pixel biases, the base RBM of
# AIS) finite where a unit is always off or always on.
_MIN_BASE_RATE = 1e-3


@registry.register("dbn", family="boltzmann",
                   get_config=get_config,
                   paper="Hinton, Osindero & Teh 2006")
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
        UsageError: a config field is out of range, or the dataset has no
            classes.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct", "classify")
    labelled_capabilities = ("sample",)
    metric_names = ("reconstruction_error", "free_energy_gap", "wake_nll",
                    "sleep_nll", "cross_entropy", "classification_error",
                    "reconstruction_nll")
    log_prob_kind = "lower_bound"

    def __init__(self, config, data_info, **kwargs):
        validate(config)
        super().__init__(config, data_info, **kwargs)
        self.image_shape = tuple(data_info.image_shape)
        self.num_classes = int(data_info.num_classes)
        self.sizes = [int(data_info.num_pixels)] + [
            int(units) for units in config.hidden_units]
        self.num_layers = len(self.sizes) - 1  # RBMs in the stack
        self.top = self.num_layers - 1  # index of the top RBM's stage
        self.code_size = self.sizes[-1]

        small = keras.initializers.RandomNormal(stddev=0.01)
        self.recognition_weights, self.recognition_biases = [], []
        self.generative_weights, self.generative_biases = [], []
        for layer in range(self.top):
            below, above = self.sizes[layer], self.sizes[layer + 1]
            self.recognition_weights.append(self._parameter(
                f"recognition_weights_{layer}", (below, above), small))
            self.recognition_biases.append(self._parameter(
                f"recognition_biases_{layer}", (above,)))
            self.generative_weights.append(self._parameter(
                f"generative_weights_{layer}", (below, above)))
            self.generative_biases.append(self._parameter(
                f"generative_biases_{layer}", (below,)))
        pen, top = self.sizes[-2], self.sizes[-1]
        self.top_weights = self._parameter("top_weights", (pen, top), small)
        self.label_weights = self._parameter(
            "label_weights", (self.num_classes, top), small)
        self.top_visible_bias = self._parameter("top_visible_bias", (pen,))
        self.label_bias = self._parameter("label_bias", (self.num_classes,))
        self.top_hidden_bias = self._parameter("top_hidden_bias", (top,))
        # log Z of the top RBM, filled by after_training; log_prob's bound
        # is unnormalized until then.
        self.add_log_partition()
        self.built = True
        self.current_stage = self.training_stages()[0][0]

    def _parameter(self, name, shape, initializer="zeros"):
        return self.add_weight(shape=shape, initializer=initializer,
                               name=name)

    def optimizer_variables(self):
        """The variables of ``pretrain``, ``up_down`` and ``discriminative``.

        Pretraining updates each RBM of the stack (the generative weights
        follow the recognition ones, tied); up-down every parameter; the
        discriminative step the unrolled recognition MLP and its softmax.
        """
        untied = {id(variable) for variable in self.generative_weights}
        return {
            "pretrain": [variable for variable in self.trainable_variables
                         if id(variable) not in untied],
            "up_down": list(self.trainable_variables),
            "discriminative": (
                self.recognition_weights + self.recognition_biases
                + [self.top_weights, self.top_hidden_bias,
                   self.label_weights, self.label_bias])}

    # --- The stack's pieces. --------------------------------------------

    def _flatten(self, images):
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.sizes[0]])

    def recognize(self, visible, layer):
        """q(h_{layer+1} = 1 | h_layer): recognition probabilities (B, above)."""
        return tf.sigmoid(energy.hidden_logits(
            visible, self.recognition_weights[layer],
            self.recognition_biases[layer]))

    def generate(self, hidden, layer):
        """p(h_layer | h_{layer+1}) of the directed generative layer."""
        return energy.visible_distribution(
            hidden, self.generative_weights[layer],
            self.generative_biases[layer])

    def penultimate(self, images):
        """Recognition probabilities of h_{L-1}, the top RBM's input, (B, D)."""
        visible = self._flatten(images)  # (B, V)
        for layer in range(self.top):
            visible = self.recognize(visible, layer)
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
            visible = self.recognize(visible, below)
        if layer == self.top:
            visible = tf.concat(
                [visible, tf.one_hot(labels, self.num_classes)], axis=-1)
        return visible

    @property
    def top_parameters(self):
        """The top RBM's parameters, as ``labelled_rbm`` takes them."""
        return (self.top_weights, self.label_weights, self.top_visible_bias,
                self.label_bias, self.top_hidden_bias)

    def rbm_variables(self, layer):
        """The variables RBM ``layer`` is pretrained in.

        A lower RBM's are the recognition weights and biases and the
        generative (visible) biases; the top RBM's are ``top_parameters``.
        """
        if layer < self.top:
            return [self.recognition_weights[layer],
                    self.generative_biases[layer],
                    self.recognition_biases[layer]]
        return list(self.top_parameters)

    def rbm(self, layer):
        """(weights, visible_bias, hidden_bias) of the RBM ``layer``; the
        top one is ``labelled_rbm.stacked``, over (h_{L-1}, y)."""
        if layer < self.top:
            return tuple(self.rbm_variables(layer))
        return labelled_rbm.stacked(self.top_parameters)

    def _visible_means(self, hidden, layer):
        """Mean-field reconstruction of RBM ``layer``'s visible units."""
        if layer == self.top:
            return tf.concat(labelled_rbm.visible_means(
                hidden, self.top_parameters), axis=-1)
        weights, visible_bias, _ = self.rbm(layer)
        return energy.visible_distribution(
            hidden, weights, visible_bias).mean()

    def _generate_down(self, pen):
        """Top-down pass of means from h_{L-1}; returns the pixel logits."""
        hidden = pen
        for layer in reversed(range(self.top)):
            logits = self.generate(hidden, layer).distribution.logits
            hidden = tf.sigmoid(logits)
        if self.top == 0:  # The top RBM's visible units are the pixels.
            hidden = tf.clip_by_value(hidden, 1e-6, 1 - 1e-6)
            return tf.math.log(hidden) - tf.math.log1p(-hidden)
        return logits  # (B, V)

    def _bernoulli(self, probabilities):
        """Binary states drawn with the training noise."""
        return sampling.sample_binary(
            probabilities, self.training_noise(tf.shape(probabilities)))

    # --- Classification. ------------------------------------------------

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
        return labelled_rbm.label_logits(self.penultimate(images),
                                         self.top_parameters)

    # --- Training: three algorithms, one per stage and fine-tuning mode. --

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

    def _pretrain_step(self, batch, layer):
        """One CD-k update of RBM ``layer`` on the frozen layers' output."""
        visible = self.layer_input(batch["image"], batch["label"],
                                   layer)  # (B, V_layer)
        weights, _, hidden_bias = self.rbm(layer)
        positive_probs = tf.sigmoid(
            energy.hidden_logits(visible, weights, hidden_bias))
        negative_probs = positive_probs
        for _ in range(self.config.cd_steps):
            # Sampled hiddens carry the information bottleneck; mean-field
            # visibles reduce the noise of the negative statistics.
            negative = self._visible_means(self._bernoulli(negative_probs),
                                           layer)
            negative_probs = tf.sigmoid(
                energy.hidden_logits(negative, weights, hidden_bias))
        gap = energy.contrastive_divergence_objective(
            visible, negative, *self.rbm(layer))
        gradients = energy.contrastive_divergence_gradients(
            visible, positive_probs, negative, negative_probs)
        if layer == self.top:
            gradients = labelled_rbm.split_stacked(*gradients, self.sizes[-2])
        self.apply_gradients(gradients, self.rbm_variables(layer),
                             optimizer="pretrain",
                             weight_decay=self.config.weight_decay)
        if layer < self.top:
            # Tied until fine-tuning: the generative copy follows.
            self.generative_weights[layer].assign(
                self.recognition_weights[layer])
        return self.update_metrics({
            "reconstruction_error": tf.reduce_mean(tf.reduce_sum(
                tf.square(visible - negative), axis=-1)),
            "free_energy_gap": gap})

    def _up_down_step(self, batch):
        """Contrastive wake-sleep (module ``up_down``)."""
        gradients, variables, metrics = up_down.up_down_gradients(
            self, self._flatten(batch["image"]),
            tf.one_hot(batch["label"], self.num_classes), self._bernoulli)
        self.apply_gradients(gradients, variables, optimizer="up_down",
                             weight_decay=self.config.weight_decay)
        return self.update_metrics(metrics)

    def _discriminative_step(self, batch):
        """Backpropagation through the unrolled recognition stack."""
        with tf.GradientTape() as tape:
            logits = self.discriminative_logits(batch["image"])
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=batch["label"], logits=logits)  # (B,)
            loss = tf.reduce_mean(cross_entropy)
        self.minimize(tape, loss, optimizer="discriminative")
        error = tf.cast(tf.argmax(logits, -1) != batch["label"], tf.float32)
        return self.update_metrics({"cross_entropy": cross_entropy,
                                    "classification_error": error})

    def test_step(self, batch):
        images, labels = batch["image"], batch["label"]
        logits = self.label_logits(images)
        error = tf.cast(tf.argmax(logits, -1) != labels, tf.float32)
        pixel_logits = self._reconstruction_logits(images)
        reconstruction_nll = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(
                labels=self._flatten(images), logits=pixel_logits), axis=-1)
        return self.update_metrics({
            "classification_error": error,
            "cross_entropy": tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits),
            "reconstruction_nll": reconstruction_nll})

    def adapt(self, train_batches):
        """Starts the pixels' biases at the data's log-odds (Hinton 2010)."""
        log_odds = statistics.mean_log_odds(
            train_batches, lambda batch: self._flatten(batch["image"]),
            floor=_MIN_BASE_RATE)
        (self.generative_biases[0] if self.top else
         self.top_visible_bias).assign(log_odds)

    def after_training(self, train_batches):
        """Fills ``log_partition``, the top RBM's log Z, for ``log_prob``.

        ``labelled_rbm.log_partition``: AIS per label (from the stream
        ``partition``) whose base RBM has the training data's mean h_{L-1}
        (Salakhutdinov & Murray 2008), or enumeration when the RBM is small.
        """
        base_visible_bias = statistics.mean_log_odds(
            train_batches, lambda batch: self.penultimate(batch["image"]),
            floor=_MIN_BASE_RATE)
        log_z, stderr = labelled_rbm.log_partition(
            self.top_parameters, num_chains=self.config.ais_chains,
            num_betas=self.config.ais_betas,
            seed=self.stream("partition").seed(),
            base_visible_bias=base_visible_bias)
        self.store_log_partition(log_z, stderr)

    # --- Capabilities. --------------------------------------------------

    def _classify(self, images):
        """Returns ``{"labels": int64 (B,), "probabilities": (B, K)}``.

        Up-down (and during pretraining): p(y|v) = softmax(-F(h_{L-1}, y))
        of the top RBM with h_{L-1} the recognition probabilities.
        Discriminative: the unrolled MLP's softmax.
        """
        probabilities = tf.nn.softmax(self.label_logits(images))
        return {"labels": tf.argmax(probabilities, axis=-1,
                                    output_type=tf.int64),
                "probabilities": probabilities}

    def _encode(self, images):
        """Returns ``{"codes": (B, sizes[-1])}``, the top hidden probabilities.

        The recognition pass up to h_{L-1}, then p(h_L = 1 | h_{L-1}, y) with
        the label units at the classifier's p(y|v) (mean field).
        """
        probabilities = tf.nn.softmax(self.label_logits(images))
        return {"codes": labelled_rbm.hidden_probabilities(
            self.penultimate(images), probabilities, self.top_parameters)}

    def _reconstruction_logits(self, images):
        pen, _ = labelled_rbm.visible_means(self._encode(images)["codes"],
                                            self.top_parameters)
        return self._generate_down(pen)  # (B, V)

    def _reconstruct(self, images):
        """Up to the top, one step down in the top RBM, then generated down.

        Returns:
            ``{"images": (B, H, W, C)}``, pixel probabilities.
        """
        logits = self._reconstruction_logits(images)
        return {"images": tf.reshape(tf.sigmoid(logits),
                                     (-1,) + self.image_shape)}

    def _sample(self, seed, labels):
        """Gibbs sampling in the top RBM, label clamped, then one pass down.

        As in Hinton et al. (2006)'s figures: the label units of row i are
        clamped to ``labels[i]``; h_{L-1} starts from the top RBM's visible
        biases and alternates with h_L for ``config.sample_gibbs_steps``
        steps (``labelled_rbm.clamped_chain``), every draw from ``seed[i]``
        alone (the stream ``sample``: the start at step 0, block b of steps
        at step b + 1); the last step's probabilities of h_{L-1} then pass
        down the generative weights as probabilities.

        Returns:
            ``{"images": (B, H, W, C)}``, pixel probabilities.
        """
        stream = self.stream("sample")
        pen = sampling.sample_binary(
            tf.sigmoid(self.top_visible_bias),
            stream.uniform_rows(seed, [self.sizes[-2]], step=0))  # (B, D)
        pen_means = labelled_rbm.clamped_chain(
            pen, tf.one_hot(labels, self.num_classes), self.top_parameters,
            int(self.config.sample_gibbs_steps),
            lambda block: stream.uniform_rows(
                seed, [_NOISE_BLOCK, self.sizes[-1] + self.sizes[-2]],
                step=block + 1),
            _NOISE_BLOCK)
        logits = self._generate_down(pen_means)
        return {"images": tf.reshape(tf.sigmoid(logits),
                                     (-1,) + self.image_shape)}

    def _log_prob(self, images):
        """Returns ``{"log_prob": (B,)}``: a lower bound on log p(v) in nats.

        ``belief_net.variational_bound`` with ``config.log_prob_samples``
        recognition paths (the stream ``bound``, one step per layer, the
        same for every row) and the top RBM's log Z of ``after_training``.
        Meant for binary images; with [0, 1] intensities it is not a
        probability.
        """
        return {"log_prob": self.variational_bound(
            images, self.config.log_prob_samples)}

    def variational_bound(self, images, num_samples):
        """The bound of ``_log_prob`` with ``num_samples`` paths, (B,)."""
        noise = [self.stream("bound").uniform(
            [num_samples, 1, self.sizes[layer + 1]], step=layer)
            for layer in range(self.top)]

        def log_top_marginal(pen):  # log sum_y exp(-F(pen, y)) - log Z
            return (tf.reduce_logsumexp(labelled_rbm.label_logits(
                pen, self.top_parameters), axis=-1) - self.log_partition)

        return belief_net.variational_bound(
            self._flatten(images),
            list(zip(self.recognition_weights, self.recognition_biases)),
            list(zip(self.generative_weights, self.generative_biases)),
            log_top_marginal, noise)
