"""Train the CNN+LSTM beat classifier on MIT-BIH (inter-patient: DS1 minus validation -> DS2).

Not implemented yet: the model and training arrive with the model issue. This stub shows the data the
training will use, cut by the same functions the app uses, and exits with status 2.
"""

import sys

from ecgapp import DS2, TRAIN, VALIDATION, class_counts, extract_beats, load_record


def main() -> int:
    for split, names in (("train", TRAIN), ("validation", VALIDATION), ("test (DS2)", DS2)):
        counts = {}
        for name in names:
            for k, v in class_counts(extract_beats(load_record(name)).label).items():
                counts[k] = counts.get(k, 0) + v
        print(f"{split:<12} {len(names):2d} records  {counts}")
    print("train.py: training is not implemented yet (it arrives with the model issue)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
