"""The training CLI: outputs, resume, configs and one-line errors."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import data
from amr_tf.cli import console
from amr_tf.config import flag_text
from amr_tf.core.errors import UsageError
from amr_tf.training import callbacks
from amr_tf.training import inputs
from amr_tf.training import trainer

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY_FLAGS = [
    "--dataset=shapes", "--image_size=16", "--arch=resnet", "--width=4",
    "--latent_size=4", "--latent_channels=4", "--batch_size=8",
    "--n_critic=2", "--log_every=2", "--summary_every=1",
    "--interpolation_pairs=2", "--interpolation_steps=4",
]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "amr_tf.train", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def events(log_dir):
    """Tag -> [(step, value as a NumPy array)], over all event files."""
    found = {}
    for path in sorted(pathlib.Path(log_dir).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(
                    (event.step, tf.make_ndarray(value.tensor)))
    return found


def event_tags(log_dir):
    """Tag -> number of summaries written, over all event files."""
    return {tag: len(values) for tag, values in events(log_dir).items()}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """The CLI trained for 4 iterations, then re-run to 6 (a resume)."""
    model_dir = tmp_path_factory.mktemp("run")
    args = [*TINY_FLAGS, f"--model_dir={model_dir}"]
    first = run_cli(*args, "--steps=4")
    second = run_cli(*args, "--steps=6")
    return model_dir, first, second


TF_START_UP_LINES = ("I0000", "W0000", "E0000", "WARNING: All log messages")


def test_cli_writes_checkpoints_summaries_flags_and_figure(trained_run):
    model_dir, first, _ = trained_run
    assert first.returncode == 0, first.stderr[-2000:]
    # A quiet console: no TF start-up lines, progress in iterations.
    assert not [line for line in first.stderr.splitlines()
                if line.startswith(TF_START_UP_LINES) or "cuda" in line]
    progress = [line for line in first.stdout.splitlines()
                if line.startswith("iteration ")]
    assert [line.split()[1] for line in progress] == ["2/4", "4/4"]
    assert "ETA" in progress[-1] and "Epoch" not in first.stdout
    assert f"Outputs in {model_dir}" in first.stdout
    assert str(model_dir / "interpolation.png") in first.stdout
    png = (model_dir / "interpolation.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert (model_dir / "export" / "4" / "saved_model.pb").exists()
    assert f"export:      {model_dir / 'export' / '4'}" in first.stdout
    flag_lines = (model_dir / "flags.txt").read_text().splitlines()
    assert "--width=4" in flag_lines and "--dataset=shapes" in flag_lines
    tags = event_tags(model_dir / "tensorboard")
    for tag in ("g_reconstruction", "g_fool_d_mix", "d_real", "d_fake_mix",
                "g_total", "d_total", "steps_per_sec",
                "inputs_reconstructions_mixes"):
        assert tags.get(tag, 0) >= 2, (tag, tags)


def test_cli_resumes_from_the_checkpoint_and_continues_the_count(trained_run):
    model_dir, _, second = trained_run
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Resumed from" in second.stdout and "at iteration 4" in second.stdout
    assert "Trained 6 iterations" in second.stdout
    checkpoints = tf.train.get_checkpoint_state(str(model_dir / "checkpoints"))
    assert checkpoints.model_checkpoint_path.endswith("ckpt-6")
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints"))
    assert reader.get_tensor("iterations/.ATTRIBUTES/VARIABLE_VALUE") == 6
    assert sorted(os.listdir(model_dir / "export")) == ["4", "6"]
    # Scalars every iteration (--summary_every=1), continued by the resume;
    # image grids every block (--log_every=2); the flags once per run.
    found = events(model_dir / "tensorboard")
    assert [step for step, _ in found["g_total"]] == [1, 2, 3, 4, 5, 6]
    assert [step for step, _ in found["inputs_reconstructions_mixes"]] == [
        2, 4, 6]
    assert [step for step, _ in found["flags"]] == [0, 4]
    flag_text = found["flags"][1][1].item().decode()
    assert "--width=4\n" in flag_text and "--steps=6\n" in flag_text


def test_resume_with_other_network_flags_fails_and_keeps_the_checkpoint(
        trained_run):
    model_dir, _, _ = trained_run
    before = sorted(os.listdir(model_dir / "checkpoints"))
    result = run_cli(*TINY_FLAGS, "--width=8", "--steps=8",
                     f"--model_dir={model_dir}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {model_dir} holds a model trained with --width=4, but this "
        "run asks for --width=8: use another --model_dir or the same flags"
    )
    assert sorted(os.listdir(model_dir / "checkpoints")) == before


@pytest.mark.parametrize("args, message", [
    (["--dataset=imagenet"], "flag --dataset=imagenet: value should be one of"),
    (["--mixer=swap"], "flag --mixer=swap: value should be one of"),
    (["--dataset=spiral", "--arch=mlp", "--mixer=class_mixer"],
     "--mixer=class_mixer needs binary attributes, and --dataset=spiral has none"),
    (["--image_size=24", "--latent_size=4"],
     "cannot take 24x24 images with --latent_size=4"),
    (["--dataset=spiral"], "--arch=resnet needs images"),
    (["--dataset=folder", "--data_dir=/nonexistent/shoes"], "/nonexistent/shoes"),
    (["--dataset=celeb_a", "--data_dir={empty}"], "tfds build celeb_a"),
    (["--learning_rate=-1"], "--learning_rate=-1.0 must be a finite number > 0"),
    (["--objective=acai", "--gradient_penalty=10"],
     "--gradient_penalty=10.0 penalises a GAN discriminator's gradient; "
     "--objective=acai's critic"),
])
def test_bad_input_exits_2_with_one_line_before_training(args, message, tmp_path):
    empty = tmp_path / "tfds"
    empty.mkdir()
    model_dir = tmp_path / "model"
    args = [arg.format(empty=empty) for arg in args]
    result = run_cli(*args, f"--model_dir={model_dir}")
    assert result.returncode == 2, result.stderr[-2000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and message in last_line
    assert not model_dir.exists()  # Nothing was written.
    assert not any(empty.iterdir())  # Nothing was downloaded.


@pytest.mark.parametrize("name", ["shapes", "spiral", "lines",
                                  "shapes_class_mixer"])
def test_offline_configs_parse_and_validate(name):
    config = flag_text.config_from_args([f"--flagfile=configs/{name}.cfg"])
    info = trainer.validate(config)
    assert info.name == name.split("_")[0]
    assert config.model_dir == f"runs/{name}"


def test_supervised_shapes_config_centres_sprites_for_the_parent_aware_mixer():
    config = flag_text.config_from_args(
        ["--flagfile=configs/shapes_class_mixer.cfg"])
    assert config.uses_class_mixer and config.data.sprite_position == "centred"
    assert (config.class_mixer_input, config.label_mix) == ("parent_aware",
                                                            "bernoulli")
    demo = flag_text.config_from_args(
        ["--flagfile=configs/shapes.cfg"])
    assert demo.data.sprite_position == "random"


@pytest.mark.parametrize("name, missing", [
    ("mnist", "tfds build mnist"),
    ("celeba", "tfds build celeb_a"),
    ("zappos", "data/ut-zap50k-images-square"),
    ("digits", "amr-digits data/digits"),
    ("mnist5k", "amr-digits --source=mnist5k data/mnist5k"),
])
def test_configs_needing_downloads_say_what_to_fetch(name, missing, tmp_path):
    args = [f"--flagfile=configs/{name}.cfg"]
    if name in ("mnist", "celeba"):
        args.append(f"--data_dir={tmp_path}")
    else:  # A folder config: its folder, relative to an empty directory.
        args.append(f"--data_dir={tmp_path}/" + flag_text.config_from_args(
            args).data.data_dir)
    with pytest.raises(UsageError, match=missing):
        trainer.validate(flag_text.config_from_args(args))


def test_celeba_config_is_the_papers_supervised_setup():
    config = flag_text.config_from_args(["--flagfile=configs/celeba.cfg"])
    assert config.data.image_size == 64 and config.arch.family == "resnet"
    assert config.data.attributes == ("Male", "Heavy_Makeup", "Wearing_Lipstick")
    assert config.uses_class_mixer and config.n_critic == 5
    assert (config.learning_rate, config.beta_1, config.beta_2) == (2e-4, 0.0, 0.99)


def test_later_flags_override_the_flagfile():
    config = flag_text.config_from_args(
        ["--flagfile=configs/shapes.cfg", "--steps=7", "--log_every=7"])
    assert (config.steps, config.log_every) == (7, 7)


def test_train_in_process_lowers_reconstruction_loss(tmp_path):
    config = flag_text.config_from_args(
        [*TINY_FLAGS, "--width=8", "--steps=60", "--log_every=20",
         "--learning_rate=1e-3", f"--model_dir={tmp_path}"])
    result = trainer.train(config)
    losses = result.history["g_reconstruction"]
    assert result.iterations == 60 and len(losses) == 3
    assert losses[-1] < 0.7 * losses[0]
    assert np.all(np.isfinite(result.history["d_total"]))


def test_celeba_config_trains_on_mocked_tfds_with_the_class_mixer(
        mock_tfds, tmp_path):
    config = flag_text.config_from_args([
        "--flagfile=configs/celeba.cfg", "--image_size=16", "--width=4",
        "--latent_size=4", "--latent_channels=8", "--batch_size=4",
        "--n_critic=1", "--steps=2", "--log_every=2", "--noceleba_frontal",
        "--interpolation_pairs=2", "--interpolation_steps=3",
        f"--model_dir={tmp_path}",
    ])
    result = trainer.train(config)
    assert result.iterations == 2
    for name in ("g_class_consistency", "g_fool_d_class_mix",
                 "g_class_mix_consistency", "d_real_attributes"):
        assert np.isfinite(result.history[name][-1]), name
    assert result.model.discriminator.output["attribute_logits"].shape[-1] == 3
    assert (tmp_path / "interpolation.png").exists()


def test_zappos_config_trains_on_an_image_folder_with_attributes(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "shoes"
    rows = ["filename,boot,black"]
    for index in range(24):
        name = f"{'boots' if index % 2 else 'sandals'}/{index}.png"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
        tf.io.write_file(str(root / name), tf.io.encode_png(image))
        rows.append(f"{name},{index % 2},{(index // 2) % 2}")
    (root / "broken.png").write_bytes(b"not a png")
    csv_path = tmp_path / "attributes.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    config = flag_text.config_from_args([
        "--flagfile=configs/zappos.cfg", f"--data_dir={root}",
        f"--attributes_csv={csv_path}", "--mixer=class_mixer",
        "--image_size=16", "--width=4", "--latent_size=4",
        "--latent_channels=8", "--batch_size=4", "--n_critic=2", "--steps=2",
        "--log_every=2", "--interpolation_pairs=3", f"--model_dir={tmp_path / 'run'}",
    ])
    result = trainer.train(config)
    assert result.iterations == 2
    assert np.isfinite(result.history["d_real_attributes"][-1])
    assert result.model.discriminator.output["attribute_logits"].shape[-1] == 2
    # The test split holds fewer than the 6 images of 3 pairs: the figure
    # takes training images instead of drawing empty rows.
    assert len(list(data.load(config.data, "test"))) < 6
    assert inputs.held_out_examples(config, 6)["inputs"].shape == (6, 16, 16, 3)
    assert (tmp_path / "run" / "interpolation.png").exists()


class CountingModel:
    """What the callbacks read of a model: its loss metrics and iterations."""

    def __init__(self, *names):
        self.metrics = [keras.metrics.Mean(name=name) for name in names]
        self.iterations = 0

    def completed_iterations(self):
        return self.iterations


def run_blocks(callback, model, blocks):
    """Calls `callback` as `loop.run` does for blocks of per-iteration
    `g_total` values; the logs hold running means since the block began."""
    callback.set_model(model)
    callback.on_train_begin()
    for block, values in enumerate(blocks):
        callback.on_epoch_begin(block)
        for index in range(len(values)):
            model.iterations += 1
            logs = {"g_total": np.float32(np.mean(values[:index + 1])),
                    "steps_per_sec": 2.0}
            callback.on_train_batch_end(index, logs)
        callback.on_epoch_end(block, {"g_total": float(np.mean(values)),
                                      "steps_per_sec": 2.0})
    callback.on_train_end()


def test_summaries_write_each_terms_mean_over_its_interval(tmp_path):
    summaries = callbacks.Summaries(str(tmp_path), None, is_image=False,
                                    summary_every=3, flag_text="--width=4\n")
    # Blocks of 4 and 3 iterations; scalars at iterations 3, 6 and the end.
    run_blocks(summaries, CountingModel("g_total"), [[1, 3, 5, 7], [2, 4, 6]])
    found = events(tmp_path)
    steps, values = zip(*found["g_total"])
    assert steps == (3, 6, 7)
    np.testing.assert_allclose(values, [3.0, 13 / 3, 6.0], rtol=1e-6)
    assert [step for step, _ in found["steps_per_sec"]] == [3, 6, 7]
    assert [(step, text.item()) for step, text in found["flags"]] == [
        (0, b"```\n--width=4\n```")]


def test_progress_prints_iterations_losses_rate_and_time_left(capsys):
    run_blocks(callbacks.Progress(steps=500), CountingModel("g_total"),
               [[1.0, 2.0], [4.0]])
    assert capsys.readouterr().out.splitlines() == [
        "iteration 2/500  g_total 1.5  2 it/s  ETA 4m09s",
        "iteration 3/500  g_total 4  2 it/s  ETA 4m08s",
    ]
    assert callbacks.format_duration(4.4) == "4s"
    assert callbacks.format_duration(3 * 3600 + 59 * 60 + 59) == "3h59m"


def test_only_commands_quiet_tensorflow(monkeypatch):
    assert console.started_as_command(["-m", "--steps=3"])
    assert console.started_as_command(["/venv/bin/amr-train", "--help"])
    assert not console.started_as_command(["/venv/bin/ipykernel_launcher.py"])
    assert not console.started_as_command([])
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    console.quiet_tensorflow()  # The user's level wins.
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    plain_import = subprocess.run(
        [sys.executable, "-c", "import os, sys, amr_tf; print("
         "os.environ.get('TF_CPP_MIN_LOG_LEVEL'), 'tensorflow' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={key: value for key, value in os.environ.items()
             if key != "TF_CPP_MIN_LOG_LEVEL"})
    assert plain_import.stdout == "None False\n"
