#include "logql/template/gotime.h"

#include <cstring>

#include "absl/time/civil_time.h"
#include "common/strings.h"

namespace norn::logql_template {

GoTime GoTime::FromUnixNanos(int64_t ns) {
  GoTime t;
  t.sec = ns / 1000000000;
  int64_t rem = ns % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    t.sec--;
  }
  t.nsec = static_cast<int32_t>(rem);
  return t;
}

void GoTime::ZoneAt(int* offset, std::string* abbr) const {
  switch (zone) {
    case Zone::kUtc:
      *offset = 0;
      *abbr = "UTC";
      return;
    case Zone::kFixed:
      *offset = fixed_offset;
      *abbr = fixed_abbr;
      return;
    case Zone::kNamed: {
      absl::TimeZone::CivilInfo ci = tz.At(absl::FromUnixSeconds(sec));
      *offset = ci.offset;
      *abbr = ci.zone_abbr;
      return;
    }
  }
}

namespace internal {
namespace {

constexpr const char* kLongMonths[] = {"January",   "February", "March",    "April",
                                       "May",       "June",     "July",     "August",
                                       "September", "October",  "November", "December"};
constexpr const char* kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

// Layout elements, as Go's nextStdChunk recognises them.
enum Std {
  kNone = 0,
  kLongMonth,
  kMonth,
  kNumMonth,
  kZeroMonth,
  kLongWeekDay,
  kWeekDay,
  kDay,
  kUnderDay,
  kZeroDay,
  kUnderYearDay,
  kZeroYearDay,
  kHour,
  kHour12,
  kZeroHour12,
  kMinute,
  kZeroMinute,
  kSecond,
  kZeroSecond,
  kLongYear,
  kYear,
  kPM,
  kpm,
  kTZ,
  kISO8601TZ,              // Z0700
  kISO8601SecondsTZ,       // Z070000
  kISO8601ShortTZ,         // Z07
  kISO8601ColonTZ,         // Z07:00
  kISO8601ColonSecondsTZ,  // Z07:00:00
  kNumTZ,                  // -0700
  kNumSecondsTz,           // -070000
  kNumShortTZ,             // -07
  kNumColonTZ,             // -07:00
  kNumColonSecondsTZ,      // -07:00:00
  kFracSecond0,            // ".000" (digits and separator in Chunk)
  kFracSecond9,            // ".999"
};

struct Chunk {
  size_t prefix_end;  // layout[0:prefix_end] is literal text
  Std std;
  size_t next;  // layout[next:] is the rest
  int digits = 0;
  char sep = '.';
};

bool StartsWith(std::string_view s, size_t i, std::string_view p) {
  return s.size() >= i + p.size() && s.compare(i, p.size(), p) == 0;
}

bool StartsWithLowerCase(std::string_view s, size_t i) {
  return i < s.size() && s[i] >= 'a' && s[i] <= 'z';
}

Chunk NextStdChunk(std::string_view l) {
  for (size_t i = 0; i < l.size(); i++) {
    char c = l[i];
    switch (c) {
      case 'J':
        if (StartsWith(l, i, "Jan")) {
          if (StartsWith(l, i, "January"))
            return {i, kLongMonth, i + 7};
          if (!StartsWithLowerCase(l, i + 3))
            return {i, kMonth, i + 3};
        }
        break;
      case 'M':
        if (StartsWith(l, i, "Mon")) {
          if (StartsWith(l, i, "Monday"))
            return {i, kLongWeekDay, i + 6};
          if (!StartsWithLowerCase(l, i + 3))
            return {i, kWeekDay, i + 3};
        }
        if (StartsWith(l, i, "MST"))
          return {i, kTZ, i + 3};
        break;
      case '0':
        if (i + 1 < l.size() && l[i + 1] >= '1' && l[i + 1] <= '6') {
          static constexpr Std k0x[] = {kZeroMonth,  kZeroDay,    kZeroHour12,
                                        kZeroMinute, kZeroSecond, kYear};
          return {i, k0x[l[i + 1] - '1'], i + 2};
        }
        if (StartsWith(l, i, "002"))
          return {i, kZeroYearDay, i + 3};
        break;
      case '1':
        if (StartsWith(l, i, "15"))
          return {i, kHour, i + 2};
        return {i, kNumMonth, i + 1};
      case '2':
        if (StartsWith(l, i, "2006"))
          return {i, kLongYear, i + 4};
        return {i, kDay, i + 1};
      case '_':
        if (StartsWith(l, i, "_2")) {
          // _2006 is really a literal _, followed by stdLongYear.
          if (StartsWith(l, i, "_2006"))
            return {i + 1, kLongYear, i + 5};
          return {i, kUnderDay, i + 2};
        }
        if (StartsWith(l, i, "__2"))
          return {i, kUnderYearDay, i + 3};
        break;
      case '3':
        return {i, kHour12, i + 1};
      case '4':
        return {i, kMinute, i + 1};
      case '5':
        return {i, kSecond, i + 1};
      case 'P':
        if (StartsWith(l, i, "PM"))
          return {i, kPM, i + 2};
        break;
      case 'p':
        if (StartsWith(l, i, "pm"))
          return {i, kpm, i + 2};
        break;
      case '-':
        if (StartsWith(l, i, "-070000"))
          return {i, kNumSecondsTz, i + 7};
        if (StartsWith(l, i, "-07:00:00"))
          return {i, kNumColonSecondsTZ, i + 9};
        if (StartsWith(l, i, "-0700"))
          return {i, kNumTZ, i + 5};
        if (StartsWith(l, i, "-07:00"))
          return {i, kNumColonTZ, i + 6};
        if (StartsWith(l, i, "-07"))
          return {i, kNumShortTZ, i + 3};
        break;
      case 'Z':
        if (StartsWith(l, i, "Z070000"))
          return {i, kISO8601SecondsTZ, i + 7};
        if (StartsWith(l, i, "Z07:00:00"))
          return {i, kISO8601ColonSecondsTZ, i + 9};
        if (StartsWith(l, i, "Z0700"))
          return {i, kISO8601TZ, i + 5};
        if (StartsWith(l, i, "Z07:00"))
          return {i, kISO8601ColonTZ, i + 6};
        if (StartsWith(l, i, "Z07"))
          return {i, kISO8601ShortTZ, i + 3};
        break;
      case '.':
      case ',':
        if (i + 1 < l.size() && (l[i + 1] == '0' || l[i + 1] == '9')) {
          char ch = l[i + 1];
          size_t j = i + 1;
          while (j < l.size() && l[j] == ch)
            j++;
          if (!(j < l.size() && l[j] >= '0' && l[j] <= '9')) {
            Chunk ck{i, ch == '0' ? kFracSecond0 : kFracSecond9, j};
            ck.digits = static_cast<int>(j - (i + 1));
            ck.sep = c;
            return ck;
          }
        }
        break;
      default:
        break;
    }
  }
  return {l.size(), kNone, l.size()};
}

void AppendInt(std::string* out, int64_t x, int width) {
  if (x < 0) {
    out->push_back('-');
    x = -x;
  }
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + x % 10);
    x /= 10;
  } while (x > 0);
  for (int k = n; k < width; k++)
    out->push_back('0');
  while (n > 0)
    out->push_back(buf[--n]);
}

