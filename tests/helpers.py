"""Call builders shared by the tests."""

from analyzer.transcripts.transcript import Transcript, Turn


def make_call(lines, call_id="call", step=5.0, **kwargs) -> Transcript:
    """Turns from (speaker, text) pairs, each `step` seconds long."""
    turns = [
        Turn(speaker=s, text=t, start=i * step, end=(i + 1) * step)
        for i, (s, t) in enumerate(lines)
    ]
    return Transcript(call_id=call_id, turns=turns, **kwargs)


GOOD_CALL = [
    ("Sam", "Good morning, Northwind, Sam speaking."),
    (
        "Alex",
        "Hi, this is Alex with Acme Solution. Could you put me thru to whoever handles purchasing?",
    ),
    ("Sam", "Who's calling, please?"),
    ("Alex", "It's about how you book demos, I'll be quick."),
    ("Sam", "One moment."),
    ("Dana", "Dana here."),
    ("Alex", "Hi Dana, this is Alex from Acme Solutions. Is now a bad time?"),
    ("Dana", "No, go ahead."),
    ("Alex", "How are you handling scheduling today?"),
    ("Dana", "Spreadsheets mostly. It's a real headache for us."),
    ("Alex", "What is the biggest challenge with that? And how many reps are on the team?"),
    ("Dana", "Twelve reps. Honestly we're happy with our current provider though."),
    ("Alex", "I completely understand."),
    ("Dana", "Fine."),
    ("Alex", "Can we book a demo on Thursday at ten?"),
    ("Dana", "Thursday works."),
]


# A short good call as a plain-text transcript with [mm:ss] stamps.
TEXT_CALL = """\
[00:00] Alex: Hi Dana, this is Alex with Acme Solution. Is now a bad time?
[00:05] Dana: No, go ahead.
[00:09] Alex: How are you handling scheduling today? What is the biggest challenge with that?
[00:16] Dana: It's a real headache for us.
[00:20] Alex: How many reps are on the team?
[00:24] Dana: Twelve.
[00:27] Alex: Can we book a demo on Thursday at ten?
[00:31] Dana: Sure, Thursday works.
"""
