#include "storage/wal/segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <snappy.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"
#include "storage/wal/coding.h"

namespace norn::wal {

std::string SegmentName(uint64_t segment) {
  return absl::StrFormat("%08u", segment);
}

bool ParseSegmentName(std::string_view name, uint64_t* segment) {
  if (name.empty() || name.size() > 19)
    return false;
  uint64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *segment = v;
  return true;
}

std::string CheckpointName(uint64_t segment) {
  return absl::StrCat("checkpoint.", SegmentName(segment));
}

bool ParseCheckpointName(std::string_view name, uint64_t* segment) {
  constexpr std::string_view kPrefix = "checkpoint.";
  if (name.substr(0, kPrefix.size()) != kPrefix)
    return false;
  return ParseSegmentName(name.substr(kPrefix.size()), segment);
}

namespace internal {

uint32_t Checksum(std::string_view data) {
  return static_cast<uint32_t>(XXH3_64bits(data.data(), data.size()));
}

// ---- FrameBuilder ----

void FrameBuilder::OpenFrame() {
  frame_start_ = buf_.size();
  buf_.append(kFrameHeaderSize, '\0');
  open_ = true;
}

void FrameBuilder::CloseFrame() {
  const size_t payload_start = frame_start_ + kFrameHeaderSize;
  size_t len = buf_.size() - payload_start;
  uint8_t type = kFrameTypeRecords;
  if (compress_ && len >= 64) {
    // One scratch per thread: builders are short-lived (one per Append), and a fresh ~1 MiB
    // buffer per frame would cost more in page faults than snappy saves.
    thread_local std::string scratch;
    const size_t max = snappy::MaxCompressedLength(len);
    if (scratch.size() < max)
      scratch.resize(max);
    size_t clen = 0;
    snappy::RawCompress(buf_.data() + payload_start, len, scratch.data(), &clen);
    // Worth it only when it saves a sixteenth: otherwise replay pays decompression for nothing.
    if (clen < len - len / 16) {
      std::memcpy(buf_.data() + payload_start, scratch.data(), clen);
      buf_.resize(payload_start + clen);
      len = clen;
      type = kFrameTypeSnappyRecords;
    }
  }
  char* h = buf_.data() + frame_start_;
  EncodeFixed32(h, static_cast<uint32_t>(len));
  EncodeFixed32(h + 4, Checksum(std::string_view(h + kFrameHeaderSize, len)));
  h[16] = static_cast<char>(type);
  frames_.push_back(frame_start_);
  open_ = false;
}

void FrameBuilder::MaybeCut() {
  if (open_ && buf_.size() - frame_start_ - kFrameHeaderSize >= target_)
    CloseFrame();
}

size_t FrameBuilder::Add(const Record& record) {
  MaybeCut();
  if (!open_)
    OpenFrame();
  // Records are split at a quarter of the target so a frame stays within 1.25x of it. The
  // split callback runs between two pieces of one record: cut the frame there if full.
  return EncodeRecord(record, &buf_, std::max<size_t>(target_ / 4, 1), [this] {
    MaybeCut();
    if (!open_)
      OpenFrame();
  });
}

void FrameBuilder::Finish() {
  if (open_)
    CloseFrame();
}

size_t FrameLength(const char* frame) {
  return kFrameHeaderSize + DecodeFixed32(frame);
}

void SealFrame(char* frame, uint64_t synced_offset) {
  EncodeFixed64(frame + 8, synced_offset);
  EncodeFixed32(frame + 20, Checksum(std::string_view(frame, 20)));
}

// ---- directory helpers ----

absl::Status ErrnoStatus(int err, std::string_view what) {
  return absl::UnavailableError(absl::StrCat("wal: ", AV(what), ": ", std::strerror(err)));
}

absl::StatusOr<DirListing> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return ErrnoStatus(errno, absl::StrCat("open directory ", dir));
  DirListing out;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    uint64_t n = 0;
    if (ParseSegmentName(name, &n)) {
      out.segments.push_back(n);
    } else if (ParseCheckpointName(name, &n)) {
      out.checkpoints.push_back(n);
    } else if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp" &&
               ParseCheckpointName(name.substr(0, name.size() - 4), &n)) {
      out.tmp_checkpoints.emplace_back(name);
    }
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0)
    return ErrnoStatus(err, absl::StrCat("read directory ", dir));
  std::sort(out.segments.begin(), out.segments.end());
  std::sort(out.checkpoints.begin(), out.checkpoints.end());
  return out;
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ErrnoStatus(errno, absl::StrCat("open directory ", dir));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0)
    return ErrnoStatus(err, absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) {
    if (errno == ENOENT)
      return absl::OkStatus();
    if (errno == ENOTDIR) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus(errno, absl::StrCat("remove ", path));
      }
      return absl::OkStatus();
    }
    return ErrnoStatus(errno, absl::StrCat("open directory ", path));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name != "." && name != "..")
      names.emplace_back(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    const std::string child = absl::StrCat(path, "/", name);
    if (::unlink(child.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("remove ", child));
    }
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("remove ", path));
  }
  return absl::OkStatus();
}

