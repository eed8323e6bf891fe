"""The posting pipeline: embedding, and the reconciler that keeps every posting moving."""
