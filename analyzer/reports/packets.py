"""`analyzer export --packet DIR`: coaching packets, one page per rep.

For each rep with flagged calls, `write_packets` writes `<rep-slug>.html` and the same content as
`<rep-slug>.md`: per flagged call, its flags, the weak phases (scored phases under 50% of their
weight), and per missed item the item text, what the rubric expected instead (its phrases, when
`rubrics/<rubric>.yaml` can be found beside the database or in the working folder), the
sentence said for a forbidden item ("Said a forbidden line: ..."), the
transcript turns around the moment (±2 turns) and a short audio clip of that moment
(`clips/<call>-<item>.wav`, [start-2 s, end+3 s], mono 16-bit PCM at the decoded rate) when the
call has a recording. `index.html` links the reps.

What each call shows is read by `reports.coaching` (the grade that counts, as
`analyzer.reports.export` reads it: `review.rules.counting`). Everything is built in a
temporary folder beside DIR and renamed into place, so a failure leaves nothing half-written; a
DIR that exists and is not empty is refused.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import wave
from pathlib import Path

import numpy as np
from jinja2 import Environment

from analyzer.errors import AnalyzerError, ExportError
from analyzer.grading.rubric import Rubric
from analyzer.reports.coaching import CallPacket, MissedItem, RepPacket, call_packet, slug_of
from analyzer.reports.export import ExportRow
from analyzer.speech.audio import TARGET_RATE, iter_audio
from analyzer.store import Store

CLIPS = "clips"


# -- clips ---------------------------------------------------------------------------------------


def _cut_clips(audio: Path, wanted: list[tuple[Path, float, float]]) -> None:
    """Decode `audio` once and write each (path, start, end) as mono 16-bit PCM at the decoded
    rate. A range past the end of the recording is cut short; one wholly past it is skipped."""
    rate = TARGET_RATE
    parts: list[list[np.ndarray]] = [[] for _ in wanted]
    bounds = [(round(start * rate), round(end * rate)) for _, start, end in wanted]
    offset = 0
    for chunk in iter_audio(audio, chunk_seconds=60.0):
        mono = chunk.mean(axis=0) if chunk.shape[0] > 1 else chunk[0]
        n = mono.shape[0]
        for i, (lo, hi) in enumerate(bounds):
            a, b = max(lo, offset), min(hi, offset + n)
            if a < b:
                parts[i].append(mono[a - offset : b - offset])
        offset += n
        if all(hi <= offset for _, hi in bounds):
            break
    for (path, _, _), pieces in zip(wanted, parts, strict=True):
        if not pieces:
            continue
        samples = np.concatenate(pieces)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())


# -- rendering -----------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #ccc; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta, .note { color: #666; } .flag { background: #fde2e2; padding: 0 .3rem; border-radius: 3px; }
.item { border-left: 3px solid #c33; padding-left: .8rem; margin: 1rem 0; }
.expected li { color: #175; } table.excerpt { border-collapse: collapse; }
table.excerpt td { padding: .15rem .5rem; vertical-align: top; }
tr.focus { background: #fff4c2; font-weight: bold; }
.said { color: #a11; font-weight: bold; }
"""

