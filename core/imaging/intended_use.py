"""Header half of the intended-use guard: is this DICOM slice a 2-D MR image of the head the model knows?

The model was trained on grayscale anatomical MR slices of the brain (T1, T1 with contrast, T2, FLAIR).
The rules below read only the header and give one readable reason when a slice is outside that use:

* Modality (PS3.3 C.7.3.1.1.1) other than ``MR``;
* Body Part Examined (C.7.3.1) or Anatomic Region Sequence (C.8.4.x / Frame Anatomy, C.7.6.16.2.8) present
  and naming neither head nor brain;
* when neither of those names the head: a Series Description, Protocol Name or, failing those, Study
  Description that names other anatomy (shoulder, knee, spine, abdomen...) and not the head - anonymised
  files often keep the descriptions and lose Body Part Examined;
* Image Type / Frame Type values 3+ (C.7.6.1.1.2, C.8.13.1.1.1) of a localizer/scout, a phase or field map,
  or a derived parametric map (ADC, FA, perfusion, relaxometry...);
* colour or palette Photometric Interpretation (C.7.6.3.1.2);
* a secondary capture (PS3.4 B.5, SC storage classes) with Burned In Annotation ``YES``.

A missing field never makes a slice outside: then the learned pixel score decides.  A PNG/JPEG has no
header; a truly coloured one (:func:`colour_picture_reason`: channels that differ, not grey stored as RGB)
is outside as well.  Whatever the header, a slice with nothing to classify (:func:`content_reason`: one
value everywhere, or noise only, as the slices above the head of a volume often are) is outside too, and so
is a picture made of flat areas of single grey levels (a drawing, a mask, a text page, a test pattern): MR
anatomy is textured and noisy, so neighbouring pixels of its foreground are almost never exactly equal.
A head CT saved as a picture is outside as well (:func:`bone_ring`): its skull is a ring at the top of the
grey range around a nearly uniform brain, where MR shows a dark skull and a textured brain.  So is any CT
saved through a narrow display window (:func:`clipped_ends`): it clips bone at white and fat or air at black
inside the body, where an MR rendering saturates well under a tenth of its foreground and leaves the inside
of the head off the bottom of the range.
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset

from core.imaging.frames import functional_item
from core.imaging.raw_values import get_string, get_strings

INSIDE = ""  # the reason of a slice inside the intended use

MODALITY_NAMES = {
    "CT": "CT",
    "CR": "computed radiograph",
    "DX": "digital radiograph",
    "MG": "mammogram",
    "US": "ultrasound",
    "NM": "nuclear medicine",
    "PT": "PET",
    "XA": "X-ray angiography",
    "RF": "fluoroscopy",
    "RTIMAGE": "radiotherapy image",
    "RTDOSE": "radiotherapy dose",
    "OT": "other (e.g. a screen capture)",
    "SC": "secondary capture",
    "OP": "ophthalmic photograph",
    "XC": "photograph",
    "ES": "endoscopy",
    "SM": "slide microscopy",
}
HEAD_WORDS = ("HEAD", "BRAIN", "SKULL", "CRAN", "CEREB", "NEURO", "PITUITARY", "SELLA", "ORBIT")
# Whole words of free-text descriptions that name anatomy other than the head (English, and the German
# abbreviations scanners write: HWS/BWS/LWS for the cervical/thoracic/lumbar spine).  Hand, finger, foot, arm
# and leg are left out: brain fMRI studies name their motor tasks with them ("finger tapping").
OTHER_ANATOMY_WORDS = frozenset(
    {
        "SHOULDER", "SHOULDERS", "HUMERUS", "ELBOW", "FOREARM", "WRIST",
        "HIP", "HIPS", "PELVIS", "PELVIC", "THIGH", "FEMUR", "KNEE", "KNEES", "CALF", "TIBIA",
        "ANKLE", "SPINE", "SPINAL", "CSPINE", "TSPINE", "LSPINE", "LUMBAR", "SACRUM",
        "SACRAL", "COCCYX", "CHEST", "THORAX", "THORACIC", "LUNG", "LUNGS", "BREAST", "BREASTS", "CARDIAC",
        "HEART", "AORTA", "ABDOMEN", "ABDOMINAL", "ABD", "LIVER", "PANCREAS", "KIDNEY", "KIDNEYS", "RENAL",
        "SPLEEN", "BOWEL", "ENTEROGRAPHY", "MRCP", "PROSTATE", "BLADDER", "UTERUS", "OVARY", "OVARIES",
        "RECTUM", "RECTAL", "SCHULTER", "KNIE", "BECKEN", "HWS", "BWS", "LWS", "WIRBELSAEULE",
    }
)  # fmt: skip
# most specific first, with the name a reason gives each
DESCRIPTIONS = {
    "SeriesDescription": "series description",
    "ProtocolName": "protocol name",
    "StudyDescription": "study description",
}
# SNOMED CT / SRT codes of brain and head (PS3.16 CID 4031 Common Anatomic Regions)
HEAD_CODES = {"12738006", "69536005", "T-A0100", "T-D1100", "T-A0010", "774007"}
NOT_ANATOMY = {
    "LOCALIZER": "a localizer (scout) image",
    "SCOUT": "a scout (localizer) image",
    "PHASE": "a phase image",
    "P": "a phase image",
    "PHASE MAP": "a phase map",
    "PHASE_MAP": "a phase map",
    "FIELD_MAP": "a field map",
    "FIELD MAP": "a field map",
    "B0 MAP": "a field map",
    "B1 MAP": "a field map",
    "VELOCITY": "a phase-contrast velocity map",
    "ADC": "a derived ADC map",
    "EADC": "a derived exponential ADC map",
    "FA": "a derived fractional anisotropy map",
    "DIFFUSION_ANISO": "a derived diffusion anisotropy map",
    "PERFUSION": "a derived perfusion map",
    "RCBF": "a derived perfusion (rCBF) map",
    "RCBV": "a derived perfusion (rCBV) map",
    "CBF": "a derived perfusion (CBF) map",
    "CBV": "a derived perfusion (CBV) map",
    "MTT": "a derived perfusion (MTT) map",
    "TTP": "a derived perfusion (TTP) map",
    "TMAX": "a derived perfusion (Tmax) map",
    "T1_MAP": "a derived T1 map",
    "T2_MAP": "a derived T2 map",
    "T2_STAR_MAP": "a derived T2* map",
    "PROTON_DENSITY_MAP": "a derived proton density map",
    "METABOLITE_MAP": "a spectroscopy metabolite map",
    "TEMPERATURE": "a temperature map",
    "MIP": "a maximum intensity projection",
    "PROJECTION IMAGE": "a projection image",
}
COLOUR_PHOTOMETRIC = ("RGB", "YBR", "PALETTE")
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
# mean (max - min) over the colour channels, of 255: grey MR stored as RGB/JPEG stays below ~4, photographs ~25+
COLOUR_SPREAD = 10.0
# Correlation of neighbouring pixels, on the slice averaged down to CONTENT_SIDE pixels: anatomy keeps it
# high (every class-folder image >= 0.50, figshare >= 0.82), noise-only slices lie near 0 (docs/intended_use.md).
MIN_NEIGHBOUR_CORRELATION = 0.3
CONTENT_SIDE = 128
MIN_JUDGED_SIDE = 64  # smaller pictures are not judged: too few pixels to tell noise from anatomy
# Share of the foreground (above FOREGROUND_LEVEL of the value range) in flat areas (a pixel equal to its four
# neighbours), on the slice averaged down to CONTENT_SIDE: brain MR with any anatomy stays at 0.49 or below (class
# folders <= 0.22, figshare, normal heads <= 0.21), drawings, masks, text pages and test patterns lie at 0.55-0.9
# (docs/intended_use.md).  Pictures with less than MIN_FOREGROUND of foreground are not judged.
MAX_FLAT_SHARE = 0.5
FOREGROUND_LEVEL = 0.1
MIN_FOREGROUND = 0.05
# Head CT: share of the head's outer band (RING_WIDTH pixels of the CONTENT_SIDE rendering) at the top of the
# range (>= SATURATED_LEVEL), and inter-quartile range of the brain inside it, as shares of the range.  Brain MR
# with anatomy: rim at most 0.11 (the class-folder JPEGs, whose scalp fat can saturate: 0.28), and mostly
# 0.30-0.33 when re-exported through a window clipping a tenth of the head at each end; head CT saved with a
# brain, subdural or soft-tissue window: rim 0.36-0.49 where taken, brain spread 0.02-0.15 (docs/intended_use.md).
MIN_SATURATED_RIM = 0.35
MAX_BRAIN_SPREAD = 0.15
RING_WIDTH = 6
SATURATED_LEVEL = 250.0 / 255.0
# CT through a display window: share of the foreground at the top of the range (>= SATURATED_LEVEL) and share of
# the body (the head mask shrunk by BODY_MARGIN pixels) at the very bottom (< BLACK_LEVEL).  Brain MR as exported:
# at most 0.08 saturated where 0.05 of the inside is black; re-exported through a window that clips a tenth of the
# head at each end, at most 0.9 % of the slices are taken.  CT through brain or subdural windows: 0.24-0.47
# saturated with 0.06-0.41 black (docs/intended_use.md, scripts/content_rule_margins.py).
MIN_SATURATED_FOREGROUND = 0.2
MIN_BLACK_INSIDE = 0.05
BLACK_LEVEL = 1.0 / 255.0
BODY_MARGIN = 3


def header_outside_reason(ds: Dataset, frame: int = 0) -> str:
    """Why frame ``frame`` of this DICOM object is outside the intended use, or ``INSIDE`` ("")."""
    for rule in (_modality, _body_part, _anatomic_region, _description, _image_type, _colour, _secondary_capture):
        reason = rule(ds, frame)
        if reason:
            return reason
    return INSIDE


def _modality(ds: Dataset, frame: int) -> str:
    modality = get_string(ds, "Modality").strip().upper()
    if not modality or modality == "MR":
        return INSIDE
    name = MODALITY_NAMES.get(modality)
    return f"modality {modality}{f' ({name})' if name else ''}, not MR"


def _names_head(text: str) -> bool:
    upper = text.upper()
    return any(word in upper for word in HEAD_WORDS)


def _body_part(ds: Dataset, frame: int) -> str:
    part = get_string(ds, "BodyPartExamined").strip()
    if not part or _names_head(part):
        return INSIDE
    return f"body part {part}, not head or brain"


def _first_region(ds: Dataset, frame: int) -> Dataset | None:
    """The first Anatomic Region Sequence item of the frame's Frame Anatomy, else of the dataset."""
    anatomy = functional_item(ds, frame, "FrameAnatomySequence")
    for holder in (anatomy, ds):
        items = [] if holder is None else holder.get("AnatomicRegionSequence") or []
        if items:
            return items[0]
    return None