void AppendFrac(std::string* out, int32_t nsec, int digits, char sep, bool trim) {
  char buf[9];
  int32_t x = nsec;
  for (int k = 8; k >= 0; k--) {
    buf[k] = static_cast<char>('0' + x % 10);
    x /= 10;
  }
  int n = digits > 9 ? 9 : digits;
  if (trim) {
    while (n > 0 && buf[n - 1] == '0')
      n--;
    if (n == 0)
      return;
  }
  out->push_back(sep);
  out->append(buf, n);
}

}  // namespace

void AppendGoTimeFormat(std::string* out, const GoTime& t, std::string_view layout) {
  int offset = 0;
  std::string abbr;
  t.ZoneAt(&offset, &abbr);
  int64_t local_sec = 0;
  if (__builtin_add_overflow(t.sec, static_cast<int64_t>(offset), &local_sec))
    local_sec = t.sec;
  absl::CivilSecond cs = absl::ToCivilSecond(absl::FromUnixSeconds(local_sec), absl::UTCTimeZone());
  const int64_t year = cs.year();
  const int month = cs.month(), day = cs.day(), hour = cs.hour(), minute = cs.minute(),
            second = cs.second();
  while (!layout.empty()) {
    Chunk ck = NextStdChunk(layout);
    out->append(layout.substr(0, ck.prefix_end));
    if (ck.std == kNone)
      break;
    switch (ck.std) {
      case kYear:
        AppendInt(out, ((year % 100) + 100) % 100, 2);
        break;
      case kLongYear:
        AppendInt(out, year, 4);
        break;
      case kMonth:
        out->append(kLongMonths[month - 1], 3);
        break;
      case kLongMonth:
        out->append(kLongMonths[month - 1]);
        break;
      case kNumMonth:
        AppendInt(out, month, 0);
        break;
      case kZeroMonth:
        AppendInt(out, month, 2);
        break;
      case kWeekDay:
      case kLongWeekDay: {
        // absl's Weekday starts at Monday; Go's table starts at Sunday.
        int wd = (static_cast<int>(absl::GetWeekday(absl::CivilDay(cs))) + 1) % 7;
        if (ck.std == kWeekDay) {
          out->append(kLongDays[wd], 3);
        } else {
          out->append(kLongDays[wd]);
        }
        break;
      }
      case kDay:
        AppendInt(out, day, 0);
        break;
      case kUnderDay:
        if (day < 10)
          out->push_back(' ');
        AppendInt(out, day, 0);
        break;
      case kZeroDay:
        AppendInt(out, day, 2);
        break;
      case kUnderYearDay:
      case kZeroYearDay: {
        int yday = absl::GetYearDay(absl::CivilDay(cs));
        if (ck.std == kUnderYearDay) {
          if (yday < 100)
            out->push_back(' ');
          if (yday < 10)
            out->push_back(' ');
          AppendInt(out, yday, 0);
        } else {
          AppendInt(out, yday, 3);
        }
        break;
      }
      case kHour:
        AppendInt(out, hour, 2);
        break;
      case kHour12:
      case kZeroHour12: {
        int hr = hour % 12;
        if (hr == 0)
          hr = 12;
        AppendInt(out, hr, ck.std == kZeroHour12 ? 2 : 0);
        break;
      }
      case kMinute:
        AppendInt(out, minute, 0);
        break;
      case kZeroMinute:
        AppendInt(out, minute, 2);
        break;
      case kSecond:
        AppendInt(out, second, 0);
        break;
      case kZeroSecond:
        AppendInt(out, second, 2);
        break;
      case kPM:
        out->append(hour >= 12 ? "PM" : "AM");
        break;
      case kpm:
        out->append(hour >= 12 ? "pm" : "am");
        break;
      case kISO8601TZ:
      case kISO8601ColonTZ:
      case kISO8601SecondsTZ:
      case kISO8601ShortTZ:
      case kISO8601ColonSecondsTZ:
      case kNumTZ:
      case kNumColonTZ:
      case kNumSecondsTz:
      case kNumShortTZ:
      case kNumColonSecondsTZ: {
        bool iso = ck.std == kISO8601TZ || ck.std == kISO8601ColonTZ ||
                   ck.std == kISO8601SecondsTZ || ck.std == kISO8601ShortTZ ||
                   ck.std == kISO8601ColonSecondsTZ;
        if (iso && offset == 0) {
          out->push_back('Z');
          break;
        }
        int zone = offset / 60;
        int absoffset = offset;
        if (zone < 0) {
          out->push_back('-');
          zone = -zone;
          absoffset = -absoffset;
        } else {
          out->push_back('+');
        }
        AppendInt(out, zone / 60, 2);
        if (ck.std == kISO8601ColonTZ || ck.std == kNumColonTZ ||
            ck.std == kISO8601ColonSecondsTZ || ck.std == kNumColonSecondsTZ) {
          out->push_back(':');
        }
        if (ck.std != kNumShortTZ && ck.std != kISO8601ShortTZ)
          AppendInt(out, zone % 60, 2);
        if (ck.std == kISO8601SecondsTZ || ck.std == kNumSecondsTz ||
            ck.std == kNumColonSecondsTZ || ck.std == kISO8601ColonSecondsTZ) {
          if (ck.std == kNumColonSecondsTZ || ck.std == kISO8601ColonSecondsTZ) {
            out->push_back(':');
          }
          AppendInt(out, absoffset % 60, 2);
        }
        break;
      }
      case kTZ:
        if (!abbr.empty()) {
          out->append(abbr);
        } else {
          int zone = offset / 60;
          if (zone < 0) {
            out->push_back('-');
            zone = -zone;
          } else {
            out->push_back('+');
          }
          AppendInt(out, zone / 60, 2);
          AppendInt(out, zone % 60, 2);
        }
        break;
      case kFracSecond0:
        AppendFrac(out, t.nsec, ck.digits, ck.sep, false);
        break;
      case kFracSecond9:
        AppendFrac(out, t.nsec, ck.digits, ck.sep, true);
        break;
      case kNone:
        break;
    }
    layout = layout.substr(ck.next);
  }
}