_REP_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Coaching packet: {{ rep.rep }}</title>
<style>{{ css }}</style></head><body>
<p><a href="index.html">All reps</a></p>
<h1>Coaching packet: {{ rep.rep }}</h1>
<p class="meta">{{ rep.calls|length }} flagged call{{ "" if rep.calls|length == 1 else "s" }}</p>
{% for call in rep.calls %}
<section class="call">
<h2>Call {{ call.row.call_id }}</h2>
<p class="meta">{{ call.row.call_date or "no date" }} · grade {{ grade(call.row) }} ·
{{ verdict(call.row) }} · {{ call.row.status }}</p>
<p>Flags: {% for f in call.row.flags %}<span class="flag">{{ f }}</span> {% endfor %}</p>
<p>Weak phases: {{ call.weak_phases|join(", ") if call.weak_phases else "none" }}</p>
{% if call.audio_note %}<p class="note">{{ call.audio_note }}</p>{% endif %}
{% if call.row.comments %}<p>Comments:</p><ul>{% for c in call.row.comments %}<li>{{ c }}</li>
{% endfor %}</ul>{% endif %}
{% for item in call.missed %}
<div class="item">
<h3>{{ item.phase }}: {{ item.text }}{% if item.critical %} (critical){% endif %}
{%- if item.forbidden %} (forbidden line said){% endif %}</h3>
{% if item.moment %}<p class="meta">at {{ item.moment }}</p>{% endif %}
{% if item.forbidden %}<p class="said">Said a forbidden line:
{%- for s in item.said %} “{{ s }}”{% endfor %}</p>{% endif %}
{% if item.expected %}<p>{{ "Never say" if item.forbidden else "Expected instead" }}:</p>
<ul class="expected">{% for p in item.expected %}<li>{{ p }}</li>{% endfor %}</ul>
{% else %}<p class="note">Expected: {{ item.text }}</p>{% endif %}
{% if item.excerpt %}<table class="excerpt">
{% for t in item.excerpt %}<tr{% if t.focus %} class="focus"{% endif %}><td>{{ t.clock }}</td>
<td>{{ t.speaker }}</td><td>{{ t.text }}</td></tr>
{% endfor %}</table>{% else %}<p class="note">no transcript excerpt</p>{% endif %}
{% if item.clip %}<p><audio controls preload="none" src="{{ item.clip }}"></audio></p>{% endif %}
</div>
{% endfor %}
</section>
{% endfor %}
</body></html>
"""

_INDEX_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Coaching packets</title>
<style>{{ css }}</style></head><body>
<h1>Coaching packets</h1>
{% if reps %}<ul>{% for rep in reps %}<li><a href="{{ rep.slug }}.html">{{ rep.rep }}</a>
({{ rep.calls|length }} flagged call{{ "" if rep.calls|length == 1 else "s" }},
<a href="{{ rep.slug }}.md">Markdown</a>)</li>
{% endfor %}</ul>{% else %}<p>No flagged calls.</p>{% endif %}
</body></html>
"""


def _grade_text(row: ExportRow) -> str:
    return "n/a" if row.grade is None else f"{row.grade:g}"


def _verdict(row: ExportRow) -> str:
    return {True: "passed", False: "failed", None: "no verdict"}[row.passed]


def _env() -> Environment:
    env = Environment(autoescape=True, keep_trailing_newline=True)
    env.globals.update(css=_CSS, grade=_grade_text, verdict=_verdict)
    return env


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _rep_markdown(rep: RepPacket) -> str:
    count = len(rep.calls)
    lines = [f"# Coaching packet: {_md(rep.rep)}", ""]
    lines += [f"{count} flagged call{'' if count == 1 else 's'}", ""]
    for call in rep.calls:
        row = call.row
        lines += [f"## Call {_md(row.call_id)}", ""]
        lines += [
            f"{_md(row.call_date or 'no date')} · grade {_grade_text(row)} · {_verdict(row)} · "
            f"{_md(row.status)}",
            "",
            "Flags: " + ", ".join(f"`{f}`" for f in row.flags),
            "",
            "Weak phases: " + (", ".join(_md(p) for p in call.weak_phases) or "none"),
            "",
        ]
        if call.audio_note:
            lines += [f"*{_md(call.audio_note)}*", ""]
        if row.comments:
            lines += ["Comments:", "", *(f"- {_md(c)}" for c in row.comments), ""]
        for item in call.missed:
            head = f"### {_md(item.phase)}: {_md(item.text)}"
            head += " (critical)" if item.critical else ""
            lines += [head + (" (forbidden line said)" if item.forbidden else ""), ""]
            if item.moment:
                lines += [f"at {item.moment}", ""]
            if item.forbidden:
                quoted = "".join(f" “{_md(s)}”" for s in item.said)
                lines += [f"**Said a forbidden line:**{quoted}", ""]
            if item.expected:
                label = "Never say" if item.forbidden else "Expected instead"
                lines += [f"{label}:", "", *(f"- {_md(p)}" for p in item.expected), ""]
            else:
                lines += [f"Expected: {_md(item.text)}", ""]
            if item.excerpt:
                for t in item.excerpt:
                    said = f"{t.clock} **{_md(t.speaker)}**: {_md(t.text)}".strip()
                    lines.append(f"> {'▶ ' if t.focus else ''}{said}  ")
                lines.append("")
            else:
                lines += ["*no transcript excerpt*", ""]
            if item.clip:
                lines += [f"[Listen to the clip]({item.clip})", ""]
    return "\n".join(lines)


