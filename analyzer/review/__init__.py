"""Review: what a manager sees and does on a call (confirm, override, dispute), the
queue of calls that need a look, and the user accounts.
"""
