"""Export: signatures, values against Keras, metadata, atomic writes, CLI."""

import dataclasses
import errno
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from amr_tf import data
from amr_tf import exporter as export_lib
from amr_tf.config import flag_text as flag_text_lib
from amr_tf.core import mixers as mixer_lib
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import WriteError
from amr_tf.data import folder
from amr_tf.exporter import signatures as signatures_lib
from amr_tf.tfserving import contract
from amr_tf.tfserving import warmup
from amr_tf.tfserving.bundle import LoadError
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.metadata import read_metadata
from amr_tf.tfserving.predict import PREDICT_METHOD_NAME
from amr_tf.training import model_builder
from amr_tf.training import restore
from amr_tf.training import trainer

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (16, 16, 3)
LATENT_SHAPE = (4, 4, 4)
SIGNATURE_KEYS = {
    "encode": ({"images"}, {"latents"}),
    "decode": ({"latents"}, {"images"}),
    "reconstruct": ({"images"}, {"images"}),
    "mix": ({"images_a", "images_b", "alpha"}, {"images", "latents"}),
    "serving_default": ({"images_a", "images_b", "alpha"}, {"images", "latents"}),
    "mix_latents": ({"latents_a", "latents_b", "alpha"}, {"images", "latents"}),
    "mix_bernoulli": ({"images_a", "images_b", "mask"}, {"images"}),
    "mix_attributes": ({"images_a", "images_b", "selector"}, {"images", "mask"}),
    "reconstruct_bytes": ({"images_bytes"}, {"images_bytes"}),
    "mix_bytes": ({"images_a_bytes", "images_b_bytes", "alpha"},
                  {"images_bytes"}),
    "mix_attributes_bytes": ({"images_a_bytes", "images_b_bytes", "selector"},
                             {"images_bytes", "mask"}),
}
CLASS_MIXER_SIGNATURES = {"mix_attributes", "mix_attributes_bytes"}
ENCODED_SIGNATURES = {"reconstruct_bytes", "mix_bytes", "mix_attributes_bytes"}


def _requests(batch=3, seed=0):
    """Fixed inputs of every signature, as float32 NumPy arrays."""
    rng = np.random.default_rng(seed)
    images_a, images_b = rng.uniform(-1, 1, (2, batch, *IMAGE_SHAPE)).astype(np.float32)
    latents_a, latents_b = rng.normal(size=(2, batch, *LATENT_SHAPE)).astype(np.float32)
    alpha = np.linspace(0.0, 1.0, batch, dtype=np.float32)
    pair = {"images_a": images_a, "images_b": images_b}
    return {
        "encode": {"images": images_a},
        "decode": {"latents": latents_a},
        "reconstruct": {"images": images_a},
        "mix": {**pair, "alpha": alpha},
        "mix_latents": {"latents_a": latents_a, "latents_b": latents_b,
                        "alpha": alpha},
        "mix_bernoulli": {**pair, "mask": (rng.uniform(size=(batch, 4)) < 0.5)
                          .astype(np.float32)},
        "mix_attributes": {**pair, "selector": rng.uniform(size=(batch, 3))
                           .astype(np.float32)},
    }


def _keras_outputs(model, name, inputs):
    """What each signature must return, computed with the Keras networks."""
    def encode(images):
        return np.asarray(model.encoder(images, training=False))

    def decode(latents):
        return np.asarray(model.decoder(latents, training=False))


    def mixed(latents_a, latents_b, mask):
        latents = np.asarray(mixer_lib.blend(latents_a, latents_b, mask))
        return {"images": decode(latents), "latents": latents}

    if name == "encode":
        return {"latents": encode(inputs["images"])}
    if name == "decode":
        return {"images": decode(inputs["latents"])}
    if name == "reconstruct":
        return {"images": decode(encode(inputs["images"]))}
    if name in ("mix", "mix_latents"):
        latents_a, latents_b = (
            (encode(inputs["images_a"]), encode(inputs["images_b"]))
            if name == "mix" else (inputs["latents_a"], inputs["latents_b"]))
        mask = model.mixer.fixed_mask(tf.constant(latents_a), inputs["alpha"])
        return mixed(latents_a, latents_b, mask)
    latents_a, latents_b = encode(inputs["images_a"]), encode(inputs["images_b"])
    if name == "mix_bernoulli":
        mask = inputs["mask"][:, None, None, :]
        return {"images": mixed(latents_a, latents_b, mask)["images"]}
    # The paper's mixer reads the selector as the target attributes.
    selector = inputs["selector"]
    mask = np.asarray(model.class_mixer.probabilities(selector, selector))
    images = mixed(latents_a, latents_b, mask[:, None, None, :])["images"]
    return {"images": images, "mask": mask}


