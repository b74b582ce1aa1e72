"""Finite-volume backend (the embedded default): tensor grids and the flow operator (MATH §8)."""

from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator

__all__ = ["Grid", "FlowOperator"]
