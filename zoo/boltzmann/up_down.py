"""The up-down algorithm: contrastive wake-sleep fine-tuning of a DBN.

Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief
nets", appendix B. After greedy pretraining the recognition weights (going
up) and the generative weights (going down) of the directed layers are
untied, and one update on a batch of labelled images has three parts, each
touching its own parameters:

- wake: the data go up the recognition weights as binary states
  h_1, ..., h_{L-1}, and each generative layer learns to predict the layer
  below from the one above, ascending log p(h_l | h_{l+1});
- top RBM: contrastive divergence over (h_{L-1}, y) and h_L, from the wake
  state with the label clamped, by ``top_gibbs_steps`` Gibbs steps in which
  the label units are free (their softmax probabilities);
- sleep: from the visible units where that chain ended, binary states go
  down the generative weights, and each recognition layer learns to invert
  them, ascending log q(h_{l+1} | h_l).

Every part is the gradient of a log-likelihood of sampled states, in
closed form: ``belief_net.generative_terms`` and ``recognition_terms`` for
the directed layers, ``energy.contrastive_divergence_gradients`` for the
top RBM (``labelled_rbm``).
"""

import tensorflow as tf

from zoo.boltzmann import belief_net
from zoo.boltzmann import energy
from zoo.boltzmann import labelled_rbm


def up_down_gradients(dbn, data, labels, sample):
    """One up-down update's gradients, for every parameter of a DBN.

    Args:
        dbn: a ``dbn.DBN``; its conditionals and parameters are read.
        data: (B, V) pixels.
        labels: (B, K) one-hot labels.
        sample: ``sample(probabilities)`` draws binary states (the training
            noise), in the order the algorithm needs them: the wake states
            bottom-up, the top RBM's chain, the sleep states top-down.

    Returns:
        ``(gradients, variables, metrics)``: the gradients of wake_nll +
        sleep_nll + the top RBM's free-energy gap (all batch means), the
        variables in the same order, and ``{"wake_nll": (B,),
        "sleep_nll": (B,), "free_energy_gap": scalar}``.
    """
    # Wake: binary states up the recognition weights.
    wake = [data]
    for layer in range(dbn.top):
        wake.append(sample(dbn.recognize(wake[-1], layer)))

    # The top RBM: CD-k from the wake state, the label clamped only in the
    # positive phase.
    top = dbn.top_parameters
    positive = tf.concat([wake[-1], labels], axis=-1)
    positive_probs = labelled_rbm.hidden_probabilities(wake[-1], labels, top)
    top_probs = positive_probs
    for _ in range(int(dbn.config.top_gibbs_steps)):
        pen_means, label_probs = labelled_rbm.visible_means(
            sample(top_probs), top)
        pen = sample(pen_means)
        top_probs = labelled_rbm.hidden_probabilities(pen, label_probs, top)
    negative = tf.concat([pen, label_probs], axis=-1)
    gradients = list(labelled_rbm.split_stacked(
        *energy.contrastive_divergence_gradients(
            positive, positive_probs, negative, top_probs), dbn.sizes[-2]))
    variables = list(top)

    # Sleep: generate down from where the chain ended; the pixels stay
    # probabilities.
    sleep = [pen]
    for layer in reversed(range(dbn.top)):
        means = dbn.generate(sleep[-1], layer).mean()
        sleep.append(means if layer == 0 else sample(means))
    sleep.reverse()  # sleep[l] is h_l

    wake_nll = sleep_nll = tf.zeros([energy.num_rows(data)])
    for layer in range(dbn.top):
        nll, weights, bias = belief_net.generative_terms(
            wake[layer], wake[layer + 1], dbn.generative_weights[layer],
            dbn.generative_biases[layer])
        wake_nll += nll
        gradients += [weights, bias]
        variables += [dbn.generative_weights[layer],
                      dbn.generative_biases[layer]]
        nll, weights, bias = belief_net.recognition_terms(
            sleep[layer], sleep[layer + 1], dbn.recognition_weights[layer],
            dbn.recognition_biases[layer])
        sleep_nll += nll
        gradients += [weights, bias]
        variables += [dbn.recognition_weights[layer],
                      dbn.recognition_biases[layer]]
    gap = energy.contrastive_divergence_objective(
        positive, negative, *labelled_rbm.stacked(top))
    return gradients, variables, {"wake_nll": wake_nll,
                                  "sleep_nll": sleep_nll,
                                  "free_energy_gap": gap}
