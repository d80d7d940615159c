"""The `python -m amr_tf.serving.*` entry points: `server` (the TF Serving
stand-in), `client` and `explorer`. Each hands over to its command in
`amr_tf.cli`; the code they run lives in `amr_tf.model_server`,
`amr_tf.client` and `amr_tf.explorer`."""
