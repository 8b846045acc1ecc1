"""Fault injection for the whole pipeline on a private stack (``python benchmarks/chaos.py``)."""

from govwatch_dev.chaos.harness import ChaosRun, Result
from govwatch_dev.chaos.private_stack import PrivateStack
from govwatch_dev.chaos.scenarios import SCENARIOS, Params, table

__all__ = ["SCENARIOS", "ChaosRun", "Params", "PrivateStack", "Result", "table"]
