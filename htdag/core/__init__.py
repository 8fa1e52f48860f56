"""The PostgreSQL DAG engine: definitions, engine, worker. Knows nothing of
goals, decomposers or the optimizer."""
