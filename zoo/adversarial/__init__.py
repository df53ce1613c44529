"""Adversarial models: generative adversarial networks and their refinements."""
