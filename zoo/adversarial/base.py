"""The adversarial family's base: a generator, a discriminator, two players.

Goodfellow et al. (2014), "Generative Adversarial Nets": a generator G maps
codes z ~ p(z) = N(0, I) to examples, a discriminator D scores examples as
real or generated, and the two play

    min_G max_D  E_data[log D(x)] + E_z[log(1 - D(G(z)))].

``GAN`` holds what every model of the family shares, so that each model
file holds its paper's choices alone:

- the two networks (``zoo.adversarial.networks``: ``mlp`` or ``conv``),
  with the output activation of the data's range (tanh for ``symmetric``,
  sigmoid for ``unit``, none for points);
- two named optimizers, ``generator`` and ``discriminator``
  (``config.optimizers``), each over its own network's variables;
- ``config.discriminator_steps`` discriminator updates per generator
  update, each on its own batch (Algorithm 1 of the paper): the generator
  moves on every k-th training step;
- ``config.updates``: ``alternating`` (D moves, then G against the moved
  D, each on its own codes: Algorithm 1) or ``simultaneous`` (both
  gradients taken at the current parameters of both players, on one real
  batch and one generated batch, then both applied: the simultaneous
  gradient steps of Metz et al. (2017), equations 7 and 8, and of their
  reference code);
- the loss by name (``zoo.adversarial.losses``): ``minimax``,
  ``non_saturating``, ``least_squares`` or ``wasserstein``, with a gradient
  penalty (``config.gradient_penalty``) or weight clipping
  (``config.weight_clip``) for the critic;
- the refinements of Salimans et al. (2016), "Improved Techniques for
  Training GANs", as switches of any model: one-sided label smoothing
  (``config.real_label`` < 1), virtual batch norm in the generator
  (``config.generator_normalization="virtual"``) and minibatch
  discrimination (``config.minibatch_kernels`` > 0);
- conditioning on the class label (Mirza & Osindero 2014) for a model that
  declares its capabilities labelled: one-hot labels join the code and the
  discriminator's input.

Capabilities: ``sample`` (z drawn from each row's seed), ``decode`` (z to
an example) and ``discriminate`` (the discriminator's ``scores``, and the
``probabilities`` of being real data for the cross-entropy losses).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.model import GenerativeModel
from zoo.adversarial import gan_config
from zoo.adversarial import layers as gan_layers
from zoo.adversarial import losses
from zoo.adversarial import networks
from zoo.adversarial.gan_config import DISCRIMINATOR
from zoo.adversarial.gan_config import GENERATOR

tfd = tfp.distributions


def _batch_normalization():
    # Statistics of the global batch under a distribution strategy, as on
    # one device (the same layer where there is one replica).
    return keras.layers.BatchNormalization(synchronized=True)


class GAN(GenerativeModel):
    """A generative adversarial network; the family's models subclass it.

    Args:
        config: locked config built on ``gan_config.common_config``.
        data_info: ``tfgen.data.DataInfo`` of the data modelled.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is bad or does not fit the data.
    """

    capabilities = ("sample", "decode", "discriminate")
    metric_names = ("discriminator_loss", "generator_loss", "real_output",
                    "fake_output", "gradient_penalty")
    # The Keras name, which titles the plots: each model's registered name.
    model_name = "gan"

    def __init__(self, config, data_info, **kwargs):
        gan_config.validate(config, data_info)
        kwargs.setdefault("name", self.model_name)
        super().__init__(config, data_info, **kwargs)
        self.latent_dim = int(config.latent_dim)
        self.code_size = self.latent_dim
        self.event_shape = tuple(data_info.event_shape)
        self.num_conditions = (int(data_info.num_classes)
                               if self.labelled_capabilities else 0)
        self.cross_entropy = config.loss in ("minimax", "non_saturating")
        self.virtual = config.generator_normalization == "virtual"
        self.reference_size = int(config.reference_batch_size)
        if not config.gradient_penalty:
            # A metric that is zero throughout would only be noise.
            self.trackers.pop("gradient_penalty")
        self.generator = self._build_generator()
        self.discriminator = self._build_discriminator()
        self.built = True

    # --- The networks. ---------------------------------------------------

    def _generator_normalize(self):
        kind = self.config.generator_normalization
        if kind == "batch":
            return _batch_normalization
        if kind == "virtual":
            return lambda: gan_layers.VirtualBatchNorm(self.reference_size)
        return None

    def _discriminator_normalize(self):
        kind = self.config.discriminator_normalization
        if kind == "batch":
            return _batch_normalization
        if kind == "layer":
            return keras.layers.LayerNormalization
        return None

    def _build_generator(self):
        config = self.config
        codes = keras.Input((self.latent_dim + self.num_conditions,))
        normalize = self._generator_normalize()
        if config.architecture == "conv":
            outputs = networks.conv_generator(
                codes, self.event_shape, config.filters,
                config.num_upsamplings, normalize)
        else:
            outputs = networks.mlp_generator(
                codes, self.event_shape, config.generator_units, normalize,
                activation=config.generator_activation,
                initializer=config.mlp_initializer)
        activation = gan_config.OUTPUT_ACTIVATIONS[config.preprocessing]
        if activation:
            outputs = keras.layers.Activation(activation)(outputs)
        return keras.Model(codes, outputs, name="generator")

    def _build_discriminator(self):
        config = self.config
        examples = keras.Input(self.event_shape)
        conditions = (keras.Input((self.num_conditions,))
                      if self.num_conditions else None)
        normalize = self._discriminator_normalize()
        if config.architecture == "conv":
            features = networks.conv_discriminator_features(
                examples, conditions, config.filters, config.num_upsamplings,
                normalize)
        else:
            features = networks.mlp_discriminator_features(
                examples, conditions, config.discriminator_units, normalize,
                activation=config.discriminator_activation,
                initializer=config.mlp_initializer)
        if config.minibatch_kernels:
            features = gan_layers.MinibatchDiscrimination(
                int(config.minibatch_kernels),
                int(config.minibatch_kernel_dim))(features)
        scores = keras.layers.Dense(1)(features)  # (B, 1)
        inputs = examples if conditions is None else [examples, conditions]
        return keras.Model(inputs, scores, name="discriminator")

    def optimizer_variables(self):
        """Each player's optimizer updates its own network."""
        return {GENERATOR: list(self.generator.trainable_variables),
                DISCRIMINATOR: list(self.discriminator.trainable_variables)}

    def compile_for_training(self):
        """Compiles, and builds both optimizers at once: the generator's
        is applied inside a ``tf.cond`` when ``discriminator_steps`` > 1,
        where it could not create its slots."""
        super().compile_for_training()
        for name, variables in self.optimizer_variables().items():
            if not self.optimizers[name].built:
                self.optimizers[name].build(variables)

    def code_prior(self):
        """p(z) = N(0, I) over (latent_dim,)."""
        return tfd.MultivariateNormalDiag(
            loc=tf.zeros([self.latent_dim]),
            scale_diag=tf.ones([self.latent_dim]))

    def conditions(self, labels):
        """One-hot labels (B, K) of a conditional model; None otherwise."""
        if not self.num_conditions:
            return None
        if labels is None:
            raise ValueError(f"{type(self).__name__} is conditioned on labels "
                             "and needs them")
        return tf.one_hot(tf.cast(labels, tf.int64), self.num_conditions)

    def reference_inputs(self):
        """The generator's fixed reference batch for virtual batch norm:
        codes from the ``reference`` stream, labels cycling over the classes.
        """
        codes = self.stream("reference").normal(
            [self.reference_size, self.latent_dim])
        if not self.num_conditions:
            return codes
        labels = tf.range(self.reference_size, dtype=tf.int64) % \
            self.num_conditions
        return tf.concat([codes, self.conditions(labels)], axis=-1)

    def generate(self, codes, labels=None, training=False):
        """G(z): codes (B, latent_dim) to examples (B, *event_shape)."""
        inputs = codes
        conditions = self.conditions(labels)
        if conditions is not None:
            inputs = tf.concat([codes, conditions], axis=-1)
        if not self.virtual:
            return self.generator(inputs, training=training)
        # The reference rows go first through every virtual batch norm.
        inputs = tf.concat([self.reference_inputs(), inputs], axis=0)
        return self.generator(inputs, training=training)[self.reference_size:]

    def score(self, examples, labels=None, training=False):
        """D's raw output (B,): a logit, a critic value or an LSGAN score."""
        conditions = self.conditions(labels)
        inputs = examples if conditions is None else [examples, conditions]
        return tf.squeeze(self.discriminator(inputs, training=training), -1)

    def discriminator_output(self, scores):
        """What ``real_output``/``fake_output`` report: D(x) as a probability
        for the cross-entropy losses, the raw score otherwise."""
        return tf.sigmoid(scores) if self.cross_entropy else scores

    # --- Training. -------------------------------------------------------

    def training_codes(self, batch_size):
        """Fresh codes z ~ N(0, I), (B, latent_dim), from the noise seed."""
        return self.training_noise((batch_size, self.latent_dim),
                                   distribution="normal")

    def discriminator_objective(self, real, fake, labels=None, training=True):
        """The discriminator's loss on a real and a generated batch.

        Returns:
            ``(loss, values)``: the scalar loss (with the gradient penalty
            times ``config.gradient_penalty``) and the metric values.
        """
        config = self.config
        real_scores = self.score(real, labels, training=training)  # (B,)
        fake_scores = self.score(fake, labels, training=training)  # (B,)
        loss = losses.discriminator_loss(
            config.loss, real_scores, fake_scores,
            real_label=config.real_label, fake_label=config.fake_label)
        if config.gradient_penalty:
            mix = self.training_noise((tf.shape(real)[0],))
            penalty = losses.gradient_penalty(
                lambda examples: self.score(examples, labels,
                                            training=training),
                real, fake, mix)
            loss += config.gradient_penalty * penalty
        values = {"discriminator_loss": loss,
                  "real_output": self.discriminator_output(real_scores),
                  "fake_output": self.discriminator_output(fake_scores)}
        if config.gradient_penalty:
            values["gradient_penalty"] = penalty
        return loss, values

    def generator_objective(self, codes, labels, real):
        """The generator's loss for codes (B, latent_dim); ``real`` is the
        step's data batch, which a look-ahead objective (the unrolled GAN)
        trains its discriminator copies on."""
        del real
        fake_scores = self.score(self.generate(codes, labels, training=True),
                                 labels, training=True)
        return losses.generator_loss(self.config.loss, fake_scores,
                                     real_label=self.config.real_label)

    def discriminator_step(self, real, labels):
        """One update of D against a fresh generated batch."""
        fake = self.generate(self.training_codes(tf.shape(real)[0]), labels,
                             training=True)
        with tf.GradientTape() as tape:
            loss, values = self.discriminator_objective(
                real, tf.stop_gradient(fake), labels)
        self.minimize(tape, loss, optimizer=DISCRIMINATOR)
        self._clip_critic()
        return values

    def _clip_critic(self):
        if self.config.weight_clip:
            losses.clip_weights(self.discriminator.trainable_variables,
                                self.config.weight_clip)

    def simultaneous_step(self, real, labels):
        """One update of both players, each down its own loss's gradient
        at the parameters of both before either moves; D's loss and G's
        are on one real batch and the same codes. Returns the metric
        values, ``generator_loss`` among them."""
        codes = self.training_codes(tf.shape(real)[0])
        with tf.GradientTape() as discriminator_tape:
            fake = self.generate(codes, labels, training=True)
            loss, values = self.discriminator_objective(
                real, tf.stop_gradient(fake), labels)
        with tf.GradientTape() as generator_tape:
            values["generator_loss"] = self.generator_objective(
                codes, labels, real)
        players = self.optimizer_variables()
        gradients = {
            DISCRIMINATOR: discriminator_tape.gradient(
                loss, players[DISCRIMINATOR]),
            GENERATOR: generator_tape.gradient(values["generator_loss"],
                                               players[GENERATOR])}
        for name in (DISCRIMINATOR, GENERATOR):
            self.apply_gradients(gradients[name], players[name],
                                 optimizer=name)
        self._clip_critic()
        return values

    def generator_step(self, real, labels):
        """One update of G; returns its loss."""
        codes = self.training_codes(tf.shape(real)[0])
        with tf.GradientTape() as tape:
            loss = self.generator_objective(codes, labels, real)
        self.minimize(tape, loss, optimizer=GENERATOR)
        return loss

    def distribution_problem(self):
        if (self.config.updates != "simultaneous"
                and int(self.config.discriminator_steps) > 1):
            return ("config.discriminator_steps > 1 moves the generator "
                    "inside a tf.cond, and tf.distribute cannot combine the "
                    "replicas' updates there; set it to 1")
        if self.config.minibatch_kernels:
            return ("minibatch discrimination (config.minibatch_kernels > 0) "
                    "compares each example with the rest of its batch, "
                    "which a replica holds only a part of")
        return None

    def train_step(self, batch):
        real = batch["image"]
        labels = batch.get("label") if self.num_conditions else None
        if self.config.updates == "simultaneous":
            return self.update_metrics(self.simultaneous_step(real, labels))
        values = self.discriminator_step(real, labels)
        steps = int(self.config.discriminator_steps)
        if steps == 1:
            values["generator_loss"] = self.generator_step(real, labels)
            return self.update_metrics(values)
        # G moves after every k-th update of D (Algorithm 1).
        def move_generator():
            self.trackers["generator_loss"].update_state(
                self.generator_step(real, labels))
            return tf.constant(True)

        done = self.optimizers[DISCRIMINATOR].iterations
        tf.cond(done % steps == 0, move_generator,
                lambda: tf.constant(False))
        results = self.update_metrics(values)
        results["generator_loss"] = self.trackers["generator_loss"].result()
        return results

    def test_step(self, batch):
        real = batch["image"]
        labels = batch.get("label") if self.num_conditions else None
        # Fixed codes: two evaluations of the same weights agree.
        codes = self.stream("evaluation").normal(
            [tf.shape(real)[0], self.latent_dim])
        fake = self.generate(codes, labels)
        _, values = self.discriminator_objective(real, fake, labels,
                                                 training=False)
        values["generator_loss"] = losses.generator_loss(
            self.config.loss, self.score(fake, labels),
            real_label=self.config.real_label)
        return self.update_metrics(values)

    # --- Capabilities. ---------------------------------------------------

    def _decode(self, codes, labels=None):
        """Returns ``{"images": G(z)}``, in the data's range."""
        return {"images": self.generate(codes, labels)}

    def _sample(self, seed, labels=None):
        """Decodes z ~ N(0, I) drawn from ``seed[i]`` alone."""
        codes = self.stream("sample").normal_rows(seed, [self.latent_dim])
        return self._decode(codes, labels)

    def _discriminate(self, images, labels=None):
        """Returns ``{"scores": D's raw output (B,)}`` and, for the
        cross-entropy losses, ``{"probabilities": sigmoid(scores)}``, the
        probability that each example is real data."""
        scores = self.score(images, labels)
        outputs = {"scores": scores}
        if self.cross_entropy:
            outputs["probabilities"] = tf.sigmoid(scores)
        return outputs
