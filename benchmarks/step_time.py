"""Times one training iteration of a config, and its parts.

    python -m benchmarks.step_time --flagfile=configs/shapes.cfg [--repeats=10]

Prints milliseconds per D update, G update and whole iteration (graph mode,
fixed in-memory batch), the input pipeline's batches per second, and the
machine's fp32 matmul rate for scale. A table, never a pass/fail.
"""

# amr_tf before TensorFlow: it turns TensorFlow's oneDNN kernels on.
import tensorflow as tf
from absl import app
from absl import flags

from amr_tf.cli import training_flags as train_flags
from amr_tf.core import seeds as seed_lib
from amr_tf.training import inputs
from amr_tf.training import model_builder
from amr_tf.training import trainer
from benchmarks.timing import matmul_gflops as _matmul_gflops
from benchmarks.timing import milliseconds as _milliseconds

flags.DEFINE_integer("repeats", 10, "Timed calls per measurement.")


def main(argv):
    del argv
    config = train_flags.config_from_flags()
    info = trainer.validate(config)
    model = model_builder.build_model(config, info)
    dataset = inputs.train_dataset(config, info)
    batch = next(iter(dataset))
    sub_batch = {key: value[: config.batch_size] for key, value in batch.items()}

    def seeds():
        return seed_lib.SeedStream(seed_lib.iteration_seed(0, model.iterations))

    @tf.function
    def d_update():
        model.discriminator_update(sub_batch, seeds())
        return model.trackers["d_total"].result()

    @tf.function
    def g_update():
        model.generator_update(sub_batch, seeds())
        return model.trackers["g_total"].result()

    repeats = flags.FLAGS.repeats
    iteration = tf.function(lambda: model.train_step(batch))
    timings = {
        "D update": _milliseconds(d_update, repeats),
        "G update": _milliseconds(g_update, repeats),
        f"iteration ({config.n_critic} D + 1 G)": _milliseconds(iteration, repeats),
    }
    iterator = iter(dataset)
    input_ms = _milliseconds(lambda: next(iterator)["inputs"], 4 * repeats)
    images = config.batch_size * config.n_critic

    print(f"device: {tf.config.list_logical_devices()[0].name}, "
          f"dataset {info.name} {info.input_shape}, arch {config.arch.family} "
          f"width {config.arch.width}, batch {config.batch_size}")
    print(f"{'measurement':<28}{'ms':>10}")
    for name, milliseconds in timings.items():
        print(f"{name:<28}{milliseconds:>10.1f}")
    iteration_ms = list(timings.values())[-1]
    print(f"{'input pipeline (1 batch)':<28}{input_ms:>10.1f}")
    print(f"training images/s: {images / iteration_ms * 1e3:.1f}; input "
          f"pipeline images/s: {images / input_ms * 1e3:.1f} "
          f"(ratio {iteration_ms / input_ms:.1f}x headroom)")
    print(f"fp32 matmul: {_matmul_gflops():.1f} GFLOP/s")


if __name__ == "__main__":
    app.run(main)
