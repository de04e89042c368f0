"""Sources of snapshots behind the one Source protocol of mmtui.records: the trainer, run files; never textual."""
