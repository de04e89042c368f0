"""mmtui: watch a net's activations and gradients live while it trains: the makemore lecture's, or any PyTorch
loop."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`mmtui.watch` loads torch when first used: `import mmtui` loads neither torch nor textual."""
    if name == "watch":
        from mmtui.watcher import watch

        return watch
    raise AttributeError(f"module 'mmtui' has no attribute {name!r}")
