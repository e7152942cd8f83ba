"""The review stage: what a manager sees and does on a call (confirm, override, dispute), the
queue of calls that need a look, and the user accounts.

rules.py holds the rules every reader of grades shares (the grade that counts, a grade
recomputed from a manager's statuses, who may see a call); views.py what a person reads of a
call; decisions.py confirming and disputing; queue.py the review queue; users.py accounts,
passwords, sessions and API tokens. All of it reads and writes through the store.
"""
