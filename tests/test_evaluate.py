"""Restoring runs, and the evaluate / aggregate CLIs on a tiny trained run."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from amr_tf.config import flag_text
from amr_tf.core.errors import UsageError
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import summary
from amr_tf.training import checkpointing
from amr_tf.training import restore
from amr_tf.training import trainer

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY_CLASS_MIXER_RUN = [
    "--dataset=shapes", "--image_size=8", "--arch=resnet", "--width=4",
    "--latent_size=4", "--latent_channels=4", "--batch_size=8",
    "--n_critic=1", "--steps=2", "--log_every=2", "--mixer=class_mixer",
    "--class_mixer_input=parent_aware", "--label_mix=bernoulli",
    "--sprite_position=centred", "--interpolation_pairs=2",
    "--interpolation_steps=3",
]


def run_module(module, *args):
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
        text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )


def train_run(model_dir, args):
    """Trains a run as the CLI would (flags.txt included); the result."""
    return trainer.train(flag_text.config_from_args(
        ["--noexport", *args, f"--model_dir={model_dir}"]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("class_mixer_run")
    return model_dir, train_run(model_dir, TINY_CLASS_MIXER_RUN)


def test_load_trained_restores_the_latest_checkpoint(trained, tmp_path):
    model_dir, result = trained
    restored = restore.load_trained(str(model_dir))
    assert restored.config.uses_class_mixer and restored.info.name == "shapes"
    assert restored.model.completed_iterations() == 2
    images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(restored.model(images), result.model(images),
                               atol=1e-6)
    assert restored.model.class_mixer.mixer_input == "parent_aware"
    assert restored.config.data.sprite_position == "centred"
    selectors = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(
        restored.model.class_mixer.probabilities(selectors, selectors),
        result.model.class_mixer.probabilities(selectors, selectors), atol=1e-6)
    # A copied run restores from its new place.
    moved = tmp_path / "moved"
    os.system(f"cp -r {model_dir} {moved}")
    assert restore.load_trained(str(moved)).config.model_dir == str(moved)


def test_load_trained_restores_as_training_resumes(trained, tmp_path):
    """Through `checkpointing.restore_checkpoint`: a checkpoint without the
    input position (an older run) restores, the position taken to be the
    iteration count."""
    model_dir, result = trained
    old_run = tmp_path / "old_run"
    (old_run / "checkpoints").mkdir(parents=True)
    shutil.copy(model_dir / "flags.txt", old_run)
    checkpointing.make_checkpoint(result.model, batches_consumed=False).save(
        old_run / "checkpoints" / "ckpt")
    restored = restore.load_trained(str(old_run))
    assert restored.model.completed_iterations() == 2
    assert int(restored.model.batches_consumed.numpy()) == 2
    images = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(restored.model(images), result.model(images),
                               atol=1e-6)


def test_load_trained_says_what_is_missing(tmp_path):
    with pytest.raises(UsageError, match="flags.txt does not exist"):
        restore.load_trained(str(tmp_path))
    (tmp_path / "flags.txt").write_text("--dataset=shapes\n--image_size=16\n")
    with pytest.raises(UsageError, match="holds no checkpoint"):
        restore.load_trained(str(tmp_path))


def test_evaluate_cli_prints_and_writes_every_applicable_metric(
        trained, tmp_path):
    model_dir, _ = trained
    result = run_module(
        "amr_tf.evaluate", f"--model_dir={model_dir}",
        "--num_eval_examples=64", "--resamples=2", "--classifier_steps=3",
        f"--classifier_dir={tmp_path}", "--tsne_seeds=2", "--tsne_examples=40",
        "--fid_mixers=bernoulli")
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = summary.read_metrics(str(model_dir))
    assert metrics["iterations"] == 2
    assert len(metrics["fid_mix"]) == 2 and len(metrics["fid_mix_bernoulli"]) == 2
    # Model-free references: pixel mixup per resample, real against real once.
    assert len(metrics["fid_pixel_mix"]) == 2 and metrics["fid_real_train"] >= 0
    assert metrics["fid_examples"] == 64
    assert len(metrics["inter_cluster_distance"]) == 2
    for name in ("fid_reconstruction", "linear_probe_accuracy",
                 "clustering_accuracy", "mixing_consistency",
                 "cross_combination_accuracy", "swap_consistency",
                 "differing_accuracy_round", "differing_accuracy_warm",
                 "differing_accuracy_large",
                 "reconstruction_attribute_accuracy"):
        assert np.isfinite(metrics[name]), name
    for name in ("linear_probe_accuracy", "clustering_accuracy",
                 "one_sprite_fraction", "pixel_one_sprite_fraction",
                 "data_one_sprite_fraction",
                 "cross_combination_accuracy", "differing_accuracy_warm"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["relative_mixing_consistency"] > 0
    assert "fid_mix: " in result.stdout and " ± " in result.stdout
    # Progress on stderr: each metric timed, the classifier, resamples, t-SNE.
    for line in ("[1/7] fid: ", "feature classifier steps 3/3 (loss ",
                 "fid_mix resamples 2/2 ", "t-SNE seeds 2/2 ",
                 "[7/7] consistency: "):
        assert line in result.stderr, line
    assert "[1/" not in result.stdout
    # Each class-mix number beside its interval and baselines, on one line.
    (line,) = [line for line in result.stdout.splitlines()
               if "differing_accuracy_warm:" in line]
    assert re.search(r"\[[0-9.]+, [0-9.]+\] \(copy_x1 [0-9.]+, copy_x2 "
                     r"[0-9.]+, chance 0.5, ceiling [0-9.]+\)$", line), line
    assert "differing_accuracy_warm_low" not in result.stdout
    assert f"Metrics written to {model_dir}/metrics.json" in result.stdout


def test_evaluate_cli_refuses_training_flags_with_one_line(trained):
    model_dir, _ = trained
    result = run_module("amr_tf.evaluate", f"--model_dir={model_dir}",
                        "--width=8")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --width=8 is a training flag: evaluate takes the run's flags "
        f"from {model_dir}/flags.txt")


def test_metrics_that_do_not_apply_or_do_not_exist_are_refused(trained):
    restored = restore.load_trained(str(trained[0]))
    assert metrics_lib.applicable(restored) == [
        "fid", "linear_probe", "clustering", "latent_structure",
        "sprites", "mix_attributes", "consistency"]
    with pytest.raises(UsageError, match="metric lines does not apply"):
        metrics_lib.evaluate(restored, ["lines"])
    with pytest.raises(UsageError, match="unknown metric='psnr'"):
        metrics_lib.evaluate(restored, ["psnr"])


def test_aggregate_pools_seeds_and_pairs_them(tmp_path):
    groups = {"amr": ([1.0, 2.0], [3.0, 4.0], [5.0, 7.0]),
              "arae": ([2.0, 2.5], [3.5, 5.0], [6.0, 6.0])}
    dirs = {}
    for name, seeds in groups.items():
        dirs[name] = []
        for seed, values in enumerate(seeds):
            run_dir = tmp_path / f"{name}{seed}"
            run_dir.mkdir()
            summary.write_metrics(str(run_dir), {"fid_mix": values})
            dirs[name].append(str(run_dir))
    result = run_module("amr_tf.aggregate", f"--model_dirs={','.join(dirs['amr'])}",
                        f"--against={','.join(dirs['arae'])}")
    assert result.returncode == 0, result.stderr[-2000:]
    # Seed means 1.5, 3.5, 6 vs 2.25, 4.25, 6: differences -0.75, -0.75, 0,
    # mean -0.5, sd 0.433, t = -0.5 / (0.433 / sqrt(3)) = -2.
    assert result.stdout.strip() == (
        "fid_mix: 3.667 ± 2.3 (n=3)  vs  4.167 ± 1.9 (n=3)  "
        "(paired t-test over 3 seeds: t = -2, p = 0.184)")
    missing = run_module("amr_tf.aggregate", f"--model_dirs={tmp_path}")
    assert missing.returncode == 2
    assert "metrics.json does not exist" in missing.stderr.strip().splitlines()[-1]


def test_quick_scales_down_the_evaluation_unless_a_flag_is_given():
    """In a subprocess: evaluate's flags clash with the experiments' when
    both are imported into one process, as pytest would."""
    code = ("import sys; from absl import flags; from amr_tf.cli import evaluate; "
            "flags.FLAGS(sys.argv); s = evaluate.settings_from_flags(); "
            "print(s.num_examples, s.resamples, s.tsne_seeds, s.tsne_examples, "
            "s.progress)")
    def settings(*args):
        result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT,
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.split()
    assert settings("--quick", "--resamples=3") == ["500", "3", "2", "300", "True"]
    assert settings() == ["2000", "5", "5", "1000", "True"]
