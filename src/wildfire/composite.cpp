#include "tw/wildfire/composite.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

namespace tw::wildfire {

Result<std::vector<cv::Mat>> load_sprite(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return make_error("not_found", fmt::format("{}: no such file", path));
  cv::VideoCapture cap(path);
  if (!cap.isOpened()) return make_error("bad_video", fmt::format("{}: cannot open the sprite clip", path));
  std::vector<cv::Mat> frames;
  cv::Rect uni;
  cv::Mat f, g;
  while (cap.read(f) && !f.empty()) {
    cv::cvtColor(f, g, cv::COLOR_BGR2GRAY);
    const cv::Rect r = cv::boundingRect(g > 10);
    if (r.area() > 0) uni = uni.area() > 0 ? (uni | r) : r;
    frames.push_back(f.clone());
  }
  if (frames.empty()) return make_error("bad_video", fmt::format("{}: no decodable frame", path));
  if (uni.area() == 0) return make_error("bad_video", fmt::format("{}: the sprite has no visible content", path));
  for (auto& fr : frames) fr = fr(uni).clone();
  return frames;
}

cv::Rect blend_sprite(cv::Mat& bg, const cv::Mat& sprite, const cv::Size& crop, const SpriteSpec& spec) {
  if (bg.empty() || sprite.empty() || crop.height <= 0) return {};
  const double s = static_cast<double>(spec.height) * bg.rows / crop.height;
  const int w = std::max(1, static_cast<int>(crop.width * s)), h = std::max(1, static_cast<int>(crop.height * s));
  cv::Mat sp;
  cv::resize(sprite, sp, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  const int x0 = static_cast<int>(spec.base_x * static_cast<float>(bg.cols)) - w / 2;
  const int y0 = static_cast<int>(spec.base_y * static_cast<float>(bg.rows)) - h;
  const cv::Rect dst = cv::Rect(x0, y0, w, h) & cv::Rect(0, 0, bg.cols, bg.rows);
  if (dst.area() == 0) return {};
  const cv::Rect src(dst.x - x0, dst.y - y0, dst.width, dst.height);
  int minx = bg.cols, miny = bg.rows, maxx = -1, maxy = -1;
  for (int y = 0; y < dst.height; ++y) {
    const auto* sr = sp.ptr<cv::Vec3b>(src.y + y) + src.x;
    auto* br = bg.ptr<cv::Vec3b>(dst.y + y) + dst.x;
    for (int x = 0; x < dst.width; ++x) {
      const float lum = static_cast<float>(sr[x][0] + sr[x][1] + sr[x][2]) / (3.f * 255.f);
      const float a = std::clamp(spec.opacity * lum * 1.5f, 0.f, 1.f);
      if (a <= 0.f) continue;
      for (int c = 0; c < 3; ++c) {
        // Smoke is a bright, slightly blue-grey veil over the scene.
        const float smoke = 200.f + 55.f * lum - (c == 2 ? 8.f : 0.f);
        br[x][c] = cv::saturate_cast<uchar>(static_cast<float>(br[x][c]) * (1.f - a) + smoke * a);
      }
      if (a > 0.1f) {
        minx = std::min(minx, x), maxx = std::max(maxx, x);
        miny = std::min(miny, y), maxy = std::max(maxy, y);
      }
    }
  }
  if (maxx < 0) return {};
  return {dst.x + minx, dst.y + miny, maxx - minx + 1, maxy - miny + 1};
}

cv::Mat PlumeCycle::frame(int i) const {
  cv::Mat f = background.clone();
  if (!smoke(i) || sprite.empty()) return f;
  const int k = i % (kClearFrames + kSmokeFrames) - kClearFrames;
  // From a young plume (the sprite's first frames hold almost nothing) to one a third of the frame high, on the
  // slope below the horizon.
  SpriteSpec spec;
  spec.base_x = 0.5f;  // the centre column: the bearing of the camera axis
  spec.base_y = 0.65f;
  spec.height = 0.25f + 0.1f * static_cast<float>(k) / kSmokeFrames;
  spec.opacity = 0.9f;
  const size_t first = sprite.size() / 4;
  const auto& sp = sprite[std::min(sprite.size() - 1, first + static_cast<size_t>(k) * 3)];
  (void)blend_sprite(f, sp, sp.size(), spec);
  return f;
}

Result<PlumeCycle> load_plume_cycle(const std::string& data_dir) {
  const std::filesystem::path root = std::filesystem::path(data_dir) / "wildfire";
  PlumeCycle c;
  // A clear view from an HPWREN mountain-top camera, the kind of scene the smoke head was trained on.
  c.background = cv::imread((root / "hpwren_smoke/no_smoke_probable/ck0k9fufs4li70794mw8kd24d.jpeg").string());
  if (c.background.empty()) {
    const auto clip = root / "pyronear_synthetic/test_bg.mp4";
    cv::VideoCapture cap(clip.string());
    if (!cap.isOpened() || !cap.read(c.background) || c.background.empty())
      return make_error("not_found", fmt::format("{}: no demo background", clip.string()));
  }
  auto sprite = load_sprite((root / "pyronear_synthetic/test_smoke.mp4").string());
  if (!sprite) return sprite.error();
  c.sprite = std::move(*sprite);
  return c;
}

}  // namespace tw::wildfire
