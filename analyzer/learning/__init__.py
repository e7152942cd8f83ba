"""Learning: golden sets and the calls managers confirmed, read as labelled examples; the
agreement metrics; per-item models fitted from them into a learned file the grader reads.
"""
