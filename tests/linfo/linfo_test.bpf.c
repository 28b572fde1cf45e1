// tests/linfo/linfo_test.bpf.c: input for the line-info loader tests.
//
// Two program sections ("syscall" with two programs, "tc"), and a static
// subprogram that clang places in .text. Lines the tests look up carry a
// `// MARK:<name>` comment; the test finds their numbers in this file (given
// as data), so no line number is written down twice.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int counter;

static __attribute__((noinline)) int bump(int by)
{
	counter += by;  // MARK:bump_add
	return counter;  // MARK:bump_ret
}

SEC("syscall")
int first(void *ctx)
{
	int v = bump(1);  // MARK:first_call
	return v;
}

SEC("syscall")
int second(void *ctx)
{
	counter = 7;  // MARK:second_store
	return bump(2);  // MARK:second_call
}

SEC("tc")
int classify(struct __sk_buff *skb)
{
	if (skb->len > 100)  // MARK:classify_len
		return bump(3);
	return 0;  // MARK:classify_ret
}

char LICENSE[] SEC("license") = "GPL";