# -- writing -------------------------------------------------------------------------------------


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder: give a new or empty folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ExportError(
            f"{out_dir} exists and is not empty: give a new or empty folder; nothing was written"
        )
    if not out_dir.parent.is_dir():
        raise ExportError(f"{out_dir}: no such folder {out_dir.parent}")


def write_packets(store: Store, rows: list[ExportRow], out_dir: Path) -> list[Path]:
    """Write the coaching packets of the flagged `rows` into `out_dir` (new or empty), whole or
    not at all. Returns the files written, as paths under `out_dir`: index.html first, then per
    rep its HTML and Markdown pages, then the clips.

    Raises ExportError when `out_dir` is not a new or empty folder, or cannot be written."""
    out_dir = Path(out_dir)
    _check_target(out_dir)
    flagged = [row for row in rows if row.flagged]
    reps: dict[str, RepPacket] = {}
    slugs: set[str] = set()
    clip_jobs: list[tuple[CallPacket, Path, list[tuple[MissedItem, str]]]] = []
    rubrics: dict[str, Rubric | None] = {}
    clip_names: set[str] = set()
    with store.reading("reading calls for coaching packets") as conn:
        for row in flagged:
            name = row.rep or "Unknown rep"
            key = name.casefold()
            if key not in reps:
                slug = base = slug_of(name)
                n = 2
                while slug in slugs or slug == "index":
                    slug, n = f"{base}-{n}", n + 1
                slugs.add(slug)
                reps[key] = RepPacket(rep=name, slug=slug, calls=[])
            packet, audio = call_packet(store, conn, row, rubrics)
            reps[key].calls.append(packet)
            if audio is not None:
                wanted = []
                for item in packet.missed:
                    if item.clip_range is None:
                        continue
                    clip = base = f"{slug_of(row.call_id)}-{slug_of(item.item_id)}"
                    n = 2
                    while clip in clip_names:
                        clip, n = f"{base}-{n}", n + 1
                    clip_names.add(clip)
                    wanted.append((item, f"{CLIPS}/{clip}.wav"))
                if wanted:
                    clip_jobs.append((packet, audio, wanted))
                elif packet.missed:
                    packet.audio_note = "no moment to clip"

    temp = out_dir.parent / f".{out_dir.name}.{secrets.token_hex(4)}.tmp"
    written: list[str] = []
    try:
        temp.mkdir()
        (temp / CLIPS).mkdir()
        for packet, audio, wanted in clip_jobs:
            jobs = [(temp / rel, *item.clip_range) for item, rel in wanted if item.clip_range]
            try:
                _cut_clips(audio, jobs)
            except AnalyzerError as e:
                packet.audio_note = f"recording could not be cut: {e}"
                for path, _, _ in jobs:
                    path.unlink(missing_ok=True)
                continue
            for item, rel in wanted:
                if (temp / rel).is_file():
                    item.clip = rel
                    written.append(rel)
        env = _env()
        ordered = list(reps.values())
        index = env.from_string(_INDEX_HTML).render(reps=ordered)
        (temp / "index.html").write_text(index, encoding="utf-8")
        pages: list[str] = []
        template = env.from_string(_REP_HTML)
        for rep in ordered:
            (temp / f"{rep.slug}.html").write_text(template.render(rep=rep), encoding="utf-8")
            (temp / f"{rep.slug}.md").write_text(_rep_markdown(rep), encoding="utf-8")
            pages += [f"{rep.slug}.html", f"{rep.slug}.md"]
        written = ["index.html", *pages, *written]
        # POSIX rename replaces an empty folder and refuses one that filled up since the check.
        os.rename(temp, out_dir)
    except OSError as e:
        shutil.rmtree(temp, ignore_errors=True)
        raise ExportError(f"{out_dir}: cannot write: {e.strerror or e}; nothing was written") from e
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return [out_dir / rel for rel in written]
