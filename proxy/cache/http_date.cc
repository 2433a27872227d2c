#include "proxy/cache/http_date.h"

#include <array>
#include <cstdint>

#include "proxy/cache/field_text.h"

namespace atrium::proxy::cache {
namespace {

constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A cursor over the text; every reader consumes on success only.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool done() const { return s_.empty(); }

  bool literal(std::string_view lit) {
    if (!s_.starts_with(lit)) return false;
    s_.remove_prefix(lit.size());
    return true;
  }

  // Exactly `digits` decimal digits.
  std::optional<int> number(size_t digits) {
    if (s_.size() < digits) return std::nullopt;
    int value = 0;
    for (size_t i = 0; i < digits; ++i) {
      if (s_[i] < '0' || s_[i] > '9') return std::nullopt;
      value = value * 10 + (s_[i] - '0');
    }
    s_.remove_prefix(digits);
    return value;
  }

  // One of `names`, case-sensitively as the grammar says; returns its index.
  template <size_t N>
  std::optional<int> oneOf(const std::array<std::string_view, N>& names) {
    for (size_t i = 0; i < N; ++i) {
      if (literal(names[i])) return static_cast<int>(i);
    }
    return std::nullopt;
  }

  std::string_view rest() const { return s_; }

 private:
  std::string_view s_;
};

struct Civil {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool valid(const Civil& c) {
  using namespace std::chrono;
  const year_month_day ymd{year{c.year}, month{static_cast<unsigned>(c.month)},
                           day{static_cast<unsigned>(c.day)}};
  // A leap second (60) is allowed by the grammar and read as the next second.
  return ymd.ok() && c.hour < 24 && c.minute < 60 && c.second <= 60;
}

std::optional<std::chrono::sys_seconds> toSeconds(const Civil& c) {
  using namespace std::chrono;
  if (!valid(c)) return std::nullopt;
  const year_month_day ymd{year{c.year}, month{static_cast<unsigned>(c.month)},
                           day{static_cast<unsigned>(c.day)}};
  return sys_days{ymd} + hours{c.hour} + minutes{c.minute} + seconds{c.second};
}

bool timeOfDay(Reader& r, Civil& c) {
  auto h = r.number(2);
  if (!h || !r.literal(":")) return false;
  auto m = r.number(2);
  if (!m || !r.literal(":")) return false;
  auto s = r.number(2);
  if (!s) return false;
  c.hour = *h, c.minute = *m, c.second = *s;
  return true;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::chrono::sys_seconds> imfFixdate(std::string_view text) {
  Reader r(text);
  Civil c;
  if (!r.oneOf(kShortDays) || !r.literal(", ")) return std::nullopt;
  auto day = r.number(2);
  if (!day || !r.literal(" ")) return std::nullopt;
  auto month = r.oneOf(kMonths);
  if (!month || !r.literal(" ")) return std::nullopt;
  auto year = r.number(4);
  if (!year || !r.literal(" ") || !timeOfDay(r, c) || !r.literal(" GMT") || !r.done()) {
    return std::nullopt;
  }
  c.year = *year, c.month = *month + 1, c.day = *day;
  return toSeconds(c);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<std::chrono::sys_seconds> rfc850(std::string_view text) {
  Reader r(text);
  Civil c;
  if (!r.oneOf(kLongDays) || !r.literal(", ")) return std::nullopt;
  auto day = r.number(2);
  if (!day || !r.literal("-")) return std::nullopt;
  auto month = r.oneOf(kMonths);
  if (!month || !r.literal("-")) return std::nullopt;
  auto year = r.number(2);
  if (!year || !r.literal(" ") || !timeOfDay(r, c) || !r.literal(" GMT") || !r.done()) {
    return std::nullopt;
  }
  c.year = *year + (*year < 70 ? 2000 : 1900), c.month = *month + 1, c.day = *day;
  return toSeconds(c);
}

// "Sun Nov  6 08:49:37 1994" (the day is space-padded: " 6" or "16")
std::optional<std::chrono::sys_seconds> asctime(std::string_view text) {
  Reader r(text);
  Civil c;
  if (!r.oneOf(kShortDays) || !r.literal(" ")) return std::nullopt;
  auto month = r.oneOf(kMonths);
  if (!month || !r.literal(" ")) return std::nullopt;
  std::optional<int> day = r.literal(" ") ? r.number(1) : r.number(2);
  if (!day || !r.literal(" ") || !timeOfDay(r, c) || !r.literal(" ")) return std::nullopt;
  auto year = r.number(4);
  if (!year || !r.done()) return std::nullopt;
  c.year = *year, c.month = *month + 1, c.day = *day;
  return toSeconds(c);
}

}  // namespace

std::optional<std::chrono::sys_seconds> parseHttpDate(std::string_view text) {
  text = trimOws(text);
  if (auto t = imfFixdate(text)) return t;
  if (auto t = rfc850(text)) return t;
  return asctime(text);
}

}  // namespace atrium::proxy::cache
