"""Vector -> probabilities: zero-shot prototypes, a trained head and out-of-scope scoring."""
