"""Serving exported models: a gRPC client, and a local stand-in for TF Serving."""
