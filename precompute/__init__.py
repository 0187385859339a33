"""TX-Ray precompute: record, aggregate and compare neuron activation distributions."""

__version__ = "0.1.0"
