"""Memory estimates: refuse a job that cannot fit in memory before it starts, with the estimate.

A job sized by the user (``--n-starts``, ``--isi`` / ``--dt`` of a conditioning task) can ask for more
memory than the machine has; numpy then raises ``MemoryError`` deep inside a computation (or the
system starts swapping). Callers estimate the bytes they will allocate and call
:func:`require_memory` first, which raises a ``ValueError`` naming the estimate and what to change.
"""

from __future__ import annotations

import os

__all__ = ["available_bytes", "format_bytes", "format_count", "require_memory", "require_table_memory"]


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):  # missing, unreadable, or "max" (no limit)
        return None


def available_bytes(meminfo: str = "/proc/meminfo", cgroup: str = "/sys/fs/cgroup") -> int | None:
    """Memory the system can give a new allocation without swapping, in bytes (``None`` if unknown).

    Linux's ``MemAvailable`` (free memory plus reclaimable caches) when ``meminfo`` is readable,
    otherwise free physical pages from ``os.sysconf`` (``SC_AVPHYS_PAGES`` x ``SC_PAGE_SIZE``); in a
    container with a cgroup-v2 memory limit, at most ``memory.max - memory.current``.
    """
    avail = None
    try:
        with open(meminfo, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    limit = _read_int(os.path.join(cgroup, "memory.max"))
    if limit is not None:
        room = max(0, limit - (_read_int(os.path.join(cgroup, "memory.current")) or 0))
        avail = room if avail is None else min(avail, room)
    return avail


def format_bytes(n: float) -> str:
    """``1.5 GB``-style size (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_count(n: int) -> str:
    """A count as the user would write it: ``200``, ``25,000``, or ``10^12`` for a large power of ten."""
    n = int(n)
    if n >= 10**6:
        e = len(str(n)) - 1
        if n == 10**e:
            return f"10^{e}"
    return f"{n:,}"


def _singular(noun: str) -> str:
    """``"1 trial"``, ``"1 time bin (--dt)"``: the first word without its plural ``s``."""
    first, sep, rest = noun.partition(" ")
    return (first[:-1] if first.endswith("s") else first) + sep + rest


def require_table_memory(bytes_per_row: float, sizes: dict[str, int], what: str, advice: str) -> None:
    """:func:`require_memory` for a job whose memory grows with the product of its sizes.

    ``sizes`` maps each size, in the caller's terms (``"subjects"``, ``"trials"``; an option name such
    as ``"--n-trials"``), to its value; the message reads e.g. ``simulating 10^12 subjects × 200 trials
    would need about 29.1 TB of memory, more than the 3.0 GB available; <advice>``.
    """
    rows = 1
    for v in sizes.values():
        rows *= int(v)
    listed = " × ".join(f"{format_count(v)} {_singular(k) if v == 1 else k}" for k, v in sizes.items())
    require_memory(bytes_per_row * rows, f"{what} {listed}", advice)


def require_memory(needed: float, what: str, advice: str) -> None:
    """Raise ``ValueError`` if ``needed`` bytes exceed :func:`available_bytes`.

    Parameters
    ----------
    needed : float
        Estimated bytes the job will hold at once.
    what : str
        The job, as the start of the message (e.g. ``"--n-starts 100000"``).
    advice : str
        What to change, ending the message.

    Raises
    ------
    ValueError
        ``"<what> would need about <estimate> of memory, more than the <available> available; <advice>"``.
    """
    avail = available_bytes()
    if avail is not None and needed > avail:
        raise ValueError(
            f"{what} would need about {format_bytes(needed)} of memory, more than the "
            f"{format_bytes(avail)} available; {advice}"
        )
