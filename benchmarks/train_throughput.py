"""Images per second of a full training iteration: graph vs XLA, fp32 vs bf16.

    python -m benchmarks.train_throughput \
        [--configs=shapes,acai32,celeba64] [--modes=graph,xla] \
        [--precisions=float32,mixed_bfloat16] [--repeats=5] [--profile_ops=0]

One iteration is what `train_step` does: n_critic D updates, each on its own
batch, then one G update; it consumes n_critic * batch images, the number
the images/s below count. Each config runs at batch 64 on a fixed in-memory
batch (one device: the first GPU if there is one, else the CPU), so the
table measures the training computation; the input pipeline's own images/s
for the same config is printed beside it, to show an input-bound run.

TensorFlow's oneDNN kernels are on (`amr_tf` sets TF_ENABLE_ONEDNN_OPTS=1
unless it is set); run with TF_ENABLE_ONEDNN_OPTS=0 to time Eigen's.

Configs: `shapes` (configs/shapes.cfg), `acai32` (the ACAI 32 px networks of
configs/lines.cfg -- width 16, 4x4x16 = 256-d latent -- on RGB `shapes` at
32 px, 5 D updates per G update) and `celeba64` (configs/celeba.cfg; without
prepared TFDS data the batches are synthetic and the pipeline is skipped).

GFLOP per iteration are counted by TF's profiler on the traced graph
(convolutions, matmuls and their gradients); achieved GFLOP/s is that over
the iteration time, beside this machine's fp32 matmul GFLOP/s. On a shared
machine other processes slow some calls down: the table reports the fastest
call ("best", the machine's own speed) and the median. Prints tables and
ratios; never passes or fails.
"""

import collections
import dataclasses
import glob
import json
import os
import pathlib
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

# amr_tf before TensorFlow: it turns TensorFlow's oneDNN kernels on.
import amr_tf
from amr_tf.config import flag_text
from amr_tf.core.errors import UsageError
from amr_tf.data import DatasetInfo
from amr_tf.training import inputs
from amr_tf.training import model_builder
from amr_tf.training import trainer
from benchmarks import timing

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = {
    "shapes": ["--flagfile=configs/shapes.cfg"],
    "acai32": ["--flagfile=configs/lines.cfg", "--dataset=shapes",
               "--image_size=32", "--n_critic=5"],
    "celeba64": ["--flagfile=configs/celeba.cfg"],
}
MODES = {"graph": False, "xla": True}
# The issue's reference: the authors' PyTorch code, acai32 unit, 2-core CPU.
REFERENCE_IMAGES_PER_MATMUL_GFLOPS = 158 / 134

flags.DEFINE_list("configs", list(CONFIGS), "Configs to run.")
flags.DEFINE_list("modes", list(MODES), "graph and/or xla.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"],
                  "Values of --mixed_precision.")
flags.DEFINE_integer("batch", 64, "Batch size of every D and G update.")
flags.DEFINE_integer("repeats", 5, "Timed iterations per measurement ...")
flags.DEFINE_float("budget_s", 60.0, "... unless they take longer than this "
                   "(at least one is timed).")
flags.DEFINE_integer("profile_ops", 0, "If > 0, profile two iterations of "
                     "each measurement and print its N most expensive op "
                     "types.")
FLAGS = flags.FLAGS


def _train_config(name):
    """The `TrainConfig` of a benchmark config, at `--batch`."""
    argv = [arg.replace("configs/", f"{ROOT}/configs/") for arg in CONFIGS[name]]
    return flag_text.config_from_args([*argv, f"--batch_size={FLAGS.batch}"])


def _data(config):
    """(info, one iteration's batch, pipeline images/s or a reason why not)."""
    images = config.n_critic * config.batch_size
    try:
        info = trainer.validate(config)
    except UsageError as error:  # e.g. celeb_a not prepared offline.
        size = config.data.image_size
        info = DatasetInfo(f"{config.data.name} (synthetic)", (size, size, 3),
                           tuple(config.data.attributes), num_classes=0)
        rng = np.random.default_rng(0)
        batch = {
            "inputs": rng.uniform(-1, 1, (images, size, size, 3)),
            "attributes": rng.uniform(size=(images, info.num_attributes)) < 0.5,
            "label": np.zeros(images),
        }
        batch = {key: tf.constant(value, tf.int32 if key == "label"
                                  else tf.float32)
                 for key, value in batch.items()}
        return info, batch, f"n/a ({str(error)[:60]}...)"
    iterator = iter(inputs.train_dataset(config, info))
    batch = next(iterator)
    for _ in range(5):  # Fill the shuffle buffer and the prefetch queue.
        next(iterator)
    start = time.perf_counter()
    count = 20
    for _ in range(count):
        next(iterator)["inputs"].numpy()
    return info, batch, images * count / (time.perf_counter() - start)


