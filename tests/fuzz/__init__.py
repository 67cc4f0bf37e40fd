"""Fuzz tests: bad and odd input must be rejected cleanly, never crash."""
