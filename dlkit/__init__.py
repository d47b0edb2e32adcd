"""dlkit: one YAML recipe in, one tracked deep-learning experiment out."""

__version__ = "0.1.0"
