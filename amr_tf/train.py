"""`python -m amr_tf.train --flagfile=configs/NAME.cfg`: train AMR, ARAE or ACAI
(the same command as `amr-train`).

An entry point: the command is `amr_tf.cli.train`."""

from amr_tf.cli.train import run

if __name__ == "__main__":
    run()
