"""A leaf library: text encoder, vector index and matching maths. Imports nothing of ours."""
