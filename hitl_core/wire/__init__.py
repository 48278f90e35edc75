"""Conversions between the hitl-kit contract and other wire formats."""
