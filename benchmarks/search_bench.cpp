// chatrix-search-bench: user search on a large user table, through the store interface the
// server uses. Fills the database with synthetic users (first and last names from a fixed
// list, usernames in a few common patterns, some non-ASCII names; deterministic) up to the
// requested count, then times a set of fragments, each searched many times in a row.
// Manual tool, not a test: building a million users takes minutes.
//
//   chatrix-search-bench --db sqlite:/tmp/search.db --users 1000000
//   chatrix-search-bench --db postgresql://postgres@127.0.0.1:5432/bench --users 1000000
//
// Re-running on the same database only adds the users that are missing.

#include "storage/postgres/postgres_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace chatrix;
using clock_type = std::chrono::steady_clock;

constexpr std::array first_names{
    "James",   "Mary",    "John",   "Patricia", "Robert", "Jennifer", "Michael", "Linda",  "William",  "Elizabeth",
    "David",   "Barbara", "Richard", "Susan",   "Joseph", "Jessica",  "Thomas",  "Sarah",  "Charles",  "Karen",
    "Daniel",  "Lisa",    "Matthew", "Nancy",   "Anthony", "Betty",   "Mark",    "Sandra", "Donald",   "Ashley",
    "Steven",  "Emily",   "Andrew",  "Donna",   "Joshua", "Michelle", "Kevin",   "Carol",  "Brian",    "Amanda",
    "George",  "Melissa", "Edward",  "Rebecca", "Jason",  "Laura",    "Ryan",    "Emma",   "Samuel",   "Rachel",
    "José",    "Zoë",     "Łukasz",  "Søren",   "Ángel",  "Chloé",    "Björn",   "Yuki",   "Wei",      "Olga",
    "Ivan",    "Fatima",  "Omar",    "Aisha",   "Priya",  "Ravi",     "Mei",     "Hiroshi", "Sakura",  "Ines"};
constexpr std::array last_names{
    "Smith",    "Johnson",  "Williams", "Brown",   "Jones",   "Garcia",   "Miller",   "Davis",   "Rodriguez", "Martinez",
    "Lopez",    "Wilson",   "Anderson", "Thomas",  "Taylor",  "Moore",    "Jackson",  "Martin",  "Lee",       "Perez",
    "Thompson", "White",    "Harris",   "Sanchez", "Clark",   "Ramirez",  "Lewis",    "Robinson", "Walker",   "Young",
    "Allen",    "King",     "Wright",   "Scott",   "Torres",  "Nguyen",   "Hill",     "Flores",  "Green",     "Adams",
    "Kowalski", "Nowak",    "Schmidt",  "Müller",  "Weber",   "Dubois",   "Rossi",    "Tanaka",  "Suzuki",    "Ivanov",
    "Petrov",   "Singh",    "Kumar",    "Sharma",  "Chen",    "Wang",     "Li",       "Zhang",   "Liu",       "Yang"};

/// Lower-case ASCII letters of a name (usernames are ASCII): "Łukasz" gives "ukasz".
std::string ascii_lower(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    if (ch >= 'A' && ch <= 'Z') out.push_back(static_cast<char>(ch - 'A' + 'a'));
    if (ch >= 'a' && ch <= 'z') out.push_back(ch);
  }
  return out;
}

/// The i-th synthetic user. Usernames are unique because they end in the index.
new_user make_user(std::uint64_t i) {
  std::mt19937_64 rng(i * 0x9E3779B97F4A7C15ULL + 1);
  const auto pick = [&](const auto& list) { return std::string(list[rng() % list.size()]); };
  const std::string first = pick(first_names);
  const std::string last = pick(last_names);
  static constexpr std::string_view seps[] = {"", "_", ".", "-"};
  const std::string n = std::to_string(i);
  std::string username;
  switch (rng() % 10) {
    case 0: case 1: case 2: case 3:
      username = ascii_lower(first) + std::string(seps[rng() % 4]) + ascii_lower(last) + n;
      break;
    case 4: case 5: case 6:
      username = ascii_lower(first).substr(0, 1) + ascii_lower(last) + n;
      break;
    case 7: case 8:
      username = ascii_lower(last) + std::string(seps[rng() % 4]) + n;
      break;
    default: {
      // No digits: the index at the end must stay the only digits, to keep names unique.
      static constexpr std::string_view chars = "abcdefghijklmnopqrstuvwxyz_";
      for (std::size_t k = 3 + rng() % 8; k > 0; --k) username.push_back(chars[rng() % chars.size()]);
      username += n;
    }
  }
  if (rng() % 10 < 3) username[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(username[0])));
  username = username.substr(0, 32);
  std::string name = rng() % 100 < 85 ? first + " " + last : username;
  return new_user{username, name, "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$not-a-real-hash-just-its-size", 0};
}

