// Procedural image identities: a shape, a palette and a texture that stay fixed for the identity,
// rendered under a pose, scale and crop that change from sample to sample.
#pragma once
#include <cstdint>

namespace imprint {

struct ImageIdentity {
  int shape;     // 0 ellipse, 1 polygon, 2 star, 3 ring
  int vertices;  // polygon / star points
  float aspect;  // ellipse and ring squash
  float fg[3], bg[3], tex[3];
  int texture;  // 0 stripes, 1 checker, 2 dots
  float tex_freq, tex_angle;
};

ImageIdentity make_image_identity(uint64_t data_seed, int64_t identity);

// Renders sample `index` of `id` as float CHW [3, size, size], normalised to roughly zero mean and unit
// spread. The pose comes from (data_seed, identity, index); augment_seed != 0 adds colour jitter and noise.
// content >= 0 (of content_classes) places the shape at one of content_classes fixed spots on a circle
// instead of a random one: the content a generator is asked for, the identity being what it looks like.
void render_image(const ImageIdentity& id, uint64_t data_seed, int64_t identity, int64_t index, uint64_t augment_seed,
                  int size, float* out, int content = -1, int content_classes = 0);

}  // namespace imprint
