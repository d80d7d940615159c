"""TF Serving's `BatchingParameters`: the text proto of
`--batching_parameters_file`, read as TF Serving reads it.

    max_batch_size { value: 16 }
    batch_timeout_micros { value: 2000 }
    num_batch_threads { value: 2 }
    max_enqueued_batches { value: 64 }
    allowed_batch_sizes: 4
    allowed_batch_sizes: 16
    enable_large_batch_splitting { value: true }   # then, optionally:
    max_execution_batch_size { value: 16 }         # rows per run

The message is tensorflow_serving/servables/tensorflow/
session_bundle_config.proto's (same field names and numbers), declared
here because the `tensorflow-serving-api` wheel does not ship it; a file
TF Serving parses parses here, and an unknown field is refused by both.
`parse` also applies TF Serving's checks (`WrapSessionForBatching`): the
allowed sizes increase and end at the largest merged run.
"""

import dataclasses

import tensorflow as tf
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import text_format
from google.protobuf import wrappers_pb2

# Unset fields: TF Serving's `SharedBatchScheduler` defaults (its
# num_batch_threads default is the machine's core count; 1 here).
DEFAULTS = {"max_batch_size": 1000, "batch_timeout_micros": 0,
            "max_enqueued_batches": 10, "num_batch_threads": 1}


def _message_class():
    """`tensorflow.serving.BatchingParameters`, built from its fields."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="amr_tf/tfserving/session_bundle_config.proto",
        package="tensorflow.serving", syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"])
    message = file_proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    wrapped = {"max_batch_size": (1, "Int64Value"),
               "batch_timeout_micros": (2, "Int64Value"),
               "max_enqueued_batches": (3, "Int64Value"),
               "num_batch_threads": (4, "Int64Value"),
               "thread_pool_name": (5, "StringValue"),
               "enable_large_batch_splitting": (8, "BoolValue"),
               "max_execution_batch_size": (9, "Int64Value")}
    for name, (number, wrapper) in wrapped.items():
        message.field.add(name=name, number=number, label=field.LABEL_OPTIONAL,
                          type=field.TYPE_MESSAGE,
                          type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6,
                      label=field.LABEL_REPEATED, type=field.TYPE_INT64)
    message.field.add(name="pad_variable_length_inputs", number=7,
                      label=field.LABEL_OPTIONAL, type=field.TYPE_BOOL)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file_proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


BatchingParametersProto = _message_class()


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """The batching settings both batchers use (TF Serving's session-level
    one and TensorFlow's in-graph `BatchFunction`).

    Attributes:
        max_batch_size: most rows of one request; also of one merged run
            unless `max_execution_batch_size` is set.
        batch_timeout_micros: longest a request waits for others before
            its batch runs anyway.
        num_batch_threads: batches run at once.
        max_enqueued_batches: batches waiting at most; a request finding
            the queue full is refused (UNAVAILABLE).
        allowed_batch_sizes: sizes a batch is padded up to (a row
            repeated); empty: none.
        max_execution_batch_size: with TF Serving's
            `enable_large_batch_splitting`: most rows of one merged run, a
            larger request being split across runs; None: no splitting.
    """

    max_batch_size: int = DEFAULTS["max_batch_size"]
    batch_timeout_micros: int = DEFAULTS["batch_timeout_micros"]
    num_batch_threads: int = DEFAULTS["num_batch_threads"]
    max_enqueued_batches: int = DEFAULTS["max_enqueued_batches"]
    allowed_batch_sizes: tuple = ()
    max_execution_batch_size: int = None

    def __post_init__(self):
        sizes = list(self.allowed_batch_sizes)
        if self.max_batch_size < 1 or self.num_batch_threads < 1:
            raise ValueError("max_batch_size and num_batch_threads must be "
                             "at least 1")
        if not 1 <= self.batch_rows <= self.max_batch_size:
            raise ValueError("max_execution_batch_size must lie between 1 "
                             "and max_batch_size")
        if sizes and (sizes != sorted(set(sizes)) or sizes[0] < 1):
            raise ValueError("allowed_batch_sizes must increase, from 1 up")
        if sizes and sizes[-1] != self.batch_rows:
            name = ("max_execution_batch_size" if self.max_execution_batch_size
                    else "max_batch_size")
            raise ValueError(
                f"Last entry in allowed_batch_sizes must match {name}; last "
                f"entry was {sizes[-1]}; expected {self.batch_rows}")

    @property
    def batch_rows(self):
        """Most rows of one merged run."""
        return self.max_execution_batch_size or self.max_batch_size

    def padded_size(self, size):
        """The batch size a batch of `size` rows runs at."""
        return next((allowed for allowed in self.allowed_batch_sizes
                     if allowed >= size), size)


def parse(text):
    """`BatchingParameters` of a text proto; unset fields take TF Serving's
    defaults.

    Raises:
        ValueError: not a `BatchingParameters` text proto, or values TF
            Serving refuses; the message names the problem.
    """
    proto = BatchingParametersProto()
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as error:
        raise ValueError(f"not a BatchingParameters text proto: {error}") from None
    if proto.pad_variable_length_inputs:
        raise ValueError("pad_variable_length_inputs is not supported: every "
                         "input of these signatures has a fixed shape")
    values = {name: getattr(proto, name).value for name in DEFAULTS
              if proto.HasField(name)}
    if proto.enable_large_batch_splitting.value:
        values["max_execution_batch_size"] = (
            proto.max_execution_batch_size.value
            if proto.HasField("max_execution_batch_size")
            else values.get("max_batch_size", DEFAULTS["max_batch_size"]))
    return BatchingParameters(**values,
                              allowed_batch_sizes=tuple(proto.allowed_batch_sizes))


def read(path):
    """`parse` of the file at `path`.

    Raises:
        ValueError: unreadable, or `parse` refuses it; names the file.
    """
    try:
        with tf.io.gfile.GFile(path) as stream:
            return parse(stream.read())
    except (OSError, tf.errors.OpError) as error:
        raise ValueError(f"cannot read batching parameters {path}: "
                         f"{getattr(error, 'message', error)}") from None
    except ValueError as error:
        raise ValueError(f"batching parameters {path}: {error}") from None


def chosen(enabled, path, default):
    """The parameters a command runs with: None when batching is not
    `enabled`, else those of the file at `path` (`read`), or `default`
    when no file is named.

    Raises:
        ValueError: as `read`.
    """
    if not enabled:
        return None
    return read(path) if path else default
