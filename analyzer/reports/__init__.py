"""Reports: agreement with hand grades (evaluate, calibrate), coaching exports and
packets, and reports of reps and phases over time.
"""
