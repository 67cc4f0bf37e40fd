"""Fault tests: failures mid-bring-up, broken boots, load and leaks."""
