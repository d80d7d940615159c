"""Metrics of METHOD.md §6: classifier FID, ACAI's benchmarks, latent structure
and the quality of decoded mixes."""
