#include "data/media_decode.h"

#include <jpeglib.h>
// after jpeglib.h: the message codes
#include <jerror.h>
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
#include <stdexcept>

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

// Alpha composited on white, one row of RGBA to RGB.
void composite_row(const uint8_t* rgba, uint32_t width, uint8_t* rgb) {
  for (size_t i = 0; i < width; ++i) {
    const int a = rgba[i * 4 + 3];
    for (int c = 0; c < 3; ++c)
      rgb[i * 3 + c] = static_cast<uint8_t>((rgba[i * 4 + c] * a + 255 * (255 - a) + 127) / 255);
  }
}

// With libpng's own reader, not its simplified API: that one takes 16-bit samples as linear light and
// re-encodes them to sRGB (up to 72/255 brighter than other readers show them). Here every depth is scaled
// to 8 bits as stored, as PIL and ImageMagick read it; alpha is composited on white. Rows go to the resizer as
// they are read; only an interlaced file (whose passes each cover the whole image) is held whole.
bool read_png(const std::string& path, int size, std::vector<uint8_t>& out, std::string& error) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  PngError failure;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail, png_ignore_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  std::vector<uint8_t> rgba, rgb_row;
  std::unique_ptr<SquareResizer> resizer;
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
  const bool interlaced = png_set_interlace_handling(png) > 1;
  png_read_update_info(png, info);
  resizer = std::make_unique<SquareResizer>(static_cast<int>(width), static_cast<int>(height), size);
  rgb_row.resize(static_cast<size_t>(width) * 3);
  const size_t row_bytes = static_cast<size_t>(width) * 4;
  if (interlaced) {
    rgba.resize(row_bytes * height);
    std::vector<png_bytep> rows(height);
    for (uint32_t y = 0; y < height; ++y) rows[y] = rgba.data() + y * row_bytes;
    png_read_image(png, rows.data());
  } else {
    rgba.resize(row_bytes);
  }
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t* row = interlaced ? rgba.data() + y * row_bytes : rgba.data();
    if (!interlaced) png_read_row(png, rgba.data(), nullptr);
    composite_row(row, width, rgb_row.data());
    resizer->add_row(static_cast<int>(y), rgb_row.data());
  }
  png_destroy_read_struct(&png, &info, nullptr);
  out = resizer->result();
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

// libjpeg's warnings: a file that ends early is refused, as PIL refuses it ("image file is truncated"): read
// on, libjpeg would fill the missing part with grey and the sample would be packed as if whole. The others
// (extraneous bytes before a marker, common in camera files) are passed over, and none is printed to stderr.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

bool read_jpeg(const std::string& path, int size, std::vector<uint8_t>& out, std::string& error) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    error = "cannot open";
    return false;
  }
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_message;
  std::vector<uint8_t> row;
  std::unique_ptr<SquareResizer> resizer;
  if (setjmp(err.jump)) {
    error = std::string("JPEG: ") + err.message +
            (err.mgr.msg_code == JWRN_JPEG_EOF ? " (the file is truncated: its pixels are not all there)" : "");
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
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  resizer = std::make_unique<SquareResizer>(w, h, size);
  row.resize(static_cast<size_t>(w) * 3);  // one scanline at a time: never the whole image
  while (cinfo.output_scanline < cinfo.output_height) {
    const int y = static_cast<int>(cinfo.output_scanline);
    JSAMPROW rows[1] = {row.data()};
    jpeg_read_scanlines(&cinfo, rows, 1);
    resizer->add_row(y, row.data());
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  out = resizer->result();
  return true;
}

}  // namespace

SquareResizer::SquareResizer(int width, int height, int size)
    : size_(size), side_(std::min(width, height)), x0_((width - side_) / 2), y0_((height - side_) / 2) {
  if (width < 1 || height < 1 || size < 1) throw std::invalid_argument("SquareResizer: an empty image or size");
  scale_ = static_cast<double>(side_) / size;
  out_.resize(static_cast<size_t>(size) * size * 3);
  if (scale_ < 1) {
    crop_.resize(static_cast<size_t>(side_) * side_ * 3);  // smaller than the output
    return;
  }
  // The source rows and columns of the crop each output row and column averages (as square_resize()).
  for (int i = 0; i < size; ++i) {
    const int a = static_cast<int>(i * scale_), b = std::max(a + 1, static_cast<int>((i + 1) * scale_));
    first_.push_back(a);
    end_.push_back(b);
  }
  sums_.resize(static_cast<size_t>(size));
}

void SquareResizer::add_row(int y, const uint8_t* rgb) {
  const int r = y - y0_;  // the crop's row
  if (r < 0 || r >= side_) return;
  const uint8_t* src = rgb + static_cast<size_t>(x0_) * 3;
  if (scale_ < 1) {
    std::copy(src, src + static_cast<size_t>(side_) * 3, crop_.begin() + static_cast<ptrdiff_t>(r) * side_ * 3);
    return;
  }
  // Every output row whose range holds this row adds it (pixel sums are integers, exact in a double, so the
  // order they come in does not change them); a row whose range ends here is done.
  for (int oy = next_; oy < size_ && first_[oy] <= r; ++oy) {
    if (r >= end_[oy]) continue;
    auto& sum = sums_[oy];
    if (sum.empty()) sum.assign(static_cast<size_t>(size_) * 3, 0.0);
    for (int x = 0; x < size_; ++x)
      for (int c = 0; c < 3; ++c) {
        double& v = sum[static_cast<size_t>(x) * 3 + c];
        for (int xx = first_[x]; xx < end_[x]; ++xx) v += src[static_cast<size_t>(xx) * 3 + c];
      }
  }
  for (; next_ < size_ && end_[next_] - 1 <= r; ++next_) {
    const auto& sum = sums_[next_];
    const int rows = end_[next_] - first_[next_];
    for (int x = 0; x < size_; ++x)
      for (int c = 0; c < 3; ++c) {
        const double v = sum[static_cast<size_t>(x) * 3 + c] / static_cast<double>(rows * (end_[x] - first_[x]));
        out_[(static_cast<size_t>(next_) * size_ + x) * 3 + c] =
            static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
    std::vector<double>().swap(sums_[next_]);
  }
}

std::vector<uint8_t> SquareResizer::result() {
  if (scale_ < 1) return square_resize(crop_, side_, side_, size_);  // the crop is the whole image now
  if (next_ < size_) throw std::logic_error("SquareResizer: result() before the crop's last row");
  return std::move(out_);
}

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
  return ends_with_ci(path, ".png") ? read_png(path, size, rgb, error) : read_jpeg(path, size, rgb, error);
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