def test_signature_keys_are_the_serving_contract():
    for name, signature in contract.SIGNATURES.items():
        assert (set(signature.inputs), set(signature.outputs)) == SIGNATURE_KEYS[name]
    assert SIGNATURE_KEYS[contract.DEFAULT_SIGNATURE_KEY] == SIGNATURE_KEYS[
        contract.DEFAULT_SIGNATURE]


def test_training_exports_every_signature_with_its_keys(tiny_run):
    assert tiny_run.export_path == os.path.join(tiny_run.model_dir, "export", "2")
    loaded = tf.saved_model.load(tiny_run.export_path)
    assert set(loaded.signatures) == set(SIGNATURE_KEYS)
    for name, (inputs, outputs) in SIGNATURE_KEYS.items():
        function = loaded.signatures[name]
        specs = function.structured_input_signature[1]
        assert set(specs) == inputs, name
        assert set(function.structured_outputs) == outputs, name
        # Encoded images are strings (N,), everything else float32.
        for key, spec in specs.items():
            dtype = tf.string if contract.is_bytes_key(key) else tf.float32
            assert spec.dtype == dtype and spec.shape[0] is None, (name, key)
        for key, spec in function.structured_outputs.items():
            dtype = tf.string if contract.is_bytes_key(key) else tf.float32
            assert spec.dtype == dtype, (name, key)
    mix_inputs = loaded.signatures["mix"].structured_input_signature[1]
    assert mix_inputs["images_a"].shape.as_list() == [None, *IMAGE_SHAPE]
    assert mix_inputs["alpha"].shape.as_list() == [None]
    bernoulli = loaded.signatures["mix_bernoulli"].structured_input_signature[1]
    assert bernoulli["mask"].shape.as_list() == [None, LATENT_SHAPE[-1]]


def test_saved_model_cli_lists_the_mix_signature(tiny_run):
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [str(cli), "show", "--dir", tiny_run.export_path, "--tag_set", "serve",
         "--signature_def", "mix"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for key in ("inputs['images_a']", "inputs['images_b']", "inputs['alpha']",
                "outputs['images']", "outputs['latents']"):
        assert key in result.stdout
    assert "shape: (-1, 16, 16, 3)" in result.stdout


def test_signatures_reproduce_keras_in_a_process_without_amr_tf(tiny_run, tmp_path):
    requests = _requests()
    np.savez(tmp_path / "requests.npz",
             **{f"{name}/{key}": value for name, inputs in requests.items()
                for key, value in inputs.items()})
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import tensorflow as tf
        export_path, folder = sys.argv[1:]
        loaded = tf.saved_model.load(export_path)
        requests = np.load(folder + "/requests.npz")
        outputs = {}
        for entry in requests.files:
            name, key = entry.split("/")
            outputs.setdefault(name, {})[key] = requests[entry]
        results = {}
        for name, inputs in outputs.items():
            for key, value in loaded.signatures[name](**inputs).items():
                results[f"{name}/{key}"] = value.numpy()
        np.savez(folder + "/outputs.npz", **results)
        assert not any(module.startswith("amr_tf") for module in sys.modules)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script, tiny_run.export_path, str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "outputs.npz")
    for name, inputs in requests.items():
        expected = _keras_outputs(tiny_run.model, name, inputs)
        for key, value in expected.items():
            got = served[f"{name}/{key}"]
            assert got.dtype == np.float32 and got.shape == value.shape
            np.testing.assert_allclose(got, value, atol=1e-5, err_msg=f"{name}/{key}")


