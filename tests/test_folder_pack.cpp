#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <sndfile.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/pixels.h"
#include "core/text.h"
#include "data/folder_pack.h"
#include "data/media_decode.h"
#include "data/shard_dataset.h"
#include "tests/tiny_run.h"

using namespace imprint;
using imprint::testing::fresh_dir;
namespace fs = std::filesystem;

namespace {

void write_png(const fs::path& p, int w, int h, int channels, uint8_t value, uint8_t alpha = 255) {
  fs::create_directories(p.parent_path());
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = w;
  img.height = h;
  img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * channels);
  for (size_t i = 0; i < px.size(); ++i) {
    const int c = static_cast<int>(i % channels);
    px[i] = channels == 4 && c == 3 ? alpha : channels >= 3 ? (c == 0 ? value : 0) : value;
  }
  ASSERT_TRUE(png_image_write_to_file(&img, p.c_str(), 0, px.data(), 0, nullptr)) << img.message;
}

void write_jpeg(const fs::path& p, int w, int h, bool grey, uint8_t r, uint8_t g, uint8_t b) {
  fs::create_directories(p.parent_path());
  FILE* f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = w;
  c.image_height = h;
  c.input_components = grey ? 1 : 3;
  c.in_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(w) * c.input_components);
  for (int x = 0; x < w; ++x) {
    if (grey) {
      row[x] = r;
    } else {
      row[x * 3] = r, row[x * 3 + 1] = g, row[x * 3 + 2] = b;
    }
  }
  while (c.next_scanline < c.image_height) {
    JSAMPROW rp = row.data();
    jpeg_write_scanlines(&c, &rp, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
}

// A sine at `hz` (right channel inverted when `cancel`), written by libsndfile in `format`.
void write_audio(const fs::path& p, int format, int rate, int channels, double seconds, double hz,
                 bool cancel = false) {
  fs::create_directories(p.parent_path());
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  const auto frames = static_cast<sf_count_t>(seconds * rate);
  std::vector<float> buf(static_cast<size_t>(frames) * channels);
  for (sf_count_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels; ++c)
      buf[i * channels + c] =
          static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / rate) * (cancel && c == 1 ? -1 : 1));
  sf_writef_float(f, buf.data(), frames);
  sf_close(f);
}

void write_garbage(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "this is not media at all";
}

PackOptions image_options(const std::string& in, const std::string& out, int threads) {
  PackOptions o;
  o.modality = Modality::Image;
  o.input = in;
  o.output = out;
  o.image_size = 8;
  o.threads = threads;
  o.holdout_identities = 1;
  return o;
}

std::string image_tree() {
  const fs::path root = fresh_dir("pack-images");
  write_png(root / "alice" / "a.png", 40, 30, 3, 255);                     // red, landscape
  write_jpeg(root / "alice" / "c.jpg", 50, 50, false, 0, 0, 255);          // blue
  write_png(root / "alice" / "sub" / "deeper" / "b.PNG", 20, 20, 1, 128);  // grey, nested, upper-case ext
  write_png(root / "bob" / "x.png", 16, 16, 4, 0, 0);                      // fully transparent: composited on white
  write_jpeg(root / "bob" / "y.jpeg", 12, 30, true, 60, 0, 0);             // grey JPEG, portrait
  write_garbage(root / "bob" / "broken.png");
  std::ofstream(root / "bob" / "notes.txt") << "ignored";
  write_png(root / "carol" / "only.png", 8, 8, 3, 10);  // one sample: identity skipped
  fs::create_directories(root / "empty");
  write_png(root / "Zoë" / "ñandú.png", 9, 9, 3, 200);  // non-ASCII names
  write_png(root / "Zoë" / "二.png", 9, 9, 3, 100);
  write_png(root / "dave" / "1.png", 64, 64, 3, 50);
  write_png(root / "dave" / "2.png", 64, 64, 3, 60);
  return root.string();
}

}  // namespace

