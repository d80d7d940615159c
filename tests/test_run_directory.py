"""The files of a run's model_dir: one parser of flags.txt for training's
resume check and for `restore`."""

import pytest

from amr_tf.config import flag_text
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import WriteError
from amr_tf.data import DatasetInfo
from amr_tf.training import run_directory

FLAG_TEXT = "# a comment\n--dataset=shapes\n  --width=8\n--note=a=b\n--width=4\n"


def test_flag_lines_keep_flags_only_stripped_in_order():
    assert flag_text.flag_lines(FLAG_TEXT) == [
        "--dataset=shapes", "--width=8", "--note=a=b", "--width=4"]


def test_parse_flag_text_later_lines_win_and_values_keep_equals():
    assert flag_text.parse_flag_text(FLAG_TEXT) == {
        "dataset": "shapes", "width": "4", "note": "a=b"}


def test_write_then_read_round_trips_and_leaves_no_temporary(tmp_path):
    run_directory.write_flag_text(tmp_path, "--width=8\n")
    run_directory.write_flag_text(tmp_path, "--width=4\n")
    assert run_directory.read_flag_text(tmp_path) == "--width=4\n"
    assert [path.name for path in tmp_path.iterdir()] == ["flags.txt"]


def test_read_and_write_name_the_problem(tmp_path):
    with pytest.raises(UsageError, match="flags.txt does not exist: "
                       "--model_dir must be the directory of a training run"):
        run_directory.read_flag_text(tmp_path)
    with pytest.raises(WriteError, match="cannot write .*missing/flags.txt"):
        run_directory.write_flag_text(tmp_path / "missing", "--width=4\n")


def test_check_resume_flags_compares_structural_flags_only(tmp_path):
    structural = {"width": None}
    run_directory.check_resume_flags(tmp_path, "--width=4\n", structural)  # New dir.
    run_directory.write_flag_text(tmp_path, "--width=8\n--steps=10\n")
    run_directory.check_resume_flags(tmp_path, "--width=8\n--steps=99\n", structural)
    with pytest.raises(UsageError, match="trained with --width=8, but this run "
                       "asks for --width=<default>"):
        run_directory.check_resume_flags(tmp_path, "--steps=10\n", structural)


def test_a_flags_txt_from_before_a_structural_flag_holds_its_default(tmp_path):
    run_directory.write_flag_text(tmp_path, "--width=8\n")
    structural = {"width": None, "disc_norm": "spectral"}
    run_directory.check_resume_flags(
        tmp_path, "--width=8\n--disc_norm=spectral\n", structural)
    with pytest.raises(UsageError, match="trained with --disc_norm=spectral, "
                       "but this run asks for --disc_norm=none"):
        run_directory.check_resume_flags(
            tmp_path, "--width=8\n--disc_norm=none\n", structural)


def test_restore_reads_flag_text_with_the_same_parser():
    config = flag_text.config_from_flag_text(FLAG_TEXT.replace("--note=a=b\n", ""))
    assert config.arch.width == 4


def test_dataset_info_round_trips_and_is_none_for_older_runs(tmp_path):
    assert run_directory.read_dataset_info(str(tmp_path)) is None
    info = DatasetInfo("folder", (32, 32, 1), ("round", "warm"), 10)
    run_directory.write_dataset_info(str(tmp_path), info)
    assert run_directory.read_dataset_info(str(tmp_path)) == info
    assert [path.name for path in tmp_path.iterdir()] == ["dataset_info.json"]