def _region_names_head(region: Dataset) -> bool:
    code = get_string(region, "CodeValue").strip()
    return code in HEAD_CODES or _names_head(get_string(region, "CodeMeaning"))


def _anatomic_region(ds: Dataset, frame: int) -> str:
    region = _first_region(ds, frame)
    if region is None or _region_names_head(region):
        return INSIDE
    meaning = get_string(region, "CodeMeaning").strip()
    return f"anatomic region {meaning or get_string(region, 'CodeValue').strip()}, not head or brain"


def _header_names_head(ds: Dataset, frame: int) -> bool:
    """Whether Body Part Examined or an Anatomic Region Sequence (the frame's first) names the head."""
    region = _first_region(ds, frame)
    return _names_head(get_string(ds, "BodyPartExamined")) or (region is not None and _region_names_head(region))


def _other_anatomy(text: str) -> str:
    """The first whole word of ``text`` that names anatomy other than the head ("" when none does)."""
    return next((word for word in re.findall(r"[A-Z]+", text.upper()) if word in OTHER_ANATOMY_WORDS), "")


def _description(ds: Dataset, frame: int) -> str:
    """The most specific description that names any anatomy decides; one naming the head keeps the slice."""
    if _header_names_head(ds, frame):
        return INSIDE
    for keyword, name in DESCRIPTIONS.items():
        text = get_string(ds, keyword).strip()
        if _names_head(text):
            return INSIDE
        word = _other_anatomy(text)
        if word:
            return f"{name} '{text}' names {word.lower()}, not head or brain"
    return INSIDE


