"""Stand-in DICOM headers for slices of NIfTI volumes, so the DICOM outputs (SR, Secondary Capture)
and the PDF can describe them: new Study and Series Instance UIDs per volume and a new SOP Instance UID
per slice, made for the export; no patient, study date or institution - nothing is invented."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import SecondaryCaptureImageStorage

from core.export.dicom_common import new_uid

NIFTI_FORMAT = "nifti"


class NiftiHeaders:
    """One stand-in header per NIfTI slice, the same UIDs for the same volume within one export."""

    def __init__(self) -> None:
        self._volumes: dict[Path, tuple[str, str]] = {}
        self._slices: dict[tuple[Path, int], Dataset] = {}

    def header(self, path: Path, frame: int, rows: int, columns: int) -> Dataset:
        """The header of slice ``frame`` (``rows`` x ``columns``) of the volume at ``path``; the Image
        Pixel description is what the model saw (one sample, grayscale), which DICOM references need."""
        key = (Path(path), int(frame))
        if key not in self._slices:
            study, series = self._volumes.setdefault(key[0], (new_uid(), new_uid()))
            ds = Dataset()
            ds.SOPClassUID = SecondaryCaptureImageStorage
            ds.SOPInstanceUID = new_uid()
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = series
            ds.Modality = "OT"
            ds.StudyDescription = "NIfTI volume"
            ds.SeriesDescription = f"NIfTI volume {key[0].name}"
            ds.InstanceNumber = key[1] + 1
            ds.Rows, ds.Columns = int(rows), int(columns)
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
            self._slices[key] = ds
        return self._slices[key]
