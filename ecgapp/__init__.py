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

from importlib import import_module

__version__ = "0.1.0"

# Names exported here, and the module each lives in. Imported on first use (PEP 562), so that ``import ecgapp``
# and a light module such as ``ecgapp.mitdb`` do not pull in scipy, pandas and torch: the app shows its page and
# record picker before the heavy imports are done.
_EXPORTS = {
    "AAMI_CLASSES": "aami", "aami_index": "aami", "class_counts": "aami",
    "BeatSet": "beats", "extract_beats": "beats",
    "DataNotFoundError": "errors", "InputError": "errors", "UnsupportedFormatError": "errors",
    "DS1": "mitdb", "DS2": "mitdb", "PACED_RECORDS": "mitdb", "TRAIN": "mitdb", "VALIDATION": "mitdb",
    "list_records": "mitdb", "load_nstdb": "mitdb", "load_record": "mitdb",
    "MODEL_FS": "processing", "clean": "processing",
    "Annotations": "records", "Record": "records", "make_record": "records",
    "load_upload": "uploads",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
