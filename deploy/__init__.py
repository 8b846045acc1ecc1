"""Installed as ``govwatch_deploy`` only to ship the default feed registry (feeds.yaml) inside the wheel."""
