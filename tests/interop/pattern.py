"""The known sample contents both interop directions check (mirrored in tests/test_shard_dataset.cpp)."""
import numpy as np

SIZE = 8      # image side
RATE = 8000   # audio sample rate


def image(k, i):
    """uint8 [SIZE, SIZE, 3]: value (7k + 3i + 5y + 11x + 13c) mod 256."""
    y, x, c = np.meshgrid(np.arange(SIZE), np.arange(SIZE), np.arange(3), indexing="ij")
    return ((7 * k + 3 * i + 5 * y + 11 * x + 13 * c) % 256).astype(np.uint8)


def clip(k, i):
    """int16, length 100 + 10k + i: value (1000k + 100i + 7n) mod 20000 - 10000."""
    n = np.arange(100 + 10 * k + i)
    return ((1000 * k + 100 * i + 7 * n) % 20000 - 10000).astype(np.int16)
