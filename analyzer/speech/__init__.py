"""Speech to text: audio decoding, voice activity, the recognisers and their models,
and the pipeline that turns a recording into a Transcript.
"""