void AppendGoTimeString(std::string* out, const GoTime& t) {
  AppendGoTimeFormat(out, t, "2006-01-02 15:04:05.999999999 -0700 MST");
}

bool LoadGoLocation(std::string_view name, GoTime* loc) {
  if (name.empty() || name == "UTC" || name == "Local") {
    loc->zone = GoTime::Zone::kUtc;
    return true;
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(std::string(name), &tz))
    return false;
  loc->zone = GoTime::Zone::kNamed;
  loc->tz = tz;
  return true;
}

namespace {

// Case-insensitive ASCII prefix match against a table, as Go's lookup().
int Lookup(const char* const* table, int n, size_t len, std::string_view* value) {
  for (int i = 0; i < n; i++) {
    std::string_view name(table[i]);
    if (len != 0)
      name = name.substr(0, len);
    if (value->size() < name.size())
      continue;
    bool ok = true;
    for (size_t k = 0; k < name.size(); k++) {
      char a = (*value)[k], b = name[k];
      if (a >= 'A' && a <= 'Z')
        a = static_cast<char>(a + 32);
      if (b >= 'A' && b <= 'Z')
        b = static_cast<char>(b + 32);
      if (a != b) {
        ok = false;
        break;
      }
    }
    if (ok) {
      value->remove_prefix(name.size());
      return i;
    }
  }
  return -1;
}

bool IsDigitAt(std::string_view s, size_t i) {
  return i < s.size() && s[i] >= '0' && s[i] <= '9';
}

// Go's getnum: one or two digits (exactly two when fixed).
bool GetNum(std::string_view* s, bool fixed, int* out) {
  if (!IsDigitAt(*s, 0))
    return false;
  if (!IsDigitAt(*s, 1)) {
    if (fixed)
      return false;
    *out = (*s)[0] - '0';
    s->remove_prefix(1);
    return true;
  }
  *out = ((*s)[0] - '0') * 10 + ((*s)[1] - '0');
  s->remove_prefix(2);
  return true;
}

bool GetNum3(std::string_view* s, bool fixed, int* out) {
  int n = 0, i = 0;
  for (; i < 3 && IsDigitAt(*s, i); i++)
    n = n * 10 + ((*s)[i] - '0');
  if (i == 0 || (fixed && i != 3))
    return false;
  *out = n;
  s->remove_prefix(i);
  return true;
}

bool ParseFrac(std::string_view digits, int32_t* nsec) {
  int64_t ns = 0;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return false;
    if (n < 9) {
      ns = ns * 10 + (c - '0');
      n++;
    }
  }
  for (; n < 9; n++)
    ns *= 10;
  *nsec = static_cast<int32_t>(ns);
  return true;
}

