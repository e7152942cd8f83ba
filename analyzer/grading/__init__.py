"""Grading: the rubric, matching sentences to its items (words, meaning, learned
models), roles and phases, and the grade with its evidence.
"""
