"""The method: per-example losses, mixers, the networks (models/) and the
objectives with their `train_step` (objectives/), and what they stand on:
settings fields, errors, stateless seeds, replica-aware draws,
distribution strategies and the optimizer."""
