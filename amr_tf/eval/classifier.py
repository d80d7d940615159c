"""The feature classifier behind the paper's FID, trained once and cached.

No Inception weights can be downloaded here, and the paper itself used a
classifier trained on its own dataset (a CelebA ResNet). This module trains
a small convolutional classifier on the dataset's training split, on its
binary attributes when it has some (multi-label), else on its class labels.
Its penultimate layer (`FEATURE_SIZE` units) gives the features for FID; its
attribute predictions judge decoded mixes (`amr_tf.eval.mixes`).

Weights are cached under `cache_dir/<key>/`, where the key names the dataset
and hashes everything that changes the classifier, with a JSON file recording
the settings and the classifier's test accuracy.
"""

import dataclasses
import hashlib
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from amr_tf import data as data_lib
from amr_tf.core.errors import Argument
from amr_tf.core.errors import ArgumentError
from amr_tf.core.errors import UsageError
from amr_tf.eval import degrade
from amr_tf.eval import progress as progress_lib

FEATURE_SIZE = 64
_WEIGHTS_FILE = "classifier.weights.h5"
_METADATA_FILE = "classifier.json"


@dataclasses.dataclass(frozen=True)
class ClassifierSettings:
    """How the feature classifier is trained.

    Attributes:
        width: channels of the first convolution (doubling per downsampling).
        steps: Adam updates of `batch_size` training examples.
        batch_size: examples per update.
        learning_rate: Adam learning rate.
        seed: weights, data order and augmentation draws.
        augment: train on images blurred and noised at random
            (`degrade.degrade`), so the classifier reads decoded images as
            a person does; the judge of mixes (`mix_attributes`) sets it,
            the FID features do not.
    """

    width: int = 32
    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    augment: bool = False


class FeatureClassifier:
    """A trained classifier: features for FID and attribute/label predictions.

    Attributes:
        model: Keras model, images (B, H, W, C) in [-1, 1] -> logits (B, k).
        target: `"attributes"` (k sigmoid outputs) or `"label"` (k classes).
        test_accuracy: accuracy on the test split (mean over attributes).
    """

    def __init__(self, model, target, test_accuracy=None):
        self.model = model
        self.target = target
        self.test_accuracy = test_accuracy
        self._features = keras.Model(model.input,
                                     model.get_layer("features").output)

    def features(self, images, batch_size=256):
        """(N, FEATURE_SIZE) float64 penultimate-layer features."""
        return self._predict(self._features, images, batch_size).astype(np.float64)

    def logits(self, images, batch_size=256):
        """(N, k) float32 output logits."""
        return self._predict(self.model, images, batch_size)

    def predict_attributes(self, images, batch_size=256):
        """(N, k) {0, 1} attributes judged present (sigmoid > 0.5)."""
        if self.target != "attributes":
            raise UsageError("this classifier was trained on class labels, "
                             "not attributes")
        return (self.logits(images, batch_size) > 0.0).astype(np.float32)

    @staticmethod
    def _predict(network, images, batch_size):
        return np.concatenate([
            np.asarray(network(images[start:start + batch_size], training=False))
            for start in range(0, len(images), batch_size)
        ])


def target_of(info):
    """What the classifier of a dataset predicts: its attributes or labels."""
    if info.num_attributes:
        return "attributes"
    if info.num_classes:
        return "label"
    raise ArgumentError("{dataset} has neither attributes nor class labels "
                        "to train the FID feature classifier on",
                        dataset=Argument("dataset", info.name, "dataset"))


