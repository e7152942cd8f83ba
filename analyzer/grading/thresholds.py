"""The grader's score scale, defined once: every matcher maps its evidence onto it.

A sentence's score for an item is in [0, 1] whatever decided it (words, meaning, a learned
model); the item is met at MET_SCORE and earns partial credit from PARTIAL_SCORE.
"""

MET_SCORE = 0.75  # a sentence scoring this shows the behaviour (a trigger counts as said)
PARTIAL_SCORE = 0.6  # a near miss: half credit when nothing better was said
