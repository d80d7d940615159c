"""`python -m amr_tf.export --model_dir=DIR`: export a trained run for TF
Serving (the same command as `amr-export`).

An entry point: the command is `amr_tf.cli.export`."""

from amr_tf.cli.export import run

if __name__ == "__main__":
    run()
