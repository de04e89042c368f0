"""The Textual app and its panels; reads snapshots, never imports torch."""
