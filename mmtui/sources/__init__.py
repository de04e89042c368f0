"""Sources of snapshots behind the one Source protocol of mmtui.records: the trainer, run files, a script,
TensorBoard logs, the files read through one follower (follow.py); never textual."""
