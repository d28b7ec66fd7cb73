// Content as token sequences instead of integer labels: a table that gives each content label a sequence of
// float token embeddings [L, Dc] (what a text encoder gives for the label's caption — CLIP's hidden states for
// "the letter R", a phoneme encoder's output for a word), which the generator cross-attends to through the
// content branch of its decoupled cross-attention (the identity branch is added beside, as before).
//
// File: a NumPy .npy array of shape [labels, L, Dc], float32 or float64, C order (np.save(path, table)). The
// dropped content (classifier-free guidance's "null" condition, and condition dropout in training) is the
// all-zero sequence: with bias-free key and value projections it adds exactly nothing, as a dropped identity
// does.
#pragma once
#include <ATen/Tensor.h>

#include <string>

namespace imprint {

class ContentTokens {
 public:
  // Throws std::invalid_argument naming the file: unreadable, not an .npy array, not 3-dimensional, not float,
  // Fortran order, non-finite values.
  static ContentTokens load(const std::string& path);
  int64_t labels() const { return table_.size(0); }
  int64_t length() const { return table_.size(1); }
  int64_t width() const { return table_.size(2); }
  // Labels [B] int64 in [0, labels()], labels() meaning dropped -> tokens [B, L, Dc] on the labels' device.
  at::Tensor lookup(const at::Tensor& labels) const;
  const at::Tensor& table() const { return table_; }

 private:
  at::Tensor table_;      // [labels, L, Dc] float32 on the CPU
  at::Tensor with_null_;  // [labels + 1, L, Dc]: the last row zeros
};

// A NumPy .npy file's array (float32/float64/int64, C order) as a CPU tensor; throws std::invalid_argument.
at::Tensor read_npy(const std::string& path);

}  // namespace imprint
