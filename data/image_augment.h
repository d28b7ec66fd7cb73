// Image augmentation on a decoded sample (float CHW, values in [0, 1]), run in the loader's workers. The
// geometric part (random resized crop, rotation, shear, shift) is ONE inverse map sampled bilinearly, so the
// image is resampled once whatever is enabled.
#pragma once
#include <cstdint>

#include "data/augment_options.h"

namespace imprint {

// Where output pixel centres read from. The output's normalised position p in [-1/2, 1/2]^2 is sheared,
// rotated and shifted, then scaled into the crop box: source = centre + size * (R(angle) Sh(shear) p + shift).
struct ImageWarp {
  double centre_x = 0, centre_y = 0;  // crop box centre, pixels
  double width = 0, height = 0;       // crop box size, pixels
  double angle = 0, shear = 0;        // radians
  double shift_x = 0, shift_y = 0;    // fractions of the box
};

ImageWarp identity_warp(int size);
ImageWarp draw_image_warp(uint64_t seed, const ImageAugmentOptions& o, int size);
// out[c][v][u] = bilinear sample of `in` at the warped position of (u, v); edges are extended (clamped).
void warp_image(const float* in, int size, const ImageWarp& w, float* out);
// Separable Gaussian blur in place, radius ceil(3 sigma), edges extended.
void gaussian_blur(float* chw, int size, double sigma);

// Everything `o` enables, in order: warp, blur, contrast, per-channel gain and brightness, pixel noise, clip
// to [0, 1]. A pure function of (seed, o, the image).
void augment_image(float* chw, int size, const ImageAugmentOptions& o, uint64_t seed);

}  // namespace imprint
