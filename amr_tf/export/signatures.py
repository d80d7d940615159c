"""The serving signatures of a trained model, as a `tf.Module`.

Images are float32 NHWC in [-1, 1] (for point data such as the spiral,
"images" are (N, D) points); latents are float32 with the encoder's latent
shape; the batch dimension N is dynamic. Every output is float32, also when
the model trained in mixed precision.

| signature       | inputs                                             | outputs             |
| --------------- | -------------------------------------------------- | ------------------- |
| `encode`        | `images`                                           | `latents`           |
| `decode`        | `latents`                                          | `images`            |
| `reconstruct`   | `images`                                           | `images`            |
| `mix`           | `images_a`, `images_b`, `alpha` (N,)               | `images`, `latents` |
| `mix_latents`   | `latents_a`, `latents_b`, `alpha` (N,)             | `images`, `latents` |
| `mix_bernoulli` | `images_a`, `images_b`, `mask` (N, C)              | `images`            |
| `mix_attributes`| `images_a`, `images_b`, `attributes` (N, k)        | `images`, `mask`    |

`alpha` is the weight of `a`: 1 decodes a, 0 decodes b, through the model's
own mixer at a fixed coefficient (`Mixer.fixed_mask`). `mask` (N, C) weights
the C latent channels of `a`. `mix_attributes` exists for models trained with
the class mixer: its mask comes from target attributes in [0, 1]^k.
`serving_default` is `mix`.

Each signature checks its request in the graph, so TF Serving itself answers
a bad one with INVALID_ARGUMENT naming the input: inputs of one request share
their batch size, values are finite, and `alpha`, `mask` and `attributes` lie
in [0, 1].
"""

import tensorflow as tf

from amr_tf import inference
from amr_tf import mixers as mixer_lib

DEFAULT_SIGNATURE = "mix"


class ServingModule(tf.Module):
    """Encoder, decoder and mixers of a trained model, behind fixed signatures.

    Args:
        model: a trained `AdversarialAutoencoder`.
        input_shape: shape of one example, e.g. (H, W, C).
        latent_shape: shape of one latent code, e.g. (h, w, C).
    """

    def __init__(self, model, input_shape, latent_shape):
        super().__init__(name="amr")
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.mixer = inference.interpolation_mixer(model)
        self.class_mixer = getattr(model, "class_mixer", None)
        images = tf.TensorSpec([None, *input_shape], tf.float32)
        latents = tf.TensorSpec([None, *latent_shape], tf.float32)
        per_example = tf.TensorSpec([None], tf.float32)
        per_channel = tf.TensorSpec([None, latent_shape[-1]], tf.float32)
        self.encode = tf.function(self._encode, input_signature=[images])
        self.decode = tf.function(self._decode, input_signature=[latents])
        self.reconstruct = tf.function(self._reconstruct, input_signature=[images])
        self.mix = tf.function(self._mix,
                               input_signature=[images, images, per_example])
        self.mix_latents = tf.function(
            self._mix_latents, input_signature=[latents, latents, per_example])
        self.mix_bernoulli = tf.function(
            self._mix_bernoulli, input_signature=[images, images, per_channel])
        if self.class_mixer is not None:
            num_attributes = self.class_mixer.hidden1.kernel.shape[0]
            attributes = tf.TensorSpec([None, num_attributes], tf.float32)
            self.mix_attributes = tf.function(
                self._mix_attributes,
                input_signature=[images, images, attributes])


    def signatures(self):
        """Signature name -> `tf.function`, for `tf.saved_model.save`."""
        names = ["encode", "decode", "reconstruct", "mix", "mix_latents",
                 "mix_bernoulli"]
        if self.class_mixer is not None:
            names.append("mix_attributes")
        functions = {name: getattr(self, name) for name in names}
        functions["serving_default"] = functions[DEFAULT_SIGNATURE]
        return functions

    # Plain tensors (not dicts) inside, named outputs at the signature.
    def _latents(self, images):
        return tf.cast(self.encoder(images, training=False), tf.float32)

    def _images(self, latents):
        return tf.cast(self.decoder(latents, training=False), tf.float32)

    def _encode(self, images):
        check_request(images=images)
        return {"latents": self._latents(images)}

    def _decode(self, latents):
        check_request(latents=latents)
        return {"images": self._images(latents)}

    def _reconstruct(self, images):
        check_request(images=images)
        return {"images": self._images(self._latents(images))}

    def _mix_latents(self, latents_a, latents_b, alpha):
        check_request(latents_a=latents_a, latents_b=latents_b, alpha=alpha)
        mask = self.mixer.fixed_mask(latents_a, alpha)
        latents = mixer_lib.blend(latents_a, latents_b, mask)
        return {"images": self._images(latents), "latents": latents}

    def _mix(self, images_a, images_b, alpha):
        check_request(images_a=images_a, images_b=images_b, alpha=alpha)
        return self._mix_latents(self._latents(images_a),
                                 self._latents(images_b), alpha)

    def _mix_bernoulli(self, images_a, images_b, mask):
        check_request(images_a=images_a, images_b=images_b, mask=mask)
        latents_a = self._latents(images_a)
        mask = tf.reshape(mask, mixer_lib.coefficient_shape(latents_a,
                                                            per_channel=True))
        latents = mixer_lib.blend(latents_a, self._latents(images_b), mask)
        return {"images": self._images(latents)}

    def _mix_attributes(self, images_a, images_b, attributes):
        check_request(images_a=images_a, images_b=images_b,
                      attributes=attributes)
        latents_a = self._latents(images_a)
        mask = self.class_mixer.mask_for(latents_a, attributes)
        latents = mixer_lib.blend(latents_a, self._latents(images_b), mask)
        flat_mask = tf.reshape(mask, [tf.shape(mask)[0], -1])
        return {"images": self._images(latents), "mask": flat_mask}


UNIT_INTERVAL_INPUTS = ("alpha", "mask", "attributes")


def check_request(**inputs):
    """Graph-side checks of one request's named float32 inputs.

    Raises (when the graph runs) `InvalidArgumentError` whose message
    "assertion failed: [<input>: ...]" names the input: batch sizes differ, a
    value is NaN or infinite, or an `alpha`, `mask` or `attributes` value lies
    outside [0, 1].
    """
    names = list(inputs)
    batch_size = tf.shape(inputs[names[0]])[0]
    for name, tensor in inputs.items():
        tf.debugging.assert_equal(
            tf.shape(tensor)[0], batch_size,
            message=f"{name}: batch size differs from {names[0]}")
        tf.debugging.assert_equal(
            tf.reduce_all(tf.math.is_finite(tensor)), True,
            message=f"{name}: values must be finite, not NaN or Inf")
        if name in UNIT_INTERVAL_INPUTS:
            tf.debugging.assert_equal(
                tf.reduce_all((tensor >= 0.0) & (tensor <= 1.0)), True,
                message=f"{name}: values must lie between 0 and 1")
