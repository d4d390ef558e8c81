"""The rehearsal: the stack's containers running for real on a Docker engine (`make rehearsal`)."""