int DaysIn(int month, int64_t year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
    return 29;
  return kDays[month - 1];
}

}  // namespace

bool ParseGoTime(std::string_view layout, std::string_view value, const GoTime& loc, GoTime* out) {
  int64_t year = 0;
  int month = -1, day = -1, yday = -1, hour = 0, minute = 0, second = 0;
  int32_t nsec = 0;
  bool pm_set = false, am_set = false, z_utc = false;
  int zone_offset = -1;
  bool have_offset = false;
  std::string zone_name;
  while (true) {
    Chunk ck = NextStdChunk(layout);
    std::string_view prefix = layout.substr(0, ck.prefix_end);
    // Go skips runs of spaces flexibly; an exact literal match suffices for real layouts.
    if (value.substr(0, prefix.size()) != prefix)
      return false;
    value.remove_prefix(prefix.size());
    if (ck.std == kNone) {
      if (!value.empty())
        return false;
      break;
    }
    layout = layout.substr(ck.next);
    switch (ck.std) {
      case kYear: {
        if (value.size() < 2 || !IsDigitAt(value, 0) || !IsDigitAt(value, 1))
          return false;
        int y = (value[0] - '0') * 10 + (value[1] - '0');
        value.remove_prefix(2);
        year = y >= 69 ? 1900 + y : 2000 + y;
        break;
      }
      case kLongYear: {
        if (value.size() < 4)
          return false;
        int y = 0;
        for (int k = 0; k < 4; k++) {
          if (!IsDigitAt(value, k))
            return false;
          y = y * 10 + (value[k] - '0');
        }
        value.remove_prefix(4);
        year = y;
        break;
      }
      case kMonth:
        month = Lookup(kLongMonths, 12, 3, &value) + 1;
        if (month == 0)
          return false;
        break;
      case kLongMonth:
        month = Lookup(kLongMonths, 12, 0, &value) + 1;
        if (month == 0)
          return false;
        break;
      case kNumMonth:
      case kZeroMonth:
        if (!GetNum(&value, ck.std == kZeroMonth, &month) || month <= 0 || month > 12) {
          return false;
        }
        break;
      case kWeekDay:
        if (Lookup(kLongDays, 7, 3, &value) < 0)
          return false;
        break;
      case kLongWeekDay:
        if (Lookup(kLongDays, 7, 0, &value) < 0)
          return false;
        break;
      case kDay:
      case kUnderDay:
      case kZeroDay:
        if (ck.std == kUnderDay && !value.empty() && value[0] == ' ')
          value.remove_prefix(1);
        if (!GetNum(&value, ck.std == kZeroDay, &day))
          return false;
        break;
      case kUnderYearDay:
      case kZeroYearDay:
        for (int k = 0; k < 2 && ck.std == kUnderYearDay; k++) {
          if (!value.empty() && value[0] == ' ')
            value.remove_prefix(1);
        }
        if (!GetNum3(&value, ck.std == kZeroYearDay, &yday) || yday < 1 || yday > 366) {
          return false;
        }
        break;
      case kHour:
        if (!GetNum(&value, false, &hour) || hour > 23)
          return false;
        break;
      case kHour12:
      case kZeroHour12:
        if (!GetNum(&value, ck.std == kZeroHour12, &hour) || hour > 12)
          return false;
        break;
      case kMinute:
      case kZeroMinute:
        if (!GetNum(&value, ck.std == kZeroMinute, &minute) || minute > 59)
          return false;
        break;
      case kSecond:
      case kZeroSecond: {
        if (!GetNum(&value, ck.std == kZeroSecond, &second) || second > 59)
          return false;
        // A fractional second in the value without one in the layout is accepted.
        if (value.size() >= 2 && (value[0] == '.' || value[0] == ',') && IsDigitAt(value, 1)) {
          Chunk next = NextStdChunk(layout);
          if (next.prefix_end == 0 && (next.std == kFracSecond0 || next.std == kFracSecond9)) {
            break;
          }
          size_t n = 1;
          while (IsDigitAt(value, n))
            n++;
          if (!ParseFrac(value.substr(1, n - 1), &nsec))
            return false;
          value.remove_prefix(n);
        }
        break;
      }
      case kPM:
      case kpm: {
        if (value.size() < 2)
          return false;
        std::string_view p = value.substr(0, 2);
        value.remove_prefix(2);
        if (p == (ck.std == kPM ? "PM" : "pm")) {
          pm_set = true;
        } else if (p == (ck.std == kPM ? "AM" : "am")) {
          am_set = true;
        } else {
          return false;
        }
        break;
      }
      case kISO8601TZ:
      case kISO8601ColonTZ:
      case kISO8601SecondsTZ:
      case kISO8601ShortTZ:
      case kISO8601ColonSecondsTZ:
      case kNumTZ:
      case kNumShortTZ:
      case kNumColonTZ:
      case kNumSecondsTz:
      case kNumColonSecondsTZ: {
        bool iso = ck.std >= kISO8601TZ && ck.std <= kISO8601ColonSecondsTZ;
        if (iso && !value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          z_utc = true;
          break;
        }
        if (value.empty() || (value[0] != '+' && value[0] != '-'))
          return false;
        int sign = value[0] == '-' ? -1 : 1;
        value.remove_prefix(1);
        int hh = 0, mm = 0, ss = 0;
        if (!GetNum(&value, true, &hh))
          return false;
        bool colon = ck.std == kISO8601ColonTZ || ck.std == kNumColonTZ ||
                     ck.std == kISO8601ColonSecondsTZ || ck.std == kNumColonSecondsTZ;
        if (ck.std != kNumShortTZ && ck.std != kISO8601ShortTZ) {
          if (colon) {
            if (value.empty() || value[0] != ':')
              return false;
            value.remove_prefix(1);
          }
          if (!GetNum(&value, true, &mm))
            return false;
        }
        if (ck.std == kISO8601SecondsTZ || ck.std == kNumSecondsTz ||
            ck.std == kNumColonSecondsTZ || ck.std == kISO8601ColonSecondsTZ) {
          if (colon) {
            if (value.empty() || value[0] != ':')
              return false;
            value.remove_prefix(1);
          }
          if (!GetNum(&value, true, &ss))
            return false;
        }
        if (hh > 24 || mm > 60 || ss > 60)
          return false;
        zone_offset = sign * (hh * 3600 + mm * 60 + ss);
        have_offset = true;
        break;
      }
      case kTZ: {
        if (value.size() >= 3 && value.substr(0, 3) == "UTC") {
          value.remove_prefix(3);
          z_utc = true;
          break;
        }
        size_t n = 0;
        while (n < value.size() && n < 6 && value[n] >= 'A' && value[n] <= 'Z')
          n++;
        if (n < 3)
          return false;
        zone_name = std::string(value.substr(0, n));
        value.remove_prefix(n);
        break;
      }
      case kFracSecond0: {
        size_t ndigit = 1 + static_cast<size_t>(ck.digits);
        if (value.size() < ndigit || (value[0] != '.' && value[0] != ','))
          return false;
        if (!ParseFrac(value.substr(1, ndigit - 1), &nsec))
          return false;
        value.remove_prefix(ndigit);
        break;
      }
      case kFracSecond9: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || !IsDigitAt(value, 1)) {
          break;  // fractional second omitted
        }
        size_t n = 1;
        while (n < value.size() && n < 10 && IsDigitAt(value, n))
          n++;
        if (!ParseFrac(value.substr(1, n - 1), &nsec))
          return false;
        value.remove_prefix(n);
        break;
      }
      case kNone:
        break;
    }
  }
  if (pm_set && hour < 12)
    hour += 12;
  if (am_set && hour == 12)
    hour = 0;
  if (yday >= 0) {
    absl::CivilDay d = absl::CivilDay(year, 1, 1) + (yday - 1);
    if (d.year() != year)
      return false;
    if (month >= 0 && month != d.month())
      return false;
    if (day >= 0 && day != d.day())
      return false;
    month = d.month();
    day = d.day();
  }
  if (month < 0)
    month = 1;
  if (day < 0)
    day = 1;
  if (day < 1 || day > DaysIn(month, year))
    return false;

  absl::CivilSecond cs(year, month, day, hour, minute, second);
  int64_t utc_sec = absl::ToUnixSeconds(absl::FromCivil(cs, absl::UTCTimeZone()));
  GoTime t;
  t.nsec = nsec;
  if (z_utc) {
    t.sec = utc_sec;
    t.zone = GoTime::Zone::kUtc;
  } else if (have_offset) {
    t.sec = utc_sec - zone_offset;
    // Use the location when its offset at that instant agrees, else a nameless fixed zone.
    GoTime probe = loc;
    probe.sec = t.sec;
    int loc_offset = 0;
    std::string abbr;
    probe.ZoneAt(&loc_offset, &abbr);
    if (loc_offset == zone_offset) {
      t.zone = loc.zone;
      t.tz = loc.tz;
      t.fixed_offset = loc.fixed_offset;
      std::memcpy(t.fixed_abbr, loc.fixed_abbr, sizeof(t.fixed_abbr));
    } else {
      t.zone = GoTime::Zone::kFixed;
      t.fixed_offset = zone_offset;
    }
  } else if (!zone_name.empty()) {
    // An abbreviation: the location's when it matches, else a fixed zone of that name at +0.
    GoTime probe = loc;
    probe.sec = utc_sec;
    int loc_offset = 0;
    std::string abbr;
    probe.ZoneAt(&loc_offset, &abbr);
    if (abbr == zone_name) {
      t.sec = utc_sec - loc_offset;
      t.zone = loc.zone;
      t.tz = loc.tz;
    } else {
      t.sec = utc_sec;
      t.zone = GoTime::Zone::kFixed;
      t.fixed_offset = 0;
      std::memcpy(t.fixed_abbr, zone_name.data(),
                  std::min(zone_name.size(), sizeof(t.fixed_abbr) - 1));
    }
  } else {
    if (loc.zone == GoTime::Zone::kNamed) {
      t.sec = absl::ToUnixSeconds(absl::FromCivil(cs, loc.tz));
      t.zone = loc.zone;
      t.tz = loc.tz;
    } else if (loc.zone == GoTime::Zone::kFixed) {
      t.sec = utc_sec - loc.fixed_offset;
      t.zone = loc.zone;
      t.fixed_offset = loc.fixed_offset;
      std::memcpy(t.fixed_abbr, loc.fixed_abbr, sizeof(t.fixed_abbr));
    } else {
      t.sec = utc_sec;
    }
  }
  *out = t;
  return true;
}