def _random_inputs(signature_def, batch, rng):
    """Valid random inputs of a `SignatureDef`: unit-interval inputs in
    [0, 1], string inputs random PNGs of 20 x 24 px, the others in
    [-1, 1]."""
    inputs = {}
    for key, info in signature_def.inputs.items():
        if info.dtype == tf.string.as_datatype_enum:
            inputs[key] = _pngs(rng.integers(0, 256, (batch, 20, 24, 3),
                                             np.uint8))
            continue
        shape = [batch, *(dim.size for dim in info.tensor_shape.dim[1:])]
        low = 0.0 if key in contract.UNIT_INTERVAL_INPUTS else -1.0
        inputs[key] = rng.uniform(low, 1.0, shape).astype(np.float32)
    return inputs


def _pngs(pixels):
    """(N, H, W, C) uint8 as an object array (N,) of PNG files."""
    files = np.empty(len(pixels), object)
    files[:] = [tf.io.encode_png(image).numpy() for image in pixels]
    return files


def _assert_same_outputs(actual, expected, name):
    """Float outputs within 1e-5; PNG outputs decoded within one level."""
    for key, value in expected.items():
        if contract.is_bytes_key(key):
            assert actual[key].dtype == object, (name, key)
            np.testing.assert_allclose(
                _unpng(actual[key]), _unpng(value), atol=1, rtol=0,
                err_msg=f"{name}/{key}")
        else:
            assert actual[key].dtype == np.float32, (name, key)
            np.testing.assert_allclose(actual[key], value, atol=1e-5,
                                       err_msg=f"{name}/{key}")


def _unpng(files):
    """PNG files (N,) as int (N, H, W, C)."""
    return np.stack([tf.io.decode_png(data).numpy() for data in files]
                    ).astype(int)


def _predict_signatures(signature_defs):
    return sorted(name for name, signature in signature_defs.items()
                  if signature.method_name == PREDICT_METHOD_NAME)


def _assert_session_equals_object_graph(export_path, tf2_loader):
    """Every signature run through TF Serving's session path equals the
    same signature called through `tf.saved_model.load`."""
    bundle = SavedModelBundle(export_path)
    rng = np.random.default_rng(0)
    names = _predict_signatures(bundle.signature_defs)
    assert set(names) == set(tf.saved_model.load(export_path).signatures)
    calls = [(name, _random_inputs(bundle.signature_defs[name], 3, rng))
             for name in names]
    for (name, inputs), loader_outputs in zip(
            calls, tf2_loader(export_path, calls)):
        signature_def = bundle.signature_defs[name]
        session_outputs = bundle.run(name, inputs, list(signature_def.outputs))
        assert set(session_outputs) == set(loader_outputs), name
        _assert_same_outputs(session_outputs, loader_outputs, name)
    bundle.close()
    return names


def test_every_signature_runs_through_the_session_path(tiny_run, tf2_loader):
    names = _assert_session_equals_object_graph(tiny_run.export_path,
                                                tf2_loader)
    assert set(names) == set(SIGNATURE_KEYS)


# One export per mixer, baseline objective, precision and kind of data: flags
# over the tiny run's (the spiral's replace them).
EXPORT_VARIANTS = {
    "mixup": ("--mixer=mixup",),
    "mixup_channel": ("--mixer=mixup_channel",),
    "kway": ("--mixer=kway",),
    "bernoulli_hard_class_mixer": ("--mixer=class_mixer", "--hard_mask"),
    "parent_aware_class_mixer": ("--mixer=class_mixer",
                                 "--class_mixer_input=parent_aware"),
    "arae": ("--objective=arae",),
    "acai": ("--objective=acai",),
    "mixed_float16": ("--mixer=bernoulli", "--mixed_precision=mixed_float16"),
    "spiral": ("--dataset=spiral", "--arch=mlp", "--width=8", "--depth=1",
               "--latent_channels=4"),
}


def _export_untrained(flag_text, directory):
    """(config, model, export path) of a freshly built model of `flag_text`."""
    config = flag_text_lib.config_from_flag_text(flag_text)
    info = trainer.validate(config)
    model = model_builder.build_model(config, info)
    return config, model, export_lib.export_saved_model(
        model, config, info, str(directory), version=1)