// ---- reading ----

namespace {

constexpr size_t kReadChunk = 1 << 20;

// A read window over a file: Read(off, n) returns up to n bytes at off (fewer at EOF), refilling
// with pread when the range is not buffered. A returned view is valid until the next Read().
class FileWindow {
 public:
  FileWindow(int fd, uint64_t size) : fd_(fd), size_(size) {}

  absl::StatusOr<std::string_view> Read(uint64_t off, size_t n, std::string_view display) {
    if (off >= size_)
      return std::string_view();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - off));
    if (off < buf_off_ || off + n > buf_off_ + buf_len_) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadChunk), size_ - off));
      if (want > cap_) {
        buf_.reset(new char[want]);
        cap_ = want;
      }
      size_t got = 0;
      while (got < want) {
        const ssize_t r = ::pread(fd_, buf_.get() + got, want - got, off + got);
        if (r < 0 && errno == EINTR)
          continue;
        if (r < 0) {
          buf_len_ = 0;
          return ErrnoStatus(errno, absl::StrCat("read ", AV(display)));
        }
        if (r == 0)
          break;  // Shrunk underneath us; the caller sees a short view.
        got += static_cast<size_t>(r);
      }
      buf_off_ = off;
      buf_len_ = got;
      n = std::min(n, got);
    }
    return std::string_view(buf_.get() + (off - buf_off_), n);
  }

 private:
  const int fd_;
  const uint64_t size_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  uint64_t buf_off_ = 0;
  size_t buf_len_ = 0;
};

enum class FrameState { kOk, kShort, kBad };

struct FrameCheck {
  FrameState state = FrameState::kBad;
  std::string_view why;
  std::string_view payload;  // kOk only; as stored (compressed for type 2).
  uint8_t type = 0;
  uint64_t synced_offset = 0;
  uint64_t length = 0;  // Header + payload, when the header is valid.
};

absl::StatusOr<FrameCheck> CheckFrame(FileWindow& win, uint64_t off, uint64_t file_size,
                                      std::string_view display) {
  FrameCheck c;
  if (file_size - off < kFrameHeaderSize) {
    c.state = FrameState::kShort;
    c.why = "truncated frame header";
    return c;
  }
  absl::StatusOr<std::string_view> h = win.Read(off, kFrameHeaderSize, display);
  if (!h.ok())
    return h.status();
  if (h->size() < kFrameHeaderSize) {
    c.state = FrameState::kShort;
    c.why = "truncated frame header";
    return c;
  }
  const char* p = h->data();
  // Cheap tests first: the byte-by-byte search after damage runs this at every offset.
  c.type = static_cast<uint8_t>(p[16]);
  if ((c.type != kFrameTypeRecords && c.type != kFrameTypeSnappyRecords) || p[17] != 0 ||
      p[18] != 0 || p[19] != 0 || DecodeFixed32(p + 20) != Checksum(std::string_view(p, 20))) {
    c.why = "bad frame header";
    return c;
  }
  const uint32_t len = DecodeFixed32(p);
  const uint32_t sum = DecodeFixed32(p + 4);
  c.synced_offset = DecodeFixed64(p + 8);
  if (len > kMaxFramePayload || c.synced_offset > off) {
    c.why = "implausible frame header";
    return c;
  }
  c.length = kFrameHeaderSize + static_cast<uint64_t>(len);
  if (file_size - off < c.length) {
    c.state = FrameState::kShort;
    c.why = "truncated frame";
    return c;
  }
  absl::StatusOr<std::string_view> f = win.Read(off, c.length, display);
  if (!f.ok())
    return f.status();
  if (f->size() < c.length) {
    c.state = FrameState::kShort;
    c.why = "truncated frame";
    return c;
  }
  c.payload = f->substr(kFrameHeaderSize);
  if (Checksum(c.payload) != sum) {
    c.why = "frame checksum mismatch";
    return c;
  }
  c.state = FrameState::kOk;
  return c;
}

// Looks after damaged offset `bad` for a valid frame proving that `bad` had been synced.
// Returns its offset, or file_size when there is none.
absl::StatusOr<uint64_t> FindDurableAfter(FileWindow& win, uint64_t bad, uint64_t file_size,
                                          std::string_view display) {
  uint64_t p = bad + 1;
  while (p + kFrameHeaderSize <= file_size) {
    absl::StatusOr<FrameCheck> c = CheckFrame(win, p, file_size, display);
    if (!c.ok())
      return c.status();
    if (c->state == FrameState::kOk) {
      if (c->synced_offset > bad)
        return p;
      p += c->length;  // Follow the chain of (unsynced) frames.
    } else {
      ++p;
    }
  }
  return file_size;
}

