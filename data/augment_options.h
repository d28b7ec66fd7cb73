// What the loader's augmentation does to a training sample (config keys augment.*, docs/configuration.md).
// Every draw comes from the sample's augment seed (ViewSampler), so a resumed run augments exactly as the
// uninterrupted one did. Defaults leave only the colour jitter / gain of earlier releases on.
#pragma once
#include <string>

namespace imprint {

struct ImageAugmentOptions {
  double crop_scale_min = 1.0;  // random resized crop: area fraction in [this, 1]; 1 = off
  double rotate_degrees = 0;    // rotation drawn from [-this, this]
  double shear_degrees = 0;     // horizontal shear drawn from [-this, this]
  double translate = 0;         // shift of up to this fraction of the side, each axis
  double gain = 0.1;            // per-channel gain in [1 - gain, 1 + gain]
  double brightness = 0.08;     // offset in [-brightness, brightness]
  double contrast = 0;          // contrast factor in [1 - contrast, 1 + contrast] around the image mean
  double pixel_noise = 0.02;    // Gaussian noise std, on the [0, 1] scale
  double blur_prob = 0;         // chance of a Gaussian blur ...
  double blur_sigma = 1.0;      // ... with sigma in [0.1, this] pixels

  bool geometric() const { return crop_scale_min < 1 || rotate_degrees > 0 || shear_degrees > 0 || translate > 0; }
};

struct AudioAugmentOptions {
  double speed = 0;          // speed factor in [1 - speed, 1 + speed] (tempo and pitch, as sox speed)
  double noise_prob = 0;     // chance of additive noise ...
  double noise_snr_min = 5;  // ... at an SNR in [min, max] dB
  double noise_snr_max = 20;
  std::string noise_dir;            // noise recordings; empty = generated (white, pink or brown) noise
  double reverb_prob = 0;           // chance of a synthetic room response ...
  double reverb_rt60_max = 0.6;     // ... with RT60 in [0.1, this] seconds
  int time_masks = 0;               // SpecAugment time masks: spans set to silence ...
  double time_mask_seconds = 0.05;  // ... each up to this long
  int freq_masks = 0;               // SpecAugment frequency masks: bands removed from the whole clip ...
  double freq_mask_hz = 200;        // ... each up to this wide
  // The channel (data/audio_channel.h): what a phone line, a codec, a network and a converter do.
  double telephone_prob = 0;             // chance of a telephone band (~300-3400 Hz, edges drawn)
  double codec_prob = 0;                 // chance of a codec round trip ...
  std::string codecs = "ulaw,alaw,gsm";  // ... with one of these, drawn uniformly
  double packet_loss_prob = 0;           // chance of lost 20 ms packets ...
  double packet_loss_rate = 0.1;         // ... each lost with a probability drawn from [0, this]
  double level_db = 0;                   // gain drawn from [-this, this] dB, clipped at full scale

  bool channel() const { return telephone_prob > 0 || codec_prob > 0 || packet_loss_prob > 0 || level_db > 0; }
  bool any() const {
    return speed > 0 || noise_prob > 0 || reverb_prob > 0 || time_masks > 0 || freq_masks > 0 || channel();
  }
};

struct AugmentOptions {
  ImageAugmentOptions image;
  AudioAugmentOptions audio;
};

}  // namespace imprint
