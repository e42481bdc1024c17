"""A sphinx-gallery image scraper for every matplotlib figure an example makes.

dopasoft's figure functions return :class:`matplotlib.figure.Figure` objects that are not registered with
pyplot (so that nothing is shown by accident), which sphinx-gallery's own matplotlib scraper, reading
``pyplot.get_fignums()``, would miss. This scraper records every Figure as it is created and saves those
made by each code block, pyplot's included, in the order they were made.
"""

from __future__ import annotations

from matplotlib.figure import Figure

_created: list[Figure] = []
_original_init = Figure.__init__


def _recording_init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    _created.append(self)


def install() -> None:
    """Record every Figure created from now on (idempotent)."""
    if Figure.__init__ is not _recording_init:
        Figure.__init__ = _recording_init


class FigureScraper:
    """Save the figures made since the last call, and return their reST (sphinx-gallery scraper protocol)."""

    def __repr__(self) -> str:  # a stable repr: sphinx caches the configuration by it
        return "FigureScraper"

    def __call__(self, block, block_vars, gallery_conf, **kwargs) -> str:
        import matplotlib.pyplot as plt
        from sphinx_gallery.scrapers import figure_rst

        figures = list(dict.fromkeys(_created))  # in creation order, each once
        _created.clear()
        paths = []
        for fig, path in zip(figures, block_vars["image_path_iterator"], strict=False):
            fig.savefig(path, dpi=110)
            paths.append(path)
        plt.close("all")
        return figure_rst(paths, gallery_conf["src_dir"])
