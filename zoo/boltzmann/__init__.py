"""Energy-based models: restricted and general Boltzmann machines, deep belief nets.

Importing this package registers its models. ``energy`` holds the energies,
free energies and TFP conditionals the models share.
"""
