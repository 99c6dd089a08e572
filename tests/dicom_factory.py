"""Make small test images: DICOM datasets built in memory, PNG/JPEG via Pillow, DCMTK conversions.

Everything is written under a caller-supplied folder (``tmp_path``); nothing here touches real data.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

MR_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
ENHANCED_MR_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4.1")
SC_STORAGE = UID("1.2.840.10008.5.1.4.1.1.7")
BASIC_TEXT_SR = UID("1.2.840.10008.5.1.4.1.1.88.11")
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

BUNDLED = Path(pydicom.__file__).parent / "data" / "test_files"


def bundled(name: str) -> Path:
    """A test file shipped inside the pydicom wheel (never downloaded)."""
    path = BUNDLED / name
    if not path.exists():
        raise FileNotFoundError(f"pydicom test file {name} is not bundled with this pydicom")
    return path


def phantom(rows: int = 32, columns: int = 24, seed: int = 0, high: int = 255) -> np.ndarray:
    """A seeded, structured test image (disc + gradient + noise) as int64 in 0..high."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:columns]
    disc = ((yy - rows / 2) ** 2 + (xx - columns / 2) ** 2) < (min(rows, columns) / 3) ** 2
    img = 0.25 * xx / max(columns - 1, 1) + 0.5 * disc + 0.2 * rng.random((rows, columns))
    img = (img - img.min()) / (img.max() - img.min())
    return np.rint(img * high).astype(np.int64)


def make_dataset(
    pixels: np.ndarray | None,
    *,
    bits_allocated: int | None = None,
    bits_stored: int | None = None,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
    patient_id: str = "PAT1",
    patient_name: str = "Doe^Jane",
    study_uid: str | None = None,
    series_uid: str | None = None,
    series_number: int = 1,
    series_description: str = "T1 AX",
    modality: str = "MR",
    instance: int = 1,
    position: Sequence[float] | None = None,
    orientation: Sequence[float] | None = AXIAL,
    sop_class: UID = MR_STORAGE,
    extra: dict[str, Any] | None = None,
) -> Dataset:
    """A Part-10 ready dataset holding ``pixels`` (2-D (H, W), (H, W, 3) or 3-D frames), native encoding."""
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientSex = "F"
    ds.PatientAge = "054Y"
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.StudyDate = "20240101"
    ds.StudyDescription = "BRAIN"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.Modality = modality
    ds.InstanceNumber = instance
    ds.InstitutionName = "General Hospital"
    if position is not None:
        ds.ImagePositionPatient = [float(v) for v in position]
    if orientation is not None and position is not None:
        ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [0.9, 0.9]
    ds.SliceThickness = 5.0
    if pixels is not None:
        arr = np.asarray(pixels)
        color = photometric in ("RGB", "YBR_FULL")
        frames = arr.shape[0] if arr.ndim == (4 if color else 3) else 1
        shape = arr.shape[-3:-1] if color else arr.shape[-2:]
        allocated = bits_allocated or (8 if arr.max(initial=0) < 256 and arr.min(initial=0) >= 0 else 16)
        ds.Rows, ds.Columns = int(shape[0]), int(shape[1])
        ds.SamplesPerPixel = 3 if color else 1
        if color:
            ds.PlanarConfiguration = 0
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = allocated
        ds.BitsStored = bits_stored or allocated
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if signed else 0
        if frames > 1:
            ds.NumberOfFrames = frames
        dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[allocated]
        if signed:
            dtype = {8: np.int8, 16: np.int16, 32: np.int32}[allocated]
        ds.PixelData = arr.astype(dtype).tobytes()
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    return ds


