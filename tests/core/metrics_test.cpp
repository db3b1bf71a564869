#include <gtest/gtest.h>

#include "tw/core/metrics.hpp"

TEST(Metrics, RendersPrometheusText) {
  tw::Metrics m;
  m.counter("tw_rejects_total", "Rejected messages", {{"reason", "bad_json"}}).inc(3);
  m.counter("tw_rejects_total", "Rejected messages", {{"reason", "oversized"}}).inc();
  m.gauge("tw_outbox_depth", "Outbox depth").set(7);
  auto text = m.render_prometheus();
  EXPECT_NE(text.find("# TYPE tw_rejects_total counter"), std::string::npos);
  EXPECT_NE(text.find("tw_rejects_total{reason=\"bad_json\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tw_rejects_total{reason=\"oversized\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("tw_outbox_depth 7\n"), std::string::npos);
}
