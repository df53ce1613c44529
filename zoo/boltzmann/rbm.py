"""Restricted Boltzmann machines trained by contrastive divergence.

Hinton (2002), "Training products of experts by minimizing contrastive
divergence": the log-likelihood gradient of an RBM is the difference of two
expectations of v h', one under the data (positive phase) and one under the
model (negative phase). CD-k replaces the model's expectation by samples
from k Gibbs steps started at the data. Tieleman (2008), "Training
restricted Boltzmann machines using approximations to the likelihood
gradient" (PCD), keeps persistent chains that continue from one update to
the next instead, so that they wander far from the data and the gradient is
closer to the true one.

Both are the gradient of ``energy.contrastive_divergence_objective``,
mean F(data) - mean F(negatives) with the negatives held fixed, which SGD
with momentum (``config.optimizers.model``) descends. The gradient is
computed in closed form (``energy.contrastive_divergence_gradients``) from
the hidden probabilities the two phases computed anyway; weight decay on the
weights alone and the other settings follow Hinton (2010), "A practical
guide to training restricted Boltzmann machines".

The likelihood needs log Z: after training, ``after_training`` estimates it
by annealed importance sampling (Salakhutdinov & Murray 2008, see
``partition``) into the variables ``log_partition`` and
``log_partition_stderr``, which ``log_prob`` uses and the export keeps.
During training the cheap pseudo-likelihood (Besag 1975) is tracked instead.

``rbm`` has Bernoulli visibles over binarized images; ``gaussian_rbm``
(module ``gaussian_rbm``) subclasses it with Gaussian visibles. Their
configs are in ``rbm_config``.
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen import chains
from tfgen import registry
from tfgen import statistics
from tfgen.model import GenerativeModel
from zoo.boltzmann import energy
from zoo.boltzmann import partition
from zoo.boltzmann import sampling
from zoo.boltzmann.rbm_config import get_config
from zoo.boltzmann.rbm_config import validate

# Gibbs steps of the sample chain whose noise is drawn at once.
SAMPLE_BLOCK = 50

# Pixel means are clipped to [floor, 1 - floor] before their log-odds start
# the visible biases and the AIS base: a digit's border is always off.
_MIN_PIXEL_RATE = 1e-3


@registry.register("rbm", family="boltzmann",
                   get_config=get_config,
                   paper=("Hinton 2002 (CD-k), Tieleman 2008 (PCD); AIS of "
                          "Salakhutdinov & Murray 2008"))
class RBM(GenerativeModel):
    """Bernoulli-Bernoulli RBM over binarized images.

    Metrics: ``loss``, the CD/PCD objective without the weight decay (it
    measures how far the negatives are from the data, not the likelihood);
    ``reconstruction_error``, the mean squared error per pixel of one Gibbs
    step v -> h (sampled) -> E[v|h]; ``pseudo_log_likelihood``, Besag's
    estimate in nats per image from one random pixel per image (fixed in
    ``test_step``).

    ``log_prob`` is -F(v) - log Z with log Z from ``after_training``'s AIS
    estimate (zero until then), so it is an estimate whose standard error
    ``log_prob_stderr`` states (``GenerativeModel.add_log_partition``: the
    export keeps ``log_partition`` and ``log_partition_stderr``, and
    ``report`` gives them to ``metrics.json``).

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the number of visible units is its
            number of pixels.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct",
                    "free_energy")
    metric_names = ("loss", "reconstruction_error", "pseudo_log_likelihood")
    log_prob_kind = "estimate"
    gaussian = False
    preprocessings = ("binarize_dynamic", "binarize_static")

    def __init__(self, config, data_info, **kwargs):
        validate(config, self.preprocessings)
        super().__init__(config, data_info, **kwargs)
        self.event_shape = tuple(data_info.event_shape)
        self.num_visible = int(data_info.event_size)
        self.num_hidden = int(config.num_hidden)
        self.code_size = self.num_hidden
        self.persistent = config.training == "pcd"
        # Small random weights, zero biases (Hinton 2010, section 8).
        self.weights_vh = self.add_weight(
            shape=(self.num_visible, self.num_hidden), name="weights",
            initializer=keras.initializers.RandomNormal(stddev=0.01,
                                                        seed=config.seed))
        self.visible_bias = self.add_weight(
            shape=(self.num_visible,), name="visible_bias",
            initializer="zeros")
        self.hidden_bias = self.add_weight(
            shape=(self.num_hidden,), name="hidden_bias", initializer="zeros")
        # PCD's fantasy particles: model state, so checkpoints carry them.
        start = self.initial_chains(np.random.RandomState(config.seed), (
            int(config.num_chains), self.num_visible))
        self.chains = self.add_weight(
            shape=start.shape, name="persistent_chains", trainable=False,
            initializer=lambda shape, dtype: tf.constant(start, dtype))
        self.add_log_partition()
        self.built = True

    def initial_chains(self, random_state, shape):
        """PCD's starting states, numpy: uniformly random binary vectors,
        or standard normal Gaussian visibles."""
        if self.gaussian:
            return random_state.standard_normal(size=shape).astype(np.float32)
        return (random_state.uniform(size=shape) < 0.5).astype(np.float32)

    # --- Units. -----------------------------------------------------------

    def to_visible(self, images):
        """(B, H, W, C) images -> (B, V) visible units."""
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.num_visible])

    def to_images(self, visible):
        """(B, V) visible means -> (B, H, W, C) images in [0, 1]."""
        return tf.reshape(visible, (-1,) + self.event_shape)

    @property
    def parameters(self):
        """``(W (V, H), c (V,), b (H,))``, the variables training updates."""
        return self.weights_vh, self.visible_bias, self.hidden_bias

    def hidden_probs(self, visible):
        """p(h_j = 1 | v), (B, H)."""
        return energy.hidden_distribution(
            visible, self.weights_vh, self.hidden_bias).mean()

    def visible_mean(self, hidden):
        """E[v | h], (B, V): probabilities, or Gaussian means."""
        return energy.visible_distribution(
            hidden, self.weights_vh, self.visible_bias,
            gaussian=self.gaussian).mean()

    def visible_noise(self, shape, batch_axis=0):
        """Training noise of the visibles' draws (``training_noise``):
        uniform, or standard normal for Gaussian visibles."""
        return self.training_noise(
            shape, distribution="normal" if self.gaussian else "uniform",
            batch_axis=batch_axis)

    def visible_free_energy(self, visible):
        """F(v) of visible units (B, V), (B,)."""
        return energy.free_energy(visible, *self.parameters,
                                  gaussian=self.gaussian)

    # --- Training. ----------------------------------------------------------

    def negative_phase(self, hidden_probs, draw):
        """CD-k's or PCD's k Gibbs sweeps (``sampling.negative_phase``)."""
        return sampling.negative_phase(
            hidden_probs, *self.parameters, self.config.cd_steps, draw,
            gaussian=self.gaussian)

    def _draw(self, shape, index, visible):
        """Training noise for ``negative_phase``, from ``noise_seed``."""
        del index
        # PCD's chains are not examples: every replica draws the same.
        batch_axis = None if self.persistent else 0
        if visible:
            return self.visible_noise(shape, batch_axis)
        return self.training_noise(shape, batch_axis=batch_axis)

    def _phases(self, data, draw):
        """The positive and negative phases of an update on ``data`` (N, V).

        Under CD the negative phase runs k sweeps from the data; under PCD
        from the persistent chains, which then keep where they stopped.

        Returns:
            p(h|data) (N, H), the negatives and p(h|negatives).
        """
        data_probs = self.hidden_probs(data)
        if not self.persistent:
            return (data_probs,) + self.negative_phase(data_probs, draw)
        negatives, negative_probs = self.negative_phase(
            self.hidden_probs(tf.convert_to_tensor(self.chains)), draw)
        self.chains.assign(negatives)
        return data_probs, negatives, negative_probs

    def _apply_update(self, data, data_probs, negatives, negative_probs):
        """One step of the ``model`` optimizer down the CD/PCD gradient.

        The gradient in closed form (``energy.
        contrastive_divergence_gradients``), plus weight decay on W.
        """
        self.apply_gradients(
            energy.contrastive_divergence_gradients(
                data, data_probs, negatives, negative_probs),
            self.parameters, weight_decay=self.config.weight_decay)

    def _metric_values(self, data, negatives, hidden_noise, flip_indices):
        """The metrics of a batch, given their noise."""
        # One Gibbs step: sampled hiddens, then the visible means.
        hidden = sampling.sample_binary(self.hidden_probs(data), hidden_noise)
        values = {
            "loss": energy.contrastive_divergence_objective(
                data, negatives, *self.parameters, gaussian=self.gaussian),
            "reconstruction_error": tf.reduce_mean(
                tf.square(data - self.visible_mean(hidden)), axis=-1)}
        if "pseudo_log_likelihood" in self.metric_names:
            values["pseudo_log_likelihood"] = energy.pseudo_log_likelihood(
                data, flip_indices, *self.parameters)
        return values

    def distribution_problem(self):
        if self.config.minibatch_size:
            return ("config.minibatch_size > 0 makes several updates one "
                    "after another within a batch, which replicas holding "
                    "parts of the batch cannot make; set it to 0")
        return None

    def train_step(self, batch):
        """One update per batch, or one per minibatch of the batch.

        With ``config.minibatch_size`` = n > 0 the batch's images are cut
        into consecutive minibatches of n (the last may be smaller), each
        making one update in a ``tf.while_loop``; the metrics are then
        computed once, on the last minibatch after its update, with the
        persistent chains (PCD) or a fresh negative phase from it (CD) as
        negatives: the training metrics of an epoch then sample the data
        thinly (the validation metrics do not). With n = 0 the metrics are
        those of the batch's own update, taken before it is applied.
        """
        data = self.to_visible(batch["image"])  # (B, V)
        minibatch_size = int(self.config.minibatch_size)
        if minibatch_size:
            data, negatives = self._minibatch_updates(data, minibatch_size)
        else:
            data_probs, negatives, negative_probs = self._phases(data,
                                                                 self._draw)
        batch_size = tf.shape(data)[0]
        hidden_noise = self.training_noise([batch_size, self.num_hidden])
        flip_indices = tf.minimum(
            tf.cast(self.training_noise([batch_size]) * self.num_visible,
                    tf.int32), self.num_visible - 1)
        values = self._metric_values(data, negatives, hidden_noise,
                                     flip_indices)
        if not minibatch_size:
            self._apply_update(data, data_probs, negatives, negative_probs)
        return self.update_metrics(values)

    def _minibatch_updates(self, data, minibatch_size):
        """Updates on each minibatch of ``data`` in turn, in one loop.

        Returns:
            The last minibatch and negatives for its metrics: the
            persistent chains (PCD) or a fresh negative phase from it (CD).
        """
        batch_size = tf.shape(data)[0]
        num_minibatches = (batch_size + minibatch_size - 1) // minibatch_size
        num_chains = (int(self.config.num_chains) if self.persistent
                      else minibatch_size)
        # All the loop's noise in two draws, not a few per update: the
        # per-op cost, not arithmetic, bounds small updates on a CPU.
        steps = int(self.config.cd_steps)
        hidden_noise_all = self.training_noise(
            [num_minibatches, steps, num_chains, self.num_hidden],
            batch_axis=None)
        visible_noise_all = self.visible_noise(
            [num_minibatches, steps, num_chains, self.num_visible],
            batch_axis=None)

        def update(index, minibatch):  # minibatch (n, V)
            def draw(shape, half_step, visible):
                noise = visible_noise_all if visible else hidden_noise_all
                noise = noise[index, half_step // 2]
                # PCD's chains: every row, a static shape.
                return (noise if (isinstance(shape[0], int)
                                  and shape[0] == num_chains)
                        else noise[:shape[0]])

            self._apply_update(minibatch, *self._phases(minibatch, draw))

        _, last = chains.for_each_minibatch(data, minibatch_size, update)
        # Metrics on the last minibatch alone: on the whole batch they
        # would cost as much as many updates.
        negatives = (tf.convert_to_tensor(self.chains) if self.persistent
                     else self.negative_phase(self.hidden_probs(last),
                                              self._draw)[0])
        return last, negatives

    def test_step(self, batch):
        # Fixed noise: the same weights always give the same metrics. The
        # negatives are k steps from the data even under PCD, whose chains
        # belong to training and must not move during validation.
        data = self.to_visible(batch["image"])
        batch_size = tf.shape(data)[0]
        evaluation = self.stream("evaluation")

        def draw(shape, index, visible):
            if visible and self.gaussian:
                return evaluation.normal(shape, step=index)
            return evaluation.uniform(shape, step=index)

        negatives, _ = self.negative_phase(self.hidden_probs(data), draw)
        hidden_noise = self.stream("evaluation_hidden").uniform(
            [batch_size, self.num_hidden])
        flip_indices = tf.minimum(tf.cast(
            self.stream("evaluation_pixel").uniform([batch_size])
            * self.num_visible, tf.int32), self.num_visible - 1)
        return self.update_metrics(self._metric_values(
            data, negatives, hidden_noise, flip_indices))

    # --- Data statistics and the partition function. -----------------------

    def pixel_log_odds(self, train_batches):
        """The training pixels' log-odds, (V,) (``tfgen.statistics``)."""
        return statistics.mean_log_odds(
            train_batches, lambda batch: self.to_visible(batch["image"]),
            floor=_MIN_PIXEL_RATE)

    def adapt(self, train_batches):
        """Starts the visible biases at the data's log-odds (Hinton 2010).

        A restored checkpoint then replaces them with the trained ones.
        """
        self.visible_bias.assign(self.pixel_log_odds(train_batches))

    def after_training(self, train_batches):
        """Estimates log Z by AIS from a base fitted to the pixel marginals."""
        self.store_log_partition(*partition.ais_log_partition(
            *self.parameters, num_chains=self.config.ais_chains,
            num_betas=self.config.ais_betas,
            seed=self.stream("partition").seed(),
            base_visible_bias=self.pixel_log_odds(train_batches)))

    # --- Capabilities. --------------------------------------------------

    def _encode(self, images):
        """Returns ``{"codes": p(h = 1 | v)}``, (B, H)."""
        return {"codes": self.hidden_probs(self.to_visible(images))}

    def _reconstruct(self, images):
        """One deterministic up-down pass with probabilities, (B, H, W, C)."""
        hidden = self.hidden_probs(self.to_visible(images))
        return {"images": self.to_images(self.visible_mean(hidden))}

    def _free_energy(self, images):
        """Returns ``{"free_energy": F(v)}``, (B,) in nats."""
        return {"free_energy": self.visible_free_energy(
            self.to_visible(images))}

    def _log_prob(self, images):
        """Returns ``{"log_prob": -F(v) - log Z}``, (B,) in nats.

        An estimate: log Z comes from AIS (``after_training``), whose
        standard error ``log_prob_stderr`` applies to every row.

        Raises:
            InvalidArgumentError: images that are not 0 or 1.
        """
        visible = self.to_visible(images)
        tf.debugging.assert_equal(
            visible * (1.0 - visible), tf.zeros_like(visible),
            message="images must be 0 or 1 for a Bernoulli RBM")
        return {"log_prob": -self.visible_free_energy(visible)
                - self.log_partition}

    def initial_visible(self, seed):
        """Random visibles, one row per seed, to start the sample chain:
        uniformly random bits, or standard normal Gaussian visibles."""
        stream = self.stream("sample_start")
        if self.gaussian:
            return stream.normal_rows(seed, [self.num_visible])
        return sampling.sample_binary(
            0.5, stream.uniform_rows(seed, [self.num_visible]))

    def sample_noise(self, seed, block):
        """The per-row noise of the sample chain's block of sweeps.

        Returns:
            Uniform draws (B, SAMPLE_BLOCK, H) for the hiddens and
            (B, SAMPLE_BLOCK, V) for the visibles (standard normal ones for
            Gaussian visibles), from the streams ``sample_hidden`` and
            ``sample_visible`` at step ``block``.
        """
        visible = self.stream("sample_visible")
        draw_visible = (visible.normal_rows if self.gaussian
                        else visible.uniform_rows)
        return (self.stream("sample_hidden").uniform_rows(
                    seed, [SAMPLE_BLOCK, self.num_hidden], step=block),
                draw_visible(seed, [SAMPLE_BLOCK, self.num_visible],
                             step=block))

    @tf.function(reduce_retracing=True)
    def _sample_chain(self, seed):
        return sampling.sample_chain(
            self.initial_visible(seed), *self.parameters,
            int(self.config.sample_gibbs_steps),
            lambda block: self.sample_noise(seed, block), SAMPLE_BLOCK,
            gaussian=self.gaussian)

    def _sample(self, seed):
        """A seeded Gibbs chain of ``config.sample_gibbs_steps`` steps.

        Row i starts from random visibles drawn from ``seed[i]`` alone (the
        streams ``sample_start``, ``sample_hidden`` and ``sample_visible``,
        the block of steps as their ``step``) and ends with the visible
        means of its last step, (B, H, W, C); it is the same whatever else
        the request holds.
        """
        return {"images": self.to_images(self._sample_chain(seed))}
