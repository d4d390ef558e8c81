"""The rehearsal: the stack's containers on a real Docker engine, from stand-in images (docs/rehearsal.md)."""
