"""Data: datasets as uint8 arrays, unlearning splits, and an in-memory loader."""
from .cifar_archive import ARCHIVE_NAME, ARCHIVE_SHA256, load_archive, verify_archive, write_archive
from .datasets import (DATASETS, NORMALIZATIONS, SOURCES, ArrayDataset, DatasetInfo, load_dataset,
                       normalization_stats)
from .loader import Augment, DeviceData, Part, augment_batch
from .splits import FORGET_SELECTIONS, TASKS, Split, make_split

__all__ = ["ARCHIVE_NAME", "ARCHIVE_SHA256", "ArrayDataset", "Augment", "DATASETS", "DatasetInfo", "DeviceData",
           "FORGET_SELECTIONS", "NORMALIZATIONS", "Part", "SOURCES", "Split", "TASKS", "augment_batch", "load_archive",
           "load_dataset", "make_split", "normalization_stats", "verify_archive", "write_archive"]
