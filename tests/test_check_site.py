"""The site checker (docs/check_site.py) finds what it is there to find, on a small hand-made site.

The browser half (screenshots, images, formulas) needs Chromium and a built site and is run by hand; the
HTML half — pages reachable through navigation, internal links that resolve — is plain parsing, checked
here against a site whose faults are known.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def check_site():
    spec = importlib.util.spec_from_file_location("check_site", ROOT / "docs" / "check_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(body: str) -> str:
    return f"<!doctype html><html><body>{body}</body></html>"


@pytest.fixture
def site(tmp_path):
    """index -> guide/a (nav) -> guide/b (toctree); orphan.html linked only from prose; two broken links."""
    (tmp_path / "guide").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "style.css").write_text("")
    (tmp_path / "index.html").write_text(
        _page(
            '<link rel="stylesheet" href="_static/style.css?v=1">'
            '<nav><a href="guide/a.html">A</a><a href="https://example.org/">out</a></nav>'
            '<p><a href="orphan.html">prose only</a></p>'
        )
    )
    (tmp_path / "guide" / "a.html").write_text(
        _page(
            '<h2 id="part">Part</h2>'
            '<div class="toctree-wrapper"><a href="b.html">B</a></div>'
            '<p><a href="#part">here</a> <a href="b.html#nowhere">bad anchor</a> <a href="../missing.html">gone</a></p>'
        )
    )
    (tmp_path / "guide" / "b.html").write_text(_page('<p id="x"><a href="../index.html#top">home</a></p>'))
    (tmp_path / "orphan.html").write_text(_page("<p>reached by no navigation</p>"))
    (tmp_path / "search.html").write_text(_page(""))
    return tmp_path


def test_pages_are_found(check_site, site):
    assert check_site.pages(site) == [
        "guide/a.html",
        "guide/b.html",
        "index.html",
        "orphan.html",
        "search.html",
    ]


def test_reachable_follows_navigation_only(check_site, site):
    seen = check_site.reachable(site)
    assert seen == {"index.html", "guide/a.html", "guide/b.html"}  # not orphan.html: linked from prose only


def test_broken_links_are_named(check_site, site):
    broken = check_site.broken_links(site, check_site.pages(site))
    assert sorted(broken) == [
        "guide/a.html: ../missing.html (no file missing.html)",
        "guide/a.html: b.html#nowhere (no id 'nowhere' in guide/b.html)",
        "guide/b.html: ../index.html#top (no id 'top' in index.html)",
    ]


def test_a_sound_site_passes(check_site, site):
    (site / "guide" / "a.html").write_text(
        _page('<h2 id="part">Part</h2><div class="toctree-wrapper"><a href="b.html#x">B</a></div>')
    )
    (site / "guide" / "b.html").write_text(_page('<p id="x"><a href="../index.html">home</a></p>'))
    (site / "index.html").write_text(
        _page('<nav><a href="guide/a.html">A</a><a href="orphan.html">O</a></nav>')
    )
    assert check_site.broken_links(site, check_site.pages(site)) == []
    assert check_site.reachable(site) == {"index.html", "guide/a.html", "guide/b.html", "orphan.html"}
