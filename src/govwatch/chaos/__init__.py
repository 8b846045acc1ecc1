"""Fault injection for the whole pipeline on a private stack (``python benchmarks/chaos.py``)."""

from govwatch.chaos.harness import ChaosRun, Result
from govwatch.chaos.private_stack import PrivateStack
from govwatch.chaos.scenarios import SCENARIOS, Params, table

__all__ = ["SCENARIOS", "ChaosRun", "Params", "PrivateStack", "Result", "table"]
