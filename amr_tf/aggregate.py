"""Pool the metrics of several runs, e.g. model seeds:

    python -m amr_tf.aggregate --model_dirs=runs/amr_s0,runs/amr_s1,runs/amr_s2
        [--against=runs/arae_s0,runs/arae_s1,runs/arae_s2]

Reads each DIR/metrics.json (written by `python -m amr_tf.evaluate`) and
prints every metric as mean ± std over all its values (resamples x seeds).
With --against, also prints the other group and a paired t-test per metric
whose paired differences vary, pairing values in order: list the runs of
both groups in the same seed order.
"""

import numpy as np
from absl import flags

from amr_tf import cli
from amr_tf.errors import UsageError
from amr_tf.eval import latent_structure
from amr_tf.eval import summary

flags.DEFINE_list("model_dirs", [], "Runs to pool (evaluated first).")
flags.DEFINE_list("against", [], "Runs to compare with, in the same order.")

FLAGS = flags.FLAGS


def pooled_metrics(model_dirs):
    """Metric name -> all values of the runs in `model_dirs`, run order."""
    return summary.pool([summary.read_metrics(d) for d in model_dirs])


def main(argv):
    cli.reject_extra_arguments(argv)
    if not FLAGS.model_dirs:
        cli.fail("--model_dirs is required: comma-separated evaluated runs")
    try:
        pooled = pooled_metrics(FLAGS.model_dirs)
        other = pooled_metrics(FLAGS.against)
    except UsageError as error:
        cli.fail(error)
    for name, values in pooled.items():
        line = f"{name}: {summary.format_value(values)}"
        if name in other:
            line += f"  vs  {summary.format_value(other[name])}"
            paired = len(other[name]) == len(values) > 1
            if paired and np.std(np.subtract(values, other[name])) > 0:
                t, p = latent_structure.paired_t_test(values, other[name])
                line += f"  (paired t = {t:.3g}, p = {p:.3g})"
        print(line)


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