@pytest.mark.parametrize("variant", sorted(EXPORT_VARIANTS))
def test_each_kind_of_export_runs_through_the_session_path(variant, tiny_run,
                                                           tmp_path,
                                                           tf2_loader):
    base = "" if variant == "spiral" else tiny_run.flag_text
    config, _, path = _export_untrained(
        base + "\n".join(EXPORT_VARIANTS[variant]) + "\n", tmp_path)
    names = _assert_session_equals_object_graph(path, tf2_loader)
    expected = set(SIGNATURE_KEYS) - (set() if config.uses_class_mixer
                                      else CLASS_MIXER_SIGNATURES)
    if variant == "spiral":  # Points, not images: no encoded signatures.
        expected -= ENCODED_SIGNATURES
    assert set(names) == expected


def test_parent_aware_mix_attributes_follows_its_selector_when_served(
        tiny_run, tmp_path):
    """Through the session-loaded bundle: swapping a and b with 1 - selector
    gives the same mix and the complementary mask; the mask is the class
    mixer's p(selector)."""
    _, model, path = _export_untrained(tiny_run.flag_text + "--mixer=class_mixer\n"
                                "--class_mixer_input=parent_aware\n", tmp_path)
    bundle = SavedModelBundle(path)
    rng = np.random.default_rng(3)
    images_a, images_b = rng.uniform(-1, 1, (2, 4, *IMAGE_SHAPE)).astype(np.float32)
    selector = np.array([[1, 0, 1], [0, 1, 1], [0.5, 0.5, 0.5], [1, 1, 0]],
                        np.float32)
    keys = contract.SIGNATURES[contract.MIX_ATTRIBUTES]
    forward = bundle.run(contract.MIX_ATTRIBUTES, dict(zip(
        keys.inputs, (images_a, images_b, selector))), list(keys.outputs))
    swapped = bundle.run(contract.MIX_ATTRIBUTES, dict(zip(
        keys.inputs, (images_b, images_a, 1 - selector))), list(keys.outputs))
    bundle.close()
    np.testing.assert_allclose(forward["images"], swapped["images"], atol=1e-5)
    np.testing.assert_allclose(forward["mask"], 1 - swapped["mask"], atol=1e-6)
    np.testing.assert_allclose(
        forward["mask"], model.class_mixer.probabilities(selector, None),
        atol=1e-6)
    np.testing.assert_allclose(forward["mask"][2], 0.5, atol=1e-6)


# One signature per kind of input saved_model_cli feeds: float images and a
# per-row alpha, latents, a selector, encoded images (DT_STRING). Every
# signature runs through the session path in the tests above; a process per
# signature here would cost ~9 s each.
CLI_SIGNATURES = ("mix", "mix_latents", "mix_attributes", "mix_bytes")


