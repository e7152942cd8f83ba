"""Runs: finding calls on disk with their metadata, grading one (`score`) or a folder
of them night after night (`batch`).
"""
