// The store's share of one chat message, without the network: senders keep a window of
// messages in flight through append_message, and every stored message is then recorded as
// delivered with mark_delivered, receipts batched per recipient as the chat service does.
// Both stores at their durable defaults. PostgreSQL runs when --url=<database> or
// CHATRIX_BENCH_PG names a database (any DB_CONNECTION_URL form); every run registers users
// of its own there; --writers=N sets its write connections. Each message also adds its stream events (a message event for both
// people, a received event for the sender), as on the server.
// Arguments: pairs, messages in flight per pair, messages per iteration.
#include "storage/postgres/postgres_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace chatrix;
namespace fs = std::filesystem;

/// Completions handed from the store's threads to the driver.
class inbox {
 public:
  struct stored {
    int pair;
    message_id id;
    user_id recipient;
    bool ok;
  };

  void post(stored s) {
    std::lock_guard lock(mutex_);
    items_.push_back(s);
    cv_.notify_one();
  }
  void delivered(std::size_t n) {
    std::lock_guard lock(mutex_);
    receipts_ += n;
    cv_.notify_one();
  }
  /// Waits for something new; returns the stored messages and the receipts recorded since.
  std::vector<stored> take(std::size_t& receipts) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !items_.empty() || receipts_ > 0; });
    receipts = std::exchange(receipts_, 0);
    return std::exchange(items_, {});
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<stored> items_;
  std::size_t receipts_ = 0;
};

struct pair_users {
  user sender;
  user recipient;
};

template <class T>
T wait_for(std::function<void(storage::callback<T>)> call) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<result<T>> out;
  call([&](result<T> r) {
    std::lock_guard lock(m);
    out.emplace(std::move(r));
    cv.notify_one();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return out.has_value(); });
  if (!out->has_value()) throw std::runtime_error(out->error().message);
  return std::move(out->value());
}

std::vector<pair_users> make_pairs(storage::store& s, int pairs, const std::string& run) {
  std::vector<pair_users> out;
  for (int i = 0; i < pairs; ++i) {
    auto make = [&](const std::string& name) {
      return wait_for<user>([&](auto done) { s.create_user(new_user{name, name, "h", 1}, done); });
    };
    out.push_back({make(run + "s" + std::to_string(i)), make(run + "r" + std::to_string(i))});
  }
  return out;
}

/// Sends `total` messages with `window` in flight per pair; returns once every one is
/// stored and its receipt recorded.
void drive(storage::store& s, const std::vector<pair_users>& pairs, int window, std::int64_t total,
           std::int64_t& mark) {
  inbox box;
  std::int64_t sent = 0;
  std::int64_t stored = 0;
  std::int64_t receipts = 0;
  std::int64_t pending_receipts = 0;
  const std::string content(100, 'x');
  auto send = [&](int p) {
    const auto& pu = pairs[static_cast<std::size_t>(p)];
    send_request req{pu.sender.id, pu.recipient.id, content, std::to_string(++mark), 1, 600'000};
    s.append_message(std::move(req), [&box, p, to = pu.recipient.id](result<send_result> r) {
      box.post({p, r ? r->stored.id : 0, to, r.has_value()});
    });
    ++sent;
  };
  for (int p = 0; p < static_cast<int>(pairs.size()); ++p)
    for (int w = 0; w < window && sent < total; ++w) send(p);
  while (stored < total || receipts < stored) {
    std::size_t got_receipts = 0;
    auto items = box.take(got_receipts);
    receipts += static_cast<std::int64_t>(got_receipts);
    std::map<user_id, std::vector<message_id>> by_recipient;
    for (const auto& it : items) {
      if (!it.ok) throw std::runtime_error("append failed");
      ++stored;
      by_recipient[it.recipient].push_back(it.id);
      if (sent < total) send(it.pair);
    }
    for (auto& [to, ids] : by_recipient) {
      pending_receipts += static_cast<std::int64_t>(ids.size());
      const auto n = ids.size();
      s.mark_delivered(to, std::move(ids), 2, [&box, n](result<delivered_result> r) {
        if (!r) throw std::runtime_error("mark_delivered failed");
        box.delivered(n);
      });
    }
  }
}

template <class Store>
void run_bench(benchmark::State& state, Store& s, const std::string& run) {
  const int pair_count = static_cast<int>(state.range(0));
  const int window = static_cast<int>(state.range(1));
  const auto pairs = make_pairs(s, pair_count, run);
  std::int64_t mark = 0;
  const std::int64_t per_iteration = state.range(2);
  const auto batches_before = s.committed_batches();
  for (auto _ : state) drive(s, pairs, window, per_iteration, mark);
  state.SetItemsProcessed(state.iterations() * per_iteration);
  // Appends and receipts per committed transaction: how well group commit is grouping.
  state.counters["writes_per_commit"] =
      2.0 * static_cast<double>(state.iterations() * per_iteration) /
      static_cast<double>(std::max<std::uint64_t>(1, s.committed_batches() - batches_before));
}

void BM_sqlite_send_and_receipt(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("chatrix-store-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    storage::sqlite_store s(dir / "chatrix.db");
    run_bench(state, s, "u");
    s.shutdown();
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_sqlite_send_and_receipt)->Args({100, 16, 20'000})->Args({1, 1, 1'000})->UseRealTime()->Unit(benchmark::kMillisecond);

/// --url=..., else CHATRIX_BENCH_PG; empty: PostgreSQL is skipped.
std::string postgres_url;
/// --writers=N: the store's write connections (0: its default), e.g. 1 to see one writer's
/// cost without the writers waiting for each other.
int postgres_writers = 0;

void BM_postgres_send_and_receipt(benchmark::State& state) {
  if (postgres_url.empty()) {
    state.SkipWithError("pass --url=<PostgreSQL URL> (or set CHATRIX_BENCH_PG) to run");
    return;
  }
  storage::postgres_options opts;
  if (postgres_writers > 0) opts.writers = postgres_writers;
  storage::postgres_store s(postgres_url, opts);
  // Fresh user names per run: the database may hold earlier runs' users.
  std::string run = "b";
  run += std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1'000'000'000);
  run += '_';
  run_bench(state, s, run);
  s.shutdown();
}
BENCHMARK(BM_postgres_send_and_receipt)->Args({100, 16, 20'000})->Args({1, 1, 1'000})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  if (const char* env = std::getenv("CHATRIX_BENCH_PG")) postgres_url = env;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--url=")) {
      postgres_url = arg.substr(6);
      continue;
    }
    if (arg.starts_with("--writers=")) {
      postgres_writers = std::atoi(argv[i] + 10);
      continue;
    }
    args.push_back(argv[i]);
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