TEST(Pack, ImagesOfEveryKindBecomeADataset) {
  const std::string root = image_tree(), out = fresh_dir("pack-images-out");
  const PackReport r = pack_folders(image_options(root, out, 3));
  EXPECT_EQ(r.identities, 4);  // alice, bob, dave, Zoë
  EXPECT_EQ(r.samples, 3 + 2 + 2 + 2);
  EXPECT_EQ(r.skipped_files, 1);
  EXPECT_EQ(r.skipped_identities, 2);  // carol (1 sample), empty (0)
  std::string all;
  for (const auto& p : r.problems) all += p + "\n";
  EXPECT_NE(all.find("broken.png: skipped: PNG"), std::string::npos) << all;
  EXPECT_NE(all.find("carol: identity skipped: 1 usable sample(s)"), std::string::npos) << all;
  EXPECT_NE(all.find("empty: identity skipped: 0 usable sample(s)"), std::string::npos) << all;
  const Manifest& m = r.manifest;
  EXPECT_EQ(m.identities, (std::vector<std::string>{"Zoë", "alice", "bob", "dave"}));
  EXPECT_EQ(m.holdout.size(), 1u);
  EXPECT_NO_THROW(inspect_dataset(out));

  ShardDataset ds(out, 1);
  std::vector<float> px(3 * 8 * 8);
  auto rgb_at = [&](int64_t id, int64_t index, int y, int x) {
    ds.read(id, index, 0, px.data());
    std::array<int, 3> v{};
    for (int c = 0; c < 3; ++c) v[c] = static_cast<int>(std::lround(to_unit_range(px[(c * 8 + y) * 8 + x]) * 255));
    return v;
  };
  EXPECT_EQ(rgb_at(1, 0, 4, 4), (std::array<int, 3>{255, 0, 0})) << "alice/a.png is red";
  const auto blue = rgb_at(1, 1, 4, 4);
  EXPECT_LE(blue[0], 3);
  EXPECT_GE(blue[2], 250) << "alice/c.jpg is blue (JPEG, within rounding)";
  EXPECT_EQ(rgb_at(1, 2, 0, 0), (std::array<int, 3>{128, 128, 128})) << "grey PNG becomes RGB";
  EXPECT_EQ(rgb_at(2, 0, 7, 7), (std::array<int, 3>{255, 255, 255})) << "transparent PNG composited on white";
  EXPECT_EQ(rgb_at(2, 1, 3, 3), (std::array<int, 3>{60, 60, 60})) << "grey JPEG becomes RGB";
}

TEST(Pack, AHoldoutListNamesTheHeldOutIdentities) {
  const std::string root = image_tree(), list = fresh_dir("holdout-list") + ".txt";
  auto o = image_options(root, fresh_dir("pack-listed"), 2);
  o.holdout_identities = 0;
  o.holdout_list = list;
  std::ofstream(list) << "# whole families\nbob\n\ndave\n";
  const Manifest m = pack_folders(o).manifest;  // identities: Zoë, alice, bob, dave
  EXPECT_EQ(m.holdout, (std::vector<int64_t>{2, 3}));

  std::ofstream(list) << "bob\nmallory\n";
  o.output = fresh_dir("pack-listed-bad");
  try {
    pack_folders(o);
    ADD_FAILURE() << "a name that is no identity folder was accepted";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find(list + ":2: 'mallory' is not an identity folder"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output + "/manifest.json")) << "checked before anything is written";
  std::ofstream(list) << "bob\ncarol\n";  // carol is skipped (one sample): one held-out identity is too few
  EXPECT_THROW(pack_folders(o), DatasetError);
  o.holdout_identities = 1;
  EXPECT_THROW(pack_folders(o), DatasetError);
}

TEST(Pack, OutputIsByteIdenticalForAnyThreadCount) {
  const std::string root = image_tree();
  const Manifest a = pack_folders(image_options(root, fresh_dir("pack-a"), 1)).manifest;
  const Manifest b = pack_folders(image_options(root, fresh_dir("pack-b"), 4)).manifest;
  ASSERT_EQ(a.shards.size(), b.shards.size());
  for (size_t s = 0; s < a.shards.size(); ++s) EXPECT_EQ(a.shards[s].fnv1a64, b.shards[s].fnv1a64);
}

