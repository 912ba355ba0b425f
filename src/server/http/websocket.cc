#include "server/http/websocket.h"

#include <utility>

namespace norn::http {

bool WebSocketConnection::SendText(std::string message) {
  std::lock_guard lock(mu_);
  if (ended_ || close_.has_value()) return false;
  queued_bytes_ += message.size();
  ++queued_messages_;
  outbox_.push_back(std::move(message));
  WakeLocked();
  return true;
}

void WebSocketConnection::Close(uint16_t code, std::string reason) {
  std::lock_guard lock(mu_);
  if (ended_ || close_.has_value()) return;
  close_ = CloseRequest{code, std::move(reason)};
  WakeLocked();
  cv_.notify_all();
}

bool WebSocketConnection::closed() const {
  std::lock_guard lock(mu_);
  return ended_ || close_.has_value();
}

size_t WebSocketConnection::queued_messages() const {
  std::lock_guard lock(mu_);
  return queued_messages_;
}

size_t WebSocketConnection::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

bool WebSocketConnection::WaitClosed(absl::Duration timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
               [this] { return ended_ || close_.has_value(); });
  return ended_ || close_.has_value();
}

void WebSocketConnection::ServerAttach(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  wake_ = std::move(wake);
  if (!outbox_.empty() || close_.has_value()) wake_();
}

void WebSocketConnection::ServerTake(std::deque<std::string>* out,
                                     std::optional<CloseRequest>* close) {
  std::lock_guard lock(mu_);
  if (out->empty()) {
    out->swap(outbox_);
  } else {
    for (auto& m : outbox_) out->push_back(std::move(m));
    outbox_.clear();
  }
  if (close_.has_value()) *close = close_;
}

void WebSocketConnection::ServerWritten(size_t bytes) {
  std::lock_guard lock(mu_);
  if (queued_messages_ > 0) --queued_messages_;
  queued_bytes_ = bytes > queued_bytes_ ? 0 : queued_bytes_ - bytes;
}

void WebSocketConnection::ServerDetach() {
  std::function<void()> drop;
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    drop = std::move(wake_);
    wake_ = nullptr;
    outbox_.clear();
    queued_messages_ = 0;
    queued_bytes_ = 0;
  }
  cv_.notify_all();
}

void WebSocketConnection::WakeLocked() {
  if (wake_) wake_();
}

}  // namespace norn::http