def test_saved_model_cli_runs_a_signature_of_each_input_kind(tiny_run,
                                                             tmp_path,
                                                             tf2_loader):
    """`saved_model_cli run` (TF Serving's session path, in its own process)
    gives the signatures' outputs as the TF2 loader does."""
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    rng = np.random.default_rng(1)
    signature_defs = SavedModelBundle(tiny_run.export_path).signature_defs
    assert set(CLI_SIGNATURES) <= set(_predict_signatures(signature_defs))
    runs = {}
    for name in CLI_SIGNATURES:
        inputs = _random_inputs(signature_defs[name], 2, rng)
        folder = tmp_path / name
        folder.mkdir()
        for key, value in inputs.items():
            np.save(folder / f"{key}.npy", value)
        command = [str(cli), "run", "--dir", tiny_run.export_path,
                   "--tag_set", "serve", "--signature_def", name,
                   "--inputs", ";".join(f"{key}={folder / key}.npy"
                                        for key in inputs),
                   "--outdir", str(folder / "out")]
        runs[name] = (inputs, folder, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    expected_outputs = tf2_loader(tiny_run.export_path, [
        (name, inputs) for name, (inputs, _, _) in runs.items()])
    for (name, (_, folder, process)), expected in zip(runs.items(),
                                                      expected_outputs):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (name, stderr[-2000:])
        assert {path.stem for path in (folder / "out").iterdir()} == set(expected)
        _assert_same_outputs(
            {key: np.load(folder / "out" / f"{key}.npy", allow_pickle=True)
             for key in expected}, expected, name)


def test_warmup_file_holds_one_valid_request_per_signature(tiny_run):
    path = os.path.join(tiny_run.export_path, "assets.extra",
                        "tf_serving_warmup_requests")
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    logs = [prediction_log_pb2.PredictionLog.FromString(record)
            for record in records]
    assert all(log.WhichOneof("log_type") == "predict_log" for log in logs)
    requests = [log.predict_log.request for log in logs]
    assert [request.model_spec.signature_name for request in requests] == sorted(
        SIGNATURE_KEYS)
    for request in requests:
        name = request.model_spec.signature_name
        assert set(request.inputs) == SIGNATURE_KEYS[name][0]
        for key, proto in request.inputs.items():
            assert proto.tensor_shape.dim[0].size == 1, (name, key)
    bundle = SavedModelBundle(tiny_run.export_path)
    warmup.replay(bundle, requests, max_batch_size=1)  # Every record succeeds.
    broken = predict_pb2.PredictRequest()
    broken.CopyFrom(next(request for request in requests
                         if request.model_spec.signature_name == "mix"))
    broken.inputs["alpha"].CopyFrom(tf.make_tensor_proto(np.array([2.0], np.float32)))
    with pytest.raises(LoadError, match="warm-up request for signature 'mix' "
                       "failed: INVALID_ARGUMENT: alpha: values must lie "
                       "between 0 and 1"):
        warmup.replay(bundle, [broken], max_batch_size=1)


def _save_without_restorable_variables(model, config, info, path, monkeypatch):
    """What the export wrote before it tracked the `tf.Variable`s: a
    SavedModel whose variables the session loader cannot restore."""
    monkeypatch.setattr(signatures_lib, "restorable_variables", lambda *layers: [])
    module = signatures_lib.ServingModule(
        model, info.input_shape, config.arch.latent_shape(info.input_shape))
    tf.saved_model.save(module, path, signatures=module.signatures())


def test_an_export_the_session_loader_cannot_restore_is_refused(tiny_run,
                                                                 tmp_path,
                                                                 monkeypatch):
    broken = str(tmp_path / "broken")
    _save_without_restorable_variables(tiny_run.model, tiny_run.config,
                                       tiny_run.info, broken, monkeypatch)
    inputs = _requests()["reconstruct"]
    # Python's object-graph loader runs it: the bug it hid.
    tf.saved_model.load(broken).signatures["reconstruct"](**inputs)
    with pytest.raises(LoadError, match="the session restore leaves .* "
                       "variable\\(s\\) that signatures read uninitialised"):
        SavedModelBundle(broken)
    # And the export refuses to write one: no version folder appears.
    with pytest.raises(LoadError, match="uninitialised"):
        export_lib.export_saved_model(tiny_run.model, tiny_run.config,
                                      tiny_run.info, str(tmp_path / "base"),
                                      version=1)
    assert os.listdir(tmp_path / "base") == []


def test_alpha_one_decodes_a_and_alpha_zero_decodes_b(tiny_run, tf2_loader):
    inputs = _requests()["mix"]
    pair = {key: inputs[key] for key in ("images_a", "images_b")}
    calls = [("mix", {**pair, "alpha": np.full([3], alpha, np.float32)})
             for alpha in (1.0, 0.0, 0.5)]
    calls += [("reconstruct", {"images": inputs[key]}) for key in pair]
    calls.append(("encode", {"images": inputs["images_a"]}))
    at_1, at_0, at_half, of_a, of_b, encoded_a = tf2_loader(
        tiny_run.export_path, calls)
    np.testing.assert_allclose(at_1["images"], of_a["images"], atol=1e-6)
    np.testing.assert_allclose(at_0["images"], of_b["images"], atol=1e-6)
    # Bernoulli mixing keeps round(alpha * C) channels of a at alpha = 0.5.
    from_a = np.all(np.isclose(at_half["latents"], encoded_a["latents"]),
                    axis=(0, 1, 2))
    assert from_a.sum() == 2


def test_metadata_asset_describes_the_model(tiny_run):
    metadata = read_metadata(tiny_run.export_path)
    assert metadata["format"] == "amr_tf.export/1"
    assert (metadata["version"], metadata["training_step"]) == (2, 2)
    assert metadata["input_shape"] == list(IMAGE_SHAPE)
    assert metadata["latent_shape"] == list(LATENT_SHAPE)
    assert metadata["value_range"] == [-1.0, 1.0]
    assert metadata["attribute_names"] == ["round", "warm", "large"]
    assert (metadata["objective"], metadata["mixer"]) == ("amr", "bernoulli")
    assert set(metadata["signatures"]) == set(SIGNATURE_KEYS)
    assert flag_text_lib.config_from_flag_text(metadata["flags"]) == tiny_run.config
    loaded = tf.saved_model.load(tiny_run.export_path)
    with open(loaded.metadata.asset_path.numpy()) as stream:
        assert json.load(stream) == metadata


def test_mixed_float16_model_exports_float32_outputs(tiny_run, tmp_path,
                                                     tf2_loader):
    config = dataclasses.replace(tiny_run.config, mixed_precision="mixed_float16")
    model = model_builder.build_model(config, tiny_run.info)
    assert model.encoder.compute_dtype == "float16"
    path = export_lib.export_saved_model(model, config, tiny_run.info,
                                         str(tmp_path), version=1)
    requests = _requests()
    for name, outputs in zip(requests, tf2_loader(path, requests.items())):
        for key, value in outputs.items():
            assert value.dtype == np.float32, (name, key)
            assert np.all(np.isfinite(value)), (name, key)


@pytest.mark.parametrize("failure, raised, message", [
    (OSError(errno.ENOSPC, "No space left on device"), WriteError,
     "cannot write export .*/base/2: No space left on device; the versions "
     "already in .*/base are unchanged"),
    (KeyboardInterrupt(), KeyboardInterrupt, None),  # Re-raised as it is.
])
def test_failed_export_leaves_no_version_folder(failure, raised, message,
                                                tiny_run, tmp_path,
                                                monkeypatch):
    base = tmp_path / "base"
    first = export_lib.export_saved_model(tiny_run.model, tiny_run.config,
                                          tiny_run.info, str(base), version=1)
    real_save = tf.saved_model.save

    def save_then_fail(obj, export_dir, signatures=None):
        real_save(obj, export_dir, signatures=signatures)  # A partial write...
        os.remove(os.path.join(export_dir, "saved_model.pb"))
        raise failure                                      # ...then the crash.

    monkeypatch.setattr(tf.saved_model, "save", save_then_fail)
    with pytest.raises(raised, match=message):
        export_lib.export_saved_model(tiny_run.model, tiny_run.config,
                                      tiny_run.info, str(base), version=2)
    assert sorted(os.listdir(base)) == ["1"]  # No "2", no staging folder.
    reloaded = tf.saved_model.load(first)
    assert "mix" in reloaded.signatures


def test_existing_versions_are_never_overwritten(tiny_run, tmp_path):
    base = str(tmp_path)
    path = export_lib.export_saved_model(tiny_run.model, tiny_run.config,
                                         tiny_run.info, base, version=3)
    before = os.path.getmtime(os.path.join(path, "saved_model.pb"))
    with pytest.raises(UsageError, match="already exists"):
        export_lib.export_saved_model(tiny_run.model, tiny_run.config,
                                      tiny_run.info, base, version=3)
    with pytest.raises(UsageError, match="positive integer"):
        export_lib.export_saved_model(tiny_run.model, tiny_run.config,
                                      tiny_run.info, base, version=0)
    assert os.path.getmtime(os.path.join(path, "saved_model.pb")) == before


def run_export_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "amr_tf.export", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_export_cli_writes_a_version_from_the_latest_checkpoint(tiny_run, tmp_path,
                                                                tf2_loader):
    base = tmp_path / "models" / "amr"
    result = run_export_cli(f"--model_dir={tiny_run.model_dir}",
                            f"--export_base={base}", "--export_version=7")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Exported {base / '7'}" in result.stdout
    inputs = _requests()["reconstruct"]
    [outputs] = tf2_loader(base / "7", [("reconstruct", inputs)])
    np.testing.assert_allclose(
        outputs["images"],
        _keras_outputs(tiny_run.model, "reconstruct", inputs)["images"],
        atol=1e-5)
    again = run_export_cli(f"--model_dir={tiny_run.model_dir}",
                           f"--export_base={base}", "--export_version=7")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1].endswith(
        "already exists: export versions are immutable, pass another "
        "--export_version")


