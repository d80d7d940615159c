"""The serving contract: signature names, their input and output keys.

The exporter (`amr_tf.exporter`), the model server stand-in and the clients import
these names from here; nothing else spells them. Values are float32 (the
`_bytes` keys: strings); images lie in [-1, 1]; N (the batch) is dynamic.

| signature        | inputs                                   | outputs             |
| ---------------- | ---------------------------------------- | ------------------- |
| `encode`         | `images`                                 | `latents`           |
| `decode`         | `latents`                                | `images`            |
| `reconstruct`    | `images`                                 | `images`            |
| `mix`            | `images_a`, `images_b`, `alpha` (N,)     | `images`, `latents` |
| `mix_latents`    | `latents_a`, `latents_b`, `alpha` (N,)   | `images`, `latents` |
| `mix_bernoulli`  | `images_a`, `images_b`, `mask` (N, C)    | `images`            |
| `mix_attributes` | `images_a`, `images_b`, `selector` (N, k) | `images`, `mask` |
| `reconstruct_bytes` | `images_bytes`                         | `images_bytes`      |
| `mix_bytes`      | `images_a_bytes`, `images_b_bytes`, `alpha` | `images_bytes`   |
| `mix_attributes_bytes` | `images_a_bytes`, `images_b_bytes`, `selector` | `images_bytes`, `mask` |

The `_bytes` signatures take and give images as encoded bytes: each
`<key>_bytes` input is a string (N,) of PNG or JPEG files of any size and
channel count, decoded in the graph to `<key>` as the client's
`decode_image` does (`amr_tf.tfserving.images`); each `<key>_bytes` output
is `<key>` as 8-bit PNG files. TF Serving's REST API writes a string output
whose key ends in `_bytes` as `{"b64": ...}` (its `json_tensor.cc`).

`serving_default` (what a request without a signature name gets) is `mix`.
`mix_attributes` exists only for models trained with the class mixer. Its
`selector` s in [0, 1]^k says which image gives each of the k attributes:
s_j = 1 takes attribute j from `images_a`, 0 from `images_b`, so the mix is
asked for y = s * y_a + (1 - s) * y_b, and swapping the images and using
1 - s gives the same mix. The paper's mixer (trained with
--class_mixer_input=paper) cannot be told which image has which attribute:
it reads the input as the target attributes y themselves, which agrees with
a selector when `images_a` has every attribute and `images_b` none. `mask`
(N, C) is the share of each latent channel taken from `images_a`.
"""

import collections
import os

Signature = collections.namedtuple("Signature", ["inputs", "outputs"])

RECONSTRUCT = "reconstruct"
MIX = "mix"
MIX_BERNOULLI = "mix_bernoulli"
MIX_ATTRIBUTES = "mix_attributes"
RECONSTRUCT_BYTES = "reconstruct_bytes"
MIX_BYTES = "mix_bytes"
MIX_ATTRIBUTES_BYTES = "mix_attributes_bytes"
SIGNATURES = {
    "encode": Signature(("images",), ("latents",)),
    "decode": Signature(("latents",), ("images",)),
    RECONSTRUCT: Signature(("images",), ("images",)),
    MIX: Signature(("images_a", "images_b", "alpha"), ("images", "latents")),
    "mix_latents": Signature(("latents_a", "latents_b", "alpha"),
                             ("images", "latents")),
    MIX_BERNOULLI: Signature(("images_a", "images_b", "mask"), ("images",)),
    MIX_ATTRIBUTES: Signature(("images_a", "images_b", "selector"),
                              ("images", "mask")),
    RECONSTRUCT_BYTES: Signature(("images_bytes",), ("images_bytes",)),
    MIX_BYTES: Signature(("images_a_bytes", "images_b_bytes", "alpha"),
                         ("images_bytes",)),
    MIX_ATTRIBUTES_BYTES: Signature(
        ("images_a_bytes", "images_b_bytes", "selector"),
        ("images_bytes", "mask")),
}
CLASS_MIXER_SIGNATURES = (MIX_ATTRIBUTES, MIX_ATTRIBUTES_BYTES)

# The suffix of a key holding encoded images (DT_STRING), and the
# signature on float images each `_bytes` signature wraps.
BYTES_SUFFIX = "_bytes"
ENCODED_SIGNATURES = {RECONSTRUCT_BYTES: RECONSTRUCT, MIX_BYTES: MIX,
                      MIX_ATTRIBUTES_BYTES: MIX_ATTRIBUTES}


def is_bytes_key(key):
    """Whether input or output `key` holds encoded images."""
    return key.endswith(BYTES_SUFFIX)


def float_key(key):
    """The float input or output a `_bytes` key encodes: `images_a_bytes`
    -> `images_a`."""
    return key[:-len(BYTES_SUFFIX)] if is_bytes_key(key) else key


# TF Serving's names: the MetaGraph tag it loads, and the signature a
# request without `model_spec.signature_name` gets.
SERVING_TAG = "serve"
DEFAULT_SIGNATURE_KEY = "serving_default"
DEFAULT_SIGNATURE = MIX  # What `serving_default` serves.
# The `GetModelMetadata` field that holds the SignatureDefMap.
SIGNATURE_DEF_FIELD = "signature_def"

# Inputs whose values must lie in [0, 1] (the others: finite).
UNIT_INTERVAL_INPUTS = ("alpha", "mask", "selector")

# Requests TF Serving replays before a version goes live (PredictionLog
# TFRecords), relative to the version folder.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
