"""Pool the metrics of several runs, e.g. model seeds:

    python -m amr_tf.aggregate --model_dirs=runs/amr_s0,runs/amr_s1,runs/amr_s2
        [--against=runs/arae_s0,runs/arae_s1,runs/arae_s2]

Reads each DIR/metrics.json (written by `python -m amr_tf.evaluate`) and
prints every metric as mean ± std over the runs (each run's resamples
averaged first, so n counts runs). With --against, also prints the other
group and a paired t-test per metric whose paired differences vary,
pairing runs in order: list the runs of both groups in the same seed order.
"""

from absl import flags

from amr_tf.cli import app
from amr_tf.core.errors import UsageError
from amr_tf.eval import summary

flags.DEFINE_list("model_dirs", [], "Runs to pool (evaluated first).")
flags.DEFINE_list("against", [], "Runs to compare with, in the same order.")

FLAGS = flags.FLAGS


def pooled_metrics(model_dirs):
    """Metric name -> all values of the runs in `model_dirs`, run order."""
    return summary.pool([summary.read_metrics(d) for d in model_dirs])


def main(argv):
    app.reject_extra_arguments(argv)
    if not FLAGS.model_dirs:
        app.fail("--model_dirs is required: comma-separated evaluated runs")
    try:
        pooled = pooled_metrics(FLAGS.model_dirs)
        other = pooled_metrics(FLAGS.against)
    except UsageError as error:
        app.fail(error)
    for name, values in pooled.items():
        line = f"{name}: {summary.format_value(values)}"
        if name in other:
            line += f"  vs  {summary.format_value(other[name])}"
            test = summary.paired_test(values, other[name])
            if test:
                line += f"  ({test})"
        print(line)


def run():
    app.run_main(main)
