"""Which SOP classes and transfer syntaxes NeuroReview negotiates (PS3.4 B.5, PS3.5 A/10).

``IMAGE_STORAGE`` are the image storage classes the viewer opens: our listener and our C-GET accept
them and nothing else.  ``TRANSFER_SYNTAXES`` are the encodings the viewer decodes, native first.
"""

from __future__ import annotations

from pydicom import uid
from pydicom.uid import UID

from core.imaging.newer_syntaxes import ENCAPSULATED_UNCOMPRESSED, JPEGXL, JPEGXL_JPEG_RECOMPRESSION, JPEGXL_LOSSLESS

VERIFICATION = UID("1.2.840.10008.1.1")
STUDY_ROOT_FIND = UID("1.2.840.10008.5.1.4.1.2.2.1")
STUDY_ROOT_MOVE = UID("1.2.840.10008.5.1.4.1.2.2.2")
STUDY_ROOT_GET = UID("1.2.840.10008.5.1.4.1.2.2.3")
IMAGE_STORAGE: tuple[UID, ...] = (
    uid.MRImageStorage,
    uid.EnhancedMRImageStorage,
    uid.EnhancedMRColorImageStorage,
    uid.LegacyConvertedEnhancedMRImageStorage,
    uid.CTImageStorage,
    uid.EnhancedCTImageStorage,
    uid.LegacyConvertedEnhancedCTImageStorage,
    uid.PositronEmissionTomographyImageStorage,
    uid.EnhancedPETImageStorage,
    uid.LegacyConvertedEnhancedPETImageStorage,
    uid.SecondaryCaptureImageStorage,
    uid.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    uid.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    uid.MultiFrameTrueColorSecondaryCaptureImageStorage,
)
NATIVE_SYNTAXES: tuple[UID, ...] = (uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian)
TRANSFER_SYNTAXES: tuple[UID, ...] = (
    *NATIVE_SYNTAXES,
    uid.DeflatedExplicitVRLittleEndian,
    uid.ExplicitVRBigEndian,
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
    uid.RLELossless,
    JPEGXL_LOSSLESS,
    JPEGXL_JPEG_RECOMPRESSION,
    JPEGXL,
    ENCAPSULATED_UNCOMPRESSED,
)


def sop_class_name(value: str) -> str:
    """The SOP class's name from pydicom's dictionary, or the UID itself."""
    name = UID(value).name
    return name if name and name != value else str(value)
