"""The serving signatures of a trained model, as a `tf.Module`.

The signature names and their input and output keys are the serving
contract, `amr_tf.tfserving.contract` (a table there, and in the README).
Images are float32 NHWC in [-1, 1] (for point data such as the spiral,
"images" are (N, D) points); latents are float32 with the encoder's latent
shape; the batch dimension N is dynamic. Every output is float32, also when
the model trained in mixed precision.

`alpha` is the weight of `a`: 1 decodes a, 0 decodes b, through the model's
own mixer at a fixed coefficient (`Mixer.fixed_mask`). `mask` (N, C) weights
the C latent channels of `a`. `mix_attributes` exists for models trained with
the class mixer: its mask comes from a selector in [0, 1]^k (s_j = 1 takes
attribute j from a; the paper's mixer reads it as target attributes, see
`amr_tf.tfserving.contract`).

Each signature checks its request in the graph, so TF Serving itself answers
a bad one with INVALID_ARGUMENT naming the input: inputs of one request share
their batch size and have the declared shape, values are finite, and
`alpha`, `mask` and `selector` lie in [0, 1].

Batching that one bad request cannot break: with `batching` set, a signature
runs in two steps. The checks run per request, in the request's own session
run; only then do its rows join other requests' in TensorFlow's in-graph
batcher (`tf.nondifferentiable_batch_function`, the `BatchFunction` op),
which runs the networks once on the merged rows and hands each request its
own rows back. A request that fails its checks never reaches the batcher, so
it fails alone. TF Serving's session-level batching (`--enable_batching`)
merges requests before the graph runs and gives the merged run's status to
every request in it, so these exports are served without it (export/README.md
states the trade-off).

TF Serving restores variables through the SavedModel's session saver, which
finds a Keras 3 variable only through the `tf.Variable` it wraps: the module
tracks those (`restorable_variables`), or every request would fail there
with FAILED_PRECONDITION "Could not find variable" (tensorflow/tensorflow
#72963) while `tf.saved_model.load` in Python still works.
"""

import keras
import tensorflow as tf

from amr_tf.core import interpolation
from amr_tf.core import mixers as mixer_lib
from amr_tf.tfserving import contract
from amr_tf.tfserving import images as images_lib

# Channel counts a PNG holds: models with these get the `_bytes` signatures.
PNG_CHANNELS = (1, 3, 4)


def restorable_variables(*layers):
    """The `tf.Variable`s behind the Keras variables of `layers` (None
    skipped), each once, in order."""
    variables = {}
    for layer in layers:
        for variable in (layer.variables if layer is not None else ()):
            value = variable.value if isinstance(variable, keras.Variable) else variable
            if not isinstance(value, tf.Variable):
                raise TypeError(f"{variable.path} is not backed by a tf.Variable")
            variables.setdefault(id(value), value)
    return list(variables.values())


