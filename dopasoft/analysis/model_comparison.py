"""Random-effects Bayesian model selection, re-exported from :mod:`dopasoft.fitting.model_selection`.

dopasoft has one implementation (Stephan et al. 2009, with the Bayesian omnibus risk and protected
exceedance probabilities of Rigoux et al. 2014, exceedance probabilities by exact integration); it lives
in the fitting package and is available here under the same names for the analysis code.
"""

from __future__ import annotations

from dopasoft.fitting.model_selection import BMSResult, bms, dirichlet_free_energy, exceedance_probabilities

__all__ = ["BMSResult", "bms", "exceedance_probabilities", "dirichlet_free_energy"]
