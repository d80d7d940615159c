"""The settings of a run: `TrainConfig` (train_config), its flagfile text
without a flag library (flag_text), and the packaged flagfiles (presets,
flagfiles/*.cfg)."""