def write(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM Part-10 file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_encapsulated(
    ds: Dataset, path: Path, syntax: str, frames: Sequence[bytes], *, has_bot: bool = True, extended: bool = False
) -> Path:
    """Write ``ds`` with ``frames`` as encapsulated Pixel Data under ``syntax``, also a UID pydicom 3.0
    does not know (JPEG XL): the file meta and the data set are written separately, explicit VR little
    endian, as every encapsulated transfer syntax requires (PS3.5 A.4).  ``extended`` adds an Extended
    Offset Table (7FE0,0001-0002; one fragment per frame, as PS3.5 A.4 requires with it)."""
    from pydicom.encaps import encapsulate, encapsulate_extended
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset, write_file_meta_info

    if extended:
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(list(frames))
    else:
        ds.PixelData = encapsulate(list(frames), has_bot=has_bot)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        raw.write(b"\0" * 128 + b"DICM")
        fp = DicomFileLike(raw)
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
        write_dataset(fp, ds)
    return path


def write_series(
    folder: Path, count: int, *, rows: int = 16, columns: int = 16, shuffle: bool = True, seed: int = 0, **kwargs: Any
) -> list[Path]:
    """A series of ``count`` axial slices 2.5 mm apart; files named in a shuffled order.

    File ``i`` of the returned list holds the slice at z = 2.5 * i (pixels carry their index in [0, 0]).
    """
    rng = np.random.default_rng(seed)
    study_uid, series_uid = generate_uid(), generate_uid()
    names = rng.permutation(count) if shuffle else np.arange(count)
    paths = []
    for z in range(count):
        img = phantom(rows, columns, seed=z)
        img[0, 0] = z % 256
        ds = make_dataset(
            img,
            study_uid=study_uid,
            series_uid=series_uid,
            instance=int(count - z),  # instance numbers deliberately against the geometry
            position=(0.0, 0.0, 2.5 * z),
            **kwargs,
        )
        paths.append(write(ds, folder / f"IM{int(names[z]):05d}"))
    return paths


def make_enhanced(
    frames: np.ndarray,
    *,
    positions: Sequence[Sequence[float]],
    slopes: Sequence[float],
    intercepts: Sequence[float],
    windows: Sequence[tuple[float, float]] | None = None,
    frame_types: Sequence[str] | None = None,
) -> Dataset:
    """An enhanced MR object: per-frame position, rescale, window and frame type functional groups."""
    ds = make_dataset(frames, sop_class=ENHANCED_MR_STORAGE, bits_allocated=16)
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = list(AXIAL)
    shared.PlaneOrientationSequence = [orient]
    measures = Dataset()
    measures.PixelSpacing = [1.0, 1.0]
    measures.SliceThickness = 3.0
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    items = []
    for i in range(frames.shape[0]):
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [float(v) for v in positions[i]]
        item.PlanePositionSequence = [pos]
        pvt = Dataset()
        pvt.RescaleSlope = slopes[i]
        pvt.RescaleIntercept = intercepts[i]
        pvt.RescaleType = "US"
        item.PixelValueTransformationSequence = [pvt]
        if windows is not None:
            voi = Dataset()
            voi.WindowCenter, voi.WindowWidth = windows[i]
            item.FrameVOILUTSequence = [voi]
        if frame_types is not None:
            frame_type = Dataset()
            frame_type.FrameType = ["ORIGINAL", "PRIMARY", frame_types[i], "NONE"]
            item.MRImageFrameTypeSequence = [frame_type]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    return ds


def have_dcmtk(*tools: str) -> bool:
    """True when every named DCMTK tool is on PATH."""
    return all(shutil.which(t) for t in tools)


def run_tool(*args: str | Path) -> None:
    """Run a DCMTK command line; raise with its output on failure."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stdout}\n{done.stderr}")


MOSAIC_TILE = 8
MOSAIC_SPACING = (2.0, 3.0)  # mm between rows, between columns


def mosaic_dataset(
    images: int, *, seed: int = 0, instance: int = 1, series_uid: str | None = None, with_count: bool = True
) -> tuple[Dataset, np.ndarray]:
    """A Siemens-style mosaic of ``images`` 8 x 8 slices (ceil(sqrt(N)) tiles a side) and the volume it holds."""
    side = int(np.ceil(np.sqrt(images)))
    rng = np.random.default_rng(seed)
    volume = rng.integers(0, 1000, (images, MOSAIC_TILE, MOSAIC_TILE)) + np.arange(images)[:, None, None] * 1000
    grid = np.zeros((side * MOSAIC_TILE, side * MOSAIC_TILE), dtype=np.int64)
    for k in range(images):
        row, column = divmod(k, side)
        grid[row * MOSAIC_TILE : (row + 1) * MOSAIC_TILE, column * MOSAIC_TILE : (column + 1) * MOSAIC_TILE] = volume[k]
    ds = make_dataset(
        grid,
        bits_allocated=16,
        instance=instance,
        position=(-100.0, -50.0, 10.0),
        series_uid=series_uid,
        series_description="ep2d_bold",
        extra={"ImageType": ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"], "PixelSpacing": list(MOSAIC_SPACING)},
    )
    if with_count:
        block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
        block.add_new(0x0A, "US", images)
    return ds, volume
