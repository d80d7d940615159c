"""`python -m amr_tf.evaluate --model_dir=DIR`: measure a trained run (the same
command as `amr-evaluate`).

An entry point: the command is `amr_tf.cli.evaluate`."""

from amr_tf.cli.evaluate import run

if __name__ == "__main__":
    run()