class ServingModule(tf.Module):
    """Encoder, decoder and mixers of a trained model, behind fixed signatures.

    Args:
        model: a trained `AdversarialAutoencoder`.
        input_shape: shape of one example, e.g. (H, W, C).
        latent_shape: shape of one latent code, e.g. (h, w, C).
        batching: a `BatchingParameters` for the in-graph batcher, or None
            to run each request on its own.
    """

    def __init__(self, model, input_shape, latent_shape, batching=None):
        super().__init__(name="amr")
        self.batching = batching
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.mixer = interpolation.interpolation_mixer(model)
        self.class_mixer = getattr(model, "class_mixer", None)
        self.restorable_variables = restorable_variables(
            self.encoder, self.decoder, self.mixer, self.class_mixer)
        self.input_shape = tuple(input_shape)
        images = tf.TensorSpec([None, *input_shape], tf.float32)
        latents = tf.TensorSpec([None, *latent_shape], tf.float32)
        specs = {"images": images, "images_a": images, "images_b": images,
                 "latents": latents, "latents_a": latents, "latents_b": latents,
                 "alpha": tf.TensorSpec([None], tf.float32),
                 "mask": tf.TensorSpec([None, latent_shape[-1]], tf.float32)}
        if self.class_mixer is not None:
            specs["selector"] = tf.TensorSpec(
                [None, self.class_mixer.num_attributes], tf.float32)
        encoded = (len(input_shape) == 3 and input_shape[-1] in PNG_CHANNELS)
        for key in ("images", "images_a", "images_b"):
            specs[key + contract.BYTES_SUFFIX] = tf.TensorSpec([None], tf.string)
        self.signature_names = tuple(
            name for name in contract.SIGNATURES
            if (self.class_mixer is not None
                or name not in contract.CLASS_MIXER_SIGNATURES)
            and (encoded or name not in contract.ENCODED_SIGNATURES))
        for name in self.signature_names:
            input_signature = [
                tf.TensorSpec(specs[key].shape, specs[key].dtype, name=key)
                for key in contract.SIGNATURES[name].inputs]
            setattr(self, name, tf.function(getattr(self, f"_{name}"),
                                            input_signature=input_signature))

    def signatures(self):
        """Signature name -> `tf.function`, for `tf.saved_model.save`."""
        functions = {name: getattr(self, name) for name in self.signature_names}
        functions[contract.DEFAULT_SIGNATURE_KEY] = functions[
            contract.DEFAULT_SIGNATURE]
        return functions

    # Plain tensors (not dicts) inside, named outputs at the signature.
    def _latents(self, images):
        return tf.cast(self.encoder(images, training=False), tf.float32)

    def _images(self, latents):
        return tf.cast(self.decoder(latents, training=False), tf.float32)

    def _batched(self, name, network, **inputs):
        """`network(*inputs)` on this request's checked inputs: run in a
        batch with other requests' rows when batching is on.

        Args:
            name: the signature's name (its batcher's name in the graph).
            network: a function of the inputs' tensors returning a tuple of
                tensors with the batch axis first.
            **inputs: the request's named inputs.
        """
        checked = check_request(**inputs)
        if self.batching is None:
            return network(*checked)
        batching = self.batching
        allowed = list(batching.allowed_batch_sizes)
        if batching.max_execution_batch_size and not allowed:
            # The op caps a run at the last allowed size; every size is
            # allowed, so nothing is padded.
            allowed = list(range(1, batching.max_execution_batch_size + 1))
        # The op's shared_name is its name scope: one batcher per signature.
        with tf.name_scope(name):
            return tf.nondifferentiable_batch_function(
                num_batch_threads=batching.num_batch_threads,
                max_batch_size=batching.max_batch_size,
                batch_timeout_micros=batching.batch_timeout_micros,
                allowed_batch_sizes=allowed or None,
                max_enqueued_batches=batching.max_enqueued_batches,
                enable_large_batch_splitting=bool(
                    batching.max_execution_batch_size),
                autograph=False)(network)(*checked)

    def _encode(self, images):
        (latents,) = self._batched(
            "encode", lambda images: (self._latents(images),), images=images)
        return {"latents": latents}

    def _decode(self, latents):
        (images,) = self._batched(
            "decode", lambda latents: (self._images(latents),), latents=latents)
        return {"images": images}

    def _reconstruct(self, images):
        (images,) = self._batched(
            "reconstruct", lambda images: (self._images(self._latents(images)),),
            images=images)
        return {"images": images}

    def _mix_latents(self, latents_a, latents_b, alpha):
        images, latents = self._batched(
            "mix_latents", self._decoded_mix,
            latents_a=latents_a, latents_b=latents_b, alpha=alpha)
        return {"images": images, "latents": latents}

    def _decoded_mix(self, latents_a, latents_b, alpha):
        mask = self.mixer.fixed_mask(latents_a, alpha)
        latents = mixer_lib.blend(latents_a, latents_b, mask)
        return self._images(latents), latents

    def _mix(self, images_a, images_b, alpha):
        images, latents = self._batched(
            contract.MIX, lambda images_a, images_b, alpha: self._decoded_mix(
                self._latents(images_a), self._latents(images_b), alpha),
            images_a=images_a, images_b=images_b, alpha=alpha)
        return {"images": images, "latents": latents}

    def _mix_bernoulli(self, images_a, images_b, mask):
        (images,) = self._batched(
            contract.MIX_BERNOULLI, self._masked_mix,
            images_a=images_a, images_b=images_b, mask=mask)
        return {"images": images}

    def _masked_mix(self, images_a, images_b, mask):
        latents_a = self._latents(images_a)
        mask = tf.reshape(mask, mixer_lib.coefficient_shape(latents_a,
                                                            per_channel=True))
        latents = mixer_lib.blend(latents_a, self._latents(images_b), mask)
        return (self._images(latents),)

    def _mix_attributes(self, images_a, images_b, selector):
        images, mask = self._batched(
            contract.MIX_ATTRIBUTES, self._attribute_mix,
            images_a=images_a, images_b=images_b, selector=selector)
        return {"images": images, "mask": mask}

    def _attribute_mix(self, images_a, images_b, selector):
        latents_a = self._latents(images_a)
        # The paper's mixer reads the selector as the target attributes.
        mask = self.class_mixer.mask_for(latents_a, selector, targets=selector)
        latents = mixer_lib.blend(latents_a, self._latents(images_b), mask)
        return self._images(latents), tf.reshape(mask, [tf.shape(mask)[0], -1])

    def _reconstruct_bytes(self, images_bytes):
        return self._encoded(contract.RECONSTRUCT_BYTES,
                             images_bytes=images_bytes)

    def _mix_bytes(self, images_a_bytes, images_b_bytes, alpha):
        return self._encoded(contract.MIX_BYTES, images_a_bytes=images_a_bytes,
                             images_b_bytes=images_b_bytes, alpha=alpha)

    def _mix_attributes_bytes(self, images_a_bytes, images_b_bytes, selector):
        return self._encoded(contract.MIX_ATTRIBUTES_BYTES,
                             images_a_bytes=images_a_bytes,
                             images_b_bytes=images_b_bytes, selector=selector)

    def _encoded(self, name, **inputs):
        """Signature `name` through the float signature it wraps: its
        `_bytes` inputs decoded, its `_bytes` outputs encoded as PNG."""
        floats = {
            contract.float_key(key): (
                images_lib.decode_images(value, self.input_shape, key)
                if contract.is_bytes_key(key) else value)
            for key, value in inputs.items()}
        # Its own name scope: the batcher of `name`, not the float one's.
        with tf.name_scope(name):
            outputs = getattr(self, f"_{contract.ENCODED_SIGNATURES[name]}")(
                **floats)
        return {key: (images_lib.encode_png(outputs[contract.float_key(key)])
                      if contract.is_bytes_key(key) else outputs[key])
                for key in contract.SIGNATURES[name].outputs}