def build_model(input_shape, num_outputs, width):
    """Strided 3x3 convolutions down to at most 4 px, then features, logits."""
    images = keras.Input(shape=input_shape, name="images")
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(images)
    downsamplings = max(0, int(math.log2(input_shape[0] / 4)))
    for scale in range(downsamplings):
        x = keras.layers.Conv2D(width << min(scale + 1, 3), 3, strides=2,
                                padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    features = keras.layers.Dense(FEATURE_SIZE, activation="relu",
                                  name="features")(x)
    logits = keras.layers.Dense(num_outputs, name="logits")(features)
    return keras.Model(images, logits, name="feature_classifier")


def cache_key(data_config, settings):
    """Directory name of a classifier: dataset, size and a settings hash."""
    text = repr((data_config, settings))
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return f"{data_config.name}_{digest}"


def load_or_train(data_config, info, cache_dir, settings=ClassifierSettings(),
                  progress=False):
    """The cached classifier of a dataset, trained first if not cached.

    Args:
        data_config: the `DataConfig` of the run being evaluated (image size,
            attributes).
        info: its `DatasetInfo` (images only).
        cache_dir: where classifiers are kept.
        settings: a `ClassifierSettings`.
        progress: print training progress on stderr.

    Returns:
        A `FeatureClassifier`.
    """
    if not info.is_image:
        raise ArgumentError("FID needs images; {dataset} is not an image "
                            "dataset",
                            dataset=Argument("dataset", info.name, "dataset"))
    target = target_of(info)
    num_outputs = info.num_attributes if target == "attributes" else info.num_classes
    directory = os.path.join(cache_dir, cache_key(data_config, settings))
    weights_path = os.path.join(directory, _WEIGHTS_FILE)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(info.input_shape, num_outputs, settings.width)
    if os.path.exists(weights_path):
        model.load_weights(weights_path)
        with open(os.path.join(directory, _METADATA_FILE)) as metadata_file:
            metadata = json.load(metadata_file)
        return FeatureClassifier(model, target, metadata["test_accuracy"])

    _fit(model, data_config, info, target, settings, progress)
    classifier = FeatureClassifier(model, target)
    classifier.test_accuracy = _test_accuracy(classifier, data_config)
    os.makedirs(directory, exist_ok=True)
    model.save_weights(weights_path)
    with open(os.path.join(directory, _METADATA_FILE), "w") as metadata_file:
        json.dump({"dataset": repr(data_config), "target": target,
                   "settings": dataclasses.asdict(settings),
                   "test_accuracy": classifier.test_accuracy},
                  metadata_file, indent=2)
    return classifier


def _fit(model, data_config, info, target, settings, progress):
    def to_pair(example):
        return example["inputs"], example["attributes" if target == "attributes"
                                          else "label"]

    batches = data_lib.make_batches(
        data_lib.load(data_config, "train"), settings.batch_size,
        shuffle=True, seed=settings.seed, repeat=True,
        cache=not info.generated,
    ).map(to_pair)
    if settings.augment:
        batches = batches.enumerate().map(
            lambda step, pair: (degrade.degrade(
                pair[0], tf.stack([tf.cast(settings.seed, tf.int64), step])),
                pair[1]))
    if target == "attributes":
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                  loss=loss)
    callbacks = ([progress_lib.TrainingLines("feature classifier steps",
                                             settings.steps)]
                 if progress else [])
    model.fit(batches, steps_per_epoch=settings.steps, epochs=1, verbose=0,
              shuffle=False,  # make_batches shuffles.
              callbacks=callbacks)


def blurred_accuracies(classifier, images, attributes, sigma):
    """(k,) float64: per attribute, the share of (N, H, W, C) images in
    [-1, 1], blurred by a Gaussian of `sigma` px, whose judged attribute
    equals `attributes` (N, k): how well a judge reads edges a decoder
    softens."""
    predicted = classifier.predict_attributes(degrade.blurred(images, sigma))
    return np.mean(predicted == np.asarray(attributes), axis=0)


def _test_accuracy(classifier, data_config, count=2000):
    batch = next(iter(data_lib.load(data_config, "test").batch(count)))
    images = np.asarray(batch["inputs"])
    if classifier.target == "attributes":
        predicted = classifier.predict_attributes(images)
        return float(np.mean(predicted == np.asarray(batch["attributes"])))
    predicted = np.argmax(classifier.logits(images), axis=-1)
    return float(np.mean(predicted == np.asarray(batch["label"])))
