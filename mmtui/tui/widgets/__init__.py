"""The app's panels, one widget per module."""