namespace {
std::string Quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}
}  // namespace

bool ParseGoDuration(std::string_view s, int64_t* ns, std::string* err) {
  const std::string_view orig = s;
  uint64_t d = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *ns = 0;
    return true;
  }
  auto invalid = [&] {
    *err = "time: invalid duration " + Quote(orig);
    return false;
  };
  if (s.empty())
    return invalid();
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
      return invalid();
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; i++) {
      if (v > (uint64_t{1} << 63) / 10)
        return invalid();
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > (uint64_t{1} << 63))
        return invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && s[j] >= '0' && s[j] <= '9'; j++) {
        if (overflow)
          continue;
        if (f > (uint64_t{1} << 63) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > (uint64_t{1} << 63)) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post)
      return invalid();
    size_t k = 0;
    while (k < s.size() && s[k] != '.' && !(s[k] >= '0' && s[k] <= '9'))
      k++;
    if (k == 0) {
      *err = "time: missing unit in duration " + Quote(orig);
      return false;
    }
    std::string_view u = s.substr(0, k);
    s.remove_prefix(k);
    uint64_t unit;
    if (u == "ns") {
      unit = 1;
    } else if (u == "us" || u == "\xc2\xb5s" || u == "\xce\xbcs") {
      unit = 1000;
    } else if (u == "ms") {
      unit = 1000000;
    } else if (u == "s") {
      unit = 1000000000;
    } else if (u == "m") {
      unit = 60000000000ULL;
    } else if (u == "h") {
      unit = 3600000000000ULL;
    } else {
      *err = "time: unknown unit " + Quote(u) + " in duration " + Quote(orig);
      return false;
    }
    if (v > (uint64_t{1} << 63) / unit)
      return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > (uint64_t{1} << 63))
        return invalid();
    }
    d += v;
    if (d > (uint64_t{1} << 63))
      return invalid();
  }
  if (neg) {
    *ns = static_cast<int64_t>(0 - d);
    return true;
  }
  if (d > (uint64_t{1} << 63) - 1)
    return invalid();
  *ns = static_cast<int64_t>(d);
  return true;
}

}  // namespace internal
}  // namespace norn::logql_template
