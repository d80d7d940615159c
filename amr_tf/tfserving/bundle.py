"""A SavedModel version loaded the way TF Serving's C++ loader loads it.

TF Serving (`SavedModelBundle` in C++) imports the "serve" MetaGraph into a
session, runs the saver's restore op on `variables/`, and answers requests
with `Session::Run` on the tensor names of a `SignatureDef`. It never looks
at the Python object graph that `tf.saved_model.load` restores through, so
an export can load and run in Python yet fail every request in TF Serving
(FAILED_PRECONDITION "Could not find variable ..."; tensorflow/tensorflow
#72963). `saved_model_cli run` takes the session path too.

`SavedModelBundle` takes that path, so the stand-in server, the export's
own check and the tests cannot pass what TF Serving would refuse. It is a
little stricter than TF Serving: a version whose signatures read a variable
the restore left uninitialised is refused at load time, where TF Serving
would load it and fail every request that reads the variable.
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from amr_tf.tfserving import contract


class LoadError(Exception):
    """A version that cannot be served; the message is one line."""


class SavedModelBundle:
    """The "serve" MetaGraph of one SavedModel in its own graph and session.

    Args:
        path: a SavedModel folder (a TF Serving version folder).

    Attributes:
        path: the folder.
        signature_defs: signature name -> `SignatureDef` proto.

    Raises:
        LoadError: no SavedModel, no "serve" MetaGraph, a failed restore, or
            a variable the restore did not initialise.
    """

    def __init__(self, path):
        self.path = path
        graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=graph)
        try:
            with graph.as_default():
                meta_graph = tf.compat.v1.saved_model.loader.load(
                    self._session, [contract.SERVING_TAG], path)
                self._check_variables_restored(
                    graph, meta_graph.signature_def)
        except (OSError, RuntimeError, ValueError, tf.errors.OpError) as error:
            self._session.close()
            raise LoadError(f"cannot load {path}: {_first_line(error)}") from None
        graph.finalize()  # Requests only run it; nothing may add ops.
        self.signature_defs = dict(meta_graph.signature_def)

    def _check_variables_restored(self, graph, signature_defs):
        handles = _variables_read_by(graph, [
            info.name for signature in signature_defs.values()
            for info in signature.outputs.values()])
        if not handles:
            return
        initialized = self._session.run(
            [tf.raw_ops.VarIsInitializedOp(resource=handle) for handle in handles])
        missing = [handle.op.name for handle, ok in zip(handles, initialized)
                   if not ok]
        if missing:
            raise ValueError(
                f"the session restore leaves {len(missing)} variable(s) that "
                f"signatures read uninitialised (first: {missing[0]}); TF "
                "Serving would fail every request that reads them")

    def run(self, signature_name, feeds, output_keys):
        """Runs a signature on NumPy inputs by key; returns NumPy outputs.

        Args:
            signature_name: a key of `signature_defs`.
            feeds: input key -> array, every input of the signature.
            output_keys: the outputs to compute.

        Raises:
            tf.errors.OpError: the graph refused the inputs (e.g. its
                request checks failed: `InvalidArgumentError`).
        """
        signature = self.signature_defs[signature_name]
        feed_dict = {signature.inputs[key].name: value
                     for key, value in feeds.items()}
        fetches = {key: signature.outputs[key].name for key in output_keys}
        return self._session.run(fetches, feed_dict)

    def close(self):
        self._session.close()


def _variables_read_by(graph, names):
    """The `VarHandleOp` outputs that the named tensors (or ops) depend on."""
    elements = [graph.as_graph_element(name) for name in names]
    pending = [getattr(element, "op", element) for element in elements]
    seen = set()
    handles = []
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type == "VarHandleOp":
            handles.append(op.outputs[0])
        pending += [tensor.op for tensor in op.inputs] + list(op.control_inputs)
    return sorted(handles, key=lambda handle: handle.name)


def read_signature_defs(path):
    """Signature name -> `SignatureDef` of the "serve" MetaGraph in the
    SavedModel at `path`, read from `saved_model.pb` without loading it."""
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as stream:
        proto.ParseFromString(stream.read())
    for meta_graph in proto.meta_graphs:
        if contract.SERVING_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise LoadError(f"{path} has no {contract.SERVING_TAG!r} MetaGraph")


def _first_line(error):
    text = str(getattr(error, "message", error)).strip()
    return text.splitlines()[0] if text else type(error).__name__
