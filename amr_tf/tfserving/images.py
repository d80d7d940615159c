"""Images as encoded bytes, the wire format of the `_bytes` signatures.

`decode_image` is the one rule that turns an encoded image into a model
input: the exported graph runs it on every `<key>_bytes` input, and the
client (`amr_tf.client.clients.decode_image`) runs the same function
eagerly, so both convert an image alike. `encode_png` is the rule of the
`_bytes` outputs, `amr_tf.figures.drawing.to_uint8`'s rounding in the graph.
"""

import tensorflow as tf


def decode_image(data, shape):
    """One PNG/JPEG/GIF/BMP file as float32 `shape` (H, W, C) in [-1, 1].

    Any size and channel count: converted to C channels (gray <-> RGB, alpha
    dropped), cropped about its centre to the aspect ratio H / W (crop sizes
    rounded half to even, as Python's `round`), resized with antialiasing,
    scaled to [-1, 1]. Runs eagerly and in a graph.

    Args:
        data: a scalar string tensor (or bytes), the encoded file.
        shape: (H, W, C) of one example.

    Raises:
        tf.errors.InvalidArgumentError: not an image (when it runs).
    """
    height, width, channels = shape
    image = tf.io.decode_image(data, channels=channels,
                               expand_animations=False)
    source = tf.shape(image, out_type=tf.int64)
    crop_height = tf.minimum(source[0], _round(source[1] * height / width))
    crop_width = tf.minimum(source[1], _round(source[0] * width / height))
    top = (source[0] - crop_height) // 2
    left = (source[1] - crop_width) // 2
    image = image[top:top + crop_height, left:left + crop_width]
    image = tf.image.resize(tf.cast(image, tf.float32), (height, width),
                            antialias=True)
    return tf.clip_by_value(image / 127.5 - 1.0, -1.0, 1.0)


def _round(value):
    """A float64 tensor rounded half to even, as int64."""
    return tf.cast(tf.round(value), tf.int64)


def decode_images(data, shape, name):
    """A batch of encoded images as float32 (N, *shape) in [-1, 1].

    Args:
        data: string (N,), one encoded file each.
        shape: (H, W, C) of one example.
        name: the input key, for the error message.

    Raises:
        tf.errors.InvalidArgumentError: (when the graph runs) "assertion
            failed: [<name>: ...]" when a value is not a readable image.
    """
    count = tf.size(data, out_type=tf.int64)
    # Decode errors cannot be caught in a graph; tf.data drops the values
    # that fail, and the count says whether any did.
    decoded = (tf.data.Dataset.from_tensor_slices(data)
               .map(lambda value: decode_image(value, shape))
               .ignore_errors()
               .batch(tf.maximum(count, 1)))
    empty = tf.data.Dataset.from_tensors(tf.zeros([0, *shape], tf.float32))
    images = decoded.concatenate(empty).take(1).get_single_element()
    check = tf.debugging.assert_equal(
        tf.shape(images, out_type=tf.int64)[0], count,
        message=f"{name}: a value is not a PNG or JPEG image, or is corrupt")
    with tf.control_dependencies([check]):  # Before the model sees them.
        return tf.identity(images)


def encode_png(images):
    """(N, H, W, C) float images in [-1, 1] as string (N,) of 8-bit PNG
    files (C of 1, 3 or 4): round((clip(x, -1, 1) + 1) * 127.5)."""
    pixels = tf.cast(tf.round((tf.clip_by_value(images, -1.0, 1.0) + 1.0)
                              * 127.5), tf.uint8)
    return tf.map_fn(tf.io.encode_png, pixels,
                     fn_output_signature=tf.TensorSpec([], tf.string))
