"""Tests of the runnable examples: each is run as a user would, and its effects are checked."""