def _op_profile(step, batch, top):
    """The `top` op types by self time over two iterations, as text."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin  # pylint: disable=g-import-not-at-top

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(2):
            result = step(batch)
        tf.nest.map_structure(lambda t: t.numpy(), result)
        tf.profiler.experimental.stop()
        path = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]
        data, _ = _pywrap_profiler_plugin.xspace_to_tools_data(
            [path], "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    self_time = collections.Counter()
    for row in table["rows"]:
        values = dict(zip(columns, [cell.get("v") if cell else None
                                    for cell in row["c"]]))
        self_time[values["type"]] += values["total_self_time"]
    total = sum(self_time.values())
    return "\n".join(f"    {name:<28}{100 * value / total:5.1f}%"
                     for name, value in self_time.most_common(top))


def _measure(config, info, batch, mode, precision):
    config = dataclasses.replace(config, mixed_precision=precision,
                                 jit_compile=MODES[mode])
    model = model_builder.build_model(config, info)
    step = tf.function(model.train_step, jit_compile=MODES[mode])
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), step(batch))
    compile_s = time.perf_counter() - start
    durations = []
    while len(durations) < FLAGS.repeats and (
            not durations or sum(durations) < FLAGS.budget_s):
        durations += timing.times(lambda: step(batch), 1, warmup=0)
    profile = (_op_profile(step, batch, FLAGS.profile_ops)
               if FLAGS.profile_ops else None)
    gflop = (timing.graph_gflop(step, batch)
             if mode == "graph" and precision == "float32" else None)
    return dict(compile_s=compile_s, best_s=min(durations),
                median_s=statistics.median(durations), calls=len(durations),
                gflop=gflop, profile=profile)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    device = (tf.config.list_logical_devices("GPU")
              or tf.config.list_logical_devices("CPU"))[0]
    print(f"device: {device.name} ({device.device_type}); TF {tf.__version__}; "
          f"amr_tf {amr_tf.__version__}; "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ['TF_ENABLE_ONEDNN_OPTS']}")
    matmul_before = timing.matmul_gflops(best=True)
    rows, pipelines = [], {}
    for name in FLAGS.configs:
        config = _train_config(name)
        info, batch, pipelines[name] = _data(config)
        images = config.n_critic * config.batch_size
        gflop = None
        for precision in FLAGS.precisions:
            for mode in FLAGS.modes:
                result = _measure(config, info, batch, mode, precision)
                gflop = gflop or result["gflop"]
                rows.append(dict(config=name, mode=mode, precision=precision,
                                 images=images, **result))
                print(f"  measured {name} {mode} {precision}: "
                      f"{result['best_s'] * 1e3:.0f} ms best of "
                      f"{result['calls']}", flush=True)
                if result["profile"]:
                    print(result["profile"], flush=True)
        for row in rows:
            if row["config"] == name:
                row["gflop"] = gflop
    matmul_after = timing.matmul_gflops(best=True)
    matmul = max(matmul_before, matmul_after)

    print(f"\nfp32 matmul (2048^2, fastest call): {matmul_before:.1f} GFLOP/s "
          f"before, {matmul_after:.1f} after; using {matmul:.1f}")
    header = (f"{'config':<9}{'mode':<6}{'precision':<15}{'compile s':>10}"
              f"{'ms best':>9}{'ms median':>10}{'images/s':>9}"
              f"{'GFLOP/it':>9}{'GFLOP/s':>8}{'%matmul':>8}{'img/s/mmGF':>11}")
    print(header)
    for row in rows:
        rate = row["images"] / row["best_s"]
        achieved = row["gflop"] / row["best_s"] if row["gflop"] else float("nan")
        print(f"{row['config']:<9}{row['mode']:<6}{row['precision']:<15}"
              f"{row['compile_s']:>10.1f}{row['best_s'] * 1e3:>9.0f}"
              f"{row['median_s'] * 1e3:>10.0f}{rate:>9.1f}"
              f"{row['gflop'] or float('nan'):>9.1f}{achieved:>8.1f}"
              f"{100 * achieved / matmul:>8.1f}{rate / matmul:>11.3f}")

    print("\nratios (images/s, best calls):")
    by_key = {(r["config"], r["mode"], r["precision"]): r for r in rows}
    for name in FLAGS.configs:
        for precision in FLAGS.precisions:
            graph, xla = (by_key.get((name, m, precision)) for m in ("graph", "xla"))
            if graph and xla:
                print(f"  {name} {precision}: xla / graph = "
                      f"{graph['best_s'] / xla['best_s']:.2f}")
        for mode in FLAGS.modes:
            fp32 = by_key.get((name, mode, "float32"))
            bf16 = by_key.get((name, mode, "mixed_bfloat16"))
            if fp32 and bf16:
                print(f"  {name} {mode}: bfloat16 / float32 = "
                      f"{fp32['best_s'] / bf16['best_s']:.2f}")

    print("\ninput pipeline (images/s) vs the fastest training row:")
    for name, rate in pipelines.items():
        best = max(r["images"] / r["best_s"] for r in rows if r["config"] == name)
        if isinstance(rate, str):
            print(f"  {name}: {rate}")
        else:
            print(f"  {name}: {rate:.0f} images/s, {rate / best:.1f}x what "
                  f"training consumes ({best:.1f} images/s)")

    acai = [r for r in rows if r["config"] == "acai32"]
    if acai:
        best = max(acai, key=lambda r: r["images"] / r["best_s"])
        fastest = best["images"] / best["best_s"] / matmul
        typical = best["images"] / best["median_s"] / matmul
        target = 1.5 * REFERENCE_IMAGES_PER_MATMUL_GFLOPS
        verdict = ("met by the median call" if typical >= target else
                   "met by the fastest call only" if fastest >= target else
                   "NOT met")
        print(f"\nacai32 target: >= {target:.2f} images/s per matmul GFLOP/s "
              f"(1.5x the authors' PyTorch {REFERENCE_IMAGES_PER_MATMUL_GFLOPS:.2f}); "
              f"here ({best['mode']}, {best['precision']}) {fastest:.2f} at the "
              f"fastest call, {typical:.2f} at the median: {verdict}")


if __name__ == "__main__":
    app.run(main)
