"""The problem: neurons and their constraints, bands, the networks' forward pass and pullback, the bounded loop."""
