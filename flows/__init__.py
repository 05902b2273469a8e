"""Prefect flows: thin orderings of satwatch functions, installed as ``satwatch.flows``."""
