"""Display windows (VOI, PS3.3 C.11.2): centre/width in modality units, or a VOI LUT from the file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """A display window.  ``center``/``width`` are in the units of :meth:`PixelStore.modality`.

    ``function`` is the VOI LUT Function (``LINEAR``, ``LINEAR_EXACT`` or ``SIGMOID``);
    ``lut_index`` selects an item of the file's VOI LUT Sequence instead of a linear window
    (``center``/``width`` then only describe its approximate range).
    """

    center: float
    width: float
    name: str = ""
    function: str = "LINEAR"
    lut_index: int | None = None

    @property
    def low(self) -> float:
        """Lower edge of the window."""
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """Upper edge of the window."""
        return self.center + self.width / 2.0

    @classmethod
    def from_range(cls, low: float, high: float, name: str = "") -> Window:
        """Window spanning ``low``..``high`` (width at least 1)."""
        width = max(float(high) - float(low), 1.0)
        return cls(center=(float(low) + float(high)) / 2.0, width=width, name=name)


# A common brain MR/CT soft-tissue window; applied in modality units.
BRAIN_CT = Window(center=40.0, width=80.0, name="Brain")