def _type_values(ds: Dataset, frame: int) -> list[str]:
    """Image Type values 3+ and, for enhanced objects, the frame's Frame Type values 3+ (upper case)."""
    values = [v.strip().upper() for v in get_strings(ds, "ImageType")[2:]]
    for sequence in ("MRImageFrameTypeSequence", "FrameTypeSequence"):
        item = functional_item(ds, frame, sequence)
        if item is not None:
            values += [v.strip().upper() for v in get_strings(item, "FrameType")[2:]]
    return values


def _image_type(ds: Dataset, frame: int) -> str:
    for value in _type_values(ds, frame):
        if value in NOT_ANATOMY:
            return f"{NOT_ANATOMY[value]} (image type {value}), not an anatomical slice"
    return INSIDE


def _colour(ds: Dataset, frame: int) -> str:
    photometric = get_string(ds, "PhotometricInterpretation").strip().upper()
    if photometric.startswith(COLOUR_PHOTOMETRIC):
        return f"a colour image ({photometric}), not a grayscale MR slice"
    return INSIDE


def _secondary_capture(ds: Dataset, frame: int) -> str:
    sop_class = get_string(ds, "SOPClassUID").strip()
    burned_in = get_string(ds, "BurnedInAnnotation").strip().upper()
    if sop_class.startswith(SECONDARY_CAPTURE_PREFIX) and burned_in == "YES":
        return "a secondary capture with burned-in annotation, not an acquired slice"
    return INSIDE


