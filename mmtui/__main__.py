"""Entry point for `python -m mmtui`."""

from mmtui.cli import main

main()
