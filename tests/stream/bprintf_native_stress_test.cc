// bprintf on real threads: two CPUs format in a loop while signal-hardirqs
// and signal-NMIs format on the same CPUs, landing anywhere, including
// between a task's prepare and its cleanup. Each nesting level must get a
// buffer of its own: every text must read back exactly as formatted, no
// level may see -EBUSY (three levels at most here: task, hardirq, NMI), and
// the per-CPU nest counters must be back at 0. Run under --config=tsan and
// --config=asan too (tag native_concurrency).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "model/atomic.h"
#include "model/native/cpu_binding.h"
#include "stream/bprintf.h"

using namespace kmodel;

namespace {

constexpr int kCpus = 2;
constexpr int kTaskFormats = 20000;
constexpr int kInterruptsPerKind = 200;

struct Shared {
  std::atomic<int> mismatches{0};
  std::atomic<int> errors{0};
  std::atomic<int> irq_formats{0};
  std::atomic<int> nmi_formats{0};
  std::atomic<int> bound{0};
  std::atomic<int> nest_left{0};  // CPUs whose nest counter was not 0 at the end
  std::atomic<bool> source_done{false};
};

Shared* g_shared;

// "<word> <cpu> <n>" without snprintf (handlers must be async-signal-safe).
void expected_text(char* out, const char* word, long cpu, long n) {
  char digits[2][24];
  const long values[2] = {cpu, n};
  for (int k = 0; k < 2; ++k) {
    char rev[24];
    int len = 0;
    long v = values[k];
    do {
      rev[len++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    for (int i = 0; i < len; ++i) digits[k][i] = rev[len - 1 - i];
    digits[k][len] = '\0';
  }
  std::strcpy(out, word);
  std::strcat(out, " ");
  std::strcat(out, digits[0]);
  std::strcat(out, " ");
  std::strcat(out, digits[1]);
}

// Formats "<word> <cpu> <n>", checks the buffer, then releases it. Returns
// false on an error return. `hold` runs while the buffers are held, so
// interrupts land between prepare and cleanup too.
template <typename Hold>
bool format_and_check(const char* word, long n, Hold hold) {
  const long cpu = smp_processor_id();
  const u64 args[2] = {static_cast<u64>(cpu), static_cast<u64>(n)};
  char fmt[16];
  std::strcpy(fmt, word);
  std::strcat(fmt, " %ld %ld");
  bpf_bprintf_data data;
  const int len = bpf_stream_format(fmt, args, sizeof(args), &data);
  if (len < 0) {
    g_shared->errors.fetch_add(1);
    return false;
  }
  hold();
  char want[64];
  expected_text(want, word, cpu, n);
  if (std::strcmp(data.buf, want) != 0 || len != static_cast<int>(std::strlen(want)))
    g_shared->mismatches.fetch_add(1);
  bpf_bprintf_cleanup(&data);
  return true;
}

void irq_handler(void*) {
  static thread_local long n = 0;
  if (format_and_check("irq", n++, [] {})) g_shared->irq_formats.fetch_add(1);
}

void nmi_handler(void*) {
  static thread_local long n = 0;
  if (format_and_check("nmi", n++, [] {})) g_shared->nmi_formats.fetch_add(1);
}

void worker(int cpu) {
  native::CpuBinding bind(cpu);
  g_shared->bound.fetch_add(1);
  for (long i = 0; i < kTaskFormats || !g_shared->source_done.load(); ++i)
    format_and_check("task", i, [] { cpu_relax(); });
  // (Catch2 assertions are not thread-safe: count, check on the main thread.)
  if (bpf_bprintf_nest_level_read(cpu) != 0) g_shared->nest_left.fetch_add(1);
}

void interrupt_source() {
  while (g_shared->bound.load() != kCpus) std::this_thread::yield();
  for (int k = 0; k < kInterruptsPerKind; ++k)
    for (int cpu = 0; cpu < kCpus; ++cpu) {
      REQUIRE(native::send_interrupt_and_wait(cpu, IrqKind::kHardirq) == 0);
      REQUIRE(native::send_interrupt_and_wait(cpu, IrqKind::kNmi) == 0);
    }
  g_shared->source_done.store(true);
}

}  // namespace

TEST_CASE("native: every nesting level formats into its own buffer under signal interrupts") {
  Shared shared;
  g_shared = &shared;
  for (int cpu = 0; cpu < kCpus; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kHardirq, {irq_handler, nullptr});
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {nmi_handler, nullptr});
  }
  std::vector<std::thread> threads;
  for (int cpu = 0; cpu < kCpus; ++cpu) threads.emplace_back(worker, cpu);
  interrupt_source();
  for (auto& t : threads) t.join();
  for (int cpu = 0; cpu < kCpus; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kHardirq, {});
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {});
  }
  CHECK(shared.mismatches.load() == 0);
  CHECK(shared.errors.load() == 0);
  CHECK(shared.nest_left.load() == 0);
  CHECK(shared.irq_formats.load() == kCpus * kInterruptsPerKind);
  CHECK(shared.nmi_formats.load() == kCpus * kInterruptsPerKind);
  g_shared = nullptr;
}
