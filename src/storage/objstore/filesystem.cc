#include "storage/objstore/filesystem.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/strings.h"

namespace norn::objstore {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoStatus(int err, std::string_view what, std::string_view path) {
  std::string msg = absl::StrCat(AV(what), " ", AV(path), ": ", std::strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(msg);
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case EINTR: return absl::UnavailableError(msg);
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(msg);
    default: return absl::InternalError(msg);
  }
}

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync", path);
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::atomic<uint64_t> g_tmp_counter{0};

}  // namespace

absl::Status ValidateKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("object key is empty");
  if (key.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("object key is absolute: ", AV(key)));
  }
  if (key.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("object key contains NUL");
  }
  for (absl::string_view seg : absl::StrSplit(AV(key), '/')) {
    if (seg.empty() || seg == "." || seg == "..") {
      return absl::InvalidArgumentError(absl::StrCat("invalid object key: ", AV(key)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FilesystemObjectClient>> FilesystemObjectClient::Open(
    std::string root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create object store directory ", root, ": ", ec.message()));
  }
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::unique_ptr<FilesystemObjectClient>(new FilesystemObjectClient(std::move(root)));
}

namespace {

// Key components kept as directories; the rest of a key is one escaped file name.
constexpr int kDirectoryLevels = 2;

// Length of the key prefix that names directories: its first kDirectoryLevels components
// (with their '/'), or less when the key has fewer.
size_t DirectoryPrefixLength(std::string_view key) {
  size_t end = 0;
  for (int level = 0; level < kDirectoryLevels; ++level) {
    const size_t slash = key.find('/', end);
    if (slash == std::string_view::npos)
      break;
    end = slash + 1;
  }
  return end;
}

void AppendEscaped(std::string* out, std::string_view name) {
  for (char c : name) {
    if (c == '/') {
      out->append("%2F");
    } else if (c == '%') {
      out->append("%25");
    } else {
      out->push_back(c);
    }
  }
}

// Inverse of AppendEscaped.
std::string Unescape(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    if (name.substr(i, 3) == "%2F") {
      out.push_back('/');
      i += 2;
    } else if (name.substr(i, 3) == "%25") {
      out.push_back('%');
      i += 2;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

// The key of the file at `rel` (relative to the root, '/'-separated): a file within the
// directory levels holds an escaped name; deeper files are objects of the legacy layout.
std::string KeyForRelativePath(std::string_view rel) {
  const size_t dirs = DirectoryPrefixLength(rel);
  const std::string_view name = rel.substr(dirs);
  if (name.find('/') != std::string_view::npos)
    return std::string(rel);  // legacy
  return absl::StrCat(AV(rel.substr(0, dirs)), Unescape(name));
}

}  // namespace

std::string FilesystemObjectClient::PathFor(std::string_view key) const {
  const size_t dirs = DirectoryPrefixLength(key);
  std::string path = absl::StrCat(root_, "/", AV(key.substr(0, dirs)));
  AppendEscaped(&path, key.substr(dirs));
  return path;
}

std::string FilesystemObjectClient::LegacyPathFor(std::string_view key) const {
  return absl::StrCat(root_, "/", AV(key));
}

namespace {

// Up to `n` bytes of `fd` from `offset` (fewer if the file ends first).
absl::StatusOr<std::string> PreadAll(int fd, uint64_t offset, uint64_t n, const std::string& path) {
  std::string out(n, '\0');
  uint64_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return ErrnoStatus(errno, "read", path);
    }
    if (r == 0)
      break;
    done += static_cast<uint64_t>(r);
  }
  out.resize(done);
  return out;
}

}  // namespace

absl::StatusOr<int> FilesystemObjectClient::OpenSized(std::string_view key, std::string* path,
                                                      uint64_t* size) const {
  const int fd = OpenForRead(key, path);
  if (fd < 0)
    return ErrnoStatus(-fd, "open", *path);
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "stat", *path);
  }
  *size = static_cast<uint64_t>(sb.st_size);
  return fd;
}

int FilesystemObjectClient::OpenForRead(std::string_view key, std::string* path) const {
  *path = PathFor(key);
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 || errno != ENOENT)
    return fd >= 0 ? fd : -errno;
  const std::string legacy = LegacyPathFor(key);
  if (legacy == *path)
    return -ENOENT;
  fd = ::open(legacy.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -ENOENT;  // report the current layout's path
  *path = legacy;
  return fd;
}

absl::Status FilesystemObjectClient::Put(std::string_view key, std::string_view data) {
  if (auto st = ValidateKey(key); !st.ok()) return st;
  std::string path = PathFor(key);
  fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir.string(), ": ", ec.message()));
  // Temporary names start with '.', which List() skips, so readers never see partial objects.
  std::string tmp = absl::StrCat(dir.string(), "/.tmp-", ::getpid(), "-", g_tmp_counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create", tmp);
  absl::Status st = WriteAll(fd, data, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoStatus(errno, "fsync", tmp);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus(errno, "rename", path);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  RETURN_IF_ERROR(FsyncPath(dir.string(), O_RDONLY | O_DIRECTORY));
  // An older copy in the legacy layout would only shadow nothing and waste space.
  if (const std::string legacy = LegacyPathFor(key); legacy != path)
    ::unlink(legacy.c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::string> FilesystemObjectClient::Get(std::string_view key) {
  return GetRange(key, 0, UINT64_MAX);
}

absl::StatusOr<std::string> FilesystemObjectClient::GetRange(std::string_view key,
                                                             uint64_t offset, uint64_t length) {
  if (auto st = ValidateKey(key); !st.ok()) return st;
  if (length < kMapThreshold)
    return ReadSmallRange(key, offset, length);
  std::string path;
  uint64_t size = 0;
  ASSIGN_OR_RETURN(const int fd, OpenSized(key, &path, &size));
  absl::StatusOr<std::string> out =
      offset < size ? PreadAll(fd, offset, std::min(length, size - offset), path) : std::string();
  ::close(fd);
  return out;
}

absl::StatusOr<std::string> FilesystemObjectClient::ReadSmallRange(std::string_view key,
                                                                   uint64_t offset,
                                                                   uint64_t length) const {
  // No fstat: pread stops at the end of the file by itself. A query that reads many small
  // chunks (an index tail each) spends most of its time in system calls.
  std::string path;
  const int fd = OpenForRead(key, &path);
  if (fd < 0)
    return ErrnoStatus(-fd, "open", path);
  absl::StatusOr<std::string> out = PreadAll(fd, offset, length, path);
  ::close(fd);
  return out;
}

absl::StatusOr<SharedBytes> FilesystemObjectClient::GetShared(std::string_view key) {
  return GetRangeShared(key, 0, UINT64_MAX);
}

absl::StatusOr<SharedBytes> FilesystemObjectClient::GetRangeShared(std::string_view key,
                                                                   uint64_t offset,
                                                                   uint64_t length) {
  if (auto st = ValidateKey(key); !st.ok())
    return st;
  if (length < kMapThreshold) {
    ASSIGN_OR_RETURN(std::string bytes, ReadSmallRange(key, offset, length));
    auto owned = std::make_shared<const std::string>(std::move(bytes));
    return SharedBytes{owned, *owned};
  }
  std::string path;
  uint64_t size = 0;
  ASSIGN_OR_RETURN(const int fd, OpenSized(key, &path, &size));
  const uint64_t n = offset < size ? std::min(length, size - offset) : 0;
  if (n >= kMapThreshold) {
    // Reading into a fresh buffer costs page faults, zero-filling and a copy of every byte; a
    // mapping of the page cache costs none of them (the pages are mapped as they are touched,
    // a few at a time).
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t map_start = offset / page * page;
    const size_t map_len = static_cast<size_t>(offset + n - map_start);
    void* addr =
        ::mmap(nullptr, map_len, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(map_start));
    if (addr != MAP_FAILED) {
      ::close(fd);
      std::shared_ptr<const void> owner(
          addr, [map_len](const void* p) { ::munmap(const_cast<void*>(p), map_len); });
      return SharedBytes{std::move(owner),
                         std::string_view(static_cast<const char*>(addr) + (offset - map_start),
                                          static_cast<size_t>(n))};
    }
  }
  // Small reads (a mapping costs more than copying a few pages), or the mapping failed.
  absl::StatusOr<std::string> bytes = n > 0 ? PreadAll(fd, offset, n, path) : std::string();
  ::close(fd);
  if (!bytes.ok())
    return bytes.status();
  auto owned = std::make_shared<const std::string>(*std::move(bytes));
  return SharedBytes{owned, *owned};
}

absl::StatusOr<ObjectAttributes> FilesystemObjectClient::Head(std::string_view key) {
  if (auto st = ValidateKey(key); !st.ok()) return st;
  std::string path = PathFor(key);
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) {
    const int err = errno;
    if (err != ENOENT || ::stat(LegacyPathFor(key).c_str(), &sb) != 0)
      return ErrnoStatus(err, "stat", path);
  }
  if (!S_ISREG(sb.st_mode)) return absl::NotFoundError(absl::StrCat("not an object: ", AV(key)));
  return ObjectAttributes{std::string(key), static_cast<uint64_t>(sb.st_size),
                          absl::FromTimeT(sb.st_mtime)};
}

absl::StatusOr<ListResult> FilesystemObjectClient::List(std::string_view prefix,
                                                        std::string_view delimiter) {
  ListResult result;
  // Walk from the deepest directory the prefix names fully (at most the directory levels; the
  // legacy layout's deeper directories are below it).
  std::string_view dir_part = prefix.substr(0, prefix.rfind('/') == std::string_view::npos
                                                   ? 0
                                                   : prefix.rfind('/') + 1);
  dir_part = dir_part.substr(0, DirectoryPrefixLength(dir_part));
  fs::path start = dir_part.empty() ? fs::path(root_) : fs::path(LegacyPathFor(dir_part));
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return result;
  std::vector<std::string> keys;
  for (auto it = fs::recursive_directory_iterator(start, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;  // Temporary files of in-progress Puts.
    }
    if (!it->is_regular_file(ec)) continue;
    // Every path the walk yields starts with root_ and a separator (start is built from it):
    // cut them off as text. fs::relative would resolve both paths, a readlink per component
    // of each file's path, and every query lists the index directory.
    std::string_view full = it->path().native();
    std::string rel;
    if (root_ != "/" && full.size() > root_.size() && full.starts_with(root_) &&
        full[root_.size()] == '/') {
      rel = KeyForRelativePath(full.substr(root_.size() + 1));
    } else {
      rel = KeyForRelativePath(fs::relative(it->path(), root_, ec).generic_string());
      if (ec)
        break;
    }
    if (rel.compare(0, prefix.size(), prefix) != 0) continue;
    if (!delimiter.empty()) {
      size_t d = rel.find(delimiter, prefix.size());
      if (d != std::string::npos) {
        result.common_prefixes.push_back(rel.substr(0, d + delimiter.size()));
        continue;
      }
    }
    struct stat sb;
    if (::stat(it->path().c_str(), &sb) != 0) continue;  // Deleted meanwhile.
    result.objects.push_back(ObjectAttributes{std::move(rel), static_cast<uint64_t>(sb.st_size),
                                              absl::FromTimeT(sb.st_mtime)});
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", start.string(), ": ", ec.message()));
  // stable: of a key in both layouts (a Put that could not remove the legacy copy), the first
  // found is kept; reads prefer the current layout's copy too.
  std::stable_sort(
      result.objects.begin(), result.objects.end(),
      [](const ObjectAttributes& a, const ObjectAttributes& b) { return a.key < b.key; });
  result.objects.erase(std::unique(result.objects.begin(), result.objects.end(),
                                   [](const ObjectAttributes& a, const ObjectAttributes& b) {
                                     return a.key == b.key;
                                   }),
                       result.objects.end());
  std::sort(result.common_prefixes.begin(), result.common_prefixes.end());
  result.common_prefixes.erase(
      std::unique(result.common_prefixes.begin(), result.common_prefixes.end()),
      result.common_prefixes.end());
  return result;
}

absl::Status FilesystemObjectClient::Delete(std::string_view key) {
  if (auto st = ValidateKey(key); !st.ok()) return st;
  for (const std::string& path : {PathFor(key), LegacyPathFor(key)}) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return ErrnoStatus(errno, "delete", path);
    // Remove now-empty parent directories up to the root, as S3 has no directories.
    fs::path dir = fs::path(path).parent_path();
    std::error_code ec;
    while (dir.string().size() > root_.size() && fs::is_empty(dir, ec) && !ec) {
      fs::remove(dir, ec);
      dir = dir.parent_path();
    }
  }
  return absl::OkStatus();
}

}  // namespace norn::objstore
