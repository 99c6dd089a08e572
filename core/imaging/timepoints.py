"""Moving through a series that has several time points: through space within one time point, and to
the same place in another time point.

:func:`core.imaging.organize.order_slices` puts each stack's time points one after the other, each
ordered through space, so a time point is a contiguous run of a series' slices.
"""

from __future__ import annotations

from core.imaging.study import Series


def time_block(series: Series, index: int) -> range:
    """Indices of the slices of the same stack and time point as slice ``index``."""
    slices = series.slices
    here = (slices[index].stack_key, slices[index].time_point)
    start, stop = index, index + 1
    while start > 0 and (slices[start - 1].stack_key, slices[start - 1].time_point) == here:
        start -= 1
    while stop < len(slices) and (slices[stop].stack_key, slices[stop].time_point) == here:
        stop += 1
    return range(start, stop)


def time_points(series: Series, index: int) -> list[range]:
    """The time points of slice ``index``'s stack, in order, as index ranges (one range: no time points)."""
    stack = series.slices[index].stack_key
    blocks: list[range] = []
    position = 0
    while position < len(series.slices):
        block = time_block(series, position)
        if series.slices[position].stack_key == stack:
            blocks.append(block)
        position = block.stop
    return blocks


def step_within_time(series: Series, index: int, steps: int) -> int:
    """Slice index ``steps`` away from ``index``, kept inside its time point (through space only)."""
    block = time_block(series, index)
    return min(max(index + steps, block.start), block.stop - 1)


def edge_of_time(series: Series, index: int, last: bool) -> int:
    """First (or last) slice of ``index``'s time point."""
    block = time_block(series, index)
    return block.stop - 1 if last else block.start


def move_to_time(series: Series, index: int, time_point: int) -> int:
    """Slice index at the same place (rank within the time point) in time point ``time_point``
    (0-based, clamped) of the same stack."""
    blocks = time_points(series, index)
    current = next(b for b in blocks if index in b)
    target = blocks[min(max(time_point, 0), len(blocks) - 1)]
    return target.start + min(index - current.start, len(target) - 1)
