// alloc/stream_elem_layout.h: struct bpf_stream_elem, what both element
// allocators hand out (include/linux/bpf.h, Linux 6.17/6.18).
//
// Its own header so that the allocators (stream_page.h) and the
// profile-dispatched API over them (stream_elem.h, which most code includes)
// need not include each other.
#ifndef KMODEL_ALLOC_STREAM_ELEM_LAYOUT_H_
#define KMODEL_ALLOC_STREAM_ELEM_LAYOUT_H_

#include "model/types.h"
#include "sync/llist.h"

KMODEL_NAMESPACE_BEGIN

struct bpf_stream_elem {
  llist_node node;
  int total_len;     // payload bytes
  int consumed_len;  // payload bytes the reader has consumed (reader-owned)
  char str[];
};

inline constexpr int BPF_STREAM_ELEM_HDR = 16;  // offsetof(bpf_stream_elem, str)
static_assert(sizeof(bpf_stream_elem) == BPF_STREAM_ELEM_HDR,
              "the kernel's element header is 16 bytes");

// The largest payload: ARRAY_SIZE(bpf_bprintf_buffers.buf) = MAX_BPRINTF_BUF.
inline constexpr int BPF_STREAM_ELEM_MAX_LEN = 1024;

// __bpf_stream_elem_init()
inline void bpf_stream_elem_init(bpf_stream_elem* elem, int len) {
  init_llist_node(&elem->node);
  elem->total_len = len;
  elem->consumed_len = 0;
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_STREAM_ELEM_LAYOUT_H_
