"""A language for every stretch of speech: which stretches to identify together, how to trust
what Whisper says on each, and the stretches of one language that are transcribed together.

Plain functions over pauses and probabilities; `vidp.speech` runs the model. The thresholds
were measured with whisper `base` on espeak-ng speech (docs/reference.md, "Languages"):
- a window of up to 30 s of one language scored p >= 0.94; one that mixes whole sentences of
  two languages 0.48-0.62, so only windows below 0.9 are looked at piece by piece (one with a
  short stretch of another language can still score 0.96: the second look below finds it);
- every window is identified, whatever the first says: told English, Whisper translates a
  stretch of Spanish into confident English words, which nothing else would find;
- on a whole sentence (6 s or more) the top answer is right 96% of the time at p >= 0.5 and
  better than any neighbour's guess below it; on shorter speech wrong answers reach p = 0.8;
- a short stretch transcribed in the wrong language comes out as words Whisper is unsure of (mean
  probability 0.3-0.5, against 0.9 and more in the right one) or as no words at all, which is
  how a short stretch inside a sure window is found: it is then identified on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

__all__ = [
    "MAX_WINDOW_S",
    "Assigned",
    "LanguageStretch",
    "Span",
    "Votes",
    "assign",
    "dominant",
    "doubtful",
    "mean_probability",
    "merge",
    "mixed",
    "pack",
    "reassign",
    "surer",
    "untranscribed",
]

MAX_WINDOW_S = 30.0  # Whisper hears 30 s at a time
SURE_WINDOW = 0.9  # a window at least this sure is one language throughout
LONG_S = 6.0  # a stretch this long is a whole sentence: its own answer stands
SURE_SHORT = 0.8  # a shorter one keeps its own answer only this sure
MIN_UNHEARD_S = 1.5  # speech (with VAD's padding) this long with no word in it was dropped
DOUBTFUL_WORDS = 0.6  # mean word probability below which a piece may be in another language
MOVE_DOUBTFUL = 0.5  # a doubtful piece heard alone in another language at this p is tried in it

Votes = dict[str, float]  # language code -> Whisper's probability for it
Word = tuple[float, float, float]  # start, end, probability


class LanguageStretch(BaseModel):
    """Speech in one language, from its first word to its last (pauses inside included)."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    code: str = Field(description="ISO 639-1 where one exists.")
    probability: float | None = Field(
        ge=0, le=1, description="Whisper's probability for this language here; null when forced."
    )


class Span(BaseModel):
    """A stretch of time in the video."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


@dataclass(frozen=True)
class Assigned:
    """One piece of speech (seconds) and the language it is transcribed in."""

    start_s: float
    end_s: float
    code: str
    probability: float | None

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def pack(spans: list[tuple[float, float]], max_s: float = MAX_WINDOW_S) -> list[list[int]]:
    """Consecutive pieces of speech, by index, in groups of at most `max_s` of speech each (the
    pauses between them left out), as Whisper hears them together."""
    groups: list[list[int]] = []
    total = max_s
    for i, (start, end) in enumerate(spans):
        if total + (end - start) > max_s:
            groups.append([])
            total = 0.0
        groups[-1].append(i)
        total += end - start
    return groups


def mixed(windows: list[list[int]], window_votes: list[Votes]) -> list[int]:
    """The pieces to identify one by one: those of the windows not sure of one language, and
    where two sure windows disagree, the pieces either side of the change (the first window
    may end in the second's language, or the second begin in the first's)."""
    best = [_best(votes) for votes in window_votes]
    found: set[int] = set()
    for k, window in enumerate(windows):
        if best[k][1] < SURE_WINDOW:
            found.update(window)
        elif (
            k + 1 < len(windows) and best[k + 1][1] >= SURE_WINDOW and best[k + 1][0] != best[k][0]
        ):
            found.update((window[-1], windows[k + 1][0]))
    return sorted(found)


def _best(votes: Votes) -> tuple[str, float]:
    return max(votes.items(), key=lambda kv: kv[1])


def assign(
    spans: list[tuple[float, float]],
    windows: list[list[int]],
    window_votes: list[Votes],
    piece_votes: dict[int, Votes],
) -> list[Assigned]:
    """The language of each piece of speech: a piece heard on its own (`piece_votes`: those
    `mixed` names) has its own where it is long or sure enough, else its nearest trusted
    neighbour's, else its own; any other has its sure window's."""
    trusted: dict[int, tuple[str, float]] = {}
    unsure: dict[int, Votes] = {}
    for window, votes in zip(windows, window_votes, strict=True):
        code, p = _best(votes)
        for i in window:
            if i not in piece_votes:  # (in a sure window: `mixed`)
                trusted[i] = (code, p)
                continue
            own, q = _best(piece_votes[i])
            if _stands(spans[i], q):
                trusted[i] = (own, q)
            else:
                unsure[i] = piece_votes[i]
    chosen = dict(trusted)
    for i, votes in unsure.items():
        near = min(trusted, key=lambda j: _gap(spans[i], spans[j]), default=None)
        code = trusted[near][0] if near is not None else _best(votes)[0]
        chosen[i] = (code, votes.get(code, 0.0))
    return [
        Assigned(start, end, chosen[i][0], round(chosen[i][1], 4))
        for i, (start, end) in enumerate(spans)
    ]


def _stands(span: tuple[float, float], probability: float) -> bool:
    """Whether a piece's own answer is to be believed."""
    return span[1] - span[0] >= LONG_S or probability >= SURE_SHORT


