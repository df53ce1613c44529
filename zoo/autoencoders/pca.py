"""Principal component analysis, as the autoencoder fitted in closed form.

Pearson (1901), "On lines and planes of closest fit to systems of points in
space", and Hotelling (1933), "Analysis of a complex of statistical
variables into principal components": the k-dimensional affine subspace
closest to the data in squared distance passes through the data mean and
is spanned by the top k eigenvectors of the data covariance. As an
autoencoder with code_dim = k,

    encode: z = W^T (x - m),    decode: x_hat = W z + m,

where m (D,) is the training mean and the columns of W (D, k) are those
eigenvectors, orthonormal. decode(encode(x)) is the orthogonal projection of
x onto the subspace, and over the training set the mean squared error per
image, sum over pixels of (x - x_hat)^2, is

    (N - 1) / N * sum of the discarded eigenvalues lambda_{k+1..D},

with the eigenvalues normalized as the unbiased sample covariance
(divided by N - 1, as scikit-learn's ``PCA.explained_variance_``).

Nothing is learnt by gradient descent: ``adapt`` (called by the one
training loop before it restores a checkpoint) takes the SVD of the
centred, flattened training images, X - m = U S V^T, so that W holds the
first k columns of V and lambda = S^2 / (N - 1). The one epoch that ``fit``
then runs only measures the training and validation error (and writes the
checkpoint); ``config.epochs=0`` skips it. m and W are the linear codec's
weights, so they are trainable variables: a reuser may fine-tune an export
(the SavedModel's ``trainable_variables``), this model never does. The
eigenvalues are a non-trainable variable.

The SVD holds the training set and its left singular vectors in memory as
float64, 2 N D numbers: nothing for ``digits``, about 0.7 GB for MNIST and
2.2 GB for CIFAR-10.
"""

import ml_collections
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoencoders import autoencoder


