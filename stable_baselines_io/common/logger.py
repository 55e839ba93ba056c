"""The table of training statistics that ``learn`` prints with ``verbose=1``."""

from __future__ import annotations

from typing import Any


def print_table(values: dict[str, Any]) -> None:
    """Print ``key | value`` rows in a box (floats with 4 significant digits).

    >>> print_table({"total_timesteps": 256, "fps": 1203.5})
    --------------------------
    | total_timesteps |  256 |
    | fps             | 1204 |
    --------------------------

    :param values: the statistics, in display order
    """
    cells = {key: str(value) if isinstance(value, (int, str)) else f"{value:.4g}" for key, value in values.items()}
    key_width = max(map(len, cells))
    value_width = max(map(len, cells.values()))
    border = "-" * (key_width + value_width + 7)
    print(border)
    for key, value in cells.items():
        print(f"| {key:<{key_width}} | {value:>{value_width}} |")
    print(border, flush=True)
