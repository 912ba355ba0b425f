#include "common/log_level.h"

#include <array>
#include <cctype>

namespace norn {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// The value following `key=` or `"key":` (quoted or bare) for the first level-like key.
std::string_view FieldValue(std::string_view line) {
  static constexpr std::array<std::string_view, 3> kKeys = {"level", "lvl", "severity"};
  for (size_t i = 0; i < line.size(); ++i) {
    // Keys start at the line start or after a separator.
    if (i > 0 && IsWordChar(line[i - 1])) continue;
    size_t key_start = i;
    bool quoted_key = line[i] == '"';
    if (quoted_key) ++key_start;
    for (std::string_view key : kKeys) {
      if (key_start + key.size() > line.size()) continue;
      if (!IEquals(line.substr(key_start, key.size()), key)) continue;
      size_t p = key_start + key.size();
      if (quoted_key) {
        if (p >= line.size() || line[p] != '"') continue;
        ++p;
        while (p < line.size() && line[p] == ' ') ++p;
        if (p >= line.size() || line[p] != ':') continue;
        ++p;
        while (p < line.size() && line[p] == ' ') ++p;
      } else {
        if (p >= line.size() || line[p] != '=') continue;
        ++p;
      }
      if (p < line.size() && line[p] == '"') {
        size_t end = line.find('"', p + 1);
        if (end == std::string_view::npos) return {};
        return line.substr(p + 1, end - p - 1);
      }
      size_t end = p;
      while (end < line.size() && line[end] != ' ' && line[end] != ',' && line[end] != '}') ++end;
      return line.substr(p, end - p);
    }
  }
  return {};
}

// A level keyword as a whole word anywhere in the line (first found in severity order).
std::string_view KeywordLevel(std::string_view line) {
  struct Keyword {
    std::string_view word;
    std::string_view level;
  };
  static constexpr std::array<Keyword, 12> kWords = {{{"trace", "trace"},
                                                      {"debug", "debug"},
                                                      {"info", "info"},
                                                      {"warn", "warn"},
                                                      {"warning", "warn"},
                                                      {"err", "error"},
                                                      {"error", "error"},
                                                      {"critical", "critical"},
                                                      {"crit", "critical"},
                                                      {"fatal", "fatal"},
                                                      {"panic", "critical"},
                                                      {"emerg", "critical"}}};
  std::string_view best;
  int best_rank = -1;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
    std::string_view word = line.substr(start, i - start);
    if (word.size() < 3 || word.size() > 8) continue;
    for (size_t k = 0; k < kWords.size(); ++k) {
      if (!IEquals(word, kWords[k].word)) continue;
      // The most severe keyword wins ("info: retrying after error" is an error line).
      int rank = static_cast<int>(k);
      if (rank > best_rank) {
        best_rank = rank;
        best = kWords[k].level;
      }
    }
  }
  return best.empty() ? std::string_view("unknown") : best;
}

}  // namespace

std::string_view NormalizeLogLevel(std::string_view v) {
  if (IEquals(v, "trace") || IEquals(v, "trc") || v == "1") return "trace";
  if (IEquals(v, "debug") || IEquals(v, "dbg") || v == "5") return "debug";
  if (IEquals(v, "info") || IEquals(v, "inf") || IEquals(v, "information") ||
      IEquals(v, "notice") || v == "9") {
    return "info";
  }
  if (IEquals(v, "warn") || IEquals(v, "wrn") || IEquals(v, "warning") || v == "13") return "warn";
  if (IEquals(v, "error") || IEquals(v, "err") || IEquals(v, "eror") || v == "17") return "error";
  if (IEquals(v, "critical") || IEquals(v, "crit") || IEquals(v, "emerg") ||
      IEquals(v, "alert")) {
    return "critical";
  }
  if (IEquals(v, "fatal") || IEquals(v, "panic") || v == "21") return "fatal";
  return "unknown";
}

std::string_view LevelFromOtlpSeverity(int n) {
  if (n >= 1 && n <= 4) return "trace";
  if (n >= 5 && n <= 8) return "debug";
  if (n >= 9 && n <= 12) return "info";
  if (n >= 13 && n <= 16) return "warn";
  if (n >= 17 && n <= 20) return "error";
  if (n >= 21 && n <= 24) return "fatal";
  return "unknown";
}

std::string_view DetectLogLevel(std::string_view line) {
  std::string_view field = FieldValue(line);
  if (!field.empty()) {
    std::string_view level = NormalizeLogLevel(field);
    if (level != "unknown") return level;
  }
  return KeywordLevel(line);
}

}  // namespace norn
