"""`python -m amr_tf.serving.client --image_a=... --image_b=...`: ask a served
model for a mix (the same command as `amr-client`).

An entry point: the command is `amr_tf.cli.client`."""

from amr_tf.cli.client import run

if __name__ == "__main__":
    run()
