#include "tw/change/transients.hpp"

#include <opencv2/imgproc.hpp>

#include "tw/video/detector.hpp"
#include "tw/video/redact.hpp"

namespace tw::change {

const std::vector<std::string>& transient_classes() {
  static const std::vector<std::string> k{
      "person", "bicycle", "car", "motorcycle", "bus", "truck", "bird", "cat", "dog", "horse", "sheep", "cow",
      "umbrella", "bench", "chair", "dining table", "suitcase", "backpack", "handbag", "kite"};
  return k;
}

Result<TransientMasker> make_detector_masker(float score_threshold) {
  tw::video::DetectorConfig cfg;
  cfg.classes = transient_classes();
  cfg.score_threshold = score_threshold;
  auto det = tw::video::make_detector(cfg);
  if (!det) return det.error();
  std::shared_ptr<tw::video::Detector> d(std::move(det.value()));
  TransientMasker m = [d](const cv::Mat& bgr) {
    cv::Mat mask = cv::Mat::zeros(bgr.size(), CV_8U);
    const double max_area = 0.15 * static_cast<double>(bgr.total());
    for (const auto& box : d->detect(bgr)) {
      // A "transient" covering a large part of the view is more likely a misdetected structure: keep it.
      if (static_cast<double>(box.x1 - box.x0) * static_cast<double>(box.y1 - box.y0) > max_area) continue;
      cv::Rect r(cv::Point(static_cast<int>(box.x0), static_cast<int>(box.y0)),
                 cv::Point(static_cast<int>(std::ceil(box.x1)), static_cast<int>(std::ceil(box.y1))));
      r &= cv::Rect(0, 0, bgr.cols, bgr.rows);
      if (r.area() > 0) mask(r).setTo(255);
    }
    return mask;
  };
  return m;
}

Result<std::function<void(cv::Mat&)>> make_video_redactor() {
  tw::video::DetectorConfig dcfg;
  dcfg.classes = {"person"};
  auto det = tw::video::make_detector(dcfg);
  if (!det) return det.error();
  auto red = tw::video::Redactor::create(tw::video::RedactConfig{});
  if (!red) return red.error();
  std::shared_ptr<tw::video::Detector> d(std::move(det.value()));
  auto r = std::make_shared<tw::video::Redactor>(std::move(red.value()));
  std::function<void(cv::Mat&)> f = [d, r](cv::Mat& bgr) { r->redact(bgr, *d); };
  return f;
}

}  // namespace tw::change
