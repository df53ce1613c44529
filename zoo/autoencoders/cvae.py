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
from tfgen import registry
from zoo.autoencoders import vae

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


@registry.register("cvae", family="autoencoders",
                   get_config=get_config,
                   paper="Sohn, Lee & Yan 2015")
class ConditionalVAE(vae.VAE):
    """VAE whose encoder and decoder are conditioned on the class label.

    Every capability is labelled (``labelled_capabilities``): the base
    class gives each one a ``labels`` input, checked against the dataset's
    classes, and ``sample`` without labels draws them uniformly from each
    row's seed.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; its ``num_classes`` sets the
            width of the one-hot label.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: the dataset has no classes, or a VAE field is bad.
    """

    labelled_capabilities = vae.VAE.capabilities

    def __init__(self, config, data_info, **kwargs):
        kwargs.setdefault("name", "cvae")  # plots are titled by it
        super().__init__(config, data_info, **kwargs)
        self.num_classes = self.condition_size()

    def condition_size(self):
        """Width of the one-hot label both networks get."""
        return int(self.data_info.num_classes)

    def condition_features(self, labels):
        """Returns one_hot(labels), float32 (B, num_classes).

        Raises:
            ValueError: ``labels`` is ``None`` (the capabilities check the
                labels' range; training reads them from the dataset).
        """
        if labels is None:
            raise ValueError("the conditional VAE needs the images' labels")
        return tf.one_hot(tf.cast(labels, tf.int64), self.num_classes)