def colour_picture_reason(values: NDArray[np.generic]) -> str:
    """Why decoded uint8 (H, W, 3) pixels are a colour picture, not a grey slice stored as RGB ("" otherwise)."""
    pixels = np.asarray(values)
    if pixels.ndim != 3 or pixels.shape[-1] < 3 or pixels.size == 0:
        return INSIDE
    rgb = pixels[..., :3].astype(np.int16)
    spread = float((rgb.max(axis=-1) - rgb.min(axis=-1)).mean())
    if spread <= COLOUR_SPREAD:
        return INSIDE
    return f"a colour picture (mean channel spread {spread:.0f} of 255), not a grayscale MR slice"


def _reduced(pixels: NDArray[np.generic]) -> NDArray[np.float32]:
    """A grey slice averaged down to at most :data:`CONTENT_SIDE` pixels a side (an enlarged copy of a small
    picture is judged like the picture itself)."""
    values = np.asarray(pixels, dtype=np.float32)
    rows, cols = values.shape
    if max(rows, cols) > CONTENT_SIDE:
        scale = CONTENT_SIDE / max(rows, cols)
        size = (max(2, round(cols * scale)), max(2, round(rows * scale)))
        values = np.asarray(Image.fromarray(values).resize(size, Image.Resampling.BOX), dtype=np.float32)
    return values


def neighbour_correlation(pixels: NDArray[np.generic]) -> float | None:
    """Mean correlation of horizontally and vertically adjacent pixels of a grey slice averaged down to
    at most :data:`CONTENT_SIDE` pixels a side; None when every pixel has the same value."""
    values = _reduced(pixels)
    centred = values - values.mean()
    variance = float((centred * centred).mean())
    if variance <= 1e-12 * max(1.0, float(np.abs(values).max()) ** 2):
        return None
    across = float((centred[:, 1:] * centred[:, :-1]).mean())
    down = float((centred[1:, :] * centred[:-1, :]).mean())
    return (across + down) / (2.0 * variance)


