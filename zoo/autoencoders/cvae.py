"""Conditional VAE: encoder and decoder both see the image's label.

Sohn, Lee & Yan (2015), "Learning Structured Output Representation using
Deep Conditional Generative Models", and the M2 model of Kingma, Rezende,
Mohamed & Welling (2014), "Semi-Supervised Learning with Deep Generative
Models", with every label observed: the label y of an image is an input of
both networks,

    q(z|x, y) = N(mu(x, y), diag(s(x, y)^2)),  p(z) = N(0, I),  p(x|z, y),

and training maximizes the conditional ELBO

    log p(x|y) >= E_q[log p(x|z, y)] - KL(q(z|x, y) || p(z)).

Given the label, the code is free to carry what the label does not say (the
style of a digit rather than its class), so ``sample`` for a chosen label
draws images of that class.

Every capability takes the labels as an input ``labels``, int64 (B,) in
[0, num_classes - 1]; a served request outside that range is rejected. The
``log_prob`` capability is the importance-weighted bound on log p(x|y), the
conditional likelihood, which is not comparable with an unconditional
model's log p(x): with equally frequent labels, -log p(x|y) can lie below
-log p(x) by up to log num_classes nats. ``sample`` called without labels
draws each row's label uniformly from its own seed, an ancestral sample of
p(y) p(x|y) with the uniform p(y).
"""

import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import rng
from tfgen.model import CapabilityInput
from zoo.autoencoders import vae

# Salt of the label drawn by ``sample`` without labels, distinct from the
# VAE's salts (its prior sample's is 1), so label and code are independent.
_LABEL_SALT = 11


def get_config(variant=None):
    """Returns the conditional VAE's locked config (the VAE's fields).

    ``python -m tfgen.train --model=cvae`` trains on ``digits`` (dynamically
    binarized, 10 classes) in about 80 s on 2 CPU cores, end to end
    (measured while other jobs shared the cores). Expected on the 360 test
    images: negative conditional ELBO about 19.8 nats and, by the k=100
    importance-weighted bound, -log p(x|y) <= about 19.6 nats. That is a
    bound on the conditional likelihood; the VAE's -log p(x) <= 22.3 bounds
    another quantity (for the true distributions, -log p(x|y) >= -log p(x)
    - log 10 with ten equally frequent labels).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("cvae", variant)
    return vae.get_config(variant)


@registry.register("cvae", family="autoencoders", get_config=get_config)
class ConditionalVAE(vae.VAE):
    """VAE whose encoder and decoder are conditioned on the class label.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; its ``num_classes`` sets the
            width of the one-hot label.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: the dataset has no classes, or a VAE field is bad.
    """

    def __init__(self, config, data_info, **kwargs):
        if not data_info.num_classes or data_info.num_classes < 1:
            raise errors.UsageError(
                f"config.dataset={config.dataset!r} has no class labels to "
                "condition on")
        kwargs.setdefault("name", "cvae")  # plots are titled by it
        super().__init__(config, data_info, **kwargs)
        self.num_classes = self.condition_size()

    # --- Conditioning. ----------------------------------------------------

    def condition_size(self):
        """Width of the one-hot label both networks get."""
        return int(self.data_info.num_classes)

    def condition_features(self, labels):
        """Returns one_hot(labels), float32 (B, num_classes).

        Raises:
            ValueError: ``labels`` is ``None``.
            InvalidArgumentError: a label lies outside [0, num_classes - 1].
        """
        if labels is None:
            raise ValueError("the conditional VAE needs the images' labels")
        labels = tf.cast(labels, tf.int64)
        # one_hot would silently give a zero vector for such a label.
        tf.debugging.assert_non_negative(
            labels, message="labels must lie in [0, num_classes - 1]")
        tf.debugging.assert_less(
            labels, tf.constant(self.num_classes, tf.int64),
            message="labels must lie in [0, num_classes - 1]")
        return tf.one_hot(labels, self.num_classes)

    def build_for_training(self, batch):
        """Creates the weights and optimizer slots from a labelled batch."""
        self.reconstruct(batch["image"], batch["label"])
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.trainable_variables)

    def call(self, images, labels=None, training=False):
        """Returns the reconstruction (B, H, W, C) of labelled images."""
        return self.reconstruct(images, labels)["images"]

    # --- Capabilities. --------------------------------------------------

    @property
    def label_input(self):
        """The ``CapabilityInput`` of the labels: int64 (B,) in range."""
        return CapabilityInput(tf.TensorSpec([None], tf.int64), 0,
                               self.num_classes - 1)

    def capability_inputs(self, capability):
        return {**super().capability_inputs(capability),
                "labels": self.label_input}

    def encode(self, images, labels):
        """Returns q(z|x, y) as ``{"codes": mean, "scales": stddev}``."""
        return super().encode(images, labels)

    def decode(self, codes, labels):
        """Returns ``{"images": E[x|z, y]}``, (B, H, W, C) in [0, 1]."""
        return super().decode(codes, labels)

    def reconstruct(self, images, labels):
        """Decodes the posterior mean of q(z|x, y) with the same labels."""
        return super().reconstruct(images, labels)

    def log_prob(self, images, labels):
        """Returns ``{"log_prob": (B,)}``, a lower bound on log p(x|y).

        The importance-weighted bound with k = ``config.log_prob_samples``.
        """
        return super().log_prob(images, labels)

    def sample(self, seed, labels=None):
        """Decodes z ~ p(z), drawn from ``seed[i]`` alone, with label i.

        Args:
            seed: int64 (B,), one seed per image.
            labels: int64 (B,), the class of each image; ``None`` draws it
                uniformly from the row's seed.

        Returns:
            ``{"images": E[x|z, y]}``, float32 (B, H, W, C) in [0, 1].
        """
        if labels is None:
            uniform = rng.uniform(seed, [], instance_seed=self.instance_seed,
                                  salt=_LABEL_SALT)  # (B,)
            labels = tf.minimum(
                tf.cast(tf.floor(uniform * self.num_classes), tf.int64),
                self.num_classes - 1)
        return super().sample(seed, labels)
