"""Smoke runs of each experiment's --quick mode on tiny settings.

Training flags passed as overrides shrink every run to a couple of
iterations on 8 px images; evaluation settings shrink the held-out sets.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import threadpoolctl

from amr_tf.config import flag_text
from amr_tf.eval import classifier as classifier_lib
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import summary
from amr_tf.experiments import class_mixer
from amr_tf.experiments import common
from amr_tf.experiments import fid_table
from amr_tf.experiments import lines
from amr_tf.experiments import spiral
from amr_tf.training import curves
from amr_tf.training import restore

# The console script, installed beside this interpreter.
AMR_EXPERIMENTS = pathlib.Path(sys.executable).with_name("amr-experiments")
ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY_IMAGES = ("--image_size=8", "--width=4", "--latent_size=4",
               "--latent_channels=4", "--batch_size=8", "--n_critic=1",
               "--steps=2", "--log_every=1", "--interpolation_pairs=2",
               "--interpolation_steps=3")


@pytest.fixture(scope="module")
def tiny_eval(tmp_path_factory):
    return metrics_lib.EvalSettings(
        num_examples=48, resamples=2, fid_mixers=("mixup", "bernoulli"),
        classifier_dir=str(tmp_path_factory.mktemp("classifiers")),
        classifier=classifier_lib.ClassifierSettings(width=4, steps=3,
                                                     batch_size=8),
        tsne_seeds=2, tsne_examples=30, line_pairs=6, line_steps=5)


def _png(path):
    return pathlib.Path(path).read_bytes().startswith(b"\x89PNG")


def test_spiral_quick_tracks_consistency_and_plots_every_run(tmp_path):
    results = spiral.run(spiral.Options(
        output_dir=str(tmp_path), quick=True, betas=(0.0,),
        overrides=("--steps=2", "--log_every=1", "--width=8", "--n_critic=1",
                   "--num_examples=256")))
    assert list(results) == ["AMR β=0", spiral.UNCONSTRAINED_CRITIC[1], "ACAI",
                             "ACAI (Berthelot et al. set-up)"]
    for metrics in results.values():
        assert 0.0 <= metrics["on_manifold_fraction"][0] <= 1.0
        assert metrics["data_on_manifold_fraction"][0] > 0.9  # Noise std 0.02.
        assert metrics["iterations"] == [2]
    for run_name in ("amr_beta0_seed0", "acai_seed0", "acai_berthelot_seed0"):
        curve = json.loads((tmp_path / run_name / spiral.CURVE_FILE).read_text())
        assert [iteration for iteration, _ in curve] == [1, 2]
    # Every run keeps metrics that `amr_tf.aggregate` can pool.
    acai_metrics = summary.read_metrics(str(tmp_path / "acai_seed0"))
    assert acai_metrics["iterations"] == 2
    assert acai_metrics["on_manifold_fraction"] == results["ACAI"]["on_manifold_fraction"][0]
    unconstrained = (tmp_path / "amr_beta0_unconstrained_seed0" / "flags.txt").read_text()
    assert "--disc_norm=none" in unconstrained
    authors = (tmp_path / "acai_berthelot_seed0" / "flags.txt").read_text()
    assert "--disc_norm=none" in authors and "--recon_weight=1.0" in authors
    for name in ("spiral_mixes.png", "spiral_on_manifold.png",
                 "spiral_consistency.png", "training_curves.png"):
        assert _png(tmp_path / name), name
    table = (tmp_path / common.TABLE_FILE).read_text()
    assert "| AMR β=0 |" in table
    assert "| floor: input-space mixes" in table and "| ceiling: held-out data" in table
    # One seed: no test can be made, and the table says so with "-".
    assert "| ACAI | - | - |" in table


@pytest.mark.parametrize("quick, per_100_epochs", [(False, 15625), (True, 2000)])
def test_spiral_figure8_trains_amr_200_epochs_and_acai_300(quick, per_100_epochs):
    """Fig. 8's budgets: AMR β = 0 twice Fig. 7's, both ACAIs three times."""
    def budgets(figure):
        runs = spiral.make_runs(spiral.Options(
            output_dir="unused", quick=quick, figure=figure, seeds=2))
        configs = {run.name: flag_text.config_from_args(run.args) for run in runs}
        return {name: (config.steps, config.objective, config.consistency_weight)
                for name, config in configs.items()}

    assert budgets(8) == {
        f"{name}_seed{seed}": (per_100_epochs * epochs // 100, objective, 0.0)
        for name, epochs, objective in (("amr_beta0", 200, "amr"),
                                        ("acai", 300, "acai"),
                                        ("acai_berthelot", 300, "acai"))
        for seed in range(2)}
    figure7 = budgets(7)
    assert len(figure7) == 2 * 7  # Four βs, the extension, two ACAIs.
    assert {steps for steps, _, _ in figure7.values()} == {per_100_epochs}


def test_fid_table_quick_pools_seeds_and_tests_against_arae(tmp_path, tiny_eval):
    with threadpoolctl.threadpool_limits(1):  # t-SNE's OpenMP on a busy CPU.
        pooled = fid_table.run(fid_table.Options(
            output_dir=str(tmp_path), quick=True, methods=("arae", "amr_mixup"),
            seeds=1, overrides=TINY_IMAGES, eval_settings=tiny_eval))
    assert list(pooled) == ["ARAE", "AMR (mixup)"]
    for metrics in pooled.values():
        for name in ("fid_mix", "fid_mix_mixup", "fid_mix_bernoulli",
                     "inter_cluster_distance"):
            # One value per model seed: the seed's resamples averaged.
            assert len(metrics[name]) == 1 and np.all(np.isfinite(metrics[name]))
        assert 0.0 <= metrics["linear_probe_accuracy"][0] <= 1.0
    # ARAE has no mixer of its own: its mixes are mixup's.
    assert pooled["ARAE"]["fid_mix"] == pooled["ARAE"]["fid_mix_mixup"]
    table = (tmp_path / common.TABLE_FILE).read_text()
    assert "Paired t-tests against ARAE" in table and "| AMR (mixup) |" in table
    assert "midpoints showing one sprite" in table
    for reference in fid_table.REFERENCES.values():
        assert reference in table, reference
    # Every run keeps metrics that `amr_tf.aggregate` can pool.
    arae_metrics = summary.read_metrics(str(tmp_path / "arae_seed0"))
    assert arae_metrics["iterations"] == 2
    assert np.mean(arae_metrics["fid_mix"]) == pytest.approx(pooled["ARAE"]["fid_mix"][0])
    assert _png(tmp_path / "interpolation_grid.png")
    assert _png(tmp_path / "training_curves.png")


def test_lines_quick_scores_models_beside_pixel_and_blank_floors(tmp_path, tiny_eval):
    pooled = lines.run(lines.Options(
        output_dir=str(tmp_path), quick=True, methods=("amr_bernoulli",),
        overrides=TINY_IMAGES, eval_settings=tiny_eval))
    assert list(pooled) == [lines.PIXEL, lines.BLANK, "AMR (Bernoulli)"]
    for metrics in pooled.values():
        assert metrics["line_mean_distance"][0] >= 0.0
    # A blank image has no angle to interpolate: Smoothness is undefined.
    assert np.isnan(pooled[lines.BLANK]["line_smoothness"][0])
    assert _png(tmp_path / "interpolation_grid.png")
    assert _png(tmp_path / "training_curves.png")
    table = (tmp_path / common.TABLE_FILE).read_text()
    assert f"| {lines.PIXEL} |" in table and f"| {lines.BLANK} |" in table


def test_lines_tests_each_method_against_arae_by_seed():
    pooled = {lines.PIXEL: {"line_mean_distance": [5.0], "line_smoothness": [0.9]},
              "ARAE": {"line_mean_distance": [1.0, 2.0, 3.0],
                       "line_smoothness": [0.5, 0.6, 0.7]},
              "AMR": {"line_mean_distance": [0.5, 1.2, 2.1],
                      "line_smoothness": [0.5, 0.6, 0.7]}}
    text = lines._tests_against_baseline(pooled)
    t, p = summary.paired_t_test([0.5, 1.2, 2.1], [1.0, 2.0, 3.0])
    assert f"| AMR | paired t-test over 3 seeds: t = {t:.3g}, p = {p:.3g} | - |" in text
    assert lines.PIXEL not in text
    assert lines._tests_against_baseline({"AMR": pooled["AMR"]}) == ""


def test_class_mixer_quick_compares_both_mixers_and_draws_them(tmp_path,
                                                               tiny_eval):
    results = class_mixer.run(class_mixer.Options(
        output_dir=str(tmp_path), quick=True, seeds=1, overrides=TINY_IMAGES,
        eval_settings=tiny_eval))
    assert list(results) == ["parent_aware", "paper"]
    for variant, metrics in results.items():
        restored = restore.load_trained(str(tmp_path / f"{variant}_seed0"))
        assert restored.model.class_mixer.mixer_input == variant
        assert restored.config.data.sprite_position == "centred"
        assert restored.config.data.sprite_sizes == "bold"
        for name in ("cross_combination_accuracy", "swap_consistency",
                     "differing_accuracy_round", "judge_blurred_accuracy_round",
                     "d_real_accuracy_round", "reconstruction_accuracy_round",
                     "reconstruction_accuracy_round_small"):
            assert len(metrics[name]) == 1 and 0.0 <= metrics[name][0] <= 1.0
        # The parent-aware mask is swap-antisymmetric by construction.
        if variant == "parent_aware":
            assert metrics["swap_consistency"] == [1.0]
        for figure in ("attribute_mixes", "class_mixer_masks"):
            assert _png(tmp_path / f"{figure}_{variant}.png"), figure
    assert _png(tmp_path / "class_mixer_curves.png")
    table = (tmp_path / common.TABLE_FILE).read_text()
    assert "| cross-combination accuracy | paper's mixer (y~ only) |" in table
    assert ("| ceiling, small sprites: round, warm, large | parent-aware mixer "
            "(extension) |") in table


def test_experiment_cli_refuses_flags_it_sets_per_run(tmp_path):
    result = subprocess.run(
        [str(AMR_EXPERIMENTS), "lines", "--quick",
         f"--output_dir={tmp_path}", "--seed=3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --seed is set per run by the experiment; use --output_dir "
        "and --model_seeds")
    assert not any(tmp_path.iterdir())


def test_spiral_cli_refuses_betas_for_figure8(tmp_path):
    result = subprocess.run(
        [str(AMR_EXPERIMENTS), "spiral", "--figure=8",
         "--betas=0,10", f"--output_dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --betas is for --figure=7; Fig. 8 compares AMR β=0 with ACAI")
    assert not any(tmp_path.iterdir())


def test_acai_berthelot_runs_acai_in_its_authors_set_up_on_lines():
    """Berthelot et al.'s ACAI: no spectral norm, a linear decoder, λ = 1 squared
    error against 0.5, Adam 1e-4 (0.9, 0.999), one critic update, and on lines
    their 2x2 latent; plain "acai" keeps AMR's set-up of the config."""
    base = (common.config_flag("lines"), *lines.QUICK_FLAGS)
    faithful, amr_setup = (
        flag_text.config_from_args(run.args)
        for run in common.method_runs(["acai_berthelot", "acai"], base, 1,
                                      method_flags=lines.AUTHORS_FLAGS))
    assert faithful.objective == amr_setup.objective == "acai"
    assert (faithful.arch.disc_norm, faithful.arch.decoder_output) == ("none", "linear")
    assert (faithful.recon_loss, faithful.recon_weight, faithful.adversary_weight,
            faithful.acai_gamma) == ("l2", 1.0, 0.5, 0.2)
    assert (faithful.learning_rate, faithful.beta_1, faithful.beta_2,
            faithful.n_critic) == (1e-4, 0.9, 0.999, 1)
    assert (faithful.arch.latent_size, faithful.arch.latent_channels) == (2, 16)
    assert (amr_setup.arch.disc_norm, amr_setup.arch.decoder_output,
            amr_setup.recon_weight, amr_setup.arch.latent_size) == (
                "spectral", "tanh", 10.0, 4)


