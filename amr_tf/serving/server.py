"""`python -m amr_tf.serving.server --model_base_path=DIR`: the TF Serving
stand-in (the same command as `amr-serve`).

An entry point: the command is `amr_tf.cli.serve`."""

from amr_tf.cli.serve import run

if __name__ == "__main__":
    run()
