#pragma once
// Durable store-and-forward queue on SQLite (WAL). Every outgoing message is written here first and
// removed only when the broker has acknowledged it. A small key/value table lets producers record
// their progress in the same transaction as the messages they enqueue (exactly-once production).
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tw/core/message.hpp"
#include "tw/core/sqlite.hpp"

namespace tw::bus {

struct OutboxRow {
  std::int64_t seq = 0;
  std::string id;
  std::string topic;
  std::string payload;
};

class Outbox {
 public:
  static Result<std::unique_ptr<Outbox>> open(const std::string& path);

  // Appends messages (and optionally sets a progress key) in one transaction.
  Status append(std::span<const Message> msgs, const std::string& progress_key = {},
                const std::string& progress_value = {});
  Status append(const Message& m) { return append(std::span<const Message>(&m, 1)); }
  // Up to n rows with seq > after_seq, in order.
  Result<std::vector<OutboxRow>> fetch(std::int64_t after_seq, size_t n);
  Status remove(std::span<const std::int64_t> seqs);
  Result<std::int64_t> depth();
  Result<std::optional<std::string>> progress(const std::string& key);

 private:
  explicit Outbox(sqlite::Db db) : db_(std::move(db)) {}
  std::mutex mu_;
  sqlite::Db db_;
};

}  // namespace tw::bus