@pytest.mark.parametrize("setup, message", [
    ("missing", "flags.txt does not exist: --model_dir must be the directory "
                "of a training run"),
    ("untrained", "holds no checkpoint: train the run first"),
])
def test_export_cli_refuses_a_folder_without_a_trained_run(setup, message,
                                                           tmp_path):
    model_dir = tmp_path / "run"
    if setup == "untrained":
        model_dir.mkdir()
        (model_dir / "flags.txt").write_text("--dataset=shapes\n")
    result = run_export_cli(f"--model_dir={model_dir}",
                            f"--export_base={tmp_path / 'base'}")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and message in last_line
    assert not (tmp_path / "base").exists()


def test_flag_text_round_trips_and_bad_lines_are_named():
    config = flag_text_lib.config_from_flag_text("--dataset=lines\n--width=8\n"
                                           "--nocache_data\n")
    assert (config.data.name, config.arch.width, config.cache_data) == (
        "lines", 8, False)
    with pytest.raises(UsageError, match="unknown flag --widht"):
        flag_text_lib.config_from_flag_text("--widht=8\n")


def test_the_docs_loading_example_runs_on_an_export(tiny_run):
    """docs/SERVING.md's example of loading an export, run as written on
    the tiny run's export; what it computes agrees with the signatures."""
    text = (ROOT / "docs" / "SERVING.md").read_text()
    section = text.split("## Loading an export in your own pipeline")[1]
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert 'path = "runs/shapes/export/500"' in code
    namespace = {}
    exec(code.replace("runs/shapes/export/500", str(tiny_run.export_path)),
         namespace)
    images_a = namespace["images_a"]
    assert namespace["mixed"].shape == (2, *IMAGE_SHAPE)
    assert namespace["latents"].shape == (2, *LATENT_SHAPE)
    reconstruct = namespace["loaded"].signatures["reconstruct"]
    expected = reconstruct(images=tf.constant(images_a))["images"].numpy()
    np.testing.assert_allclose(namespace["reconstructed"], expected, atol=1e-5)
    # alpha = 1 decodes a alone.
    np.testing.assert_allclose(namespace["mixed"][1], expected[1], atol=1e-5)


