// model/types.h: the kernel's fixed-width type names and errno values.
//
// Kernel-shaped code returns 0 or a negative errno exactly as the kernel does
// (-ENOMEM, -EDEADLK, ...); these are the host's <errno.h> values, which on
// Linux are the kernel's own.
#ifndef KMODEL_MODEL_TYPES_H_
#define KMODEL_MODEL_TYPES_H_

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s8 = std::int8_t;
using s16 = std::int16_t;
using s32 = std::int32_t;
using s64 = std::int64_t;
using gfp_t = unsigned int;

// Maximum number of CPUs a model machine has (CONFIG_NR_CPUS).
inline constexpr int NR_CPUS = 32;

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_TYPES_H_
