"""Reports: agreement with hand grades (evaluate, calibrate), coaching exports and
packets, and reports of reps and phases over time.

Agreement: `metrics` (the pure measures), `golden` (golden sets read and checked), `evaluate`
(graded against a golden set), `calibrate` and `calibration` (against confirmed grades).
Coaching: `export` (one row per call), `coaching` and `packets` (one page per rep); `listing`
the stored calls (`analyzer calls`). Over time: `outcomes` (won or lost), `frame` (the calls
frame), `analysis` (the figures), `tables`, `charts` and `report` (shown as a table, CSV or
HTML). `formatting`: numbers as the agreement reports write them.
"""
