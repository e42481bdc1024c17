"""Every task passes gymnasium's own environment checker, so it works with the wider RL ecosystem."""

import warnings

import pytest
from gymnasium.utils.env_checker import check_env

from dopasoft.tasks import (
    ConditioningTask,
    DiscriminationTask,
    InstrumentalConditioningTask,
    TimedDiscriminationTask,
    TwoStepTask,
    chain_mdp,
    random_mdp,
)
from dopasoft.tasks.conditioning import BeliefState, SemiMarkovConditioningTask, variable_delay_session

TASKS = {
    "two-step": lambda: TwoStepTask(n_trials=50),
    "two-step-deterministic": lambda: TwoStepTask(n_trials=50, deterministic=True),
    "conditioning-csc": lambda: ConditioningTask("blocking"),
    "conditioning-presence": lambda: ConditioningTask("acquisition", representation="presence"),
    "conditioning-microstimuli": lambda: ConditioningTask("acquisition", representation="microstimuli"),
    "instrumental": lambda: InstrumentalConditioningTask("acquisition"),
    "conditioning-belief-state": lambda: ConditioningTask(
        variable_delay_session(0.9, n_trials=30, seed=0), representation=BeliefState(p_reward=0.9), dt=0.2
    ),
    "conditioning-semi-markov": lambda: SemiMarkovConditioningTask(
        variable_delay_session(0.9, n_trials=30, seed=0)
    ),
    "chain": lambda: chain_mdp(4),
    "discrimination": lambda: DiscriminationTask(n_trials=50, novel_from=20, seed=0),
    "timed-discrimination": lambda: TimedDiscriminationTask(n_trials=50, novel_from=20, seed=0),
    "random-mdp": lambda: random_mdp(3, 2, seed=0),
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_passes_the_gymnasium_env_checker(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        check_env(TASKS[name](), skip_render_check=True)


def test_the_tasks_package_exports_environments_only():
    import inspect

    import gymnasium as gym

    import dopasoft.tasks as tasks

    classes = {name: obj for name in tasks.__all__ if inspect.isclass(obj := getattr(tasks, name))}
    assert {"TwoStepTask", "ConditioningTask", "InstrumentalConditioningTask", "TabularMDP"} <= set(classes)
    for name, cls in classes.items():
        assert issubclass(cls, gym.Env), name
        assert not hasattr(cls, "act") and not hasattr(cls, "update"), f"{name} looks like an agent"
