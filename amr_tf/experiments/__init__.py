"""The paper's experiments, one command each: `amr-experiments NAME --quick`
(`amr_tf.cli.experiments`) on a CPU, without --quick at
the paper's settings. Each trains its runs under --output_dir (re-running
resumes or skips finished runs), evaluates them and writes tables and figures
there."""
