"""The TF Serving stand-in for development and tests: gRPC and REST over
exported models, loaded and kept current as TF Serving does."""
