"""The training engine: data, model, training loop and statistics; never imports a UI library."""
