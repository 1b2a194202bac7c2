"""Scripted form filling: the YAML script format (``script``), the runner (``runner``) and the
per-row results ledger (``results``)."""