def _scaled(pixels: NDArray[np.generic]) -> NDArray[np.float32] | None:
    """The reduced slice (:func:`_reduced`) scaled to 0..255 over its own range; None when it is one value
    or thinner than 3 pixels."""
    values = _reduced(pixels)
    low, high = float(values.min()), float(values.max())
    if high <= low or min(values.shape) < 3:
        return None
    return (values - low) * np.float32(255.0 / (high - low))


def flat_share(pixels: NDArray[np.generic]) -> tuple[float, float]:
    """(share of the foreground in flat areas, share of the picture that is foreground) of a grey slice
    averaged down to at most :data:`CONTENT_SIDE` pixels a side.  Foreground: above :data:`FOREGROUND_LEVEL`
    of the value range; flat: within 1/510 of the range of each of the four neighbours."""
    scaled = _scaled(pixels)
    return (0.0, 0.0) if scaled is None else _flat_share(scaled)


def _flat_share(scaled: NDArray[np.float32]) -> tuple[float, float]:
    """:func:`flat_share` of a slice already reduced and scaled by :func:`_scaled`."""
    centre = scaled[1:-1, 1:-1]
    flat = np.ones(centre.shape, dtype=bool)
    for neighbour in (scaled[:-2, 1:-1], scaled[2:, 1:-1], scaled[1:-1, :-2], scaled[1:-1, 2:]):
        flat &= np.abs(centre - neighbour) < 0.5
    foreground = centre > 255.0 * FOREGROUND_LEVEL
    count = int(foreground.sum())
    if count == 0:
        return 0.0, 0.0
    return float((flat & foreground).sum()) / count, count / foreground.size