// Where scanning continues when no frame starts at `off`: the next kPaddingBlock boundary if
// every byte up to it is zero (a direct-I/O writer's padding, or the header block's hole), else
// `off` itself (damage).
absl::StatusOr<uint64_t> SkipPadding(FileWindow& win, uint64_t off, uint64_t file_size,
                                     std::string_view display) {
  if (off % kPaddingBlock == 0)
    return off;
  const uint64_t boundary =
      std::min<uint64_t>(file_size, (off / kPaddingBlock + 1) * kPaddingBlock);
  absl::StatusOr<std::string_view> gap = win.Read(off, boundary - off, display);
  if (!gap.ok())
    return gap.status();
  if (gap->size() != boundary - off)
    return off;
  for (char c : *gap) {
    if (c != 0)
      return off;
  }
  return boundary;
}

}  // namespace

absl::StatusOr<ScanResult> ScanFile(
    const std::string& path, std::string_view display, bool strict,
    const std::function<absl::Status(std::string_view payload, uint64_t offset)>& on_payload) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ErrnoStatus(errno, absl::StrCat("open ", path));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return ErrnoStatus(errno, absl::StrCat("stat ", path));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  ScanResult res;
  res.file_size = static_cast<uint64_t>(st.st_size);
  FileWindow win(fd, res.file_size);

  // Damage at `off`: decide between torn tail and corruption.
  auto damaged = [&](uint64_t off, std::string_view why) -> absl::Status {
    if (strict) {
      return absl::DataLossError(absl::StrCat("wal: ", AV(why), " in ", AV(display), " at offset ",
                                              off, " (file size ", res.file_size, ")"));
    }
    absl::StatusOr<uint64_t> durable = FindDurableAfter(win, off, res.file_size, display);
    if (!durable.ok())
      return durable.status();
    if (*durable < res.file_size) {
      return absl::DataLossError(absl::StrCat("wal: ", AV(why), " in ", AV(display), " at offset ",
                                              off, ", followed by valid synced data at offset ",
                                              *durable));
    }
    res.torn = true;
    res.valid_end = off;
    return absl::OkStatus();
  };

  if (res.file_size < kSegmentHeaderSize) {
    if (strict) {
      return absl::DataLossError(absl::StrCat("wal: truncated file header in ", AV(display),
                                              " (file size ", res.file_size, ")"));
    }
    res.torn = res.file_size > 0;
    res.valid_end = 0;
    return res;
  }
  {
    absl::StatusOr<std::string_view> h = win.Read(0, kSegmentHeaderSize, display);
    if (!h.ok())
      return h.status();
    if (*h != kSegmentMagic) {
      absl::Status s = damaged(0, "bad file header");
      if (!s.ok())
        return s;
      return res;
    }
  }
  std::string plain;  // Decompressed type-2 payloads; reused, grows to the largest frame.
  uint64_t off = kSegmentHeaderSize;
  while (off < res.file_size) {
    absl::StatusOr<FrameCheck> c = CheckFrame(win, off, res.file_size, display);
    if (!c.ok())
      return c.status();
    if (c->state != FrameState::kOk) {
      absl::StatusOr<uint64_t> next = SkipPadding(win, off, res.file_size, display);
      if (!next.ok())
        return next.status();
      if (*next != off) {
        off = *next;
        continue;
      }
      absl::Status s = damaged(off, c->why);
      if (!s.ok())
        return s;
      return res;
    }
    std::string_view payload = c->payload;
    if (c->type == kFrameTypeSnappyRecords) {
      // The checksum matched, so these are the bytes the writer stored: failing to decompress
      // them is corruption (or a writer bug), never a torn write.
      size_t n = 0;
      if (!snappy::GetUncompressedLength(payload.data(), payload.size(), &n) ||
          n > kMaxFramePayload) {
        return absl::DataLossError(absl::StrCat("wal: bad compressed frame in ", AV(display),
                                                " at offset ", off));
      }
      if (plain.size() < n)
        plain.resize(n);
      if (!snappy::RawUncompress(payload.data(), payload.size(), plain.data())) {
        return absl::DataLossError(absl::StrCat("wal: bad compressed frame in ", AV(display),
                                                " at offset ", off));
      }
      payload = std::string_view(plain.data(), n);
    }
    absl::Status s = on_payload(payload, off);
    if (!s.ok())
      return s;
    ++res.frames;
    res.payload_bytes += payload.size();
    off += c->length;
  }
  res.valid_end = off;
  return res;
}

}  // namespace internal
}  // namespace norn::wal
