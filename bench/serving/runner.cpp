#include "bench/serving/runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace ribbon::bench {
namespace {

// Shared progress counters and the thread that draws them.
class Progress {
 public:
  Progress(const RunOptions& options, size_t total)
      : options_(options), total_(total), start_(SteadyNow()) {
    if (options_.progress && total_ > 0) drawer_ = std::thread([this] { Loop(); });
  }
  ~Progress() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (drawer_.joinable()) drawer_.join();
  }
  void Done(const RequestRecord& r) {
    done_.fetch_add(1);
    tokens_.fetch_add(r.tokens_streamed);
    if (!r.ok) failed_.fetch_add(1);
  }

 private:
  void Loop() {
    const bool tty = isatty(STDERR_FILENO);
    size_t last_decile = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      const bool stopping =
          cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_; });
      const size_t done = done_.load();
      const size_t decile = done * 10 / total_;
      if (tty || decile > last_decile || stopping) Draw(done, tty);
      last_decile = decile;
      if (stopping) break;
    }
  }
  void Draw(size_t done, bool tty) const {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / total_);
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    std::fprintf(stderr, "%s[%s] [%s] %zu/%zu requests, %ld tokens, %d failed, %.1f s%s",
                 tty ? "\r" : "", options_.label.c_str(), bar.c_str(), done, total_, tokens_.load(),
                 failed_.load(), SteadyNow() - start_, tty ? "" : "\n");
    if (tty && done == total_) std::fprintf(stderr, "\n");
  }

  const RunOptions& options_;
  const size_t total_;
  const double start_;
  std::atomic<size_t> done_{0};
  std::atomic<long> tokens_{0};
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread drawer_;
};

void RunClosed(Client& client, const std::vector<BenchRequest>& requests, int concurrency,
               std::vector<RequestRecord>& out, Progress& progress) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, concurrency); ++w) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < requests.size();) {
        out[i] = client.Run(requests[i]);
        progress.Done(out[i]);
      }
    });
  }
  for (auto& t : workers) t.join();
}

void RunOpen(Client& client, const std::vector<BenchRequest>& requests, int max_in_flight,
             std::vector<RequestRecord>& out, Progress& progress) {
  std::mutex mu;
  std::condition_variable freed;
  int in_flight = 0;
  std::vector<std::thread> senders;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < requests.size(); ++i) {
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(requests[i].arrival_s)));
    {
      std::unique_lock<std::mutex> lock(mu);
      freed.wait(lock, [&] { return max_in_flight <= 0 || in_flight < max_in_flight; });
      ++in_flight;
    }
    senders.emplace_back([&, i] {
      out[i] = client.Run(requests[i]);
      progress.Done(out[i]);
      {
        std::lock_guard<std::mutex> lock(mu);
        --in_flight;
      }
      freed.notify_one();
    });
  }
  for (auto& t : senders) t.join();
}

}  // namespace

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::vector<RequestRecord> RunRequests(Client& client, const std::vector<BenchRequest>& requests,
                                       const RunOptions& options) {
  std::vector<RequestRecord> out(requests.size());
  Progress progress(options, requests.size());
  if (options.rate > 0) {
    RunOpen(client, requests, options.max_in_flight, out, progress);
  } else {
    RunClosed(client, requests, options.concurrency, out, progress);
  }
  return out;
}

}  // namespace ribbon::bench
