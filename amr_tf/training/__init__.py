"""Training a run: `trainer.train` builds the model, runs the loop
(checkpoints, preemption, numerical faults), writes summaries, the final
figure and the export; `restore.load_trained` rebuilds a trained run from
its directory."""