template <class T, class Start>
result<T> await(Start&& start) {
  std::promise<result<T>> p;
  auto f = p.get_future();
  start([&p](result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

/// Creates users first..last-1 with many calls in flight (the store group-commits them).
void fill(storage::store& db, std::uint64_t first, std::uint64_t last) {
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t in_flight = 0;
  std::uint64_t failed = 0;
  const auto started = clock_type::now();
  for (std::uint64_t i = first; i < last; ++i) {
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return in_flight < 4096; });
      ++in_flight;
    }
    db.create_user(make_user(i), [&](result<user> r) {
      std::lock_guard lock(m);
      --in_flight;
      if (!r && r.error().code != errc::username_taken) ++failed;
      cv.notify_all();
    });
    if ((i + 1) % 100000 == 0) {
      const double s = std::chrono::duration<double>(clock_type::now() - started).count();
      std::fprintf(stderr, "  %llu users (%.0f s)\n", static_cast<unsigned long long>(i + 1), s);
    }
  }
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return in_flight == 0; });
  if (failed) std::fprintf(stderr, "  %llu inserts failed\n", static_cast<unsigned long long>(failed));
}

/// How many users exist: ids are dense from 1, so the first missing id is the count + 1.
std::uint64_t count_users(storage::store& db) {
  std::uint64_t lo = 0, hi = 1;
  const auto exists = [&](std::uint64_t id) {
    return id == 0 || await<std::optional<user>>([&](auto done) { db.find_user_by_id(static_cast<user_id>(id), done); })
                          .value()
                          .has_value();
  };
  while (exists(hi)) hi *= 2;
  while (hi - lo > 1) {
    const auto mid = lo + (hi - lo) / 2;
    (exists(mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db_url;
  std::uint64_t users = 1'000'000;
  int repeat = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--db") db_url = argv[i + 1];
    else if (flag == "--users") users = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
  }
  if (db_url.empty()) {
    std::cerr << "usage: chatrix-search-bench --db sqlite:PATH|postgresql://... [--users N] [--repeat R]\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  std::unique_ptr<storage::store> db;
  if (db_url.rfind("sqlite:", 0) == 0) {
    db = std::make_unique<storage::sqlite_store>(db_url.substr(7));
  } else {
    db = std::make_unique<storage::postgres_store>(db_url);
  }

  const std::uint64_t have = count_users(*db);
  if (have < users) {
    std::fprintf(stderr, "creating users %llu..%llu\n", static_cast<unsigned long long>(have),
                 static_cast<unsigned long long>(users));
    const auto started = clock_type::now();
    fill(*db, have, users);
    std::fprintf(stderr, "created in %.0f s\n", std::chrono::duration<double>(clock_type::now() - started).count());
  }
  std::printf("%s, %llu users, each fragment searched %d times in a row (limit 20), ms per search:\n",
              db_url.rfind("sqlite:", 0) == 0 ? "SQLite" : "PostgreSQL",
              static_cast<unsigned long long>(count_users(*db)), repeat);
  std::printf("%-16s %8s %8s %8s %8s %8s\n", "fragment", "results", "median", "p99", "max", "first");

  // Short and long, frequent and rare, exact and none, punctuation only.
  const std::string exact = make_user(123456).username;
  for (const std::string& fragment : {std::string("a"), std::string("e"), std::string("q"), std::string("li"),
                                     std::string("Ro"), std::string("zq"), std::string("son"), std::string("_._"),
                                     std::string("mary smith"), std::string("é"), std::string("9"), exact,
                                     std::string("xyzzy")}) {
    std::vector<double> ms;
    std::size_t found = 0;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = clock_type::now();
      auto got = await<std::vector<user>>([&](auto done) { db->search_users(fragment, 20, done); });
      ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
      if (!got) {
        std::fprintf(stderr, "search '%s' failed: %s\n", fragment.c_str(), got.error().message.c_str());
        return 1;
      }
      found = got->size();
    }
    const double first = ms.front();
    std::sort(ms.begin(), ms.end());
    std::printf("%-16s %8zu %8.3f %8.3f %8.3f %8.3f\n", ("'" + fragment + "'").c_str(), found, ms[ms.size() / 2],
                ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], ms.back(), first);
  }
  db->shutdown();
  return 0;
}