def mean_probability(span: tuple[float, float], words: list[Word]) -> float | None:
    """The mean probability of the words centred inside `span`; None without any."""
    inside = [p for w0, w1, p in words if span[0] <= (w0 + w1) / 2 < span[1]]
    return sum(inside) / len(inside) if inside else None


def doubtful(spans: list[tuple[float, float]], words: list[Word]) -> list[int]:
    """The pieces whose transcription suggests another language: no word in a piece long enough
    to hold some, or words Whisper is unsure of."""
    found = []
    for i, span in enumerate(spans):
        mean = mean_probability(span, words)
        if (mean is None and span[1] - span[0] >= MIN_UNHEARD_S) or (
            mean is not None and mean < DOUBTFUL_WORDS
        ):
            found.append(i)
    return found


def reassign(pieces: list[Assigned], piece_votes: dict[int, Votes]) -> list[Assigned]:
    """`pieces`, with doubtful ones heard on their own (`piece_votes`) moved to the language
    they are heard in at p >= 0.5. Two signs agree there, and `surer` checks the result."""
    moved = list(pieces)
    for i, votes in piece_votes.items():
        code, q = _best(votes)
        if code != pieces[i].code and q >= MOVE_DOUBTFUL:
            moved[i] = Assigned(pieces[i].start_s, pieces[i].end_s, code, round(q, 4))
    return moved


def surer(
    spans: list[tuple[float, float]], moved: list[int], before: list[Word], after: list[Word]
) -> list[int]:
    """The moved pieces whose words Whisper is surer of in their new language than in the old."""
    return [
        i
        for i in moved
        if (mean_probability(spans[i], after) or 0.0) > (mean_probability(spans[i], before) or 0.0)
    ]


def _gap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(a[0] - b[1], b[0] - a[1], 0.0)


def merge(pieces: list[Assigned]) -> list[LanguageStretch]:
    """Neighbouring pieces in one language as one stretch, its probability the pieces' own
    weighted by their length."""
    stretches: list[list[Assigned]] = []
    for piece in pieces:
        if stretches and stretches[-1][-1].code == piece.code:
            stretches[-1].append(piece)
        else:
            stretches.append([piece])
    return [
        LanguageStretch(
            start_s=round(run[0].start_s, 3),
            end_s=round(run[-1].end_s, 3),
            code=run[0].code,
            probability=_weighted([(p.probability, p.seconds) for p in run]),
        )
        for run in stretches
    ]


def _weighted(values: list[tuple[float | None, float]]) -> float | None:
    known = [(v, w) for v, w in values if v is not None]
    weight = sum(w for _, w in known)
    if not known or weight <= 0:
        return None
    return round(min(1.0, sum(v * w for v, w in known) / weight), 4)


def dominant(pieces: list[Assigned]) -> tuple[str, float | None]:
    """The language spoken longest, and its probability weighted by speaking time."""
    seconds: dict[str, float] = {}
    for piece in pieces:
        seconds[piece.code] = seconds.get(piece.code, 0.0) + piece.seconds
    code = max(seconds, key=lambda c: seconds[c])
    return code, _weighted([(p.probability, p.seconds) for p in pieces if p.code == code])


def untranscribed(spans: list[tuple[float, float]], words: list[tuple[float, float]]) -> list[Span]:
    """Speech that voice activity found and no word covers: each piece of at least
    MIN_UNHEARD_S that no word overlaps (shorter ones are coughs and breaths as often)."""
    return [
        Span(start_s=round(start, 3), end_s=round(end, 3))
        for start, end in spans
        if end - start >= MIN_UNHEARD_S and not any(w0 < end and w1 > start for w0, w1 in words)
    ]
