"""The graph model: DAGs, plans, statuses, results, callbacks, hooks and traces."""
