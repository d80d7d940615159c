"""Calling a served model: gRPC and REST clients of the serving contract
(`amr_tf.tfserving.contract`) and loading images as the model takes them.
Free of Keras and of the exporter."""
