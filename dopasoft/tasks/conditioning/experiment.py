"""Former home of the conditioning runner, kept so that existing scripts still import.

``simulate_conditioning``, ``conditioning_agent``, ``read_session`` and ``CONDITIONING_DEFAULTS`` live in
:mod:`dopasoft.experiments.conditioning` (``dopasoft.tasks`` holds environments only); they are looked up
there on first use, so ``from dopasoft.tasks.conditioning.experiment import simulate_conditioning`` gives
the same objects.
"""

from typing import Any

_MOVED = ("CONDITIONING_DEFAULTS", "conditioning_agent", "read_session", "simulate_conditioning")


def __getattr__(name: str) -> Any:
    # Lazy: the experiments layer imports the tasks, so it cannot be imported here at the top.
    if name in _MOVED:
        from dopasoft.experiments import conditioning

        return getattr(conditioning, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
