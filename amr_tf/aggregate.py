"""`python -m amr_tf.aggregate --model_dirs=...`: pool evaluated runs over
model seeds (the same command as `amr-aggregate`).

An entry point: the command is `amr_tf.cli.aggregate`."""

from amr_tf.cli.aggregate import run

if __name__ == "__main__":
    run()
