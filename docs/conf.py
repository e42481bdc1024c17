"""Sphinx configuration of the dopasoft documentation site.

Build (warnings are errors): ``python -m sphinx -W -b html docs docs/_build/html``. The example gallery
(``examples/``) is executed by sphinx-gallery during the build; ``-D plot_gallery=0`` builds the pages
without running the scripts (CI does this, since ``tests/test_gallery.py`` runs every script).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package from this checkout
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

from figure_scraper import FigureScraper, install  # noqa: E402

import dopasoft  # noqa: E402

install()  # record every matplotlib Figure, pyplot's or not, for the gallery

project = "dopasoft"
author = "dopasoft developers"
copyright = "dopasoft developers"
release = dopasoft.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinx_design",
    "api_links",
    "sphinx-mathjax-offline",  # MathJax in _static: formulas render without network (a rig, a cluster)
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_ext",
    "_templates",
    "auto_examples/**.ipynb",
    "auto_examples/**.py",
    "auto_examples/**.zip",
    "auto_examples/**.md5",
    "auto_examples/**.codeobj.json",
    "sg_execution_times.rst",  # the build's timing report, not a page for readers
    "**/sg_execution_times.rst",
]

# -- markdown pages (the user guide) --------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "deflist", "colon_fence"]
# anchors for ``page.md#heading`` links, slugged as GitHub slugs them (the pages read on GitHub too)
myst_heading_anchors = 4
myst_heading_slug_func = "github_slugs.github_slug"

# -- API reference -------------------------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc shows the types written in the docstrings
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # tests/test_api_docs.py checks the sections instead

# -- example gallery -----------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "subsection_order": [
        "../examples/conditioning",
        "../examples/model_dopamine",
        "../examples/fitting",
        "../examples/theory",
    ],
    "doc_module": ("dopasoft",),
    "backreferences_dir": "api/generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 5,
    "abort_on_example_error": True,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": (FigureScraper(),),
}

# -- HTML ------------------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dopasoft {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": []}
html_show_sourcelink = False
