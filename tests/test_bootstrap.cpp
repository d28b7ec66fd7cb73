#include <gtest/gtest.h>

#include "collectives/bootstrap.h"

using imprint::Bootstrap;
using imprint::BootstrapError;

TEST(Bootstrap, NoLauncherIsOneProcess) {
  const Bootstrap b = Bootstrap::from({});
  EXPECT_EQ(b.rank, 0);
  EXPECT_EQ(b.world_size, 1);
  EXPECT_EQ(b.launcher, "none");
}

TEST(Bootstrap, ReadsMpirun) {
  const Bootstrap b = Bootstrap::from({{"OMPI_COMM_WORLD_SIZE", "4"},
                                       {"OMPI_COMM_WORLD_RANK", "3"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                       {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  EXPECT_EQ(b.launcher, "mpirun");
  EXPECT_EQ(b.rank, 3);
  EXPECT_EQ(b.world_size, 4);
  EXPECT_EQ(b.local_rank, 1);
  EXPECT_EQ(b.local_size, 2);
}

TEST(Bootstrap, ReadsSlurm) {
  const Bootstrap b = Bootstrap::from(
      {{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "5"}, {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS_PER_NODE", "4(x2)"}});
  EXPECT_EQ(b.launcher, "slurm");
  EXPECT_EQ(b.rank, 5);
  EXPECT_EQ(b.world_size, 8);
  EXPECT_EQ(b.local_rank, 1);
  EXPECT_EQ(b.local_size, 4);
}

TEST(Bootstrap, BadValuesNameTheVariable) {
  try {
    Bootstrap::from({{"OMPI_COMM_WORLD_SIZE", "two"}});
    FAIL() << "no error";
  } catch (const BootstrapError& e) {
    EXPECT_NE(std::string(e.what()).find("OMPI_COMM_WORLD_SIZE='two'"), std::string::npos);
  }
  try {
    Bootstrap::from({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "2"}});
    FAIL() << "no error";
  } catch (const BootstrapError& e) {
    EXPECT_EQ(std::string(e.what()), "SLURM_PROCID=2 is not below SLURM_NTASKS=2");
  }
}

// One GPU per task (Slurm --gpus-per-task=1, CUDA_VISIBLE_DEVICES per rank): every local rank sees only
// device 0 and must use it; with every GPU of the node visible, local rank r takes GPU r (mod the count).
TEST(Bootstrap, GpuForLocalRankFitsWhatTheRankSees) {
  EXPECT_EQ(imprint::gpu_for_local_rank(3, 1), 0);
  EXPECT_EQ(imprint::gpu_for_local_rank(3, 4), 3);
  EXPECT_EQ(imprint::gpu_for_local_rank(5, 4), 1);
  EXPECT_EQ(imprint::gpu_for_local_rank(0, 8), 0);
  try {
    imprint::gpu_for_local_rank(2, 0);
    FAIL() << "no error without a visible GPU";
  } catch (const BootstrapError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device is visible"), std::string::npos) << e.what();
  }
}
