"""mmtui: watch a makemore MLP's activations and gradients live while it trains."""

__version__ = "0.1.0"
