"""HTTP plumbing the stand-in's REST API and the explorer share."""
