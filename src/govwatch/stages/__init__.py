"""Stage handlers: the decisions each consumer makes about a batch (consumers/ only wire them up)."""