def _spans(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Every row of ``mask`` filled from its first to its last True pixel."""
    columns = np.arange(mask.shape[1])
    first = np.argmax(mask, axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    occupied = np.asarray(mask.any(axis=1), dtype=bool)
    return occupied[:, None] & (columns >= first[:, None]) & (columns <= last[:, None])


def filled_outline(foreground: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``foreground`` filled along every row and every column, so that the dark skull, sulci and ventricles
    inside a head count as head (the outline a flood fill of the background would give, for convex heads)."""
    return _spans(foreground) & _spans(foreground.T).T


def _head_mask(scaled: NDArray[np.float32]) -> NDArray[np.bool_]:
    """The head's outline on a slice scaled to 0..255 (see :func:`filled_outline`)."""
    return filled_outline(scaled > 255.0 * FOREGROUND_LEVEL)


def _eroded(mask: NDArray[np.bool_], steps: int) -> NDArray[np.bool_]:
    """``mask`` shrunk by ``steps`` pixels (four-neighbour erosion)."""
    for _ in range(steps):
        edged = np.pad(mask, 1)
        mask = mask & edged[:-2, 1:-1] & edged[2:, 1:-1] & edged[1:-1, :-2] & edged[1:-1, 2:]
    return mask


def bone_ring(pixels: NDArray[np.generic]) -> tuple[float, float] | None:
    """(share of the head's outer band at the top of the grey range, inter-quartile range of the brain
    inside the band as a share of the range) on the slice averaged down to :data:`CONTENT_SIDE` pixels
    a side; None without a head (less than :data:`MIN_FOREGROUND` of the picture) or brain to measure."""
    scaled = _scaled(pixels)
    return None if scaled is None else _bone_ring(scaled, _head_mask(scaled))


def _bone_ring(scaled: NDArray[np.float32], head: NDArray[np.bool_]) -> tuple[float, float] | None:
    """:func:`bone_ring` of a slice already reduced and scaled by :func:`_scaled`, with its head mask."""
    if head.mean() < MIN_FOREGROUND:
        return None
    inside = _eroded(head, RING_WIDTH)
    rim = head & ~inside
    saturated = scaled >= 255.0 * SATURATED_LEVEL
    brain = scaled[inside & ~saturated & (scaled > 255.0 * FOREGROUND_LEVEL)]
    if brain.size < 50 or not rim.any():
        return None
    quartiles = np.percentile(brain, [25, 75])
    return float((saturated & rim).sum() / rim.sum()), float(quartiles[1] - quartiles[0]) / 255.0


def clipped_ends(pixels: NDArray[np.generic]) -> tuple[float, float]:
    """(share of the foreground at the top of the grey range, share of the body inside its outline at the
    very bottom) on the slice averaged down to :data:`CONTENT_SIDE` pixels a side; (0, 0) without foreground."""
    scaled = _scaled(pixels)
    return (0.0, 0.0) if scaled is None else _clipped_ends(scaled, _head_mask(scaled))


def _clipped_ends(scaled: NDArray[np.float32], head: NDArray[np.bool_]) -> tuple[float, float]:
    """:func:`clipped_ends` of a slice already reduced and scaled by :func:`_scaled`, with its head mask."""
    foreground = scaled > 255.0 * FOREGROUND_LEVEL
    inside = _eroded(head, BODY_MARGIN)
    if not foreground.any() or not inside.any():
        return 0.0, 0.0
    saturated = float((scaled[foreground] >= 255.0 * SATURATED_LEVEL).mean())
    return saturated, float((scaled[inside] < 255.0 * BLACK_LEVEL).mean())


def content_reason(pixels: NDArray[np.generic]) -> str:
    """Why a grey slice is not an MR slice to classify ("" when it is): one value everywhere, noise only
    (neighbouring pixels uncorrelated), flat areas of single grey levels (a drawing, mask, text or test
    pattern), a head CT (:func:`bone_ring`) or a CT through a display window (:func:`clipped_ends`).
    Pictures under :data:`MIN_JUDGED_SIDE` pixels a side are not judged."""
    values = np.asarray(pixels)
    if values.ndim != 2 or min(values.shape) < MIN_JUDGED_SIDE:
        return INSIDE
    reduced = _reduced(values)  # once for every rule below: already at most CONTENT_SIDE a side
    correlation = neighbour_correlation(reduced)
    if correlation is None:
        return "a blank slice (one value everywhere), nothing to classify"
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        return (
            f"noise only, no anatomy to classify (neighbouring pixels correlate {correlation:.2f}, "
            f"anatomy {MIN_NEIGHBOUR_CORRELATION:.1f} or more)"
        )
    scaled = _scaled(reduced)
    if scaled is None:  # thinner than 3 pixels after the reduction: nothing the rules below can measure
        return INSIDE
    flat, foreground = _flat_share(scaled)
    if foreground >= MIN_FOREGROUND and flat >= MAX_FLAT_SHARE:
        return (
            f"flat areas of single grey levels, like a drawing, mask, text or test pattern, not MR anatomy "
            f"({flat:.0%} of the foreground flat, anatomy below {MAX_FLAT_SHARE:.0%})"
        )
    head = _head_mask(scaled)
    ring = _bone_ring(scaled, head)
    if ring is not None and ring[0] >= MIN_SATURATED_RIM and ring[1] < MAX_BRAIN_SPREAD:
        return (
            f"looks like a head CT, not MR: a ring at the top of the grey range (bone) around a uniform brain "
            f"({ring[0]:.0%} of the head's rim saturated, brain spread {ring[1]:.0%} of the range)"
        )
    white, black = _clipped_ends(scaled, head)
    if white >= MIN_SATURATED_FOREGROUND and black >= MIN_BLACK_INSIDE:
        return (
            f"looks like a CT through a display window, not MR: both ends of the grey range clipped inside the "
            f"body ({white:.0%} of the foreground at white, {black:.0%} of the inside at black)"
        )
    return INSIDE


def reason_key(reason: str) -> str:
    """A reason without its details, to count slices by rule ("modality CT (CT), not MR" -> "modality CT",
    "noise only, no anatomy to classify (...)" -> "noise only")."""
    return reason.split(",")[0].split(" (")[0]
