// Appends one JSON object per line to the run directory's metrics.jsonl, each line written whole by one
// write (a crashed run keeps what it logged; a full disk stops the run with RunDirectoryError, exit 3,
// naming the record that was not written, instead of a log that silently ends). Every record carries "time" (Unix
// seconds, wall clock) and "restart" (how many times the run had been resumed when it was written). With a TensorBoard
// folder, every numeric field of a record that has a step also goes there as a scalar: an evaluation's fields as
// eval/<name> (eval_top1 as eval/top1, its identity count as eval/identities), timings as time/<key>, the rest
// as train/<key>.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "trainer/run_directory.h"
#include "trainer/tensorboard_writer.h"

namespace imprint {

class MetricsLog {
 public:
  MetricsLog(const std::string& path, int64_t restart = 0, const std::string& tensorboard_dir = "");
  void write(nlohmann::json record);
  // An RGB image (HWC bytes) for TensorBoard's Images tab, when the run writes TensorBoard (else nothing).
  void image(const std::string& tag, int width, int height, const std::vector<uint8_t>& rgb, int64_t step);
  // A mono clip (samples in [-1, 1]) for TensorBoard's Audio tab, when the run writes TensorBoard.
  void audio(const std::string& tag, const std::vector<float>& samples, int sample_rate, int64_t step);
  // A (re)start at `step`: TensorBoard readers drop what was logged for steps >= step before.
  void mark_start(int64_t step);
  const std::string& path() const { return path_; }

  // Rewrites `path` (atomically) without the records of steps after `step`: a run resumed from the
  // checkpoint of `step` repeats those steps. Lines that are not JSON (a torn last line) go too.
  static void drop_after(const std::string& path, int64_t step);

 private:
  std::string path_;
  int64_t restart_;
  AppendOnlyFile out_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
};

}  // namespace imprint