TEST(Pack, AudioOfEveryKindIsMixedDownAndResampled) {
  const fs::path root = fresh_dir("pack-audio");
  write_audio(root / "p225" / "session1" / "u1.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 16000, 1, 0.5, 1000);
  write_audio(root / "p225" / "u2.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 0.25, 1000);
  write_audio(root / "p226" / "a.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 22050, 1, 0.3, 1000);
  write_audio(root / "p226" / "b.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, 0.3, 1000);
  write_audio(root / "p227" / "cancel.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, 0.2, 1000, true);
  write_audio(root / "p227" / "d.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0.2, 1000);
  write_garbage(root / "p227" / "bad.wav");
  PackOptions o;
  o.modality = Modality::Audio;
  o.input = root.string();
  o.output = fresh_dir("pack-audio-out");
  o.sample_rate = 8000;
  const PackReport r = pack_folders(o);
  EXPECT_EQ(r.identities, 3);
  EXPECT_EQ(r.samples, 6);
  EXPECT_EQ(r.skipped_files, 1);
  ShardDataset ds(o.output, 8000);
  std::vector<float> x(8000);
  struct Expect {
    int64_t id, index, length;
  };
  // p225: session1/u1.wav (0.5 s), u2.flac (0.25 s); p226: a.wav, b.wav (0.3 s); p227: cancel.wav, d.wav (0.2 s)
  for (const Expect& e :
       {Expect{0, 0, 4000}, Expect{0, 1, 2000}, Expect{1, 0, 2400}, Expect{1, 1, 2400}, Expect{2, 1, 1600}}) {
    ds.read(e.id, e.index, 0, x.data());
    int64_t length = 0, crossings = 0;
    for (int64_t i = 0; i < 8000; ++i)
      if (x[i] != 0.0f) length = i + 1;
    for (int64_t i = 1; i < length; ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
    EXPECT_NEAR(length, e.length, 3) << e.id << "/" << e.index;
    // A 1 kHz tone crosses zero 2000 times a second, whatever rate and bit depth it came in at.
    EXPECT_NEAR(crossings, 2000.0 * e.length / 8000, 0.03 * 2000.0 * e.length / 8000) << e.id << "/" << e.index;
  }
  ds.read(2, 0, 0, x.data());
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::abs(v));
  EXPECT_LT(peak, 1e-3) << "left and right in opposite phase must mix down to silence";
}

TEST(Pack, MissingOrEmptyInputIsNamed) {
  PackOptions o = image_options("/nonexistent/photos", fresh_dir("pack-none"), 1);
  try {
    pack_folders(o);
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/photos: input folder does not exist");
  }
  o.input = fresh_dir("pack-empty-root");
  fs::create_directories(o.input);
  try {
    pack_folders(o);
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("no identity folders"), std::string::npos) << e.what();
  }
}

TEST(Pack, NaturalOrderPutsTwoBeforeTen) {
  EXPECT_TRUE(natural_less("2.png", "10.png"));
  EXPECT_FALSE(natural_less("10.png", "2.png"));
  EXPECT_TRUE(natural_less("speaker9/a.wav", "speaker10/a.wav"));
  EXPECT_TRUE(natural_less("a.png", "b.png"));
  EXPECT_TRUE(natural_less("2.png", "02.png") != natural_less("02.png", "2.png"));  // total: ties broken
  const fs::path root = fresh_dir("pack-natural");
  for (int i : {10, 2, 1})
    write_png(root / "anna" / (std::to_string(i) + ".png"), 8, 8, 3, static_cast<uint8_t>(20 * i));
  for (int i : {1, 2}) write_png(root / "ben" / (std::to_string(i) + ".png"), 8, 8, 3, 7);
  for (int i : {1, 2}) write_png(root / "cleo" / (std::to_string(i) + ".png"), 8, 8, 3, 9);
  auto o = image_options(root.string(), fresh_dir("pack-natural-out"), 1);
  o.holdout_identities = 0;
  pack_folders(o);
  ShardDataset ds(o.output, 1);
  std::vector<float> px(3 * 8 * 8);
  const int expected_red[] = {20, 40, 200};  // 1.png, 2.png, 10.png
  for (int k = 0; k < 3; ++k) {
    ds.read(0, k, 0, px.data());
    EXPECT_EQ(static_cast<int>(std::lround(to_unit_range(px[0]) * 255)), expected_red[k]) << "sample " << k;
  }
}

TEST(Pack, ANonEmptyOutputIsRefusedUnlessOverwritingADataset) {
  const std::string root = image_tree();
  auto o = image_options(root, fresh_dir("pack-twice"), 1);
  pack_folders(o);
  try {
    pack_folders(o);
    FAIL() << "packed over an existing dataset";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("--output is not empty"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
  }
  o.overwrite = true;
  EXPECT_EQ(pack_folders(o).identities, 4);
  EXPECT_NO_THROW(inspect_dataset(o.output));
  std::ofstream(fs::path(o.output) / "my-notes.txt") << "keep me";
  try {
    pack_folders(o);
    FAIL() << "--overwrite removed a folder holding other files";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("my-notes.txt"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(fs::path(o.output) / "my-notes.txt"));
  EXPECT_TRUE(fs::exists(fs::path(o.output) / "manifest.json")) << "nothing may be removed when refusing";
}

TEST(Pack, WrongModalityOrTooManyHeldOutWritesNothing) {
  const std::string root = image_tree();
  auto o = image_options(root, fresh_dir("pack-wrong") + "-new", 1);
  o.modality = Modality::Audio;
  try {
    pack_folders(o);
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("no audio files (*.wav, *.flac) found under its 6 identity folders"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("pass --modality image"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output)) << "a refused pack must not create the output folder";
  o.modality = Modality::Image;
  o.holdout_identities = 4;  // 4 identities have 2+ files: none would be left to train on
  try {
    pack_folders(o);
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("--holdout-identities 4 leaves too few"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output));
}

TEST(Pack, HoldoutGroupsHoldOutWholeGroups) {
  const std::string root = image_tree(), tsv = fresh_dir("groups") + ".tsv";
  {
    std::ofstream out(tsv);
    out << "# identity\tgroup\nalice\tg1\nbob\tg1\ncarol\tg1\ndave\tg2\nZoë\tg2\nempty\tg2\n";
  }
  auto o = image_options(root, fresh_dir("pack-groups"), 2);
  o.holdout_identities = 0;
  o.holdout_groups = tsv;
  o.holdout_group_count = 1;
  const Manifest m = pack_folders(o).manifest;  // identities: Zoë, alice, bob, dave
  std::vector<std::string> held;
  for (int64_t id : m.holdout) held.push_back(m.identities[id]);
  std::sort(held.begin(), held.end());
  const bool g1 = held == std::vector<std::string>{"alice", "bob"},
             g2 = held == std::vector<std::string>{"Zoë", "dave"};
  EXPECT_TRUE(g1 || g2) << "not one whole group: " << held.size() << " held out";
  // The same choice by fraction (1 of 2 groups), and the same choice again (a hash, not a random draw).
  o.holdout_group_count = 0;
  o.holdout_group_fraction = 0.5;
  o.output = fresh_dir("pack-groups-frac");
  EXPECT_EQ(pack_folders(o).manifest.holdout, m.holdout);
  // Every identity needs a group; a count that leaves nothing to train on is refused before decoding.
  std::ofstream(tsv) << "alice\tg1\nbob\tg1\n";
  o.output = fresh_dir("pack-groups-bad");
  try {
    pack_folders(o);
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("identity folder 'Zoë' has no group"), std::string::npos) << e.what();
  }
  std::ofstream(tsv) << "alice\tg1\nbob\tg1\ncarol\tg1\ndave\tg2\nZoë\tg2\nempty\tg2\n";
  o.holdout_group_fraction = 0;
  o.holdout_group_count = 2;
  try {
    pack_folders(o);
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("holding out 2 of its 2 groups leaves nothing to train on"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output));
}

TEST(Pack, AHoldoutListFindsNaturallyOrderedFolders) {
  // s2 < s9 < s10 naturally, s10 < s2 < s9 as plain strings: the list lookup must not depend on the order.
  const fs::path root = fresh_dir("pack-natural-list");
  for (const char* id : {"s2", "s9", "s10", "s11"})
    for (int i : {1, 2}) write_png(root / id / (std::to_string(i) + ".png"), 8, 8, 3, 5);
  const std::string list = fresh_dir("natural-list") + ".txt";
  std::ofstream(list) << "s10\ns9\n";
  auto o = image_options(root.string(), fresh_dir("pack-natural-list-out"), 1);
  o.holdout_identities = 0;
  o.holdout_list = list;
  const Manifest m = pack_folders(o).manifest;
  EXPECT_EQ(m.identities, (std::vector<std::string>{"s2", "s9", "s10", "s11"}));
  EXPECT_EQ(m.holdout, (std::vector<int64_t>{1, 2}));
}

// The decoders hand rows to SquareResizer as they read them instead of holding the whole image: it must give
// square_resize()'s bytes exactly, shrinking (area average) and growing (bilinear), from wide and tall images.
TEST(SquareResize, RowByRowGivesTheWholeImageResult) {
  // w x h to size: shrinking (square, wide, tall, and tall by 9/8), growing, the same size, one pixel
  const std::vector<std::array<int, 3>> cases = {{64, 64, 16}, {100, 37, 16}, {37, 100, 16}, {333, 250, 32},
                                                 {7, 5, 16},   {16, 16, 16},  {1, 1, 8},     {9, 40, 8}};
  for (const auto& [w, h, size] : cases) {
    std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    SquareResizer r(w, h, size);
    for (int y = 0; y < h; ++y) r.add_row(y, rgb.data() + static_cast<size_t>(y) * w * 3);
    EXPECT_EQ(r.result(), square_resize(rgb, w, h, size)) << w << " x " << h << " to " << size;
  }
}

// An interlaced PNG (read whole, pass by pass) decodes as the same image not interlaced (read row by row).
TEST(SquareResize, InterlacedAndPlainPngsDecodeAlike) {
  const fs::path dir = fresh_dir("interlaced");
  fs::create_directories(dir);
  std::vector<uint8_t> px(40 * 30 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7);
  for (const bool interlace : {false, true}) {
    FILE* f = std::fopen((dir / (interlace ? "i.png" : "p.png")).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, 40, 30, 8, PNG_COLOR_TYPE_RGB, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_bytep> rows(30);
    for (int y = 0; y < 30; ++y) rows[y] = px.data() + y * 40 * 3;
    png_set_rows(png, info, rows.data());
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
  }
  std::vector<uint8_t> plain, interlaced;
  std::string error;
  ASSERT_TRUE(decode_image((dir / "p.png").string(), 16, plain, error)) << error;
  ASSERT_TRUE(decode_image((dir / "i.png").string(), 16, interlaced, error)) << error;
  EXPECT_EQ(plain, interlaced);
  EXPECT_EQ(plain, square_resize(px, 40, 30, 16));
}

// A JPEG cut short is refused (libjpeg would fill the rest with grey), as PIL refuses it.
TEST(SquareResize, ATruncatedJpegIsRefused) {
  const fs::path dir = fresh_dir("truncated-jpeg");
  write_jpeg(dir / "whole.jpg", 64, 64, false, 200, 100, 50);
  std::ifstream in(dir / "whole.jpg", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir / "cut.jpg", std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
  std::vector<uint8_t> rgb;
  std::string error;
  EXPECT_TRUE(decode_image((dir / "whole.jpg").string(), 16, rgb, error)) << error;
  EXPECT_FALSE(decode_image((dir / "cut.jpg").string(), 16, rgb, error));
  EXPECT_NE(error.find("Premature end of JPEG file (the file is truncated"), std::string::npos) << error;
}

// Every file unusable: no dataset (once an empty manifest was written, then refused as one), every problem
// handed back for the command to list, and nothing left where the output was to go.
TEST(Pack, NothingUsableWritesNothing) {
  const fs::path root = fresh_dir("pack-nothing-usable");
  for (const char* id : {"a", "b"})
    for (const char* f : {"0.png", "1.jpg"}) write_garbage(root / id / f);
  auto o = image_options(root.string(), fresh_dir("pack-nothing-usable-out"), 2);
  o.holdout_identities = 0;
  try {
    pack_folders(o);
    FAIL() << "packed nothing";
  } catch (const PackError& e) {
    EXPECT_NE(std::string(e.what()).find("0 of its 2 identities have the 2 usable samples"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.problems.size(), 6u);  // 4 files, 2 identities
  }
  EXPECT_FALSE(fs::exists(o.output));
}