def test_a_folder_run_exports_after_its_images_are_gone(tmp_path):
    """What a restore needs of the data is stored with the run
    (dataset_info.json): the run is rebuilt and exported without its image
    folder; only what reads images still needs it, and says which."""
    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for index in range(12):
        path = images / ("a" if index % 2 else "b") / f"{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_png(rng.integers(
            0, 256, (16, 16, 3), dtype=np.uint8)).numpy())
    model_dir = tmp_path / "run"
    config = flag_text_lib.config_from_args([
        "--dataset=folder", f"--data_dir={images}", "--image_size=16",
        "--test_fraction=0.25", "--arch=acai", "--width=4",
        "--latent_size=4", "--latent_channels=2", "--batch_size=4",
        "--n_critic=1", "--steps=2", "--log_every=2", "--noexport",
        "--interpolation_pairs=1", "--interpolation_steps=2",
        f"--model_dir={model_dir}"])
    trainer.train(config)
    info = trainer.validate(config)
    stored = json.loads((model_dir / "dataset_info.json").read_text())
    assert stored == {"name": "folder", "input_shape": [16, 16, 3],
                      "attribute_names": [], "num_classes": 2,
                      "generated": False}

    shutil.rmtree(images)
    folder._catalog.cache_clear()  # As in a new process, on another machine.
    restored = restore.load_trained(str(model_dir))
    assert restored.info == info
    path = export_lib.export_saved_model(
        restored.model, restored.config, restored.info,
        str(tmp_path / "export"), version=1, flag_text=restored.flag_text)
    assert read_metadata(path)["input_shape"] == [16, 16, 3]
    with pytest.raises(UsageError, match=f"image folder {images} does not exist"):
        data.load(restored.config.data, "test")
