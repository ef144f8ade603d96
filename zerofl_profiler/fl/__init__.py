"""Federated learning: data, partitions, SWAT clients, ZeroFL uploads, aggregation, engines."""
