"""The serving contract: signature names, their input and output keys.

The exporter (`amr_tf.exporter`), the model server stand-in and the clients import
these names from here; nothing else spells them. Values are float32; images
lie in [-1, 1]; N (the batch) is dynamic.

| signature        | inputs                                   | outputs             |
| ---------------- | ---------------------------------------- | ------------------- |
| `encode`         | `images`                                 | `latents`           |
| `decode`         | `latents`                                | `images`            |
| `reconstruct`    | `images`                                 | `images`            |
| `mix`            | `images_a`, `images_b`, `alpha` (N,)     | `images`, `latents` |
| `mix_latents`    | `latents_a`, `latents_b`, `alpha` (N,)   | `images`, `latents` |
| `mix_bernoulli`  | `images_a`, `images_b`, `mask` (N, C)    | `images`            |
| `mix_attributes` | `images_a`, `images_b`, `selector` (N, k) | `images`, `mask` |

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

MIX = "mix"
MIX_BERNOULLI = "mix_bernoulli"
MIX_ATTRIBUTES = "mix_attributes"
SIGNATURES = {
    "encode": Signature(("images",), ("latents",)),
    "decode": Signature(("latents",), ("images",)),
    "reconstruct": Signature(("images",), ("images",)),
    MIX: Signature(("images_a", "images_b", "alpha"), ("images", "latents")),
    "mix_latents": Signature(("latents_a", "latents_b", "alpha"),
                             ("images", "latents")),
    MIX_BERNOULLI: Signature(("images_a", "images_b", "mask"), ("images",)),
    MIX_ATTRIBUTES: Signature(("images_a", "images_b", "selector"),
                              ("images", "mask")),
}
CLASS_MIXER_SIGNATURES = (MIX_ATTRIBUTES,)

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
