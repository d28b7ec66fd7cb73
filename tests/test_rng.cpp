// Counter-based random streams: one table of named stream ids (core/rng.h), no id used twice.
#include <gtest/gtest.h>

#include <map>

#include "core/rng.h"

using namespace imprint;

TEST(RngStreams, EveryStreamHasItsOwnId) {
  int n = 0;
  const StreamName* streams = rng_streams(&n);
  ASSERT_GT(n, 10);
  std::map<uint64_t, const char*> seen;
  for (int i = 0; i < n; ++i) {
    const auto [it, fresh] = seen.emplace(streams[i].id, streams[i].name);
    EXPECT_TRUE(fresh) << streams[i].name << " and " << it->second << " share the id 0x" << std::hex << streams[i].id;
  }
}

TEST(RngStreams, AStreamKeyIsWhatTheUnnamedMixWas) {
  // The names changed no draw: a stream's key is mix(seed, id, tags...), as before the ids had names.
  EXPECT_EQ(stream_key(7, Stream::SamplerViews, 3, 4), mix(7, 0x9a1e, 3, 4));
  EXPECT_EQ(stream_key(7, Stream::AugmentWarp), mix(7, 0x5741));
  EXPECT_NE(stream_key(7, Stream::SamplerNoise, 1), stream_key(7, Stream::NegativeCentres, 1));
}
