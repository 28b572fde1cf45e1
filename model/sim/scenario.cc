#include "model/sim/scenario.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"

KMODEL_NAMESPACE_BEGIN

void Scenario::check_cpu(int cpu, const char* what) const {
  if (cpu < 0 || cpu >= cpus()) {
    throw std::invalid_argument(absl::StrCat("Scenario::", what, "(cpu=", cpu,
                                             "): the machine has CPUs 0..",
                                             cpus() - 1));
  }
}

void Scenario::reset(int cpus) {
  bodies_.clear();
  bodies_.resize(static_cast<std::size_t>(cpus));
  interrupts_.clear();
  end_checks_.clear();
  state_describers_.clear();
  goals_.clear();
}

void Scenario::on_cpu(int cpu, std::function<void()> body) {
  check_cpu(cpu, "on_cpu");
  if (bodies_[static_cast<std::size_t>(cpu)])
    throw std::invalid_argument(absl::StrCat("Scenario::on_cpu(cpu=", cpu,
                                             "): CPU already has a body"));
  bodies_[static_cast<std::size_t>(cpu)] = std::move(body);
}

int Scenario::add_interrupt(IrqKind kind, int cpu, std::function<void()> handler,
                            int max_count, std::string name) {
  check_cpu(cpu, irq_kind_name(kind));
  if (max_count < 1)
    throw std::invalid_argument(absl::StrCat("Scenario::", irq_kind_name(kind),
                                             ": max_count must be >= 1, got ", max_count));
  interrupts_.push_back({kind, cpu, std::move(handler), max_count, std::move(name)});
  return static_cast<int>(interrupts_.size());
}

int Scenario::nmi(int cpu, std::function<void()> handler, int max_count, std::string name) {
  return add_interrupt(IrqKind::kNmi, cpu, std::move(handler), max_count, std::move(name));
}
int Scenario::hardirq(int cpu, std::function<void()> handler, int max_count,
                      std::string name) {
  return add_interrupt(IrqKind::kHardirq, cpu, std::move(handler), max_count,
                       std::move(name));
}
int Scenario::softirq(int cpu, std::function<void()> handler, int max_count,
                      std::string name) {
  return add_interrupt(IrqKind::kSoftirq, cpu, std::move(handler), max_count,
                       std::move(name));
}

int Scenario::goal(std::string name) {
  goals_.push_back(std::move(name));
  return static_cast<int>(goals_.size() - 1);
}

void Scenario::at_end(std::function<void()> check) { end_checks_.push_back(std::move(check)); }

void Scenario::describe_state(std::function<std::string()> describe) {
  state_describers_.push_back(std::move(describe));
}

KMODEL_NAMESPACE_END
