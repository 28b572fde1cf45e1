// tests/stream/stream_report_test.bpf.c: the BPF programs whose errors the
// stream report tests provoke on a simulated CPU.
//
// The model does not execute BPF: a test runs a C++ body "as" each program
// and says which instruction it is at; this object gives those programs
// their real line info. Lines the tests stand on carry `// MARK:<name>`; the
// test finds their numbers in this file (given as data) and their
// instructions in the object's line info.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpf_res_spin_lock(void *lock) __ksym;
extern void bpf_res_spin_unlock(void *lock) __ksym;

long lock_a;
long lock_b;
volatile int spin;

static __attribute__((noinline)) int take_twice(void)
{
	int ret;

	if (bpf_res_spin_lock(&lock_a))  // MARK:first_lock
		return 1;
	ret = bpf_res_spin_lock(&lock_a);  // MARK:second_lock
	if (!ret)
		bpf_res_spin_unlock(&lock_a);
	bpf_res_spin_unlock(&lock_a);
	return ret;
}

SEC("syscall")
int deadlock(void *ctx)
{
	return take_twice();  // MARK:deadlock_call
}

SEC("syscall")
int cond_break(void *ctx)
{
	while (spin < 1000000)  // MARK:loop
		spin++;
	return 0;
}

SEC("syscall")
int arena_fault(void *ctx)
{
	*(volatile char *)(long)spin = 1;  // MARK:arena_write
	return *(volatile char *)(long)(spin + 8);  // MARK:arena_read
}

static __attribute__((noinline)) int timer_cb(void)
{
	int ret = bpf_res_spin_lock(&lock_b);  // MARK:timer_lock
	if (!ret)
		bpf_res_spin_unlock(&lock_b);
	return ret;
}

SEC("syscall")
int timer_owner(void *ctx)
{
	return timer_cb();  // MARK:timer_owner_call
}

SEC("syscall")
int printer(void *ctx)
{
	spin = 2;  // MARK:print_stack
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
