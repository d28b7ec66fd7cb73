#include "trainer/checkpoint/state_part.h"

#include "core/text.h"
#include "trainer/checkpoint/checkpoint_store.h"

namespace imprint {

void EncoderState::save(torch::serialize::OutputArchive& checkpoint) {
  torch::serialize::OutputArchive model;
  encoder_->save(model);
  checkpoint.write("model", model);
}

void EncoderState::load(torch::serialize::InputArchive& checkpoint, const std::string& path) {
  torch::serialize::InputArchive model;
  if (!checkpoint.try_read("model", model)) throw CheckpointError(path + ": holds no encoder ('model')");
  try {
    encoder_->load(model);
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot restore the encoder: " + first_line(e.what()));
  }
}

}  // namespace imprint
