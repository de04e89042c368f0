"""Training frameworks watched in their own idiom, each on top of mmtui.watch: a Lightning Callback
(mmtui.integrations.lightning), a transformers TrainerCallback (mmtui.integrations.transformers), and the
zero-line watch of `mmtui run` (mmtui.integrations.autowatch)."""