def test_amr_beta50_adds_the_consistency_loss_of_the_papers_tsne_study():
    """§5.3 compares AMR β = 0 (the image configs' own) with β = 50; the
    rest of the run is the config's."""
    beta0, beta50 = (flag_text.config_from_args(run.args)
                     for run in common.method_runs(
                         ["amr_mixup", "amr_mixup_beta50"],
                         (common.config_flag("mnist5k"),), 1))
    assert (beta0.consistency_weight, beta50.consistency_weight) == (0.0, 50.0)
    assert beta0.mixer == beta50.mixer == "mixup"
    assert beta0 == dataclasses.replace(beta50, consistency_weight=0.0)


def test_sigterm_stops_the_experiment_after_the_run_it_stopped(tmp_path,
                                                               sigterm_at):
    runs = [common.Run(f"run{seed}", "AMR", (common.config_flag("shapes"),
                                            *TINY_IMAGES, "--steps=4"), seed)
            for seed in range(2)]
    with pytest.raises(common.Preempted, match="after iteration 2 of .*run0"):
        common.train_runs(runs, str(tmp_path),
                          callbacks_for=lambda run, config: [sigterm_at(2)])
    assert (tmp_path / "run0" / "checkpoints" / "ckpt-2.index").exists()
    assert not (tmp_path / "run1").exists()
    # The stopped session's training time is counted.
    assert float((tmp_path / "run0" / common.TIMING_FILE).read_text()) > 0
    # The same call resumes run0 from its checkpoint and trains run1.
    trained = common.train_runs(runs, str(tmp_path))
    assert [item.restored.model.completed_iterations() for item in trained] == [4, 4]


def test_curves_read_every_logged_iteration_across_a_resume(tmp_path):
    run = common.Run("run", "AMR", (common.config_flag("shapes"), *TINY_IMAGES,
                                    "--summary_every=1"))
    common.train_runs([run], str(tmp_path))
    common.train_runs([run], str(tmp_path), overrides=("--steps=4",))
    read = curves.read_scalars(str(tmp_path / "run"),
                               ("g_reconstruction", "no_such_term"))
    curve = read["g_reconstruction"]
    assert curve[:, 0].tolist() == [1, 2, 3, 4]
    assert np.all(np.isfinite(curve[:, 1])) and np.all(curve[:, 1] > 0)
    assert read["no_such_term"].shape == (0, 2)


def test_iterations_cell_lists_each_seed_only_where_they_differ():
    assert common.iterations_cell({"iterations": [1500.0, 1500.0]}) == "1500"
    assert common.iterations_cell(
        {"iterations": [2750.0, 3000.0, 4250.0]}) == "2750, 3000, 4250"
    assert common.iterations_cell({"line_mean_distance": [0.01]}) == "-"