def get_config(variant=None):
    """Returns the PCA's locked config.

    ``python -m tfgen.train --model=pca`` fits 16 principal components of
    ``digits`` (1,257 training images in [0, 1]), measures, evaluates and
    exports them in about 20 s on 2 busy CPU cores, end to end (the
    measuring epoch takes 0.6 s of it, the fit less). Expected: test
    ``squared_error`` 0.705 per image (sum over the 64 pixels); training
    error 0.711, which is 1256/1257 of the variance of the 48 discarded
    components (0.712); the 16 kept ones explain 84.8% of the variance
    (``model_report`` in ``metrics.json``).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small version
            that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("pca", variant)
    config = config_lib.base_config(
        code_dim=16,  # number of principal components kept
        # PCA minimizes the squared error; no other loss is allowed.
        loss="squared_error",
    )
    config.preprocessing = "unit"
    # Fitted in closed form by adapt: no optimizer.
    config.optimizers = ml_collections.ConfigDict()
    # Fitted in closed form by adapt: 1 epoch measures the training error
    # and writes a checkpoint without changing anything; 0 skips it.
    config.epochs = 1
    config.batch_size = 256
    if variant == "tiny":
        config.code_dim = 2
        config.num_grid_samples = 16
    config.lock()
    return config


def _validate(config, data_info):
    """Raises ``UsageError`` naming the field of a bad PCA config."""
    autoencoder.validate(config, "pca")
    if config.loss != "squared_error":
        raise errors.UsageError(
            f"pca minimizes the squared error: config.loss={config.loss!r} "
            "must be 'squared_error'")
    num_pixels = data_info.num_pixels
    if config.code_dim > num_pixels:
        raise errors.UsageError(
            f"config.code_dim={config.code_dim} exceeds the {num_pixels} "
            f"pixels of a {data_info.name} image")
    if config.epochs > 1:
        raise errors.UsageError(
            f"pca is fitted in closed form: config.epochs={config.epochs} "
            "must be 0 or 1 (one pass that only measures)")


def principal_components(data):
    """Principal directions and variances of the rows of ``data``, by SVD.

    Args:
        data: (N, D) float, N >= 2 observations.

    Returns:
        ``(mean, directions, variances)``, float64: the mean (D,); the
        principal directions as orthonormal columns (D, R), R = min(N, D),
        in decreasing order of variance, each signed so that its entry of
        largest magnitude is positive; the variance of the data along each,
        (R,), with the unbiased N - 1 normalization.

    Raises:
        ValueError: fewer than two rows.
    """
    data = tf.convert_to_tensor(data, tf.float64)
    num_rows = int(data.shape[0])
    if num_rows < 2:
        raise ValueError(
            f"need at least 2 rows for a variance, got {num_rows}")
    mean = tf.reduce_mean(data, axis=0)  # (D,)
    # X - m = U S V^T; tf.linalg.svd returns V, not V^T. Singular values
    # come sorted in decreasing order.
    singular_values, _, directions = tf.linalg.svd(
        data - mean, full_matrices=False)  # (R,), (D, R)
    # SVD fixes each direction up to sign only; pin the sign so that the
    # same data always gives the same codes.
    largest = tf.argmax(tf.abs(directions), axis=0)  # (R,)
    signs = tf.sign(tf.gather(tf.transpose(directions), largest,
                              batch_dims=1))  # (R,)
    directions *= tf.where(signs == 0, tf.ones_like(signs), signs)
    variances = tf.square(singular_values) / (num_rows - 1)
    return mean, directions, variances


@registry.register("pca", family="autoencoders",
                   get_config=get_config,
                   paper="Pearson 1901; Hotelling 1933")
class PCA(autoencoder.Autoencoder):
    """Principal component analysis (Pearson 1901; Hotelling 1933).

    Before ``adapt`` it projects onto the first ``code_dim`` pixels (mean 0,
    W the first columns of the identity), an orthogonal projection too.

    Attributes:
        mean: the training mean m, (D,) over the flattened pixels.
        components: W, (D, code_dim), orthonormal columns.
        explained_variance: every eigenvalue of the training covariance
            (divided by N - 1), (D,) in decreasing order, zero past the
            rank; the first ``code_dim`` belong to ``components``.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the image shape is read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    def __init__(self, config, data_info, **kwargs):
        _validate(config, data_info)
        super().__init__(config, data_info, **kwargs)
        self.num_pixels = int(data_info.num_pixels)
        self.mean = self.add_weight(
            shape=(self.num_pixels,), initializer="zeros", name="mean")
        self.components = self.add_weight(
            shape=(self.num_pixels, self.code_size), initializer="identity",
            name="components")
        self.explained_variance = self.add_weight(
            shape=(self.num_pixels,), initializer="zeros", trainable=False,
            name="explained_variance")
        self.encoder = self._project
        self.decoder = self._unproject
        self.built = True

    def _project(self, images):
        """(B, H, W, C) -> codes W^T (x - m), (B, code_dim)."""
        flat = tf.reshape(tf.cast(images, tf.float32), [-1, self.num_pixels])
        return tf.matmul(flat - self.mean, self.components)

    def _unproject(self, codes):
        """(B, code_dim) -> W z + m as images, (B, H, W, C)."""
        flat = tf.matmul(codes, self.components, transpose_b=True) + self.mean
        return tf.reshape(flat, (-1,) + self.image_shape)

    def adapt(self, train_batches):
        """Fits mean, components and eigenvalues to the training images.

        Args:
            train_batches: the batched training dataset, read once.

        Raises:
            UsageError: fewer training images than ``code_dim`` (or than 2).
        """
        data = tf.concat(
            [tf.reshape(tf.cast(batch["image"], tf.float64),
                        [-1, self.num_pixels]) for batch in train_batches],
            axis=0)  # (N, D)
        num_images = int(data.shape[0])
        if num_images < max(2, self.code_size):
            raise errors.UsageError(
                f"config.code_dim={self.code_size} principal components need "
                f"at least {max(2, self.code_size)} training images, got "
                f"{num_images}")
        mean, directions, variances = principal_components(data)
        self.mean.assign(tf.cast(mean, tf.float32))
        self.components.assign(
            tf.cast(directions[:, :self.code_size], tf.float32))
        # Pad to D when there are fewer images than pixels.
        self.explained_variance.assign(tf.cast(tf.pad(
            variances, [[0, self.num_pixels - variances.shape[0]]]),
            tf.float32))

    def optimizer_variables(self):
        """None: nothing is learnt by gradient descent."""
        return {}

    def training_stages(self):
        """One measuring pass (``config.epochs`` = 1) or none (0)."""
        return [("measure", int(self.config.epochs))]

    def train_step(self, batch):
        """Reports the metrics of ``test_step``; nothing is updated."""
        return self.test_step(batch)

    def report(self):
        """The kept share of the variance and the discarded variance.

        ``discarded_variance`` is the sum of the eigenvalues past
        ``code_dim``: (N - 1) / N of it is the training ``squared_error``.
        """
        variances = self.explained_variance.numpy().astype("float64")
        total = variances.sum()
        if total <= 0.0:  # Not adapted, or constant images.
            return {}
        kept = variances[:self.code_size].sum()
        return {"explained_variance_fraction": kept / total,
                "discarded_variance": total - kept}

