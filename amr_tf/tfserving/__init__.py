"""TF Serving's side of an export: the signature contract, version folders,
loading a version through TF Serving's session path, `Predict` on it, and
warm-up records. The exporter checks an export against it, the stand-in
serves with it, the clients call its signatures."""
