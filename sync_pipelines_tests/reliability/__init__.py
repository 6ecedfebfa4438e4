"""Reliability and security: fault injection, quota stops, chaos rounds, bad input, leaks."""
