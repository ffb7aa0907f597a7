"""PP-OCRv3 networks in PyTorch (det student, rec SVTR_LCNet, direction classifier) and official-weight import."""

from .det import (  # noqa: F401
    LKPAN,
    RSEFPN,
    DBDetector,
    DBHead,
    MobileNetV3Det,
    ResNetVd,
    det_student,
    det_teacher,
    det_teacher_small,
    load_official_det,
)

from .rec import (  # noqa: F401
    CTCHead,
    LCNetClassifier,
    MobileNetV1Enhance,
    PPLCNetRec,
    SARHead,
    SVTRNeck,
    TextRecognizer,
    load_official_rec,
    rec_svtr_lcnet,
)
