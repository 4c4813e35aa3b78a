"""ecgapp: classify every heartbeat of an ECG (AAMI N, S, V, F, Q) and explain why.

The library holds all the work; ``streamlit_app.py`` and ``train.py`` are thin layers over it.
Modules: ``records`` (the Record type), ``wfdbfile``, ``edffile``, ``csvfile`` (readers), ``uploads`` (uploaded files),
``physionet`` (where data lives, downloads), ``mitdb`` (MIT-BIH names and splits), ``processing``
(resampling and filtering), ``aami`` (beat classes), ``beats`` (beat windows and RR features),
``features`` (model inputs), ``model`` (CNN+LSTM and baselines), ``augment`` (training noise),
``inference`` (per-beat predictions), ``metrics`` (AAMI EC57 statistics), ``evaluation`` (record lists),
``qrs`` and ``detection`` (R peaks without annotations, beat matching), ``analysis`` (one record as the app shows it),
``summary`` (heart rate, burden, agreement), ``explain`` (Captum attributions), ``figures`` (Plotly),
``exports`` (CSV and WFDB annotation files).
"""

from .aami import AAMI_CLASSES, aami_index, class_counts
from .beats import BeatSet, extract_beats
from .errors import DataNotFoundError, InputError, UnsupportedFormatError
from .mitdb import DS1, DS2, PACED_RECORDS, TRAIN, VALIDATION, list_records, load_nstdb, load_record
from .processing import MODEL_FS, clean
from .records import Annotations, Record, make_record
from .uploads import load_upload

__version__ = "0.1.0"

__all__ = [
    "AAMI_CLASSES", "Annotations", "BeatSet", "DS1", "DS2", "DataNotFoundError", "InputError", "MODEL_FS",
    "PACED_RECORDS", "Record", "TRAIN", "UnsupportedFormatError", "VALIDATION", "aami_index",
    "class_counts", "clean", "extract_beats", "list_records", "load_nstdb", "load_record", "load_upload",
    "make_record",
]
