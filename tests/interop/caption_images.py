"""caption_images.py ROOT IDENTITIES IMAGES SIZE: a small photo folder with captions, as users have them:
ROOT/<identity>/<i>.png and ROOT/<identity>/<i>.txt. Each identity is a colour and a shape (its look);
each image puts it at one of four places, which its caption says (the content), a little brighter than the one
before (so no two of an identity's images are the same)."""
import os
import sys

import numpy as np
from PIL import Image

PLACES = [("top left", 0.3, 0.3), ("top right", 0.3, 0.7), ("bottom left", 0.7, 0.3), ("bottom right", 0.7, 0.7)]


def main():
    root, identities, images, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:size, 0:size] / size
    for k in range(identities):
        colour = rng.integers(40, 255, 3)
        square = k % 2 == 1
        folder = os.path.join(root, f"id{k:02d}")
        os.makedirs(folder, exist_ok=True)
        for i in range(images):
            place, cy, cx = PLACES[(i + k) % len(PLACES)]
            r = 0.18 + 0.04 * (k % 3)
            inside = (np.maximum(abs(y - cy), abs(x - cx)) < r) if square else ((y - cy) ** 2 + (x - cx) ** 2 < r * r)
            img = np.full((size, size, 3), 20, np.uint8)
            img[inside] = np.clip(colour * (0.85 + 0.03 * i), 0, 255).astype(np.uint8)  # no two images alike
            Image.fromarray(img).save(os.path.join(folder, f"{i}.png"))
            with open(os.path.join(folder, f"{i}.txt"), "w") as f:
                f.write(f"a mark at the\n{place}\n")


if __name__ == "__main__":
    main()
