"""Words of candidate titles: their frequencies, and a word cloud of them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

# Figures are built without pyplot: no global figure registry to leak into, no backend to
# choose, and a notebook still shows them inline.
from matplotlib.figure import Figure

WORDCLOUD_SEED = 13  # fixed so the same titles always give the same picture
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def default_stopwords(extra: Iterable[str] = ()) -> frozenset[str]:
    """wordcloud's English stop words plus `extra`, lower-cased."""
    from wordcloud import STOPWORDS

    return frozenset(w.casefold() for w in (*STOPWORDS, *extra))


def title_word_frequencies(titles: Iterable[object], stopwords: Iterable[str] = ()) -> Counter[str]:
    """How often each lower-cased word occurs across `titles`, stop words left out.

    Words are runs of letters (inner ``'`` and ``-`` kept: "e-commerce"); numbers,
    punctuation, single letters and missing titles are ignored.
    """
    stop = {w.casefold() for w in stopwords}
    counts: Counter[str] = Counter()
    for title in titles:
        if not isinstance(title, str):
            continue
        counts.update(w for w in _WORD.findall(title.casefold()) if len(w) > 1 and w not in stop)
    return counts


def wordcloud_figure(
    freqs: Mapping[str, int], *, max_words: int = 100, title: str | None = None
) -> Figure:
    """A word cloud of `freqs` (bigger = more frequent); the same input gives the same image."""
    from wordcloud import WordCloud

    fig = Figure(figsize=(12, 6.4), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title or f"Most frequent words in candidate titles (top {max_words})")
    if not freqs:
        ax.text(0.5, 0.5, "no title words to show", ha="center", va="center", fontsize=16)
        return fig
    cloud = WordCloud(
        width=1600,
        height=800,
        background_color="white",
        colormap="viridis",
        max_words=max_words,
        random_state=WORDCLOUD_SEED,
        collocations=False,
    ).generate_from_frequencies(dict(freqs))
    ax.imshow(cloud.to_array(), interpolation="bilinear")
    return fig
