#include "data/media_decode.h"

#include <jpeglib.h>
#include <png.h>
#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace imprint {

bool is_media_file(const std::string& path, Modality modality) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (modality == Modality::Image) return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
  return ext == ".wav" || ext == ".flac";
}
namespace {

std::string non_finite_reason(int64_t frame, int rate) {
  return "holds a NaN or infinite sample (frame " + std::to_string(frame) + ", at " +
         std::to_string(static_cast<double>(frame) / rate).substr(0, 6) + " s)";
}

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

// The reason libpng gave up, and where to jump back to: its default handler prints to stderr.
struct PngError {
  std::string message;
};

void png_fail(png_structp png, png_const_charp message) {
  static_cast<PngError*>(png_get_error_ptr(png))->message = message;
  png_longjmp(png, 1);
}
void png_ignore_warning(png_structp, png_const_charp) {}

// "declares W x H pixels, more than ..." when a header asks for more than the limit, before any buffer exists.
bool within_pixel_limit(uint64_t w, uint64_t h, std::string& error) {
  if (w <= kMaxDecodedSide && h <= kMaxDecodedSide && w * h <= kMaxDecodedPixels) return true;
  error = "its header declares " + std::to_string(w) + " x " + std::to_string(h) + " pixels, more than imprint " +
          "decodes (at most " + std::to_string(kMaxDecodedSide) + " per side and " +
          std::to_string(kMaxDecodedPixels / 1000000) + " megapixels)";
  return false;
}

// Whether a PNG of `file_bytes` can hold the pixels its header declares: they are stored deflated, and deflate
// compresses at most 1032:1 (a 258-byte match coded in 2 bits), so a file this small cannot carry them. Checked
// before the pixel buffer exists: a 68-byte file declaring 7000 x 7000 (within the pixel limit) would otherwise
// cost 196 MB before libpng finds the data missing. Lenient by construction: the whole file counts as data, and
// row filter bytes do not count at all, so no intact PNG is refused.
bool within_deflate_bound(uint64_t w, uint64_t h, int channels, int bit_depth, uint64_t file_bytes,
                          std::string& error) {
  constexpr uint64_t kDeflateMaxRatio = 1032;
  const uint64_t pixel_bytes = w * h * static_cast<uint64_t>(channels * bit_depth) / 8;
  if (pixel_bytes <= kDeflateMaxRatio * file_bytes) return true;
  error = "its header declares " + std::to_string(w) + " x " + std::to_string(h) + " pixels (" +
          std::to_string(pixel_bytes) + " bytes of pixel data), more than its " + std::to_string(file_bytes) +
          " bytes can hold (deflate compresses at most 1032:1): a truncated or crafted file";
  return false;
}

// With libpng's own reader, not its simplified API: that one takes 16-bit samples as linear light and
// re-encodes them to sRGB (up to 72/255 brighter than other readers show them). Here every depth is scaled
// to 8 bits as stored, as PIL and ImageMagick read it; alpha is composited on white.
bool read_png(const std::string& path, std::vector<uint8_t>& rgb, int& w, int& h, std::string& error) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  PngError failure;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail, png_ignore_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  std::vector<uint8_t> rgba;
  std::vector<png_bytep> rows;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    error = "PNG: " + (failure.message.empty() ? std::string("cannot start libpng") : failure.message);
    return false;
  }
  png_init_io(png, file.get());
  png_read_info(png, info);
  const uint32_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  std::error_code size_ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, size_ec);
  if (!within_pixel_limit(width, height, error) ||
      (!size_ec && !within_deflate_bound(width, height, png_get_channels(png, info), png_get_bit_depth(png, info),
                                         file_bytes, error))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const int color = png_get_color_type(png, info);
  png_set_scale_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (!(color & PNG_COLOR_MASK_ALPHA) && !png_get_valid(png, info, PNG_INFO_tRNS))
    png_set_filler(png, 0xff, PNG_FILLER_AFTER);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  rgba.resize(static_cast<size_t>(width) * height * 4);
  rows.resize(height);
  for (uint32_t y = 0; y < height; ++y) rows[y] = rgba.data() + static_cast<size_t>(y) * width * 4;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0, n = static_cast<size_t>(width) * height; i < n; ++i) {
    const int a = rgba[i * 4 + 3];
    for (int c = 0; c < 3; ++c)
      rgb[i * 3 + c] = static_cast<uint8_t>((rgba[i * 4 + c] * a + 255 * (255 - a) + 127) / 255);
  }
  w = static_cast<int>(width);
  h = static_cast<int>(height);
  return true;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

