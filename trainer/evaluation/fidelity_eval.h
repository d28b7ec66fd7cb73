// Identity fidelity of GENERATED samples, measured during training on held-out identities from ONE reference
// each (the role DINO plays in DreamBench and a face-ID model for InstantID): a separately trained identity
// judge (an imprint contrastive encoder trained on the TRAINING identities only) embeds
//   generated  samples drawn from the reference's identity tokens, one per content label column;
//   floor      the same samples (same starting noise) with the identity tokens dropped;
//   ceiling    real samples of the held-out identities (the retrieval gallery), each scored leave-one-out;
// and each is scored against the held-out identities' prototypes (the mean judge embedding of their real
// gallery samples): top-1 = the nearest prototype is the reference's identity (chance 1 / identities), cosine =
// the mean judge cosine to that identity's prototype. Content accuracy: the content label of a sample is read
// by a content judge (an encoder trained on the content labels: eval.content_judge) or else by its nearest
// neighbour (cosine of mean-removed pixels; for audio of the mean-removed normalised log-mel of
// the generator's codec, on the vocoded waveform) among the TRAINING identities' samples, so the three rows
// share one reader.
#pragma once
#include <ATen/Tensor.h>

#include "data/identity_dataset.h"
#include "generation/diffusion.h"
#include "models/encoder.h"
#include "trainer/evaluation/retrieval_eval.h"

namespace imprint {

struct FidelitySet {
  at::Tensor references;     // [M, ...] sample 0 of each held-out identity scored
  at::Tensor real;           // [M*G, ...] its other samples (the prototypes, and the ceiling)
  at::Tensor real_identity;  // [M*G] 0..M-1
  at::Tensor real_content;   // [M*G] content label, undefined when the dataset has none
  at::Tensor columns;        // [N] content label of each generated column (zeros when the dataset has none)
  at::Tensor bank;           // [B, ...] training-identity samples, and their content labels [B]
  at::Tensor bank_content;   // (both undefined when the dataset has no content labels)
};

// `identities` of `eval`'s held-out identities (0 or at least as many as it has = all, in its order), drawn by
// `draw_seed` (not the first ones: a dataset's first identities by name are often one family's faces and its
// near-twins), `columns` content labels spread over the vocabulary, and the samples of the first
// `bank_identities` training identities. `held`: the dataset identities of `eval`'s references, in its order.
FidelitySet build_fidelity_set(const IdentityDataset& dataset, const EvalSet& eval, const std::vector<int64_t>& held,
                               int64_t identities, int64_t columns, int64_t bank_identities, const at::Device& device,
                               uint64_t draw_seed = 0);
// Which `m` of `n` rows a seeded draw picks, in ascending order (all n when m >= n).
std::vector<int64_t> draw_rows(int64_t n, int64_t m, uint64_t seed);

struct FidelityScores {
  double top1 = 0, cosine = 0;
  double content = -1;  // accuracy, -1 when the dataset has no content labels
};
struct FidelityReport {
  FidelityScores generated, floor, ceiling;
  double chance = 0;
  int64_t identities = 0, samples = 0;  // samples generated with the identity (as many again without)
  // The samples scored (images in the model range): row i * N + n is identity i's column n, with and without
  // its identity tokens.
  at::Tensor with_identity, without_identity;
};

// Rows of (reference, its N generated samples) over (blank, the same without identity) for the first
// `identities` identities: what the evaluation logs to TensorBoard.
class SampleGrid;
// Audio shows as log-mel pictures (Diffusion::pictures).
SampleGrid fidelity_grid(Diffusion& diffusion, const FidelitySet& set, const FidelityReport& report,
                         int64_t identities);

// `generated` [S, ...] of which row s was conditioned on identity `own[s]` (0..M-1); `prototype_sums` [M, D]
// sums of unit judge embeddings per identity. With `leave_one_out`, row s is itself one of those summed and its
// own identity's prototype is taken without it. Exposed for the tests.
FidelityScores judge_scores(const at::Tensor& embeddings, const at::Tensor& own, const at::Tensor& prototype_sums,
                            bool leave_one_out);
// Fraction of `samples` whose nearest bank sample (cosine of the mean-removed values) has the label in `want`.
double content_accuracy(const at::Tensor& samples, const at::Tensor& want, const at::Tensor& bank,
                        const at::Tensor& bank_content);

// "identity fidelity from ONE reference (16 held-out identities, ...) | judge top-1 generated ..., identity
// dropped ..., real ... | judge cosine ... | content accuracy ...": the line training and `imprint eval` print.
std::string describe_fidelity(const FidelityReport& report, const std::string& which_identities);

// content_judge (may be null): an encoder trained with the content labels as its identities reads a sample's
// content as the label whose prototype over the bank is nearest (prototype_content_accuracy); null: the
// nearest-neighbour reader (content_accuracy).
FidelityReport evaluate_fidelity(Encoder& encoder, Diffusion& diffusion, Encoder& judge, const FidelitySet& set,
                                 const SamplerOptions& sampler, int64_t batch_size, Encoder* content_judge = nullptr);
// Fraction of `embeddings` (unit rows) whose nearest content prototype (the normalised mean of the unit bank
// embeddings of each label) is the label in `want`.
double prototype_content_accuracy(const at::Tensor& embeddings, const at::Tensor& want,
                                  const at::Tensor& bank_embeddings, const at::Tensor& bank_content);

}  // namespace imprint
