"""`python -m amr_tf.serving.explorer --model_server=HOST:PORT`: the mix
explorer in the browser (the same command as `amr-explorer`).

An entry point: the command is `amr_tf.cli.explorer`."""

from amr_tf.cli.explorer import run

if __name__ == "__main__":
    run()
