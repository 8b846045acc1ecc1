"""JSON contracts, installed as package data of ``govwatch_schemas`` (loaded with importlib.resources)."""
