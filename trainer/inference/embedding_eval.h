// `imprint eval --embeddings DIR`: imprint's held-out metrics on embeddings made by ANY encoder, so a peer
// (a pretrained speaker or face encoder) is scored exactly as imprint's own is. DIR holds what `imprint embed`
// writes:
//   pooled.npy   [N, D] float32/float64, one embedding per row (normalised here; compared by cosine);
//   index.tsv    a header line, then "<row>\t<file>[\t<identity>]" per row: the identity is the third column
//                where there is one (`imprint embed` writes it: the first folder under --input, as pack
//                groups files), else the name of the folder holding the file (ROOT/<identity>/x.wav).
// Each identity's files in natural order (as `imprint pack` orders them): the first is its ONE reference, the
// next gallery_per_identity its gallery; identities with fewer files are skipped and reported. Metrics as in
// training (trainer/evaluation/retrieval_eval.h): top-1 from one reference, every sample as the reference
// (top-1 with its bootstrap interval, top-5), EER and minDCF(0.01) over every pair.
#pragma once
#include <string>
#include <vector>

#include "trainer/evaluation/retrieval_eval.h"

namespace imprint {

struct EmbeddingEvalReport {
  RetrievalScore score;
  std::vector<std::string> identities;  // scored, in order (the references' order)
  std::vector<std::string> skipped;     // "identity: n files" with too few
  int64_t rows = 0, dim = 0;
};

// Throws ConfigError (exit 2) naming the file and row: a missing or unreadable pooled.npy / index.tsv, rows that
// disagree, a row with no identity, non-finite values, fewer than 2 usable identities.
EmbeddingEvalReport evaluate_embeddings(const std::string& dir, int64_t gallery_per_identity);

}  // namespace imprint
