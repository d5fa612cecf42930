"""Representation: who may act for whom (mandates, and parents for their children's vaults)."""
