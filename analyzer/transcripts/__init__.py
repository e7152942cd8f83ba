"""Transcripts: the Transcript dataclasses every stage passes on, and the readers
that turn transcript files of every format into them.
"""
