"""Hierarchical Bayesian fitting: full posteriors by NUTS (nutpie) (docs/fitting.md, "Full Bayes").

:mod:`~dopasoft.fitting.bayes.models` declares the hierarchical models (hBayesDM's by name, the Soft Q
models with a default group prior), :mod:`~dopasoft.fitting.bayes.density` their joint log density
and its gradient, :mod:`~dopasoft.fitting.bayes.sampling` runs nutpie on it and
:mod:`~dopasoft.fitting.bayes.result` holds the posterior (:class:`PosteriorResult`). Sampling needs
the ``[bayes]`` extra (nutpie, ArviZ): ``pip install -e '.[bayes]'``; the declarations and the
density do not.
"""

from dopasoft.fitting.bayes.density import LogDensity
from dopasoft.fitting.bayes.models import HBAYESDM_MODELS, HierModel, HierParam, hierarchical_model
from dopasoft.fitting.bayes.result import PosteriorResult
from dopasoft.fitting.bayes.sampling import sample

__all__ = [
    "HBAYESDM_MODELS",
    "HierModel",
    "HierParam",
    "LogDensity",
    "PosteriorResult",
    "hierarchical_model",
    "sample",
]
