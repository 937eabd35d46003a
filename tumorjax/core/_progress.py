"""A one-line progress bar on stderr, for diffrax solves and scan loops."""

import sys

import diffrax


def _draw(fraction: float, width: int = 30) -> None:
    filled = int(round(width * fraction))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * fraction:5.1f}%")
    sys.stderr.flush()


class ProgressBar(diffrax.TextProgressMeter):
    """diffrax's text meter, drawn as a single updating bar on stderr (stdout stays clean)."""

    minimum_increase: float = 0.01

    @staticmethod
    def _init_bar() -> list[float]:
        _draw(0.0)
        return [0.0]

    @staticmethod
    def _step_bar(bar: list[float], progress) -> None:
        bar[0] = float(progress)
        _draw(bar[0])

    @staticmethod
    def _close_bar(bar: list[float]) -> None:
        _draw(1.0)
        sys.stderr.write("\n")
