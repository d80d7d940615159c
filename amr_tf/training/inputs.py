"""The examples a training run reads: its training stream, and held-out
examples for figures and summaries (dicts of `amr_tf.data`'s format)."""

import numpy as np

from amr_tf import data as data_lib


def train_dataset(config, info, batches_consumed=0, input_context=None):
    """Batches of `n_critic * batch_size` examples, repeated forever.

    The stream of examples is a fixed function of `--seed` (see
    `data.make_batches`), and it starts after `batches_consumed` iteration
    batches: a resumed run continues exactly where the checkpoint left it.
    Decoded images are cached in memory (`--cache_data`); generated datasets
    are rendered on the fly instead.

    With a `tf.distribute.InputContext` (from
    `strategy.distribute_datasets_from_function`), the batches hold this
    input pipeline's shard of the examples (one pipeline per worker) and one
    replica's share of the global `batch_size`.
    """
    examples = data_lib.load(config.data, "train")
    batch_size = config.batch_size
    batches_per_iteration = 1
    if input_context is not None:
        if input_context.num_input_pipelines > 1:
            examples = examples.shard(input_context.num_input_pipelines,
                                      input_context.input_pipeline_id)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        batches_per_iteration = (input_context.num_replicas_in_sync
                                 // input_context.num_input_pipelines)
    examples_per_batch = batch_size * config.n_critic
    return data_lib.make_batches(
        examples, examples_per_batch, shuffle=True, seed=config.seed,
        repeat=True, cache=config.cache_data and not info.generated,
        start=batches_consumed * batches_per_iteration * examples_per_batch,
    )


def held_out_examples(config, count, minimum=None):
    """Up to `count` examples for figures and summaries, as NumPy arrays.

    The first `count` test examples; training examples when the test split
    has fewer than `minimum` (default `count`; a small image folder can have
    a test split of one image).
    """
    minimum = count if minimum is None else minimum
    for split in ("test", "train"):
        batch = next(iter(data_lib.load(config.data, split).batch(count)))
        if len(batch["inputs"]) >= minimum:
            break
    return {key: np.asarray(value) for key, value in batch.items()}
