"""The rehearsal: the stack's containers running for real on a Docker engine, from stand-in images (`make rehearsal`, docs/rehearsal.md)."""