def check_request(**inputs):
    """Graph-side checks of one request's named float32 inputs.

    Returns:
        The inputs, in order, each available only after every check passed
        (so rows of a bad request never reach a batcher).

    Raises (when the graph runs) `InvalidArgumentError` whose message names
    the input: "assertion failed: [<input>: ...]" when batch sizes differ, a
    value is NaN or infinite, or an `alpha`, `mask` or `selector` value lies
    outside [0, 1]; TF's shape message when a shape is not the declared one
    (a feed's shape is not checked by TF Serving's C++ session).
    """
    names = list(inputs)
    batch_size = tf.shape(inputs[names[0]])[0]
    checks = []
    for name, tensor in inputs.items():
        checks += [
            tf.ensure_shape(tensor, tensor.shape, name=f"{name}_shape"),
            tf.debugging.assert_equal(
                tf.shape(tensor)[0], batch_size,
                message=f"{name}: batch size differs from {names[0]}"),
            tf.debugging.assert_equal(
                tf.reduce_all(tf.math.is_finite(tensor)), True,
                message=f"{name}: values must be finite, not NaN or Inf")]
        if name in contract.UNIT_INTERVAL_INPUTS:
            checks.append(tf.debugging.assert_equal(
                tf.reduce_all((tensor >= 0.0) & (tensor <= 1.0)), True,
                message=f"{name}: values must lie between 0 and 1"))
    with tf.control_dependencies(checks):
        return [tf.identity(tensor) for tensor in inputs.values()]
