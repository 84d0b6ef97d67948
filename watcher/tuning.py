"""What analysts' labels say about a topic (pure functions): agreement, the threshold
that fits them best, words the topic misses, and the edit that applies the proposal.

``watcher try`` shows precision and recall against the labels before and after an
edit; ``watcher tune`` proposes a ``min_score`` and candidate ``context`` terms and
prints them as a diff of the watchlist file.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from watcher import rules
from watcher.matcher import Matcher

if TYPE_CHECKING:
    from watcher.models import Article
    from watcher.segment import Segmenter
    from watcher.watchlists import Topic

WORD = re.compile(r"^[\u3400-\u9fff]{2,6}$")


@dataclass(frozen=True)
class Agreement:
    """How a topic's matches agree with the labels of one topic."""

    tp: int  # matched and labelled relevant
    fp: int  # matched, labelled not relevant
    fn: int  # not matched, labelled relevant
    tn: int  # not matched, labelled not relevant

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    def summary(self) -> str:
        """``P 0.83 R 0.71 (5 of 7 relevant found, 1 wrong)``"""

        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.2f}"

        return (
            f"P {num(self.precision)} R {num(self.recall)} "
            f"({self.tp} of {self.tp + self.fn} relevant found, {self.fp} wrong)"
        )


def agreement(matched: Collection[str], labels: Mapping[str, bool]) -> Agreement:
    """Compare the ids a topic matches with the labelled ids (relevant or not)."""
    tp = sum(1 for k, yes in labels.items() if yes and k in matched)
    fp = sum(1 for k, yes in labels.items() if not yes and k in matched)
    fn = sum(1 for k, yes in labels.items() if yes and k not in matched)
    tn = sum(1 for k, yes in labels.items() if not yes and k not in matched)
    return Agreement(tp, fp, fn, tn)


def best_threshold(
    scores: Mapping[str, float], labels: Mapping[str, bool]
) -> tuple[float, Agreement]:
    """The ``min_score`` that best separates the labels: highest F1, then highest
    precision, then the lowest such threshold. ``scores`` hold the score of every
    labelled article the topic matches with no threshold (the others score 0)."""
    candidates = sorted({0.0, *(scores[k] for k in labels if k in scores)})
    best: tuple[tuple[float, float, float], float, Agreement] | None = None
    for threshold in candidates:
        matched = {k for k, s in scores.items() if s >= threshold and s > 0}
        found = agreement(matched, labels)
        rank = (found.f1 or 0.0, found.precision or 0.0, -threshold)
        if best is None or rank > best[0]:
            best = (rank, threshold, found)
    assert best is not None
    return best[1], best[2]


def candidate_terms(
    missed: Sequence[str],
    negatives: Sequence[str],
    cut: Callable[[str], Iterable[str]],
    known: Collection[str],
    limit: int = 8,
) -> list[tuple[str, int, int]]:
    """Words in many relevant articles the topic missed and in few labelled not
    relevant: (word, missed articles holding it, not-relevant ones holding it)."""
    if not missed:
        return []
    in_missed = Counter(w for text in missed for w in {w for w in cut(text) if WORD.match(w)})
    in_negative = Counter(w for text in negatives for w in set(cut(text)))
    floor = 2 if len(missed) >= 3 else 1
    out = []
    for word, n in in_missed.items():
        if n < floor or word in known or any(word in k or k in word for k in known):
            continue
        share = n / len(missed) - (in_negative[word] / len(negatives) if negatives else 0.0)
        if share > 0.2:
            out.append((share, word, n, in_negative[word]))
    out.sort(key=lambda x: (-x[0], -x[2], x[1]))
    return [(word, n, neg) for _, word, n, neg in out[:limit]]


@dataclass(frozen=True)
class Suggestion:
    """What a topic's labels propose (``watcher tune`` and the web app's topic page)."""

    relevant: int  # labelled relevant
    not_relevant: int
    now: Agreement  # the topic as it is
    threshold: float  # the min_score that fits the labels best
    best: Agreement  # what that min_score gives
    terms: tuple[tuple[str, int, int], ...]  # candidate context terms (word, missed, not)


def suggest(
    topic: Topic, labelled: Sequence[tuple[str, bool, Article]], segmenter: Segmenter
) -> Suggestion:
    """Agreement now, the best ``min_score`` and candidate terms, from ``labelled``
    (article id, relevant, article)."""
    verdicts = {key: yes for key, yes, _ in labelled}
    stays = Matcher([topic], segmenter)
    now = agreement({k for k, _, a in labelled if stays.match(a)}, verdicts)
    # Scores with no threshold: what a min_score would keep or drop.
    opened = Matcher([replace(topic, min_score=0.0)], segmenter)
    scores = {k: m.score for k, _, a in labelled for m in opened.match(a)}
    threshold, best = best_threshold(scores, verdicts)
    missed = [a for k, yes, a in labelled if yes and k not in scores]
    negatives = [a for _, yes, a in labelled if not yes]
    terms = candidate_terms(
        [f"{a.headline}\n{a.body}" for a in missed],
        [f"{a.headline}\n{a.body}" for a in negatives],
        segmenter.cut,
        {term.text for term in rules.terms(topic.query)},
    )
    yes = sum(verdicts.values())
    return Suggestion(yes, len(verdicts) - yes, now, threshold, best, tuple(terms))


def proposed_edit(
    text: str, min_score: float | None, terms: Sequence[str], name: str = "watchlist"
) -> str:
    """A unified diff that sets ``min_score`` and adds ``terms`` to ``context:`` in a
    one-topic watchlist file (an empty string when nothing changes)."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    out = list(lines)
    if min_score is not None:
        value = f"min_score: {min_score:g}\n"
        at = next((i for i, ln in enumerate(out) if ln.startswith("min_score:")), None)
        if at is None:
            out.append(value)
        else:
            out[at] = value
    if terms:
        at = next((i for i, ln in enumerate(out) if ln.startswith("context:")), None)
        if at is None:
            out.append(f"context: [{', '.join(terms)}]\n")
        elif "[" in out[at]:
            head, _, rest = out[at].partition("[")
            inner = rest.rsplit("]", 1)[0].strip()
            joined = ", ".join([*([inner] if inner else []), *terms])
            out[at] = f"{head}[{joined}]\n"
        else:  # a block list: add items after its last one
            end = at + 1
            while end < len(out) and out[end].startswith(("  -", "- ")):
                end += 1
            indent = "  - " if end > at + 1 and out[at + 1].startswith("  -") else "- "
            out[end:end] = [f"{indent}{t}\n" for t in terms]
    return "".join(difflib.unified_diff(lines, out, name, f"{name} (proposed)"))
