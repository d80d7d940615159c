"""The command-line tools, one module per command (`amr-train` is
`amr_tf.cli.train`, ...): absl flags, `main`, one-line errors and exit
codes. absl lives here and nowhere else; the work is done by the library
packages below."""