bool read_jpeg(const std::string& path, std::vector<uint8_t>& rgb, int& w, int& h, std::string& error) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    error = "cannot open";
    return false;
  }
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  if (setjmp(err.jump)) {
    error = std::string("JPEG: ") + err.message;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, file.get());
  jpeg_read_header(&cinfo, TRUE);
  if (!within_pixel_limit(cinfo.image_width, cinfo.image_height, error)) {
    error = "JPEG: " + error;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = JCS_RGB;  // grey and YCbCr alike
  jpeg_start_decompress(&cinfo);
  w = static_cast<int>(cinfo.output_width);
  h = static_cast<int>(cinfo.output_height);
  rgb.resize(static_cast<size_t>(w) * h * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = rgb.data() + static_cast<size_t>(cinfo.output_scanline) * w * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

std::vector<uint8_t> square_resize(const std::vector<uint8_t>& rgb, int width, int height, int size) {
  // Centre crop to a square of side s, then map it onto size x size.
  const int s = std::min(width, height), x0 = (width - s) / 2, y0 = (height - s) / 2;
  std::vector<uint8_t> out(static_cast<size_t>(size) * size * 3);
  const double scale = static_cast<double>(s) / size;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        double v = 0;
        if (scale >= 1) {  // area average over the source pixels this output pixel covers
          const int ya = static_cast<int>(y * scale), yb = std::max(ya + 1, static_cast<int>((y + 1) * scale));
          const int xa = static_cast<int>(x * scale), xb = std::max(xa + 1, static_cast<int>((x + 1) * scale));
          for (int yy = ya; yy < yb; ++yy)
            for (int xx = xa; xx < xb; ++xx) v += rgb[((static_cast<size_t>(y0 + yy) * width) + x0 + xx) * 3 + c];
          v /= static_cast<double>((yb - ya) * (xb - xa));
        } else {  // bilinear
          const double fy = std::clamp((y + 0.5) * scale - 0.5, 0.0, s - 1.0),
                       fx = std::clamp((x + 0.5) * scale - 0.5, 0.0, s - 1.0);
          const int ya = static_cast<int>(fy), xa = static_cast<int>(fx);
          const int yb = std::min(ya + 1, s - 1), xb = std::min(xa + 1, s - 1);
          const double ty = fy - ya, tx = fx - xa;
          auto at = [&](int yy, int xx) { return rgb[((static_cast<size_t>(y0 + yy) * width) + x0 + xx) * 3 + c]; };
          v = (1 - ty) * ((1 - tx) * at(ya, xa) + tx * at(ya, xb)) + ty * ((1 - tx) * at(yb, xa) + tx * at(yb, xb));
        }
        out[(static_cast<size_t>(y) * size + x) * 3 + c] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
  return out;
}

bool decode_image(const std::string& path, int size, std::vector<uint8_t>& rgb, std::string& error) {
  std::vector<uint8_t> full;
  int w = 0, h = 0;
  const bool ok = ends_with_ci(path, ".png") ? read_png(path, full, w, h, error) : read_jpeg(path, full, w, h, error);
  if (!ok) return false;
  if (w < 1 || h < 1) {
    error = "empty image";
    return false;
  }
  rgb = square_resize(full, w, h, size);
  return true;
}

bool decode_audio(const std::string& path, int sample_rate, std::vector<int16_t>& pcm, std::string& error,
                  std::string* warning) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    error = std::string("libsndfile: ") + sf_strerror(nullptr);
    return false;
  }
  if (info.frames < 1 || info.channels < 1) {
    sf_close(f);
    error = "no audio frames";
    return false;
  }
  std::vector<float> interleaved(static_cast<size_t>(info.frames) * info.channels);
  const sf_count_t got = sf_readf_float(f, interleaved.data(), info.frames);
  sf_close(f);
  if (got < 1) {
    error = "libsndfile read no frames";
    return false;
  }
  for (sf_count_t i = 0; i < got * info.channels; ++i)
    if (!std::isfinite(interleaved[static_cast<size_t>(i)])) {
      error = non_finite_reason(i / info.channels, info.samplerate);
      return false;
    }
  std::vector<float> mono(static_cast<size_t>(got));
  for (sf_count_t i = 0; i < got; ++i) {
    float sum = 0;
    for (int c = 0; c < info.channels; ++c) sum += interleaved[static_cast<size_t>(i) * info.channels + c];
    mono[i] = sum / static_cast<float>(info.channels);
  }
  std::vector<float> resampled;
  if (info.samplerate == sample_rate) {
    resampled = std::move(mono);
  } else {
    const size_t out_len =
        static_cast<size_t>(std::ceil(mono.size() * static_cast<double>(sample_rate) / info.samplerate));
    resampled.resize(out_len + 16);
    size_t done = 0;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    const soxr_error_t e = soxr_oneshot(info.samplerate, sample_rate, 1, mono.data(), mono.size(), nullptr,
                                        resampled.data(), resampled.size(), &done, &io, &quality, nullptr);
    if (e) {
      error = std::string("libsoxr: ") + e;
      return false;
    }
    resampled.resize(done);
  }
  size_t clipped = 0;
  for (const float v : resampled) clipped += v > 1.0f || v < -1.0f;
  if (clipped > 0 && warning)
    *warning = "packed, but " + std::to_string(clipped) + " of " + std::to_string(resampled.size()) + " samples (" +
               std::to_string((100 * clipped + resampled.size() / 2) / resampled.size()) +
               "%) pass full scale and were clipped (a float file above 1.0?)";
  pcm.resize(resampled.size());
  for (size_t i = 0; i < resampled.size(); ++i)
    pcm[i] = static_cast<int16_t>(std::lround(std::clamp(resampled[i], -1.0f, 32767.0f / 32768.0f) * 32768.0f));
  if (pcm.empty()) {
    error = "no samples after resampling";
    return false;
  }
  return true;
}

}  // namespace imprint
