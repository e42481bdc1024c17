"""Heading anchors as GitHub makes them, so that ``page.md#anchor`` links work on GitHub and in the site."""

from __future__ import annotations

import re
import unicodedata


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower-cased text; letters, marks, digits, ``_``, ``-`` and spaces kept,
    everything else dropped; each space becomes ``-``.

    Examples
    --------
    >>> github_slug("6. Clusters and large cohorts")
    '6-clusters-and-large-cohorts'
    """
    text = re.sub(r"<[^>]+>", "", heading).replace("`", "").strip().lower()
    kept = (c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return "".join(kept).replace(" ", "-")
